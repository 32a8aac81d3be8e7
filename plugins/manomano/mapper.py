"""ManoMano Partners API JSON in and out: orders -> rows of the core ``orders`` table, our
shipment packages -> ``/orders/v1/shippings`` items, and the per-order results of the batch
endpoints (204 / 207) -> one verdict per order. Pure functions: no HTTP (``client.py``), no
store (``channel.py``), so each rule is tested on plain dicts.

ManoMano publishes no machine-readable contract; the shapes here follow the research notes
(``api-contracts.md`` §3, ``settlement-formats.md`` §4), which rest on third-party clients.
Where those are unsure (the 207 item shape, the carrier vocabulary) the code reads defensively
and keeps the raw text.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

# ManoMano order status -> the normalised status of the core ``orders`` table (design §1.10/§3.2).
# The raw value is kept in ``channel_status``. REMORSE_PERIOD's meaning is unverified; it is not
# shippable, so it counts as PENDING. Some clients also see DELIVERED/COMPLETED.
STATUSES = {
    "WAITING_PAYMENT": "PENDING",
    "REMORSE_PERIOD": "PENDING",
    "PENDING": "PENDING",            # waits for the seller to accept or refuse
    "PREPARATION": "UNSHIPPED",      # accepted, to ship
    "SHIPPED": "SHIPPED",
    "DELIVERED": "DELIVERED",
    "COMPLETED": "DELIVERED",
    "REFUNDING": "REFUNDED",
    "REFUNDED": "REFUNDED",
    "REFUSED": "CANCELLED",
    "CANCELLED": "CANCELLED",
}
SHIPPED_STATUSES = frozenset({"SHIPPED", "DELIVERED", "COMPLETED"})
NEEDS_ACCEPT = "PENDING"

# Our carrier code (compared loosely: upper case, no spaces/dashes/dots/underscores) -> the
# carrier name ManoMano expects in ``carrier``. ManoMano wants the *name* from its carrier list,
# written as the list writes it ("BRT", "Poste Italiane"); the list comes from a third-party
# connector quoting ManoMano's PDF (unverified). Anything else is sent as our carrier label;
# override per account with ``carrier_names``.
CARRIER_NAMES = {
    "BRT": "BRT", "BARTOLINI": "BRT", "GLS": "GLS", "DHL": "DHL", "DHLPARCEL": "DHL Parcel", "UPS": "UPS",
    "TNT": "TNT", "DPD": "DPD", "SDA": "SDA", "FEDEX": "Fedex", "POSTEITALIANE": "Poste Italiane",
    "POSTE": "Poste Italiane", "COLISSIMO": "Colissimo", "CHRONOPOST": "Chronopost", "CORREOS": "Correos",
    "CORREOSEXPRESS": "Correos Express", "SEUR": "Seur", "MRW": "MRW", "NACEX": "NACEX", "GEODIS": "Geodis",
    "HERMES": "Hermes", "POSTNL": "Post NL", "BPOST": "Bpost", "DEUTSCHEPOST": "Deutsche Post",
    "MONDIALRELAY": "Mondial Relay", "COLISPRIVE": "Colis Privé", "ROYALMAIL": "Royal Mail", "TIPSA": "TIPSA",
}


def carrier_key(code: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(code or "")).upper()


def carrier_name(code: str, label: str = "", overrides: dict[str, str] | None = None) -> str:
    """The ``carrier`` value for our carrier ``code``/``label``; ``overrides`` is the account's
    ``carrier_names`` table (keys compared like :func:`carrier_key`)."""
    key = carrier_key(code)
    over = {carrier_key(k): v for k, v in (overrides or {}).items()}
    return over.get(key) or CARRIER_NAMES.get(key) or str(label or code)


def store_time(value: str | None) -> str | None:
    """ManoMano's ``2024-07-01T00:00:00Z`` (or with an offset) as aware UTC ISO text; a time
    without a zone is taken as UTC (the API documents UTC)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat()


def api_time(dt: datetime) -> str:
    """``2024-07-01T00:00:00Z``, the form ManoMano's examples use in filters."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def amount(value) -> Decimal | None:
    """A money value as the API writes it: ``{"amount": 59.9, "currency": "EUR"}``, a bare number
    or a string. JSON numbers arrive as Decimal (the client parses with ``parse_float=Decimal``);
    a float is taken through its shortest text, never its binary value."""
    if isinstance(value, dict):
        value = value.get("amount")
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        out = Decimal(value) if isinstance(value, (Decimal, int, str)) else Decimal(repr(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return out if out.is_finite() else None


def currency_of(*values) -> str | None:
    for v in values:
        if isinstance(v, dict) and v.get("currency"):
            return str(v["currency"])
    return None


def _text(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


def buyer_name(address: dict | None) -> str | None:
    if not isinstance(address, dict):
        return None
    name = " ".join(str(address.get(k) or "").strip() for k in ("firstname", "lastname")).strip()
    return name or (str(address.get("company") or "").strip() or None)


def status_of(raw_status: str | None) -> str | None:
    raw = str(raw_status or "").upper()
    return STATUSES.get(raw, raw or None)


def order_row(channel: str, order: dict) -> dict:
    """A ManoMano ``Order`` as a row of the core ``orders`` table.

    Buyer PII (the ``addresses`` block) goes only to ``buyer_name`` and ``ship_to`` (stored for
    shipping labels); ``raw`` keeps the order without it. Items are keyed by ``seller_sku``:
    ManoMano has no line id, and the shipping call names products by SKU.
    """
    ref = str(order["order_reference"])
    addresses = order.get("addresses") or {}
    shipping = dict(addresses.get("shipping") or addresses.get("billing") or {})
    name = buyer_name(shipping) or buyer_name(addresses.get("billing"))
    if shipping and name and not shipping.get("name"):
        shipping["name"] = name
    items = []
    for p in order.get("products") or []:
        if not isinstance(p, dict):
            continue
        items.append({
            "order_item_id": str(p.get("seller_sku") or ""),
            "sku": p.get("seller_sku"),
            "title": p.get("title"),
            "quantity": int(p.get("quantity") or 0),
            "unit_price": _text(amount(p.get("price"))),
            "unit_price_excluding_vat": _text(amount(p.get("price_excluding_vat"))),
            "vat_rate": _text(amount(p.get("vat_rate"))),
            "currency": currency_of(p.get("price"), order.get("total_price")),
        })
    raw_status = str(order.get("status") or "").upper() or None
    raw = {k: v for k, v in order.items() if k != "addresses"}
    return {
        "key": f"{channel}:{ref}",
        "channel": channel,
        "channel_type": "manomano",
        "order_id": ref,
        "merchant_order_id": None,
        "status": status_of(raw_status),
        "channel_status": raw_status,
        "purchased_at": store_time(order.get("created_at")),
        "updated_at": store_time(order.get("status_updated_at")) or store_time(order.get("created_at")),
        "currency": currency_of(order.get("total_price"), order.get("products_price"), order.get("shipping_price")),
        "total": _text(amount(order.get("total_price"))),
        "buyer_name": name,
        "ship_to": shipping or None,
        "items": items,
        "raw": raw,
    }


def stored_items(row: dict | None) -> list[dict]:
    """(seller_sku, quantity) of a stored order (``items`` JSON)."""
    items = row.get("items") if row else None
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except ValueError:
            items = None
    return [{"seller_sku": str(i["order_item_id"]), "quantity": int(i.get("quantity") or 1)}
            for i in items or [] if isinstance(i, dict) and i.get("order_item_id")]


# -- tracking back ------------------------------------------------------------------------------------
def tracking_url(package: dict, templates: dict[str, str] | None = None) -> str | None:
    """The package's tracking URL, else the account's template for its carrier (``{tracking_number}``)."""
    if package.get("trackingUrl"):
        return str(package["trackingUrl"])
    key = carrier_key(package.get("carrierCode", ""))
    for code, template in (templates or {}).items():
        if carrier_key(code) == key:
            return template.replace("{tracking_number}", str(package.get("trackingNumber") or ""))
    return None


def shipping_item(order_ref: str, contract_id: int, package: dict, *, items: list[dict] | None = None,
                  carrier_names: dict[str, str] | None = None, tracking_urls: dict[str, str] | None = None) -> dict:
    """One ``/orders/v1/shippings`` item for our package (``build_package``'s shape: Amazon's
    ``PackageDetail`` terms, ``orderItemId`` being the seller SKU here). ``items`` are the stored
    order's (seller_sku, quantity), used when the package lists none."""
    item = {
        "order_reference": order_ref,
        "seller_contract_id": int(contract_id),
        "carrier": carrier_name(package.get("carrierCode", ""), package.get("carrierName", ""), carrier_names),
        "tracking_number": str(package["trackingNumber"]),
    }
    url = tracking_url(package, tracking_urls)
    if url:
        item["tracking_url"] = url
    products = [{"seller_sku": str(i["orderItemId"]), "quantity": int(i.get("quantity") or 1)}
                for i in package.get("orderItems") or [] if i.get("orderItemId")] or list(items or [])
    if products:
        item["products"] = products
    return item


def order_refs(items: list[dict]) -> list[str]:
    return [str(i["order_reference"]) for i in items]


# -- batch answers (accept-orders, refuse-orders, shippings) -------------------------------------------
OK_WORDS = frozenset({"SUCCESS", "SUCCEEDED", "OK", "DONE", "ACCEPTED", "CREATED", "SHIPPED", "VALID"})
ERROR_WORDS = frozenset({"ERROR", "FAILED", "FAILURE", "KO", "REFUSED", "REJECTED", "INVALID"})


def _verdict(result) -> tuple[str, str]:
    """("ok" | "error" | "unknown", text) for one item's ``result`` (its shape is unverified:
    a word, a ``{"status": …}`` object, ``{"success": bool}``, or an error list)."""
    if isinstance(result, bool):
        return ("ok" if result else "error"), ""
    if isinstance(result, str):
        word = result.strip().upper()
        return ("ok" if word in OK_WORDS else "error" if word in ERROR_WORDS else "unknown"), result
    if not isinstance(result, dict):
        return "unknown", json.dumps(result, default=str)[:300]
    text = error_text(result)
    if result.get("success") is True:
        return "ok", text
    if result.get("success") is False or result.get("errors") or result.get("error"):
        return "error", text
    word = str(result.get("status") or result.get("code") or result.get("result") or "").strip().upper()
    if word in OK_WORDS:
        return "ok", text
    if word in ERROR_WORDS or word.startswith("ERR"):
        return "error", text
    return "unknown", text or json.dumps(result, default=str)[:300]


def batch_results(status: int, doc, refs: list[str]) -> dict[str, tuple[str, str]]:
    """Per order reference of a batch call: ``("ok" | "error" | "unknown", text)``.

    204 means every item succeeded. 207 carries ``content[]`` items with ``order_reference`` and
    a ``result``; an order the answer does not mention is ``unknown`` (the caller reads the order
    back before doing anything else). Any other status applies to the whole batch."""
    if status in (200, 201, 204) and not _items(doc):
        return {ref: ("ok", "") for ref in refs}
    if status in (200, 201, 204, 207):
        found: dict[str, tuple[str, str]] = {}
        for item in _items(doc):
            if not isinstance(item, dict):
                continue
            ref = str(item.get("order_reference") or item.get("orderReference") or "")
            if not ref:
                continue
            result = item.get("result", item.get("status", item))
            found[ref] = _verdict(result)
        return {ref: found.get(ref, ("unknown", "no result for this order in the answer")) for ref in refs}
    text = error_text(doc) or f"HTTP {status}"
    return {ref: ("error", text) for ref in refs}


def _items(doc) -> list:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in ("content", "results", "items", "data"):
            if isinstance(doc.get(key), list):
                return doc[key]
    return []


def error_text(doc) -> str:
    """ManoMano's error text from whatever shape the body has (not documented): ``message``,
    ``error``, ``errors[]``, ``detail``."""
    if isinstance(doc, str):
        return doc[:300]
    if not isinstance(doc, dict):
        return ""
    parts = []
    for key in ("code", "error_code"):
        if doc.get(key) not in (None, ""):
            parts.append(str(doc[key]))
            break
    for key in ("message", "error", "detail", "title", "description"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
            break
        if isinstance(value, dict):
            parts.append(error_text(value))
            break
    errs = doc.get("errors")
    if isinstance(errs, list):
        parts.extend(error_text(e) if isinstance(e, dict) else str(e) for e in errs[:5])
    elif isinstance(errs, dict):
        parts.extend(f"{k}: {v}" for k, v in list(errs.items())[:5])
    return ": ".join(p for p in parts if p)[:500]
