"""MALL's JSON in and out: MPAPI orders <-> rows of the core ``orders`` table, our packages ->
MALL's status updates, and labels <-> the SDK's carrier models. No HTTP here (that is
``client.py``), no store (``channel.py``), so every rule is tested on plain dicts.

What the research found (api-contracts §4, §8.5): times are MALL's local ``Y-m-d H:i:s``; an
order's status moves ``open → shipping → shipped → delivered|returned|lost`` (MALL moves MALL
Delivery orders from ``shipped`` on); ``consignment_status_history`` holds the carrier's scans;
labels come as one base64 document for all parcels (PDF with ``labels_per_page`` labels per
page, or one ``^XA…^XZ`` block per parcel); items and orders carry a ``smallbox``/``bigbox``
package size class.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from marketd.sdk import Label, LabelFormat, Message, TrackingEvent, TrackingResult, TrackingStatus
from marketd.sdk.labels import LabelError, split_pdf_labels, zpl_blocks

STATUS = {
    "blocked": TrackingStatus.pending, "open": TrackingStatus.pending, "shipping": TrackingStatus.pending,
    "shipped": TrackingStatus.in_transit, "delivered": TrackingStatus.delivered,
    "returned": TrackingStatus.return_to_sender, "lost": TrackingStatus.lost, "cancelled": TrackingStatus.unknown,
}
CONSIGNMENT = {
    "CREATED": TrackingStatus.pending, "RECEIVED": TrackingStatus.in_transit,
    "DELIVERING": TrackingStatus.out_for_delivery, "READY_FOR_PICKUP": TrackingStatus.out_for_delivery,
    "DELIVERED": TrackingStatus.delivered, "DAMAGED": TrackingStatus.delivery_failed,
    "RETURNING": TrackingStatus.delivery_failed, "RETURNED": TrackingStatus.return_to_sender,
    "LOST": TrackingStatus.lost, "CANCELLED": TrackingStatus.unknown,
}
PRAGUE = ZoneInfo("Europe/Prague")
REPRINT_ONLY = ("shipped", "delivered", "returned", "lost")   # MALL hands out the last labels again


def parse_time(text, tz: ZoneInfo = PRAGUE) -> datetime | None:
    """MALL's ``Y-m-d H:i:s`` (or ISO) as an aware time; no offset means MALL's local time."""
    if not text:
        return None
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    except ValueError:
        try:
            d = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            return None
        return d if d.tzinfo else d.replace(tzinfo=tz)


# -- stored orders ----------------------------------------------------------------------------------
def _json(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def package_size(order: dict | None) -> str:
    """``smallbox``/``bigbox`` of a stored order (``package_size`` on its items or on the order;
    an ``mdp`` order is a MALL Delivery smallbox order), else ``""``."""
    if not order:
        return ""
    items = _json(order.get("items")) or []
    raw = _json(order.get("raw")) or {}
    raw = raw if isinstance(raw, dict) else {}
    listed = (items if isinstance(items, list) else []) + (raw.get("items") or [])
    sizes = {str(it.get("package_size") or "").lower() for it in listed if isinstance(it, dict)}
    if raw.get("package_size"):
        sizes.add(str(raw["package_size"]).lower())
    if "bigbox" in sizes:
        return "bigbox"
    if "smallbox" in sizes or raw.get("mdp") is True:
        return "smallbox"
    return ""


# -- labels ----------------------------------------------------------------------------------------
def labels_request(order_id: str, parcels: int, label_format: LabelFormat, per_page: int) -> dict:
    """The body of ``POST /v1/orders/labels`` for one order."""
    return {"labels_type": label_format.value.lower(), "first_position": 1, "labels_per_page": per_page,
            "labels": [{"order_id": int(order_id) if order_id.isdigit() else order_id, "parcel_count": parcels}]}


def barcodes_of(data: dict | None, order_id: str) -> list[str]:
    entry = next((o for o in (data or {}).get("orders") or [] if str(o.get("order_id")) == order_id), None)
    return [str(b) for b in (entry or {}).get("barcodes") or []]


def split_labels(account: str, data: dict | None, fmt: LabelFormat, per_page: int, count: int
                 ) -> tuple[list[Label], list[Message]]:
    """``labels_raw`` cut into one label per parcel, in barcode order; a document that cannot be
    cut gives no labels and a warning (the shipment exists at MALL all the same)."""
    try:
        raw = base64.b64decode((data or {}).get("labels_raw") or "", validate=False)
    except (binascii.Error, ValueError):
        raw = b""
    try:
        if fmt == LabelFormat.ZPL:
            blocks = zpl_blocks(raw)
            if len(blocks) != count:
                raise LabelError(f"{len(blocks)} ZPL labels for {count} parcels")
            return [Label(b.encode(), fmt) for b in blocks], []
        return [Label(p, fmt) for p in split_pdf_labels(raw, per_page=per_page, count=count)], []
    except LabelError as exc:
        return [], [Message(account, f"MALL labels unusable: {exc}", "labels", "warning")]


# -- tracking --------------------------------------------------------------------------------------
def tracking_result(account: str, order_id: str, order: dict) -> TrackingResult:
    """A MALL order as tracking: its status moves, and the carrier's scans MALL passes on."""
    status = STATUS.get(str(order.get("status")), TrackingStatus.unknown)
    events = []
    for name in ("shipping", "shipped", "delivered", "returned", "lost", "cancelled"):
        at = parse_time(order.get(name))
        if at and name != "shipping":
            events.append(TrackingEvent(at=at, description=f"MALL order {name}", code=name, status=STATUS[name]))
    for h in order.get("consignment_status_history") or []:
        if isinstance(h, dict) and h.get("status"):
            st = str(h["status"]).upper()
            events.append(TrackingEvent(at=parse_time(h.get("date")), description=f"consignment {st}", code=st,
                                        status=CONSIGNMENT.get(st, TrackingStatus.unknown)))
    events.sort(key=lambda e: e.at.timestamp() if e.at else 0, reverse=True)
    final = status in (TrackingStatus.delivered, TrackingStatus.return_to_sender, TrackingStatus.lost) \
        or order.get("status") == "cancelled"
    return TrackingResult(account, str(order.get("tracking_number") or order_id), status, events,
                          delivered_at=parse_time(order.get("delivered_at")), final=final,
                          tracking_url=str(order.get("tracking_url") or ""))


# -- orders ----------------------------------------------------------------------------------------
# MALL's order status -> the normalised order status (docs/plugins/mall.md). An open order MALL has
# not had confirmed by the partner is not shippable yet (PENDING), like blocked (payment check).
ORDER_STATUS = {
    "blocked": "PENDING", "open": "UNSHIPPED", "shipping": "UNSHIPPED", "shipped": "SHIPPED",
    "delivered": "DELIVERED", "returned": "RETURNED", "cancelled": "CANCELLED", "lost": "LOST",
}
LISTED_STATUSES = ("blocked", "open", "shipping", "shipped")   # listed on every sync: they still move
FINAL_STATUSES = ("returned", "cancelled", "lost")             # never move again
STATUS_TIMES = ("blocked", "open", "shipping", "shipped", "delivered", "returned", "cancelled", "lost")
# what a basic listing row and the stored detail share: a difference means "fetch the detail again"
STATE_FIELDS = ("status", "confirmed", "tracking_number", "delivered_at", "mdp")
PII_FIELDS = ("address", "customer", "customer_name", "email", "phone")


def order_status(status, confirmed) -> str:
    """The normalised status of a MALL order (``open`` and not confirmed: ``PENDING``)."""
    st = str(status or "").lower()
    if st == "open" and not confirmed:
        return "PENDING"
    return ORDER_STATUS.get(st, st.upper() or "PENDING")


def state(order: dict | None) -> tuple:
    """The fields of an order that a ``filter=basic`` row shows and that move."""
    order = order or {}
    return tuple(_state_text(order.get(k)) for k in STATE_FIELDS)


def _state_text(value) -> str | None:
    """One spelling per value, whether it comes from MALL's JSON (``true``) or from the stored
    row through SQLite's ``json_extract`` (``1``)."""
    if value is None or value == "" or value is False or value == 0:
        return None if value in (None, "") else "0"
    if value is True or value == 1:
        return "1"
    return str(value)


def needs_detail(basic: dict, stored_raw: dict | None) -> bool:
    """Is this listed order new or changed since we stored it? (Basic rows carry no update time.)"""
    return stored_raw is None or state(basic) != state(stored_raw)


def decimal(value) -> Decimal | None:
    """A MALL number as Decimal: JSON is decoded with ``parse_float=Decimal``; an int, a text
    and (defensively) a float are taken by their shortest text, never by binary value."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def order_total(order: dict) -> Decimal | None:
    """What the buyer pays: items (price x quantity) + delivery + COD fee - discount. Item prices
    are MALL's consumer prices (VAT included). None when an item has no usable price."""
    total = Decimal(0)
    for it in order.get("items") or []:
        price, qty = decimal(it.get("price")), decimal(it.get("quantity"))
        if price is None or qty is None:
            return None
        total += price * qty
    for key, sign in (("delivery_price", 1), ("cod_price", 1), ("discount", -1)):
        value = decimal(order.get(key))
        if value is not None:
            total += sign * value
    return total


def _store_time(value, tz: ZoneInfo) -> str | None:
    at = parse_time(value, tz)
    return at.astimezone(timezone.utc).isoformat() if at else None


def is_test(order: dict) -> bool:
    return order.get("test") in (True, 1, "1", "true")


def order_row(channel: str, order: dict, tz: ZoneInfo = PRAGUE) -> dict:
    """An MPAPI order (``GET /v1/orders/{id}``) as a row of the core ``orders`` table.

    Buyer data goes only to ``buyer_name`` and ``ship_to`` (for shipping labels); ``raw`` keeps
    the order without them. ``aliases``: MALL's ``purchase_id`` (what MALL's documents and the
    customer see) and ``external_id``."""
    address = order.get("address") if isinstance(order.get("address"), dict) else {}
    items = []
    for it in order.get("items") or []:
        item = {"order_item_id": str(it.get("id")), "sku": str(it.get("id")), "article_id": it.get("article_id"),
                "title": it.get("title"), "quantity": int(decimal(it.get("quantity")) or 0),
                "unit_price": text(decimal(it.get("price"))), "vat_rate": text(decimal(it.get("vat"))),
                "currency": order.get("currency")}
        if it.get("package_size"):
            item["package_size"] = it["package_size"]
        items.append(item)
    times = [t for t in (parse_time(order.get(k), tz) for k in STATUS_TIMES) if t]
    first = min(times, key=lambda t: t.timestamp()) if times else None
    last = max(times, key=lambda t: t.timestamp()) if times else None
    raw = {k: v for k, v in order.items() if k not in PII_FIELDS}
    aliases = [(str(order[k]), kind) for k, kind in (("purchase_id", "mall_purchase"), ("external_id", "mall_external"))
               if order.get(k) not in (None, "")]
    return {
        "key": f"{channel}:{order['id']}",
        "channel": channel,
        "channel_type": "mall",
        "order_id": str(order["id"]),
        "merchant_order_id": None,
        "status": order_status(order.get("status"), order.get("confirmed")),
        "channel_status": str(order.get("status") or ""),
        "purchased_at": first.astimezone(timezone.utc).isoformat() if first else None,
        "updated_at": last.astimezone(timezone.utc).isoformat() if last else None,
        "currency": order.get("currency"),
        "total": text(order_total(order)),
        "buyer_name": address.get("name") or None,
        "ship_to": address or None,
        "items": items,
        "raw": raw,
        "aliases": aliases,
    }


# -- tracking back (non-MDP orders) ----------------------------------------------------------------
MDP_REFUSAL = "MALL Delivery order: MALL sets shipped and the tracking"


def ship_update(order: dict, package: dict) -> tuple[str, dict | str]:
    """What to do to put ``package`` (our tracking) on MALL order ``order`` (its detail):

    - ``("refuse", reason)``: never sent (a MALL Delivery order; cancelled/returned/lost; shipped
      with another tracking number: MALL keeps one per order);
    - ``("done", reason)``: MALL already has it (shipped or delivered with this tracking number);
    - ``("wait", reason)``: not yet possible (``blocked``: MALL is still checking the payment);
    - ``("put", body)``: ``PUT /v1/orders/{id}`` moving it to ``shipped`` with the tracking (and
      confirming it in the same call when it is not confirmed yet);
    - ``("put_tracking", body)``: ``PUT /v1/orders/{id}/tracking`` for an order already marked
      shipped (in MALL's portal) without a tracking number.
    """
    tracking = str(package.get("trackingNumber") or "")
    status = str(order.get("status") or "")
    if order.get("mdp"):
        return "refuse", MDP_REFUSAL
    if not tracking:
        return "refuse", "no tracking number to send"
    if status in ("shipped", "delivered"):
        if str(order.get("tracking_number") or "") == tracking:
            return "done", f"MALL order is {status} with tracking {tracking}"
        if not order.get("tracking_number"):
            return "put_tracking", {"tracking_number": tracking, **_url(package)}
        return "refuse", (f"MALL order is already {status} with tracking {order.get('tracking_number')}; MALL keeps "
                          f"one tracking number per order, {tracking} was not sent")
    if status == "blocked":
        return "wait", "MALL order is blocked (MALL is still checking the payment)"
    if status in ("open", "shipping"):
        body = {"status": "shipped", "tracking_number": tracking, **_url(package)}
        if not order.get("confirmed"):
            body["confirmed"] = True
        return "put", body
    return "refuse", f"MALL order is {status or 'in no status'}: it cannot be shipped"


def _url(package: dict) -> dict:
    url = package.get("trackingUrl") or package.get("tracking_url")
    return {"tracking_url": str(url)} if url else {}


def has_tracking(order: dict | None, tracking: str) -> bool:
    """Does MALL show this order shipped (or further) with our tracking number?"""
    return bool(order) and str(order.get("status")) in ("shipped", "delivered", "returned") \
        and str(order.get("tracking_number") or "") == str(tracking)
