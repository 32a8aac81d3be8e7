"""Pure functions between the content plugin's listing payloads and eBay's Inventory API shapes.

- An **inventory item** (``InventoryItem``): ``availability.shipToLocationAvailability.quantity``,
  ``condition`` and the ``product`` the content check built (title ≤ 80, description ≤ 4000,
  aspects, imageUrls, ean, mpn, brand) for the marketplace's locale. A full replacement at eBay.
- An **offer** (``EbayOfferDetailsWithKeys``): sku, marketplaceId, FIXED_PRICE, availableQuantity,
  categoryId, the account's listing policies and location, ``pricingSummary.price`` (money as a
  decimal string), and the GPSR ``regulatory`` container the content check rendered
  (manufacturer, responsible persons, product safety; Inventory 1.18 — the vendored 1.17.2 file
  predates these fields, so the contract tests add them as a named overlay).
- A **bulk inventory request** (``InventoryItemWithSkuLocale``): the item plus ``sku`` and
  ``locale`` (``de_DE``: eBay's spelling, not the ``de-DE`` of the header).
- An **inventory item group** (``InventoryItemGroup``) for a parent SKU: the shared title,
  description, images and aspects, ``variantSKUs`` and ``variesBy.specifications`` — the aspects
  whose values differ between the variants (each with every value they take).
- A **remote listing** from an inventory item and its offer: live means the offer is PUBLISHED
  and its listing ACTIVE.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

LANGUAGES = {"EBAY_DE": "de-DE", "EBAY_AT": "de-AT", "EBAY_CH": "de-CH", "EBAY_IT": "it-IT", "EBAY_FR": "fr-FR",
             "EBAY_ES": "es-ES", "EBAY_GB": "en-GB", "EBAY_US": "en-US", "EBAY_NL": "nl-NL", "EBAY_PL": "pl-PL"}
DOMAINS = {"EBAY_DE": "ebay.de", "EBAY_AT": "ebay.at", "EBAY_IT": "ebay.it", "EBAY_FR": "ebay.fr", "EBAY_ES": "ebay.es",
           "EBAY_GB": "ebay.co.uk", "EBAY_US": "ebay.com"}
TRANSIENT = {25001, 25025}     # a system error, concurrent access: tried again next run


def language(marketplace: str) -> str:
    return LANGUAGES.get(marketplace, "en-US")


def locale_payload(payload: dict) -> dict:
    locales = payload.get("locales") or {}
    return locales[sorted(locales)[0]] if locales else {}


def inventory_item(payload: dict, offer: dict | None, condition: str = "NEW") -> dict:
    doc = locale_payload(payload)
    product = {k: v for k, v in (doc.get("product") or {}).items() if v not in (None, "", [], {})}
    item: dict = {"condition": condition, "product": product}
    if offer and offer.get("stock") is not None:
        item["availability"] = {"shipToLocationAvailability": {"quantity": int(offer["stock"])}}
    return item


def bulk_item(sku: str, locale: str, payload: dict, offer: dict | None, condition: str = "NEW") -> dict:
    return {"sku": sku, "locale": locale, **inventory_item(payload, offer, condition)}


def regulatory(payload: dict) -> dict:
    """The GPSR container the content check rendered for this platform (``payload["gpsr"]``)."""
    return dict(((payload or {}).get("gpsr") or {}).get("regulatory") or {})


def offer_body(sku: str, marketplace: str, category_id: str, offer: dict | None, settings,
               payload: dict | None = None) -> dict:
    body: dict = {"sku": sku, "marketplaceId": marketplace, "format": "FIXED_PRICE", "categoryId": category_id}
    reg = regulatory(payload or {})
    if reg:
        body["regulatory"] = reg
    if offer and offer.get("stock") is not None:
        body["availableQuantity"] = int(offer["stock"])
    if offer and offer.get("price") not in (None, ""):
        body["pricingSummary"] = {"price": {"value": str(Decimal(str(offer["price"]))),
                                            "currency": offer.get("currency") or "EUR"}}
    policies = {k: v for k, v in (("fulfillmentPolicyId", settings.fulfillment_policy_id),
                                  ("paymentPolicyId", settings.payment_policy_id),
                                  ("returnPolicyId", settings.return_policy_id)) if v}
    if policies:
        body["listingPolicies"] = policies
    if settings.merchant_location_key:
        body["merchantLocationKey"] = settings.merchant_location_key
    return body


def update_body(offer: dict) -> dict:
    """``updateOffer`` takes ``EbayOfferDetailsWithId``: an offer's SKU, marketplace and format
    are fixed when it is created and may not be sent again."""
    return {k: v for k, v in offer.items() if k not in ("sku", "marketplaceId", "format")}


def issues_of(errors: list[dict]) -> list[dict]:
    out = []
    for e in errors or []:
        params = {p.get("name"): p.get("value") for p in e.get("parameters") or [] if isinstance(p, dict)}
        out.append({"code": str(e.get("errorId") or ""), "severity": "ERROR" if e.get("category") != "WARNING" else "WARNING",
                    "message": str(e.get("message") or ""),
                    "attribute": str(params.get("fieldName") or params.get("field") or params.get("aspectName") or "")})
    return out


def transient(errors: list[dict]) -> bool:
    return any(int(e.get("errorId") or 0) in TRANSIENT for e in errors or [])


def price_quantity(sku: str, offer_id: str, offer: dict) -> dict:
    req: dict = {"sku": sku, "offers": [{"offerId": offer_id}]}
    if offer.get("stock") is not None:
        req["shipToLocationAvailability"] = {"quantity": int(offer["stock"])}
        req["offers"][0]["availableQuantity"] = int(offer["stock"])
    if offer.get("price") not in (None, ""):
        req["offers"][0]["price"] = {"value": str(Decimal(str(offer["price"]))), "currency": offer.get("currency") or "EUR"}
    return req


def remote_listing(item: dict, offer: dict | None, marketplace: str) -> dict:
    product = item.get("product") or {}
    offer = offer or {}
    listing = offer.get("listing") or {}
    price = ((offer.get("pricingSummary") or {}).get("price") or {})
    try:
        amount = Decimal(str(price["value"])) if price.get("value") not in (None, "") else None
    except InvalidOperation:
        amount = None
    qty = offer.get("availableQuantity")
    if qty is None:
        qty = ((item.get("availability") or {}).get("shipToLocationAvailability") or {}).get("quantity")
    live = offer.get("status") == "PUBLISHED" and listing.get("listingStatus", "ACTIVE") == "ACTIVE"
    listing_id = str(listing.get("listingId") or "")
    return {"sku": str(item.get("sku") or offer.get("sku") or ""), "remote_id": listing_id or str(offer.get("offerId") or ""),
            "status": [s for s in (offer.get("status"), listing.get("listingStatus")) if s], "live": live,
            "title": str(product.get("title") or ""), "category": str(offer.get("categoryId") or ""),
            "price": amount, "currency": str(price.get("currency") or ""), "quantity": int(qty) if qty is not None else None,
            "main_image_url": str((product.get("imageUrls") or [""])[0]), "issues": [],
            "url": f"https://www.{DOMAINS.get(marketplace, 'ebay.com')}/itm/{listing_id}" if listing_id else ""}


def group_key(parent_sku: str) -> str:
    """The inventory item group's key: the parent SKU (eBay allows 50 characters, as for a SKU)."""
    return parent_sku


def varies_by(variants: dict[str, dict]) -> dict:
    """``variesBy`` from the variants' payloads (sku -> payload): every aspect whose values are not
    the same for all of them, with the values in the order first seen."""
    aspects = {sku: (locale_payload(p).get("product") or {}).get("aspects") or {} for sku, p in sorted(variants.items())}
    names = sorted({n for a in aspects.values() for n in a})
    specs = []
    for name in names:
        seen: list[str] = []
        for a in aspects.values():
            for v in a.get(name) or [""]:
                if v not in seen:
                    seen.append(v)
        if len(seen) > 1 and "" not in seen:
            specs.append({"name": name, "values": seen})
    return {"specifications": specs}


def group_body(payload: dict, variants: dict[str, dict]) -> dict:
    """The group for a parent: its own title, description, images and the aspects all variants
    share; the varying aspects go to ``variesBy`` and stay on each variant's item."""
    product = locale_payload(payload).get("product") or {}
    vb = varies_by(variants)
    varying = {s["name"] for s in vb["specifications"]}
    aspects = {k: v for k, v in (product.get("aspects") or {}).items() if k not in varying and v}
    body: dict = {"variantSKUs": sorted(variants), "variesBy": vb}
    for key in ("title", "description", "imageUrls"):
        if product.get(key):
            body[key] = product[key]
    if aspects:
        body["aspects"] = aspects
    return body


def remote_group(key: str, group: dict, members: list[dict], marketplace: str) -> dict:
    """A parent as eBay shows it: its inventory item group (title, images) and the one listing
    its variants' offers share (live when one of them is published and active)."""
    rows = [remote_listing({"sku": o.get("sku"), "product": {}}, o, marketplace) for o in members]
    live = [r for r in rows if r["live"]]
    listing = next((r for r in live or rows if r["remote_id"]), None) or {}
    qty = [r["quantity"] for r in rows if r["quantity"] is not None]
    return {"sku": key, "remote_id": listing.get("remote_id", ""),
            "status": ["GROUP"] + (listing.get("status") or []), "live": bool(live),
            "title": str(group.get("title") or ""), "category": listing.get("category", ""), "price": None,
            "currency": "", "quantity": sum(qty) if qty else None,
            "main_image_url": str((group.get("imageUrls") or [""])[0]), "issues": [], "url": listing.get("url", ""),
            "shows": ["title", "category", "main_image"]}
