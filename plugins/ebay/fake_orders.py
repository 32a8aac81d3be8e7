"""The fake eBay's order side: generated orders in eBay's ``Order`` shape, ``getOrders`` with the
filter grammar and offset paging, ``getOrder``, and shipping fulfilments (see ``fake.py``).

Everything here answers ``(status, body, headers)`` through :class:`Reply`; the fake's pipeline
(auth, quota, contract checks) is in ``fake.py``.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote

UTC = timezone.utc
FIRST = ["Mario", "Giulia", "Luca", "Francesca", "Marco", "Chiara", "Paolo", "Elena", "Andrea", "Sara"]
LAST = ["Rossi", "Bianchi", "Esposito", "Ferrari", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno"]
CITIES = [("Milano", "MI", "20121"), ("Roma", "RM", "00184"), ("Torino", "TO", "10121"), ("Napoli", "NA", "80133"),
          ("Bologna", "BO", "40121"), ("Firenze", "FI", "50123")]
PRODUCTS = [("Tazza 350 ml", "15.00"), ("Lampada da tavolo", "39.90"), ("Set coltelli", "24.50"),
            ("Cuscino arredo", "12.00"), ("Borraccia inox", "18.90"), ("Orologio da parete", "29.00")]
# eBay's ShippingCarrierCodeType values the fake accepts (a few; research api-contracts §2.2).
CARRIERS = {"BRT", "GLS", "DHL", "UPS", "FedEx", "TNT", "DPD", "SDA", "PosteItaliane", "Nexive", "Hermes",
            "RoyalMail", "Parcelforce", "DeutschePost", "Colissimo", "Chronopost", "Correos", "SEUR", "PostNL",
            "InPost", "USPS", "Other"}
MAX_FULFILLMENTS = 10   # per order: 34100 beyond [number unverified]
FINAL_VALUE_RATE = Decimal("0.1150")  # the fake's variable final value fee
FIXED_FEE = Decimal("0.35")


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)


def iso(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """eBay's filter time ``YYYY-MM-DDTHH:MM:SS.SSSZ`` (milliseconds optional); ValueError otherwise."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z", text or ""):
        raise ValueError(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def money(value: Decimal, currency: str = "EUR") -> dict:
    return {"value": format(value.quantize(Decimal("0.01")), "f"), "currency": currency}


def error(error_id: int, message: str, *, domain: str = "API_FULFILLMENT", category: str = "REQUEST",
          long: str | None = None, parameters: dict | None = None) -> dict:
    e = {"errorId": error_id, "domain": domain, "category": category, "message": message}
    if long:
        e["longMessage"] = long
    if parameters:
        e["parameters"] = [{"name": k, "value": str(v)} for k, v in parameters.items()]
    return {"errors": [e]}


def make_order(rng: random.Random, created: datetime, *, currency: str = "EUR", items: int | None = None,
               seller: str = "negozio_it", marketplace: str = "EBAY_IT", status: str = "NOT_STARTED") -> dict:
    """One paid order as ``getOrders`` returns it (every field typed as in the contract)."""
    n = items or rng.choice([1, 1, 1, 2, 3])
    oid = f"{rng.randint(10, 27)}-{rng.randint(10000, 99999)}-{rng.randint(10000, 99999)}"
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, prov, zipc = rng.choice(CITIES)
    lines, subtotal, shipping = [], Decimal(0), Decimal(0)
    for i in range(n):
        title, price = rng.choice(PRODUCTS)
        qty = rng.choice([1, 1, 2])
        cost = Decimal(price) * qty
        ship = Decimal("4.90") if i == 0 else Decimal("0.00")
        subtotal += cost
        shipping += ship
        lines.append({
            "lineItemId": str(rng.randint(10 ** 13, 10 ** 14 - 1)), "legacyItemId": str(rng.randint(10 ** 11, 10 ** 12 - 1)),
            "sku": f"SKU-{rng.randint(1, 999):03d}", "title": title, "quantity": qty,
            "lineItemCost": money(cost, currency), "total": money(cost + ship, currency),
            "deliveryCost": {"shippingCost": money(ship, currency)},
            "lineItemFulfillmentStatus": "NOT_STARTED" if status == "NOT_STARTED" else "FULFILLED",
            "soldFormat": "FIXED_PRICE", "listingMarketplaceId": marketplace, "purchaseMarketplaceId": marketplace,
            "taxes": [], "appliedPromotions": [], "properties": {"buyerProtection": True},
            "lineItemFulfillmentInstructions": {"shipByDate": iso(created + timedelta(days=2)),
                                                "guaranteedDelivery": False},
            "itemLocation": {"countryCode": "IT", "location": "Milano", "postalCode": "20100"},
        })
    total = subtotal + shipping
    fee = (total * FINAL_VALUE_RATE).quantize(Decimal("0.01")) + FIXED_FEE
    contact = {"fullName": f"{first} {last}",
               "contactAddress": {"addressLine1": f"Via {rng.choice(LAST)} {rng.randint(1, 120)}", "city": city,
                                  "stateOrProvince": prov, "postalCode": zipc, "countryCode": "IT"},
               "primaryPhone": {"phoneNumber": f"+39 3{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}"},
               "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com"}
    username = f"{first.lower()}_{last.lower()[:3]}{rng.randint(1, 999)}"
    return {
        "orderId": oid, "creationDate": iso(created), "lastModifiedDate": iso(created),
        "orderFulfillmentStatus": status, "orderPaymentStatus": "PAID", "sellerId": seller,
        "buyer": {"username": username, "buyerRegistrationAddress": dict(contact)},
        "pricingSummary": {"priceSubtotal": money(subtotal, currency), "deliveryCost": money(shipping, currency),
                           "total": money(total, currency)},
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "paymentSummary": {"totalDueSeller": money(total, currency), "refunds": [],
                           "payments": [{"paymentMethod": "EBAY", "paymentReferenceId": str(rng.randint(10 ** 9, 10 ** 10)),
                                         "paymentDate": iso(created), "amount": money(total, currency),
                                         "paymentStatus": "PAID"}]},
        "fulfillmentStartInstructions": [{
            "fulfillmentInstructionsType": "SHIP_TO", "ebaySupportedFulfillment": False,
            "minEstimatedDeliveryDate": iso(created + timedelta(days=2)),
            "maxEstimatedDeliveryDate": iso(created + timedelta(days=5)),
            "shippingStep": {"shippingCarrierCode": "", "shippingServiceCode": "IT_ExpressCourier", "shipTo": contact}}],
        "fulfillmentHrefs": [], "lineItems": lines, "salesRecordReference": "0", "ebayCollectAndRemitTax": False,
        "totalFeeBasisAmount": money(total, currency), "totalMarketplaceFee": money(fee, currency),
    }


def generate_orders(n: int, *, now: datetime, days: float = 7, seed: int = 1, **kw) -> list[dict]:
    rng = random.Random(seed)
    span = days * 86400
    orders = [make_order(rng, now - timedelta(seconds=span * (n - i) / max(n, 1)), **kw) for i in range(n)]
    seen = set()
    for o in orders:  # unique ids
        while o["orderId"] in seen:
            o["orderId"] = f"{rng.randint(10, 27)}-{rng.randint(10000, 99999)}-{rng.randint(10000, 99999)}"
        seen.add(o["orderId"])
    return orders


# -- the filter grammar -----------------------------------------------------------------------------
class FilterError(Exception):
    def __init__(self, reply: Reply):
        self.reply = reply


def _bad(error_id: int, message: str, **params) -> FilterError:
    return FilterError(Reply(400, error(error_id, message, parameters=params or None)))


def split_filter(text: str) -> list[tuple[str, str]]:
    """``a:[x..y],b:{P|Q}`` -> [(a, [x..y]), (b, {P|Q})]; commas inside brackets do not split."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    pairs = []
    for part in out:
        name, sep, value = part.strip().partition(":")
        pairs.append((name.strip(), value.strip() if sep else ""))
    return pairs


def date_range(value: str, now: datetime, *, invalid: int = 30810, missing: int = 30820, order: int = 30840,
               future: int | None = 30850, field: str = "") -> tuple[datetime, datetime | None]:
    m = re.fullmatch(r"\[([^\]]*?)\.\.([^\]]*)\]", value)
    if not m:
        raise _bad(invalid, "Invalid date format" if invalid == 30810 else "The value of date filter is invalid.",
                   fieldname=field)
    a, b = m.group(1), m.group(2)
    if not a:
        raise _bad(missing, "Start date is missing", fieldname=field)
    try:
        start = parse_iso(a)
        end = parse_iso(b) if b else None
    except ValueError:
        raise _bad(invalid, "Invalid date format", fieldname=field)
    if future is not None and (start > now or (end is not None and end > now)):
        raise _bad(future, "Start and end dates can't be in the future", fieldname=field)
    if end is not None and start > end:
        raise _bad(order, "Start date should be before end date", fieldname=field)
    return start, end


def value_set(value: str) -> list[str] | None:
    m = re.fullmatch(r"\{([^}]*)\}", value)
    return [v for v in m.group(1).split("|") if v] if m else None


def int_param(text, default: int, lo: int, hi: int | None, error_id: int, what: str) -> int:
    if text is None or text == "":
        return default
    try:
        n = int(text)
    except ValueError:
        raise _bad(error_id, f"Invalid {what}: {text}")
    if n < lo or (hi is not None and n > hi):
        raise _bad(error_id, f"Invalid {what}: {text}")
    return n


def page_links(base: str, path: str, query: dict, offset: int, limit: int, total: int) -> dict:
    def href(off: int) -> str:
        q = {**query, "limit": limit, "offset": off}
        return f"{base}{path}?" + "&".join(f"{k}={quote(str(v), safe=':,.-_')}" for k, v in q.items() if v is not None)

    out = {"href": href(offset), "limit": limit, "offset": offset, "total": total}
    if offset + limit < total:
        out["next"] = href(offset + limit)
    if offset > 0:
        out["prev"] = href(max(0, offset - limit))
    return out
