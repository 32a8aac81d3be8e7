"""eBay JSON in and out: Fulfillment ``Order`` -> rows of the core ``orders`` table, our shipment
packages -> ``ShippingFulfillmentDetails``, the filter grammar and the paging links. Pure
functions (no HTTP: ``client.py``; no store: ``channel.py``), so each rule is tested on dicts.

What the contract says (``sell_fulfillment_v1_oas3.yaml`` v1.20.7, research api-contracts §2.2,
settlement-formats §3.3): amounts are ``{"value": "12.34", "currency": "EUR"}`` with the value a
*string*; times are ISO 8601 UTC with milliseconds; ``filter`` values carry ``[ ] { } |`` that
the caller must URL-encode; ``next`` is a whole URI of which only the query is ours to reuse.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl, quote, urlsplit

UTC = timezone.utc

# Normalised order status (the core vocabulary; the raw values stay in channel_status).
PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED = "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"
REFUNDED, CANCELLED = "REFUNDED", "CANCELLED"

# Our carrier code (a carrier plugin's `channel_carrier_code`, compared without case, spaces,
# dashes, dots or underscores) -> eBay's ShippingCarrierCodeType value. eBay's list is a Trading
# API enumeration (GeteBayDetails ShippingCarrierDetails), not part of the REST contract; which
# values each site accepts is unverified (design §2.3). Anything not listed is sent as given and
# a 32300 refusal says to map it with the account's `carrier_codes` table.
EBAY_CARRIER_CODES = {
    "BRT": "BRT", "BARTOLINI": "BRT", "GLS": "GLS", "DHL": "DHL", "UPS": "UPS", "FEDEX": "FedEx", "TNT": "TNT",
    "DPD": "DPD", "SDA": "SDA", "POSTEITALIANE": "PosteItaliane", "POSTE": "PosteItaliane", "NEXIVE": "Nexive",
    "HERMES": "Hermes", "ROYALMAIL": "RoyalMail", "PARCELFORCE": "Parcelforce", "DEUTSCHEPOST": "DeutschePost",
    "COLISSIMO": "Colissimo", "CHRONOPOST": "Chronopost", "CORREOS": "Correos", "SEUR": "SEUR", "POSTNL": "PostNL",
    "INPOST": "InPost", "USPS": "USPS",
}


# -- time -------------------------------------------------------------------------------------------
def ebay_time(dt: datetime) -> str:
    """``2026-11-02T09:00:00.000Z``: the only form the filters accept (``30810`` otherwise)."""
    if dt.tzinfo is None:
        raise ValueError("eBay times must be timezone-aware")
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(text) -> datetime | None:
    """eBay's ISO time (``Z`` or an offset) as an aware UTC datetime; None when absent or not a time."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def store_time(text) -> str | None:
    dt = parse_time(text)
    return dt.isoformat() if dt else None


# -- query strings ----------------------------------------------------------------------------------
def date_range(field: str, start: datetime, end: datetime | None = None) -> str:
    """``lastmodifieddate:[a..b]`` (open end when ``end`` is None)."""
    return f"{field}:[{ebay_time(start)}..{ebay_time(end) if end else ''}]"


def value_set(field: str, values) -> str:
    """``payoutStatus:{SUCCEEDED}``, ``orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}``."""
    return f"{field}:{{{'|'.join(values)}}}"


def encode_query(params: dict) -> str:
    """The query string with every reserved character encoded: the filter grammar's ``[ ] { } |``
    and ``:`` too, as eBay's examples show (``filter=creationdate:%5B…%5D``); we never rely on the
    HTTP library leaving or encoding them."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        parts.append(f"{quote(str(key), safe='')}={quote(str(value), safe=':,.-_')}")
    return "&".join(parts)


def next_query(next_uri: str | None, path_suffix: str) -> dict | None:
    """The query of a ``next`` link as a dict, or None when there is no next page.

    ``next`` is a URI (``https://api.ebay.com/sell/fulfillment/v1/order?limit=10&offset=40``, or a
    path): only its query is reused, on our own configured host, so a link naming another host
    never receives the token. A link for another resource is refused."""
    if not next_uri:
        return None
    parts = urlsplit(next_uri)
    if parts.path and not parts.path.rstrip("/").endswith(path_suffix):
        raise ValueError(f"the next link {parts.path!r} is not a page of {path_suffix}")
    return dict(parse_qsl(parts.query, keep_blank_values=True))


# -- amounts ----------------------------------------------------------------------------------------
def amount(value: dict | None) -> tuple[str | None, str | None]:
    """An eBay ``Amount`` as (exact decimal text, currency); (None, None) when absent."""
    if not isinstance(value, dict) or value.get("value") in (None, ""):
        return None, (value or {}).get("currency") if isinstance(value, dict) else None
    try:
        return format(Decimal(str(value["value"])), "f"), value.get("currency")
    except InvalidOperation:
        return None, value.get("currency")


# -- orders -----------------------------------------------------------------------------------------
def order_status(order: dict) -> tuple[str, str]:
    """(normalised status, channel_status). Cancellation first, then a full refund, then how far
    the fulfilment got. ``channel_status`` keeps eBay's words: ``fulfilment/payment/cancel``."""
    fulfil = str(order.get("orderFulfillmentStatus") or "").upper()
    payment = str(order.get("orderPaymentStatus") or "").upper()
    cancel = str((order.get("cancelStatus") or {}).get("cancelState") or "").upper()
    raw = "/".join((fulfil or "-", payment or "-", cancel or "-"))
    if cancel in ("CANCELED", "CANCELLED"):
        return CANCELLED, raw
    if payment == "FULLY_REFUNDED":
        return REFUNDED, raw
    if payment in ("PENDING", "FAILED"):
        return PENDING, raw
    if fulfil == "FULFILLED":
        return SHIPPED, raw
    if fulfil == "IN_PROGRESS":
        return PARTIALLY_SHIPPED, raw
    return UNSHIPPED, raw


def ship_to(order: dict) -> dict | None:
    """The shipping address in the store's neutral keys (shipments read ``name``, ``street`` …)."""
    for ins in order.get("fulfillmentStartInstructions") or []:
        contact = ((ins or {}).get("shippingStep") or {}).get("shipTo")
        if not isinstance(contact, dict):
            continue
        addr = contact.get("contactAddress") or {}
        out = {
            "name": contact.get("fullName"), "company": contact.get("companyName"),
            "street": addr.get("addressLine1"), "street2": addr.get("addressLine2"),
            "postal_code": addr.get("postalCode"), "city": addr.get("city"),
            "province": addr.get("stateOrProvince"), "country": addr.get("countryCode"),
            "phone": (contact.get("primaryPhone") or {}).get("phoneNumber"), "email": contact.get("email"),
        }
        return {k: v for k, v in out.items() if v not in (None, "")} or None
    return None


def _without_pii(order: dict) -> dict:
    """The order as ``raw`` keeps it: no ``buyer`` block, no ``shipTo`` contact."""
    raw = {k: v for k, v in order.items() if k != "buyer"}
    ins = []
    for i in order.get("fulfillmentStartInstructions") or []:
        i = dict(i or {})
        if isinstance(i.get("shippingStep"), dict):
            i["shippingStep"] = {k: v for k, v in i["shippingStep"].items() if k != "shipTo"}
        i.pop("finalDestinationAddress", None)
        ins.append(i)
    if ins:
        raw["fulfillmentStartInstructions"] = ins
    return raw


def order_row(channel: str, order: dict) -> dict:
    """An eBay ``Order`` as a row of the core ``orders`` table (plus ``aliases``).

    Buyer data goes only to ``buyer_name`` and ``ship_to`` (needed for shipping labels); ``raw``
    keeps the rest. ``expected_fee`` is ``totalMarketplaceFee`` (what eBay says it will keep).
    ``aliases`` holds the legacy order id when the answer still carries one."""
    status, channel_status = order_status(order)
    total, currency = amount((order.get("pricingSummary") or {}).get("total"))
    fee, _ = amount(order.get("totalMarketplaceFee"))
    items = []
    for it in order.get("lineItems") or []:
        line_total, line_cur = amount(it.get("total"))
        items.append({
            "order_item_id": it.get("lineItemId"), "sku": it.get("sku"), "title": it.get("title"),
            "quantity": it.get("quantity"), "item_id": it.get("legacyItemId"), "total": line_total,
            "currency": line_cur or currency, "fulfillment_status": it.get("lineItemFulfillmentStatus"),
        })
    address = ship_to(order)
    aliases = []
    legacy = order.get("legacyOrderId")
    if legacy and legacy != order["orderId"]:
        aliases.append((str(legacy), "ebay_legacy"))
    return {
        "key": f"{channel}:{order['orderId']}",
        "channel": channel,
        "channel_type": "ebay",
        "order_id": str(order["orderId"]),
        "merchant_order_id": None,
        "status": status,
        "channel_status": channel_status,
        "purchased_at": store_time(order.get("creationDate")),
        "updated_at": store_time(order.get("lastModifiedDate")),
        "currency": currency,
        "total": total,
        "expected_fee": fee,
        "buyer_name": (address or {}).get("name"),
        "ship_to": address,
        "items": items,
        "raw": _without_pii(order),
        "aliases": aliases,
    }


def stored_items(row: dict | None) -> list[dict]:
    """(lineItemId, quantity) of a stored order (``items`` JSON)."""
    items = row.get("items") if row else None
    if isinstance(items, str):
        items = json.loads(items or "[]")
    return [{"lineItemId": str(i["order_item_id"]), "quantity": int(i.get("quantity") or 1)}
            for i in items or [] if isinstance(i, dict) and i.get("order_item_id")]


# -- shipping fulfilments ---------------------------------------------------------------------------
def carrier_key(code: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(code or "")).upper()


def ebay_carrier(code: str, name: str = "", overrides: dict[str, str] | None = None) -> str:
    """eBay's ``shippingCarrierCode`` for our carrier; ``overrides`` (keyed by :func:`carrier_key`)
    is the account's ``carrier_codes`` table. Unknown codes go as given (the name when no code)."""
    for candidate in (code, name):
        key = carrier_key(candidate)
        if key and ((overrides or {}).get(key) or EBAY_CARRIER_CODES.get(key)):
            return (overrides or {}).get(key) or EBAY_CARRIER_CODES[key]
    return str(code or name or "Other")


def fulfillment_body(package: dict, items: list[dict], now: datetime,
                     overrides: dict[str, str] | None = None) -> dict:
    """``ShippingFulfillmentDetails`` for one package. ``items`` (lineItemId, quantity) are used
    when the package lists none. ``shippedDate`` is the package's ship date, never later than
    ``now`` (a future date is refused with ``32500``)."""
    lines = [{"lineItemId": str(i.get("orderItemId") or i.get("lineItemId")), "quantity": int(i["quantity"])}
             for i in (package.get("orderItems") or items)]
    shipped = package.get("shipDate")
    when = shipped if isinstance(shipped, datetime) else parse_time(shipped) if shipped else None
    when = min(when or now, now)
    return {
        "lineItems": lines,
        "shippedDate": ebay_time(when),
        "shippingCarrierCode": ebay_carrier(package.get("carrierCode", ""), package.get("carrierName", ""), overrides),
        "trackingNumber": str(package["trackingNumber"]),
    }


def fulfillment_id(location: str | None) -> str | None:
    """The fulfilment id: the last path segment of the 201's ``Location``."""
    if not location:
        return None
    path = urlsplit(location).path.rstrip("/")
    if "/shipping_fulfillment/" not in path:
        return None
    return path.rsplit("/", 1)[-1] or None


def tracking_key(number) -> str:
    """Tracking numbers compared without case or spaces (eBay may normalise what it stores)."""
    return re.sub(r"\s+", "", str(number or "")).upper()


def find_fulfillment(fulfillments: list[dict], tracking: str) -> dict | None:
    """The fulfilment on the order that carries ``tracking``, if any."""
    want = tracking_key(tracking)
    return next((f for f in fulfillments or [] if tracking_key(f.get("shipmentTrackingNumber")) == want), None)


def covered_line_items(fulfillments: list[dict]) -> set[str]:
    return {str(li.get("lineItemId")) for f in fulfillments or [] for li in f.get("lineItems") or []}


# -- errors -----------------------------------------------------------------------------------------
def errors_of(doc) -> list[dict]:
    """eBay's ``errors`` list of an answer body; [] when there is none."""
    if isinstance(doc, dict) and isinstance(doc.get("errors"), list):
        return [e for e in doc["errors"] if isinstance(e, dict)]
    return []


def error_ids(errors: list[dict]) -> set[int]:
    out = set()
    for e in errors:
        try:
            out.add(int(e.get("errorId")))
        except (TypeError, ValueError):
            pass
    return out


def error_text(errors: list[dict]) -> str:
    return "; ".join(f"{e.get('errorId', '')}: {e.get('message', '')}"
                     + (f" ({e['longMessage']})" if e.get("longMessage") and e.get("longMessage") != e.get("message")
                        else "") for e in errors)


# The actions plugin's reasons -> eBay's ReasonForRefundEnum (eBay's type page; the OpenAPI file
# names the type only). A price error is the seller's own finding of a cheaper price.
# A seller's cancellation takes one of three reasons (Post-Order CancelReasonEnum, seller side);
# a price error or "other" is the seller's "cannot fulfil".
CANCEL_REASONS = {"out_of_stock": "OUT_OF_STOCK_OR_CANNOT_FULFILL", "buyer_request": "BUYER_ASKED_CANCEL",
                  "address_issue": "ADDRESS_ISSUES", "price_error": "OUT_OF_STOCK_OR_CANNOT_FULFILL",
                  "other": "OUT_OF_STOCK_OR_CANNOT_FULFILL"}
REFUND_REASONS = {"buyer_request": "BUYER_CANCEL", "out_of_stock": "SELLER_OUT_OF_STOCK",
                  "address_issue": "ITEM_NOT_RECEIVED", "price_error": "SELLER_FOUND_CHEAPER_PRICE", "other": "OTHER"}
