"""The Inventory API side of the fake eBay (``fake.py``), under ``/sell/inventory/v1``:

- ``PUT /inventory_item/{sku}`` (``Content-Language`` required, else 400 ``25709``; 201 new, 204
  replaced — a full replacement), ``GET /inventory_item/{sku}``, ``GET /inventory_item`` (limit
  1..100, ``next`` links; a variant names its groups in ``inventoryItemGroupKeys``);
- ``GET /offer?sku&marketplace_id`` (404 ``25713`` when the SKU has none), ``POST /offer`` (201
  ``{offerId}``; a second offer for the same SKU and marketplace is refused with ``25709``),
  ``PUT /offer/{offerId}``, ``POST /offer/{offerId}/publish/``: the category's required aspects
  (``required_aspects``, e.g. ``{"11700": ["Marke"]}``) and the listing policies must be there
  (``25029`` "{field} is required for this category.", ``25017`` "{fieldName} is missing."), else
  the offer is PUBLISHED with an ACTIVE listing; each publish of a live listing is a revision, and
  the 251st revision of a listing in one day is refused (``25019``, eBay's 250 a day);
- ``POST /bulk_update_price_quantity``: at most 25 requests (400 ``25709`` beyond); an unknown or
  unpublished offer gets its own 400 status inside a **207**; all fine → 200.
- The bulk content calls, each at most 25 requests (400 ``25709`` beyond) and 200 when every
  entry succeeded, else **207** with a status per entry: ``bulk_create_or_replace_inventory_item``
  (``Content-Language`` and a ``locale`` per item), ``bulk_create_offer`` (an existing offer for
  the SKU and marketplace is that entry's ``25709``), ``bulk_publish_offer`` (the same checks as
  ``publishOffer``, per offer). ``bulk_calls`` records (operation, size) of each.
- **Variant groups**: ``PUT /inventory_item_group/{key}`` (``Content-Language``; 201 new, 204
  replaced; every ``variantSKUs`` entry must be an inventory item, ``25702`` otherwise; a
  ``variesBy`` aspect must be on every variant, ``25709``) and ``POST
  /offer/publish_by_inventory_item_group/``: each variant needs an offer on that marketplace
  (``25705``) that passes the publish checks; all of them become PUBLISHED under **one**
  listing id, and publishing again revises it. A variant's own ``publishOffer`` is refused
  (``25016``: it belongs to a group).
- **GPSR** ``regulatory`` on the offer (manufacturer, responsible persons, product safety): at
  most 5 responsible persons, 2 pictograms, a component of at most 120 characters and only with
  pictograms or statements (``25709`` naming the field) [eBay's exact codes unverified].
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
    ("POST", INV + r"/bulk_create_or_replace_inventory_item", "bulkCreateOrReplaceInventoryItem"),
    ("POST", INV + r"/bulk_create_offer", "bulkCreateOffer"),
    ("POST", INV + r"/bulk_publish_offer", "bulkPublishOffer"),
    ("PUT", INV + r"/inventory_item_group/(?P<inventoryItemGroupKey>[^/]+)", "createOrReplaceInventoryItemGroup"),
    ("GET", INV + r"/inventory_item_group/(?P<inventoryItemGroupKey>[^/]+)", "getInventoryItemGroup"),
    ("POST", INV + r"/offer/publish_by_inventory_item_group/", "publishOfferByInventoryItemGroup"),
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
        self.bulk_calls: list[tuple[str, int]] = []
        self.groups: dict[str, dict] = {}

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
        keys = {}
        for key, group in self.groups.items():
            for sku in group.get("variantSKUs") or []:
                keys.setdefault(sku, []).append(key)
        out["inventoryItems"] = [{**self.inventory_items[s], **({"inventoryItemGroupKeys": sorted(keys[s])}
                                                                 if s in keys else {})}
                                 for s in skus[offset:offset + limit]]
        return Reply(200, out)

    def _offers_of(self, sku: str, marketplace: str | None) -> list[dict]:
        return [o for o in self.offers.values() if o["sku"] == sku and (not marketplace or o["marketplaceId"] == marketplace)]

    def _op_getOffers(self, req) -> Reply:
        sku = req.q("sku")
        found = sorted(self._offers_of(sku, req.q("marketplace_id")), key=lambda o: o["offerId"]) if sku else []
        if not found:
            return Reply(404, _inv_error(25713, "This Offer is not available : no offer for this SKU."))
        return Reply(200, {"href": f"{req.base}{INV}/offer?sku={sku}", "limit": 25, "size": len(found), "total": len(found),
                           "offers": [{k: v for k, v in o.items() if k != "groupKey"} for o in found]})

    def _op_createOffer(self, req, body) -> Reply:
        bad = self._language(req)
        if bad:
            return bad
        problem = self._regulatory_problem(body)
        if problem is not None:
            return Reply(400, problem)
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
        problem = self._regulatory_problem(body)
        if problem is not None:
            return Reply(400, problem)
        keep = {k: offer[k] for k in ("offerId", "status", "listing", "sku", "marketplaceId", "format", "groupKey")
                if k in offer}
        self.offers[offerId] = {**json.loads(json.dumps(body)), **keep}
        return Reply(204, b"")

    def _publish_problem(self, offer: dict) -> Reply | None:
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
        return None

    def _revise(self, listing: dict, was_published: bool) -> Reply | None:
        if was_published:
            key = (listing["listingId"], self.clock.now().date().isoformat())
            if self.revisions.get(key, 0) >= REVISIONS_PER_DAY:
                return Reply(400, _inv_error(25019, "Cannot revise listing. The listing was revised 250 times today."))
            self.revisions[key] = self.revisions.get(key, 0) + 1
        return None

    def _new_listing(self) -> dict:
        return {"listingId": str(self.rng.randint(10 ** 11, 10 ** 12 - 1)), "listingStatus": "ACTIVE", "soldQuantity": 0}

    def _publish(self, offer: dict) -> Reply:
        if offer.get("groupKey"):
            return Reply(400, _inv_error(25016, "Invalid value for offerId. The offer belongs to an inventory item "
                                                "group: publish the group.", fieldName="offerId"))
        bad = self._publish_problem(offer)
        if bad:
            return bad
        listing = offer.get("listing") or self._new_listing()
        bad = self._revise(listing, offer.get("status") == "PUBLISHED")
        if bad:
            return bad
        offer.update(status="PUBLISHED", listing=listing)
        return Reply(200, {"listingId": listing["listingId"]})

    def _op_publishOffer(self, req, body, offerId: str) -> Reply:
        offer = self.offers.get(offerId)
        if offer is None:
            return Reply(404, _inv_error(25713, "This Offer is not available : unknown offerId."))
        return self._publish(offer)

    def _regulatory_problem(self, body: dict) -> dict | None:
        reg = body.get("regulatory") or {}
        ps = reg.get("productSafety") or {}
        problems = [("regulatory.responsiblePersons", len(reg.get("responsiblePersons") or []) > 5),
                    ("regulatory.productSafety.pictograms", len(ps.get("pictograms") or []) > 2),
                    ("regulatory.productSafety.component", len(ps.get("component") or "") > 120
                     or (bool(ps.get("component")) and not (ps.get("pictograms") or ps.get("statements"))))]
        for field, bad in problems:
            if bad:
                return _inv_error(25709, f"Invalid value for {field}.", fieldName=field)
        return None

    # -- bulk content calls ----------------------------------------------------------------------
    def _too_many(self, op: str, requests: list) -> Reply | None:
        self.bulk_calls.append((op, len(requests)))
        if not 0 < len(requests) <= 25:
            return Reply(400, _inv_error(25709, "Invalid value for requests. 1 to 25 are allowed.", fieldName="requests"))
        return None

    @staticmethod
    def _multi(out: list[dict]) -> Reply:
        return Reply(200 if all(x["statusCode"] == 200 for x in out) else 207, {"responses": out})

    def _op_bulkCreateOrReplaceInventoryItem(self, req, body) -> Reply:
        bad = self._language(req)
        if bad:
            return bad
        requests = body.get("requests") or []
        bad = self._too_many("bulkCreateOrReplaceInventoryItem", requests)
        if bad:
            return bad
        out = []
        for r in requests:
            sku, locale = r.get("sku") or "", r.get("locale") or ""
            if not sku or not locale:
                field = "sku" if not sku else "locale"
                out.append({"sku": sku, "locale": locale, "statusCode": 400,
                            **_inv_error(25709, f"Invalid value for {field}.", fieldName=field)})
                continue
            item = {k: v for k, v in json.loads(json.dumps(r)).items() if k not in ("sku", "locale")}
            self.inventory_items[sku] = {**item, "sku": sku, "locale": locale}
            out.append({"sku": sku, "locale": locale, "statusCode": 200})
        return self._multi(out)

    def _op_bulkCreateOffer(self, req, body) -> Reply:
        bad = self._language(req)
        if bad:
            return bad
        requests = body.get("requests") or []
        bad = self._too_many("bulkCreateOffer", requests)
        if bad:
            return bad
        out = []
        for r in requests:
            keys = {"sku": r.get("sku") or "", "marketplaceId": r.get("marketplaceId") or "", "format": r.get("format") or ""}
            problem = self._regulatory_problem(r)
            if problem is None and self._offers_of(keys["sku"], keys["marketplaceId"]):
                problem = _inv_error(25709, "Invalid value for sku. An offer for this SKU and marketplace exists.",
                                     fieldName="sku")
            if problem is not None:
                out.append({**keys, "statusCode": 400, **problem})
                continue
            offer_id = str(self.rng.randint(10 ** 9, 10 ** 10 - 1))
            self.offers[offer_id] = {**json.loads(json.dumps(r)), "offerId": offer_id, "status": "UNPUBLISHED"}
            out.append({**keys, "offerId": offer_id, "statusCode": 200})
        for fault in self._succeed_then:       # the offers exist, the answer is lost (a crash, a 500)
            if fault[0] == "bulkCreateOffer" and fault[2] > 0:
                fault[2] -= 1
                return Reply(fault[1], _inv_error(25001, "A system error has occurred."))
        return self._multi(out)

    def _op_bulkPublishOffer(self, req, body) -> Reply:
        requests = body.get("requests") or []
        bad = self._too_many("bulkPublishOffer", requests)
        if bad:
            return bad
        out = []
        for r in requests:
            offer_id = r.get("offerId") or ""
            offer = self.offers.get(offer_id)
            reply = self._publish(offer) if offer is not None else \
                Reply(404, _inv_error(25713, "This Offer is not available : unknown offerId."))
            if reply.status == 200:
                out.append({"offerId": offer_id, "listingId": reply.body["listingId"], "statusCode": 200})
            else:
                out.append({"offerId": offer_id, "statusCode": reply.status, **reply.body})
        return self._multi(out)

    # -- variant groups --------------------------------------------------------------------------
    def _op_createOrReplaceInventoryItemGroup(self, req, body, inventoryItemGroupKey: str) -> Reply:
        bad = self._language(req)
        if bad:
            return bad
        skus = body.get("variantSKUs") or []
        for sku in skus:
            if sku not in self.inventory_items:
                return Reply(400, _inv_error(25702, f"The SKU {sku} could not be found in the system.",
                                             fieldName="variantSKUs"))
        for spec in ((body.get("variesBy") or {}).get("specifications") or []):
            for sku in skus:
                aspects = ((self.inventory_items[sku].get("product") or {}).get("aspects") or {})
                if not aspects.get(spec.get("name")):
                    return Reply(400, _inv_error(25709, f"Invalid value for variesBy: variant {sku} has no "
                                                        f"{spec.get('name')}.", fieldName=f"variesBy.{spec.get('name')}"))
        existed = inventoryItemGroupKey in self.groups
        self.groups[inventoryItemGroupKey] = {**json.loads(json.dumps(body)), "inventoryItemGroupKey": inventoryItemGroupKey}
        return Reply(204 if existed else 201, b"" if existed else {})

    def _op_getInventoryItemGroup(self, req, inventoryItemGroupKey: str) -> Reply:
        group = self.groups.get(inventoryItemGroupKey)
        if group is None:
            return Reply(404, b"")
        return Reply(200, group)

    def _op_publishOfferByInventoryItemGroup(self, req, body) -> Reply:
        key, market = body.get("inventoryItemGroupKey") or "", body.get("marketplaceId") or ""
        group = self.groups.get(key)
        if group is None:
            return Reply(400, _inv_error(25705, "The Inventory Item Group named could not be found or is invalid.",
                                         fieldName="inventoryItemGroupKey"))
        members = []
        for sku in group.get("variantSKUs") or []:
            found = self._offers_of(sku, market)
            if not found:
                return Reply(400, _inv_error(25705, f"The Inventory Item Group is invalid: variant {sku} has no offer.",
                                             fieldName="variantSKUs"))
            bad = self._publish_problem(found[0])
            if bad:
                return bad
            members.append(found[0])
        if not members:
            return Reply(400, _inv_error(25705, "The Inventory Item Group has no variants.",
                                         fieldName="inventoryItemGroupKey"))
        listing = next((o["listing"] for o in members if o.get("listing")), None)
        was = listing is not None
        listing = listing or self._new_listing()
        bad = self._revise(listing, was)
        if bad:
            return bad
        for o in members:
            o.update(status="PUBLISHED", listing=listing, groupKey=key)
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
