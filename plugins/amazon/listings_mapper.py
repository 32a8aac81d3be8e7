"""Pure functions between the content plugin's listing payloads and Amazon's listings shapes:
the JSON_LISTINGS_FEED document, the processing report, patch bodies and the remote listing.

- **Feed** (listings-feed-schema-v2.json): ``{"header": {sellerId, version "2.0", issueLocale},
  "messages": [{messageId 1..n, sku, operationType, productType, requirements?, attributes |
  patches}]}``, at most 25,000 messages. A SKU Amazon has not got yet is sent as ``UPDATE``
  (``requirements: LISTING``, every attribute); a SKU it has as ``PARTIAL_UPDATE``, because UPDATE
  *replaces every attribute*, including what Amazon keeps that we never send. Price and stock
  alone go as ``PATCH`` ``replace`` on ``/attributes/purchasable_offer`` and
  ``/attributes/fulfillment_availability``.
- **Money** stays Decimal: the document is written with Decimals as exact JSON numbers
  (:func:`dumps`), never through float.
- **Processing report** (listings-feed-processing-report-schema-v2.json): each issue goes back to
  its SKU through ``messageId`` (else its ``sku``); an issue without either is about the whole feed
  and fails every message; a message with an ERROR is ``invalid``, the rest ``accepted``.
- **Remote listing**: an ``Item`` of ``searchListingsItems``/``getListingsItem`` reduced to what
  the audit compares (title, product type, price, stock, main image, issues, status).
"""
from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

OFFER_ATTRIBUTES = ("purchasable_offer", "fulfillment_availability")
MAX_MESSAGES = 25000          # listings-feed-schema-v2.json: messages maxItems
_NUM = "\u0000D:"
# Storefront per marketplace id, for the link a deviation report gives (detail page /dp/<ASIN>).
DOMAINS = {"A1PA6795UKMFR9": "amazon.de", "APJ6JRA9NG5V4": "amazon.it", "A13V1IB3VIYZZH": "amazon.fr",
           "A1RKKUPIHCS9HS": "amazon.es", "A1F83G8C2ARO7P": "amazon.co.uk", "A1805IZSGTT6HS": "amazon.nl",
           "A1C3SOZRARQ6R3": "amazon.pl", "A2NODRKZP88ZB9": "amazon.se", "ATVPDKIKX0DER": "amazon.com"}


def _mark(obj):
    if isinstance(obj, Decimal):
        return f"{_NUM}{obj}\u0000"
    if isinstance(obj, dict):
        return {k: _mark(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mark(v) for v in obj]
    return obj


def dumps(doc) -> bytes:
    """JSON with every Decimal written as the exact number it is (``129.90``, not a float)."""
    text = json.dumps(_mark(doc), ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return re.sub(r'"\\u0000D:(-?[0-9.]+(?:E[+-]?[0-9]+)?)\\u0000"', r"\1", text).encode("utf-8")


def _decimals(obj, key: str = ""):
    """The stored payload keeps money as text ("129.90"); amounts go back to Decimal."""
    if isinstance(obj, dict):
        return {k: _decimals(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decimals(v, key) for v in obj]
    if key in ("value_with_tax", "value_with_vat", "amount") and isinstance(obj, str):
        try:
            return Decimal(obj)
        except InvalidOperation:
            return obj
    return obj


def merge_locales(payload: dict) -> dict:
    """One attribute document from the per-locale instances of a stored payload: values of
    different locales (``language_tag``) sit side by side, identical items once."""
    out: dict[str, list] = {}
    for _loc, attrs in sorted((payload.get("locales") or {}).items()):
        for name, items in (attrs or {}).items():
            have = out.setdefault(name, [])
            for it in items if isinstance(items, list) else [items]:
                if it not in have:
                    have.append(it)
    return _decimals(out)


def content_message(message_id: int, sku: str, product_type: str, attributes: dict, *, known: bool) -> dict:
    if known:
        return {"messageId": message_id, "sku": sku, "operationType": "PARTIAL_UPDATE", "productType": product_type,
                "attributes": attributes}
    return {"messageId": message_id, "sku": sku, "operationType": "UPDATE", "productType": product_type,
            "requirements": "LISTING", "attributes": attributes}


def offer_attributes(offer: dict, marketplace_id: str) -> dict:
    """The catalog's offer (``{"price": "129.90", "currency", "stock"}``) as Amazon attributes;
    the ``purchasable_offer`` shape is the one sellers' integrations send (unverified against a
    live product type, see docs/plugins/amazon.md)."""
    out: dict = {}
    if offer.get("price") not in (None, ""):
        out["purchasable_offer"] = [{"currency": offer.get("currency") or "EUR", "marketplace_id": marketplace_id,
                                     "our_price": [{"schedule": [{"value_with_tax": Decimal(str(offer["price"]))}]}]}]
    if offer.get("stock") is not None:
        out["fulfillment_availability"] = [{"fulfillment_channel_code": "DEFAULT", "quantity": int(offer["stock"])}]
    return out


def offer_patches(attributes: dict) -> list[dict]:
    return [{"op": "replace", "path": f"/attributes/{name}", "value": attributes[name]}
            for name in OFFER_ATTRIBUTES if attributes.get(name)]


def offer_message(message_id: int, sku: str, product_type: str, attributes: dict) -> dict | None:
    patches = offer_patches(attributes)
    if not patches:
        return None
    return {"messageId": message_id, "sku": sku, "operationType": "PATCH", "productType": product_type,
            "patches": patches}


def feed_document(seller_id: str, messages: list[dict], *, issue_locale: str = "en_US") -> dict:
    if not messages or len(messages) > MAX_MESSAGES:
        raise ValueError(f"a listings feed holds 1 to {MAX_MESSAGES} messages, not {len(messages)}")
    return {"header": {"sellerId": seller_id, "version": "2.0", "issueLocale": issue_locale},
            "messages": messages}


def patch_body(product_type: str, attributes: dict) -> dict:
    return {"productType": product_type, "patches": offer_patches(attributes)}


def _issue(i: dict) -> dict:
    return {"code": str(i.get("code") or ""), "severity": str(i.get("severity") or "ERROR"),
            "message": str(i.get("message") or ""), "attribute": str(i.get("attributeName") or "")}


def report_results(report: dict, messages: dict[int, str]) -> dict[str, dict]:
    """sku -> {"state": accepted|invalid|failed, "issues": [...]} for every message of the feed.

    ``messages`` maps messageId -> SKU as sent. An issue without messageId and SKU is about the
    whole feed: every message fails with it."""
    by_sku = {sku: {"state": "accepted", "issues": []} for sku in messages.values()}
    feed_level = []
    for raw in report.get("issues") or []:
        if not isinstance(raw, dict):
            continue
        sku = messages.get(raw.get("messageId")) if raw.get("messageId") is not None else None
        sku = sku or (raw.get("sku") if raw.get("sku") in by_sku else None)
        if sku is None:
            feed_level.append(_issue(raw))
            continue
        by_sku[sku]["issues"].append(_issue(raw))
        if str(raw.get("severity")).upper() == "ERROR":
            by_sku[sku]["state"] = "invalid"
    if feed_level:
        for r in by_sku.values():
            r["state"] = "failed"
            r["issues"] = feed_level + r["issues"]
    return by_sku


def submission_result(resp: dict) -> dict:
    """A ``ListingsItemSubmissionResponse`` as one SKU's result."""
    status = str(resp.get("status") or "")
    return {"state": "accepted" if status in ("ACCEPTED", "VALID") else "invalid",
            "issues": [_issue(i) for i in resp.get("issues") or [] if isinstance(i, dict)],
            "remote_ref": str(resp.get("submissionId") or "")}


def _first_value(attributes: dict, name: str) -> str:
    for it in attributes.get(name) or []:
        if isinstance(it, dict) and it.get("value") not in (None, ""):
            return str(it["value"])
    return ""


def remote_listing(item: dict, marketplace_id: str) -> dict:
    """What the platform shows for one SKU in one marketplace, in the audit's terms."""
    summary = next((s for s in item.get("summaries") or [] if s.get("marketplaceId") == marketplace_id), None) or {}
    offer = next((o for o in item.get("offers") or [] if o.get("marketplaceId") == marketplace_id
                  and o.get("offerType", "B2C") == "B2C"), None) or {}
    attrs = item.get("attributes") or {}
    price = (offer.get("price") or {})
    amount = price.get("amount")
    try:
        amount = Decimal(str(amount)) if amount not in (None, "") else None
    except InvalidOperation:
        amount = None
    qty = None
    for fa in item.get("fulfillmentAvailability") or []:
        if fa.get("quantity") is not None:
            qty = int(fa["quantity"])
            break
    image = (summary.get("mainImage") or {}).get("link") or ""
    if not image:
        for it in attrs.get("main_product_image_locator") or []:
            image = str((it or {}).get("media_location") or "")
            break
    status = list(summary.get("status") or [])
    issues = [i for i in item.get("issues") or [] if not i.get("marketplaceIds") or marketplace_id in i["marketplaceIds"]]
    return {"sku": str(item.get("sku") or ""), "remote_id": str(summary.get("asin") or ""),
            "status": status, "live": "BUYABLE" in status,
            "title": str(summary.get("itemName") or _first_value(attrs, "item_name")),
            "category": str(summary.get("productType") or ""),
            "price": amount, "currency": str(price.get("currencyCode") or ""), "quantity": qty,
            "main_image_url": image, "issues": issues,
            "url": (f"https://www.{DOMAINS.get(marketplace_id, 'amazon.com')}/dp/{summary['asin']}"
                    if summary.get("asin") else "")}
