"""The Inventory API side of the fake eBay (``fake.py``), under ``/sell/inventory/v1``:

- ``PUT /inventory_item/{sku}`` (``Content-Language`` required, else 400 ``25709``; 201 new, 204
  replaced — a full replacement), ``GET /inventory_item/{sku}``, ``GET /inventory_item`` (limit
  1..100, ``next`` links);
- ``GET /offer?sku&marketplace_id`` (404 ``25713`` when the SKU has none), ``POST /offer`` (201
  ``{offerId}``; a second offer for the same SKU and marketplace is refused with ``25709``),
  ``PUT /offer/{offerId}``, ``POST /offer/{offerId}/publish/``: the category's required aspects
  (``required_aspects``, e.g. ``{"11700": ["Marke"]}``) and the listing policies must be there
  (``25029`` "{field} is required for this category.", ``25017`` "{fieldName} is missing."), else
  the offer is PUBLISHED with an ACTIVE listing; each publish of a live listing is a revision, and
  the 251st revision of a listing in one day is refused (``25019``, eBay's 250 a day);
- ``POST /bulk_update_price_quantity``: at most 25 requests (400 ``25709`` beyond); an unknown or
  unpublished offer gets its own 400 status inside a **207**; all fine → 200.
"""
from __future__ import annotations

import json

from .fake_orders import Reply, error, int_param, page_links

INV = "/sell/inventory/v1"
INVENTORY_ROUTES = [
    ("PUT", INV + r"/inventory_item/(?P<sku>[^/]+)", "createOrReplaceInventoryItem"),
    ("GET", INV + r"/inventory_item/(?P<sku>[^/]+)", "getInventoryItem"),
    ("GET", INV + r"/inventory_item", "getInventoryItems"),
    ("GET", INV + r"/offer", "getOffers"),
    ("POST", INV + r"/offer", "createOffer"),
    ("PUT", INV + r"/offer/(?P<offerId>[^/]+)", "updateOffer"),
    ("POST", INV + r"/offer/(?P<offerId>[^/]+)/publish/", "publishOffer"),
    ("POST", INV + r"/bulk_update_price_quantity", "bulkUpdatePriceQuantity"),
]
INVENTORY_OPS = {op for _, _, op in INVENTORY_ROUTES}
REVISIONS_PER_DAY = 250


def _inv_error(error_id: int, message: str, **params) -> dict:
    return error(error_id, message, domain="API_INVENTORY", parameters=params or None)


class InventoryApi:
    """Mixin of :class:`~marketd.plugins.ebay.fake.EbayFake`: inventory items, offers, listings."""

    def _init_inventory(self) -> None:
        self.inventory_items: dict[str, dict] = {}
        self.offers: dict[str, dict] = {}
        self.required_aspects: dict[str, list[str]] = {}
        self.revisions: dict[tuple[str, str], int] = {}
        self.bulk_sizes: list[int] = []

    def _language(self, req) -> Reply | None:
        if not req.headers.get("content-language"):
            return Reply(400, _inv_error(25709, "Invalid value for header Content-Language.", fieldName="Content-Language"))
        return None

    def _op_createOrReplaceInventoryItem(self, req, body, sku: str) -> Reply:
        bad = self._language(req)
        if bad:
            return bad
        existed = sku in self.inventory_items
        self.inventory_items[sku] = {**json.loads(json.dumps(body)), "sku": sku,
                                     "locale": req.headers["content-language"].replace("-", "_")}
        return Reply(204 if existed else 201, b"" if existed else {})

    def _op_getInventoryItem(self, req, sku: str) -> Reply:
        item = self.inventory_items.get(sku)
        if item is None:
            return Reply(404, _inv_error(25702, "The SKU could not be found in the system.", sku=sku))
        return Reply(200, item)

    def _op_getInventoryItems(self, req) -> Reply:
        limit = int_param(req.q("limit"), 25, 1, 100, 25706, "limit")
        offset = int_param(req.q("offset"), 0, 0, None, 25707, "offset")
        skus = sorted(self.inventory_items)
        out = page_links(req.base, INV + "/inventory_item", {}, offset, limit, len(skus))
        out.pop("offset", None)
        out["size"] = len(skus[offset:offset + limit])
        out["inventoryItems"] = [self.inventory_items[s] for s in skus[offset:offset + limit]]
        return Reply(200, out)

    def _offers_of(self, sku: str, marketplace: str | None) -> list[dict]:
        return [o for o in self.offers.values() if o["sku"] == sku and (not marketplace or o["marketplaceId"] == marketplace)]

    def _op_getOffers(self, req) -> Reply:
        sku = req.q("sku")
        found = sorted(self._offers_of(sku, req.q("marketplace_id")), key=lambda o: o["offerId"]) if sku else []
        if not found:
            return Reply(404, _inv_error(25713, "This Offer is not available : no offer for this SKU."))
        return Reply(200, {"href": f"{req.base}{INV}/offer?sku={sku}", "limit": 25, "size": len(found), "total": len(found),
                           "offers": found})

    def _op_createOffer(self, req, body) -> Reply:
        bad = self._language(req)
        if bad:
            return bad
        if self._offers_of(body["sku"], body.get("marketplaceId")):
            return Reply(400, _inv_error(25709, "Invalid value for sku. An offer for this SKU and marketplace exists.",
                                         fieldName="sku"))
        offer_id = str(self.rng.randint(10 ** 9, 10 ** 10 - 1))
        self.offers[offer_id] = {**json.loads(json.dumps(body)), "offerId": offer_id, "status": "UNPUBLISHED"}
        return Reply(201, {"offerId": offer_id})

    def _op_updateOffer(self, req, body, offerId: str) -> Reply:
        bad = self._language(req)
        if bad:
            return bad
        offer = self.offers.get(offerId)
        if offer is None:
            return Reply(404, _inv_error(25713, "This Offer is not available : unknown offerId."))
        keep = {k: offer[k] for k in ("offerId", "status", "listing", "sku", "marketplaceId", "format") if k in offer}
        self.offers[offerId] = {**json.loads(json.dumps(body)), **keep}
        return Reply(204, b"")

    def _op_publishOffer(self, req, body, offerId: str) -> Reply:
        offer = self.offers.get(offerId)
        if offer is None:
            return Reply(404, _inv_error(25713, "This Offer is not available : unknown offerId."))
        item = self.inventory_items.get(offer["sku"]) or {}
        product = item.get("product") or {}
        for field in ("title", "imageUrls"):
            if not product.get(field):
                return Reply(400, _inv_error(25017, f"{field} is missing.", fieldName=f"product.{field}"))
        if not offer.get("listingPolicies") or not offer.get("merchantLocationKey"):
            name = "listingPolicies" if not offer.get("listingPolicies") else "merchantLocationKey"
            return Reply(400, _inv_error(25017, f"{name} is missing.", fieldName=name))
        aspects = product.get("aspects") or {}
        for name in self.required_aspects.get(str(offer.get("categoryId")), []):
            if not aspects.get(name):
                return Reply(400, _inv_error(25029, f"{name} is required for this category.", field=name))
        listing = offer.get("listing") or {"listingId": str(self.rng.randint(10 ** 11, 10 ** 12 - 1)),
                                           "listingStatus": "ACTIVE", "soldQuantity": 0}
        if offer.get("status") == "PUBLISHED":
            key = (listing["listingId"], self.clock.now().date().isoformat())
            if self.revisions.get(key, 0) >= REVISIONS_PER_DAY:
                return Reply(400, _inv_error(25019, "Cannot revise listing. The listing was revised 250 times today."))
            self.revisions[key] = self.revisions.get(key, 0) + 1
        offer.update(status="PUBLISHED", listing=listing)
        return Reply(200, {"listingId": listing["listingId"]})

    def _op_bulkUpdatePriceQuantity(self, req, body) -> Reply:
        requests = body.get("requests") or []
        self.bulk_sizes.append(len(requests))
        if len(requests) > 25:
            return Reply(400, _inv_error(25709, "Invalid value for requests. At most 25 are allowed.",
                                         fieldName="requests"))
        out = []
        for r in requests:
            for o in r.get("offers") or [{}]:
                offer = self.offers.get(o.get("offerId") or "")
                if offer is None or offer.get("status") != "PUBLISHED":
                    out.append({"sku": r["sku"], "offerId": o.get("offerId") or "", "statusCode": 400,
                                **_inv_error(25713, "This Offer is not available : it is unknown or unpublished.")})
                    continue
                if "price" in o:
                    offer.setdefault("pricingSummary", {})["price"] = o["price"]
                if "availableQuantity" in o:
                    offer["availableQuantity"] = o["availableQuantity"]
                if r.get("shipToLocationAvailability") and r["sku"] in self.inventory_items:
                    self.inventory_items[r["sku"]]["availability"] = {
                        "shipToLocationAvailability": r["shipToLocationAvailability"]}
                out.append({"sku": r["sku"], "offerId": offer["offerId"], "statusCode": 200})
        status = 200 if all(x["statusCode"] == 200 for x in out) else 207
        return Reply(status, {"responses": out})
