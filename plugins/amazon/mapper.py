"""SP-API JSON in and out: v2026 orders -> rows of the core ``orders`` table, and our shipment
packages -> Orders v0 ``confirmShipment`` bodies. Pure functions: no HTTP (``client.py``), no
store (``channel.py``), so each rule is tested on plain dicts.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from marketd.sdk import utc_iso

# Our carrier code (what a carrier plugin calls `channel_carrier_code`, normalised: upper case,
# no spaces/dashes/underscores) -> Amazon `carrierCode`. Amazon's accepted list is a docs page
# linked from the ordersV0 model ("CarrierCode announcement"); whether every value below is
# accepted in every marketplace is unverified (research §9.4). Anything not listed is sent as
# carrierCode "Other" with carrierName. Override per account with the `carrier_codes` table.
AMAZON_CARRIER_CODES = {
    "BRT": "BRT", "BARTOLINI": "BRT",
    "GLS": "GLS", "DHL": "DHL", "UPS": "UPS", "FEDEX": "FedEx", "TNT": "TNT", "DPD": "DPD",
    "SDA": "SDA", "POSTEITALIANE": "Poste Italiane", "POSTE": "Poste Italiane", "NEXIVE": "Nexive",
    "HERMES": "Hermes", "ROYALMAIL": "Royal Mail", "DEUTSCHEPOST": "Deutsche Post",
    "COLISSIMO": "Colissimo", "CHRONOPOST": "Chronopost", "CORREOS": "Correos", "SEUR": "SEUR",
    "POSTNL": "PostNL", "INPOST": "InPost", "USPS": "USPS",
}


def store_time(value: str | None) -> str | None:
    """Amazon's ``2024-12-25T10:30:00Z`` as ``2024-12-25T10:30:00+00:00`` (our store's form)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat()


def money(m: dict | None) -> tuple[str | None, str | None]:
    if not isinstance(m, dict) or m.get("amount") in (None, ""):
        return None, None
    try:
        return format(Decimal(str(m["amount"])), "f"), m.get("currencyCode")
    except InvalidOperation:
        return None, m.get("currencyCode")


def order_row(channel: str, order: dict) -> dict:
    """An SP-API v2026 ``Order`` as a row of the core ``orders`` table.

    Buyer PII goes only to ``buyer_name`` and ``ship_to`` (stored for shipping labels);
    ``raw`` keeps the order without the ``buyer`` and ``recipient`` blocks.
    """
    buyer = order.get("buyer") or {}
    recipient = order.get("recipient") or {}
    address = dict(recipient.get("deliveryAddress") or {})
    if address and buyer.get("buyerEmail"):
        address["email"] = buyer["buyerEmail"]
    if address and buyer.get("buyerCompanyName") and not address.get("companyName"):
        address["companyName"] = buyer["buyerCompanyName"]
    items = []
    currency = None
    computed = Decimal(0)
    computable = True
    for it in order.get("orderItems") or []:
        product = it.get("product") or {}
        unit, cur = money((product.get("price") or {}).get("unitPrice"))
        proceeds, pcur = money((it.get("proceeds") or {}).get("proceedsTotal"))
        currency = currency or pcur or cur
        fulfil = it.get("fulfillment") or {}
        item = {
            "order_item_id": it.get("orderItemId"),
            "sku": product.get("sellerSku"),
            "asin": product.get("asin"),
            "title": product.get("title"),
            "quantity": it.get("quantityOrdered"),
            "quantity_shipped": fulfil.get("quantityFulfilled"),
            "unit_price": unit,
            "proceeds": proceeds,
            "currency": pcur or cur,
        }
        url = (product.get("customization") or {}).get("customizedUrl")
        if url:
            item["customized_url"] = url
        items.append(item)
        if proceeds is not None:
            computed += Decimal(proceeds)
        else:
            computable = False
    total, tcur = money((order.get("proceeds") or {}).get("grandTotal"))
    if total is None and computable and items:
        total = format(computed, "f")
    merchant_id = next((a.get("aliasId") for a in order.get("orderAliases") or []
                        if a.get("aliasType") == "SELLER_ORDER_ID"), None)
    raw = {k: v for k, v in order.items() if k not in ("buyer", "recipient")}
    return {
        "key": f"{channel}:{order['orderId']}",
        "channel": channel,
        "channel_type": "amazon",
        "order_id": order["orderId"],
        "merchant_order_id": merchant_id,
        "status": (order.get("fulfillment") or {}).get("fulfillmentStatus"),
        "purchased_at": store_time(order.get("createdTime")),
        "updated_at": store_time(order.get("lastUpdatedTime")),
        "currency": tcur or currency,
        "total": total,
        "buyer_name": buyer.get("buyerName") or address.get("name"),
        "ship_to": address or None,
        "items": items,
        "raw": raw,
    }


# -- shipment confirmation --------------------------------------------------------------------------
def carrier_key(code: str) -> str:
    """A carrier code compared loosely: upper case, no spaces, dashes, dots or underscores."""
    return re.sub(r"[\s_\-.]+", "", str(code or "")).upper()


def amazon_carrier(code: str, name: str = "", overrides: dict[str, str] | None = None) -> tuple[str, str]:
    """(carrierCode, carrierName) for our carrier code/name; ``overrides`` (keyed by
    :func:`carrier_key`) is the account's ``carrier_codes`` table."""
    if str(code) == "Other":
        return "Other", name or "Other"
    key = carrier_key(code)
    mapped = (overrides or {}).get(key) or AMAZON_CARRIER_CODES.get(key)
    if mapped and mapped != "Other":
        return mapped, name or mapped
    return "Other", name or code


def ship_date(value, now: datetime) -> str:
    """The package's ship date as Amazon's UTC ISO time; ``now`` when none was given."""
    if isinstance(value, datetime):
        return utc_iso(value)
    if value:
        try:
            return utc_iso(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        except ValueError:
            return str(value)
    return utc_iso(now)


def confirmation_body(marketplace_id: str, package: dict, items: list[dict], now: datetime,
                      overrides: dict[str, str] | None = None) -> dict:
    """The ``ConfirmShipmentRequest`` for one package; ``items`` (``orderItemId``, ``quantity``)
    are used when the package does not list its own."""
    code, name = amazon_carrier(package.get("carrierCode", ""), package.get("carrierName", ""), overrides)
    detail = {
        "packageReferenceId": str(package.get("packageReferenceId") or "1"),
        "carrierCode": code,
        "trackingNumber": str(package["trackingNumber"]),
        "shipDate": ship_date(package.get("shipDate"), now),
        "orderItems": [{"orderItemId": str(i["orderItemId"]), "quantity": int(i["quantity"])}
                       for i in (package.get("orderItems") or items)],
    }
    if code == "Other" or name != code:
        detail["carrierName"] = name
    if package.get("shippingMethod"):
        detail["shippingMethod"] = str(package["shippingMethod"])
    return {"marketplaceId": marketplace_id, "packageDetail": detail}


def stored_items(row: dict | None) -> list[dict]:
    """(orderItemId, quantity) of an order as the store holds it (``items`` JSON)."""
    items = json.loads(row["items"]) if row and row.get("items") else []
    return [{"orderItemId": str(i["order_item_id"]), "quantity": int(i.get("quantity") or 1)}
            for i in items if isinstance(i, dict) and i.get("order_item_id")]
