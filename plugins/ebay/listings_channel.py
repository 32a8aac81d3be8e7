"""The eBay channel's side of the listings push and pull (``capabilities.update_listings`` and
``fetch_listings``), called by the content plugin through ``app.channel(name)``.

Content in calls of 25 (eBay's bulk limit), each step safe to repeat after a crash:
``bulkCreateOrReplaceInventoryItem`` (full replacements), the
offers — a known offer id (the last push's ``remote_ref`` or one saved in this batch) is updated
with ``updateOffer`` (eBay has no bulk update), a SKU eBay may already hold an offer for is looked
up with ``getOffers``, the rest go to ``bulkCreateOffer`` —, then ``bulkPublishOffer`` (publishing a
published offer revises it). Nothing is asked twice of eBay that would make a second listing:
the SKUs of the offer creates are saved before the first create leaves, and after a crash those
without a saved id are looked up. The handle is saved only there (and once at the end): saving
the growing handle after every call made a 10,000-SKU push quadratic, and the other calls set
the same state when repeated.
Variants: a parent SKU becomes an inventory item group (``createOrReplaceInventoryItemGroup``
with ``variantSKUs`` and ``variesBy``) and the group is published as one listing
(``publishOfferByInventoryItemGroup``); its variants get items and offers but are never
published alone. The offer carries the GPSR ``regulatory`` container.
Price and stock: ``bulkUpdatePriceQuantity`` in calls of at most 25 SKUs (eBay's limit, the fake
enforces it); a 207 gives each SKU its own status; a system or concurrency error (25001, 25025)
leaves that SKU ``failed`` for the next run, any other is ``invalid``.
Both are synchronous at eBay: ``submit_listings`` returns a finished handle and ``poll_listings``
only reads it back.
"""
from __future__ import annotations

import logging

from marketd.sdk import ConfigError, crashpoint

from . import inventory as inv
from . import listings_mapper as m
from .client import EbayApiError, errors_of

log = logging.getLogger("marketd.ebay.listings")


def _check(ch) -> None:
    if not ch.settings.listings:
        raise ConfigError(f"[channels.{ch.name}] listings = true is needed (it asks for the sell.inventory scope)")


def submit(ch, batch: dict, save) -> dict:
    _check(ch)
    handle = dict(batch.get("handle") or {})
    handle.setdefault("transport", "inventory" if batch["kind"] == "content" else "bulk")
    results = handle.setdefault("results", {})
    handle.setdefault("offers", {})
    if batch["kind"] == "offer":
        todo = [i for i in sorted(batch["items"], key=lambda i: i["sku"]) if i["sku"] not in results]
        for start in range(0, len(todo), inv.BULK_MAX):
            chunk = todo[start:start + inv.BULK_MAX]
            reqs = [m.price_quantity(i["sku"], i.get("remote_ref") or "", i["offer"]) for i in chunk]
            for r in inv.bulk_price_quantity(ch.api, reqs):
                errs = r.get("errors") or []
                state = "accepted" if int(r.get("statusCode") or 0) == 200 else (
                    "failed" if m.transient(errs) else "invalid")
                results[r.get("sku")] = {"state": state, "issues": m.issues_of(errs + (r.get("warnings") or [])),
                                         "remote_ref": str(r.get("offerId") or "")}
        handle["done"] = True       # saved once: setting the same price and stock again is harmless
        save(handle)
        return handle
    lang = ch.settings.content_language or m.language(ch.marketplace)
    items = sorted(batch["items"], key=lambda i: i["sku"])
    _content(ch, [i for i in items if not i.get("children")], handle, save, lang)
    _groups(ch, items, handle, save, lang)
    handle["done"] = True
    save(handle)
    return handle


def _chunks(seq: list, n: int = inv.BULK_MAX):
    for start in range(0, len(seq), n):
        yield seq[start:start + n]


def _outcome(status: int, errors: list[dict], warnings: list[dict] | None = None, **extra) -> dict:
    if status in (200, 201, 204):
        return {"state": "accepted", "issues": m.issues_of(warnings or []), **extra}
    state = "failed" if m.transient(errors) or status >= 500 or status == 0 else "invalid"
    return {"state": state, "issues": m.issues_of(errors) or [{"code": str(status), "severity": "ERROR", "attribute": "",
                                                              "message": "eBay's answer names no error"}], **extra}


def _content(ch, items: list[dict], handle: dict, save, lang: str) -> None:
    """Items, offers, publish — each step in calls of 25 (the handle is saved around the offer
    creates only: the other steps set the same state when repeated)."""
    results, offers = handle["results"], handle["offers"]
    put: list[str] = []     # in memory: repeating a put after a crash sets the same item
    locale = lang.replace("-", "_")
    by_sku = {i["sku"]: i for i in items}
    for chunk in _chunks([i for i in items if i["sku"] not in results]):
        reqs = [m.bulk_item(i["sku"], locale, i["payload"], i.get("offer"), ch.settings.condition) for i in chunk]
        try:
            answers = {r.get("sku"): r for r in inv.bulk_put_items(ch.api, reqs, lang)}
        except EbayApiError as exc:
            for i in chunk:
                results[i["sku"]] = _outcome(exc.status, exc.errors)
            continue
        for i in chunk:
            r = answers.get(i["sku"]) or {}
            status = int(r.get("statusCode") or 0)
            if status in (200, 201, 204):
                put.append(i["sku"])
            else:
                results[i["sku"]] = _outcome(status, r.get("errors") or [])
    ready = [s for s in put if s in by_sku and s not in results]
    _offers(ch, [by_sku[s] for s in ready], handle, save, lang)
    singles = [s for s in ready if s not in results and s in offers and not by_sku[s].get("parent")]
    ids = {offers[s]: s for s in singles}
    for chunk in _chunks(sorted(ids)):
        try:
            answers = inv.bulk_publish(ch.api, chunk)
        except EbayApiError as exc:
            for oid in chunk:
                results[ids[oid]] = _outcome(exc.status, exc.errors, remote_ref=oid)
            continue
        for r in answers:
            sku = ids.get(str(r.get("offerId") or ""))
            if sku:
                results[sku] = _outcome(int(r.get("statusCode") or 0), r.get("errors") or [], r.get("warnings"),
                                        remote_ref=offers[sku], listing_id=str(r.get("listingId") or ""))


def _offers(ch, items: list[dict], handle: dict, save, lang: str) -> None:
    """The SKU's offer: a known id (the last push's, or saved in this batch) is updated; a SKU
    eBay may already have one for (listed before, or a create sent before a crash without its
    answer saved) is looked up; the rest are created in bulk. The SKUs of a create are saved as
    ``creating`` before it is sent, so a restart looks them up instead of creating twice."""
    results, offers = handle["results"], handle["offers"]
    creating = handle.setdefault("creating", [])
    to_create = []
    for i in items:
        sku = i["sku"]
        body = m.offer_body(sku, ch.marketplace, _category(i), i.get("offer"), ch.settings, i["payload"])
        offer_id = offers.get(sku) or i.get("remote_ref") or ""
        try:
            if not offer_id and (i.get("known") or sku in creating):
                found = inv.offers_of(ch.api, sku, ch.marketplace)
                offer_id = found[0]["offerId"] if found else ""
            if offer_id:
                inv.update_offer(ch.api, offer_id, m.update_body(body), lang)
                offers[sku] = offer_id
            else:
                to_create.append(body)
        except EbayApiError as exc:
            results[sku] = _outcome(exc.status, exc.errors, remote_ref=offer_id)
    if to_create:       # saved before the first create leaves: after a crash these are looked up
        creating.extend(b["sku"] for b in to_create)
        save(handle)
    for chunk in _chunks(to_create):
        try:
            answers = {r.get("sku"): r for r in inv.bulk_create_offers(ch.api, chunk, lang)}
            crashpoint("listings_after_bulk_create_offer")   # tests: killed before the new ids are saved
        except EbayApiError as exc:
            for b in chunk:
                results[b["sku"]] = _outcome(exc.status, exc.errors)
            continue
        for b in chunk:
            r = answers.get(b["sku"]) or {}
            if int(r.get("statusCode") or 0) == 200 and r.get("offerId"):
                offers[b["sku"]] = str(r["offerId"])
            elif _exists(r.get("errors") or []):
                # eBay already holds this SKU's offer (made by an earlier call whose answer was lost)
                try:
                    found = inv.offers_of(ch.api, b["sku"], ch.marketplace)
                    if found:
                        inv.update_offer(ch.api, found[0]["offerId"], m.update_body(b), lang)
                        offers[b["sku"]] = found[0]["offerId"]
                except EbayApiError as exc:
                    found = []
                    r = {"statusCode": exc.status, "errors": exc.errors}
                if not found:
                    results[b["sku"]] = _outcome(int(r.get("statusCode") or 0), r.get("errors") or [])
            else:
                results[b["sku"]] = _outcome(int(r.get("statusCode") or 0), r.get("errors") or [])
    if to_create:
        save(handle)    # the new offer ids (a crash before this costs one getOffers per created SKU)


def _exists(errors: list[dict]) -> bool:
    """An entry of ``bulkCreateOffer`` refused because the SKU has an offer on that marketplace."""
    for e in errors:
        params = {p.get("name"): p.get("value") for p in e.get("parameters") or [] if isinstance(p, dict)}
        if "offerId" in params or (params.get("fieldName") == "sku" and "exists" in str(e.get("message") or "")):
            return True
    return False


def _category(item: dict) -> str:
    return str(m.locale_payload(item["payload"]).get("categoryId") or item.get("ref") or "")


def _groups(ch, items: list[dict], handle: dict, save, lang: str) -> None:
    """Parents become inventory item groups; every group with a parent or a variant in the batch is
    published once (``publishOfferByInventoryItemGroup``), which lists or revises the one listing
    of its variants. A variant's result is its group's."""
    results, offers = handle["results"], handle["offers"]
    groups: dict[str, list[str]] = {}
    for i in items:
        if i.get("children"):
            groups.setdefault(i["sku"], [])
        elif i.get("parent") and i["sku"] not in results and i["sku"] in offers:
            groups.setdefault(i["parent"], []).append(i["sku"])
    parents = {i["sku"]: i for i in items if i.get("children")}
    for key in sorted(groups):
        members = groups[key]
        parent = parents.get(key)
        if key in results:
            continue
        try:
            if parent is not None:
                variants = {s: p for s, p in (parent.get("variants") or {}).items()
                            if (results.get(s) or {}).get("state") in (None, "accepted")}
                if not variants:
                    results[key] = {"state": "invalid", "issues": [{
                        "code": "no_variants", "severity": "ERROR", "attribute": "variantSKUs",
                        "message": "none of this parent's variants can be listed (each has an ERROR or was refused)"}]}
                    save(handle)
                    continue
                inv.put_group(ch.api, m.group_key(key), m.group_body(parent["payload"], variants), lang)
            resp = inv.publish_group(ch.api, m.group_key(key), ch.marketplace)
        except EbayApiError as exc:
            res = _outcome(exc.status, exc.errors, remote_ref=m.group_key(key))
        else:
            doc = resp.json() if resp.content else {}
            res = (_outcome(200, [], doc.get("warnings"), remote_ref=m.group_key(key),
                            listing_id=str(doc.get("listingId") or ""))
                   if resp.status_code == 200 else _outcome(resp.status_code, errors_of(resp), remote_ref=m.group_key(key)))
        if parent is not None:
            results[key] = res
        for s in members:
            results[s] = {**res, "remote_ref": offers[s]}
        save(handle)


def poll(ch, handle: dict, save) -> dict | None:
    return {"results": handle.get("results") or {}, "status": "DONE", "transport": handle.get("transport")}


def fetch(ch, skus: list[str] | None = None):
    """Inventory items with their offers; then each inventory item group a variant names, once,
    as its parent's remote listing (the group's title and images, the variants' listing)."""
    _check(ch)
    wanted = set(skus or [])
    groups: dict[str, list[dict]] = {}
    for page in inv.item_pages(ch.api):
        for item in page.get("inventoryItems") or []:
            keys = item.get("inventoryItemGroupKeys") or []
            if wanted and item.get("sku") not in wanted and not (set(keys) & wanted):
                continue
            offers = inv.offers_of(ch.api, item["sku"], ch.marketplace)
            for key in keys:
                groups.setdefault(key, []).extend(offers[:1])
            if not wanted or item.get("sku") in wanted:
                yield m.remote_listing(item, offers[0] if offers else None, ch.marketplace)
    for key in sorted(groups):
        if wanted and key not in wanted:
            continue
        group = inv.get_group(ch.api, key)
        if group is not None:
            yield m.remote_group(key, group, groups[key], ch.marketplace)
