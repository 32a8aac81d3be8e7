"""MALL's JSON in and out: MPAPI orders and labels <-> the SDK's carrier models. No HTTP here
(that is ``client.py``), so every rule is tested on plain dicts.

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
from datetime import datetime
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


def parse_time(text) -> datetime | None:
    """MALL's ``Y-m-d H:i:s`` (or ISO) as an aware time; no offset means MALL's local time."""
    if not text:
        return None
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PRAGUE)
    except ValueError:
        try:
            d = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            return None
        return d if d.tzinfo else d.replace(tzinfo=PRAGUE)


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
