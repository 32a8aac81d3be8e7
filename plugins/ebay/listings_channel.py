"""The eBay channel's side of the listings push and pull (``capabilities.update_listings`` and
``fetch_listings``), called by the content plugin through ``app.channel(name)``.

Content, per SKU, each step safe to repeat after a crash: ``createOrReplaceInventoryItem`` (a
full replacement), the SKU's offer — found with ``getOffers`` (or the offer id ``save`` recorded)
and updated, else created and its id saved at once —, then ``publishOffer`` (publishing a
published offer revises it). Nothing is asked twice of eBay that would make a second listing.
Price and stock: ``bulkUpdatePriceQuantity`` in calls of at most 25 SKUs (eBay's limit, the fake
enforces it); a 207 gives each SKU its own status; a system or concurrency error (25001, 25025)
leaves that SKU ``failed`` for the next run, any other is ``invalid``.
Both are synchronous at eBay: ``submit_listings`` returns a finished handle and ``poll_listings``
only reads it back.
"""
from __future__ import annotations

import logging

from marketd.sdk import ConfigError

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
    offers = handle.setdefault("offers", {})
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
            save(handle)
        handle["done"] = True
        save(handle)
        return handle
    lang = ch.settings.content_language or m.language(ch.marketplace)
    for item in sorted(batch["items"], key=lambda i: i["sku"]):
        sku = item["sku"]
        if sku in results:
            continue
        doc = m.locale_payload(item["payload"])
        category = str(doc.get("categoryId") or item.get("ref") or "")
        try:
            inv.put_item(ch.api, sku, m.inventory_item(item["payload"], item.get("offer"), ch.settings.condition), lang)
            body = m.offer_body(sku, ch.marketplace, category, item.get("offer"), ch.settings)
            offer_id = offers.get(sku)
            if not offer_id:
                found = inv.offers_of(ch.api, sku, ch.marketplace)
                offer_id = found[0]["offerId"] if found else None
            if offer_id:
                inv.update_offer(ch.api, offer_id, m.update_body(body), lang)
            else:
                offer_id = inv.create_offer(ch.api, body, lang)
            offers[sku] = offer_id
            save(handle)
            resp = inv.publish(ch.api, offer_id)
        except EbayApiError as exc:
            state = "failed" if m.transient(exc.errors) else "invalid"
            results[sku] = {"state": state, "issues": m.issues_of(exc.errors), "remote_ref": offers.get(sku, "")}
            save(handle)
            continue
        if resp.status_code == 200:
            doc = resp.json()
            results[sku] = {"state": "accepted", "issues": m.issues_of(doc.get("warnings") or []),
                            "remote_ref": offer_id, "listing_id": str(doc.get("listingId") or "")}
        else:
            errs = errors_of(resp)
            results[sku] = {"state": "failed" if m.transient(errs) or resp.status_code >= 500 else "invalid",
                            "issues": m.issues_of(errs), "remote_ref": offer_id}
        save(handle)
    handle["done"] = True
    save(handle)
    return handle


def poll(ch, handle: dict, save) -> dict | None:
    return {"results": handle.get("results") or {}, "status": "DONE", "transport": handle.get("transport")}


def fetch(ch, skus: list[str] | None = None):
    _check(ch)
    wanted = set(skus or [])
    for page in inv.item_pages(ch.api):
        for item in page.get("inventoryItems") or []:
            if wanted and item.get("sku") not in wanted:
                continue
            offers = inv.offers_of(ch.api, item["sku"], ch.marketplace)
            yield m.remote_listing(item, offers[0] if offers else None, ch.marketplace)
