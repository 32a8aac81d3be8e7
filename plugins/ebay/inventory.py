"""Inventory API v1 (``/sell/inventory/v1``): the calls behind the eBay channel's listings push
and pull (``listings_channel.py``). HTTP only.

- ``createOrReplaceInventoryItem`` (``PUT /inventory_item/{sku}``, ``Content-Language`` required;
  a full replacement), ``getInventoryItems`` (``limit`` ≤ 100; follow ``next`` — the spec calls
  ``offset`` a page number, so it is never computed here);
- ``getOffers`` (``sku``, ``marketplace_id``), ``createOffer`` → 201 ``{offerId}``, ``updateOffer``,
  ``publishOffer`` (``POST /offer/{offerId}/publish/``, trailing slash included) → ``{listingId}``;
- ``bulkUpdatePriceQuantity``: at most 25 requests per call, 200 or 207 with a result per SKU;
- the bulk content calls, 25 per call each, 200 or 207 with a result per SKU/offer:
  ``bulkCreateOrReplaceInventoryItem`` (``Content-Language`` + a ``locale`` per item),
  ``bulkCreateOffer`` (``Content-Language``; an offer per SKU, ``offerId`` per answer) and
  ``bulkPublishOffer`` (offer ids; ``listingId`` per answer). There is no bulk *update* of an
  offer: a known offer is updated with ``updateOffer`` and published in bulk;
- variant groups: ``createOrReplaceInventoryItemGroup`` (``PUT /inventory_item_group/{key}``,
  ``Content-Language``) and ``publishOfferByInventoryItemGroup`` (one listing for the group's
  offers; a member's own ``publishOffer`` would make a listing of its own).

eBay publishes no per-second limits for these (the daily call limit is counted by the client's
quota); the polite 5 requests/s with a burst of 10 applies.
"""
from __future__ import annotations

from typing import Iterator
from urllib.parse import quote

from .client import INVENTORY, SEND_ONCE, EbayApiError, EbayClient, errors_of

BULK_MAX = 25


def put_item(api: EbayClient, sku: str, body: dict, language: str) -> None:
    resp = api.call("PUT", api.url(api.endpoint, f"{INVENTORY}/inventory_item/{quote(sku, safe='')}"),
                    "createOrReplaceInventoryItem", json_body=body, headers={"Content-Language": language})
    if resp.status_code not in (200, 201, 204):
        raise EbayApiError("createOrReplaceInventoryItem", resp.status_code, errors_of(resp))


def item_pages(api: EbayClient, limit: int = 100) -> Iterator[dict]:
    from . import mapper

    query = {"limit": limit, "offset": 0}
    while True:
        doc = api._json(api.call("GET", api.url(api.endpoint, f"{INVENTORY}/inventory_item", query),
                                 "getInventoryItems"), "getInventoryItems", ok=(200,)) or {}
        yield doc
        nxt = mapper.next_query(doc.get("next"), "/inventory_item")
        if not nxt or not doc.get("inventoryItems"):
            return
        query = nxt


def offers_of(api: EbayClient, sku: str, marketplace: str) -> list[dict]:
    resp = api.call("GET", api.url(api.endpoint, f"{INVENTORY}/offer", {"sku": sku, "marketplace_id": marketplace}),
                    "getOffers")
    if resp.status_code == 404:
        return []
    return (api._json(resp, "getOffers") or {}).get("offers") or []


def create_offer(api: EbayClient, body: dict, language: str) -> str:
    resp = api.call("POST", api.url(api.endpoint, f"{INVENTORY}/offer"), "createOffer", json_body=body,
                    headers={"Content-Language": language})
    return api._json(resp, "createOffer", ok=(201,))["offerId"]


def update_offer(api: EbayClient, offer_id: str, body: dict, language: str) -> None:
    resp = api.call("PUT", api.url(api.endpoint, f"{INVENTORY}/offer/{offer_id}"), "updateOffer", json_body=body,
                    headers={"Content-Language": language})
    if resp.status_code not in (200, 204):
        raise EbayApiError("updateOffer", resp.status_code, errors_of(resp))


def publish(api: EbayClient, offer_id: str):
    """The answer as it came: 200 ``{listingId}``, or 400 with the category's missing fields."""
    return api.call("POST", api.url(api.endpoint, f"{INVENTORY}/offer/{offer_id}/publish/"), "publishOffer")


def bulk_price_quantity(api: EbayClient, requests: list[dict]) -> list[dict]:
    """One call of at most 25 requests; the per-SKU ``responses`` (200 and 207 alike)."""
    if not 0 < len(requests) <= BULK_MAX:
        raise ValueError(f"bulkUpdatePriceQuantity takes 1 to {BULK_MAX} requests, not {len(requests)}")
    resp = api.call("POST", api.url(api.endpoint, f"{INVENTORY}/bulk_update_price_quantity"),
                    "bulkUpdatePriceQuantity", json_body={"requests": requests})
    return (api._json(resp, "bulkUpdatePriceQuantity", ok=(200, 207)) or {}).get("responses") or []


def _bulk(api: EbayClient, path: str, operation: str, requests: list, language: str | None = None,
          retry=None) -> list[dict]:
    if not 0 < len(requests) <= BULK_MAX:
        raise ValueError(f"{operation} takes 1 to {BULK_MAX} requests, not {len(requests)}")
    headers = {"Content-Language": language} if language else None
    resp = api.call("POST", api.url(api.endpoint, f"{INVENTORY}/{path}"), operation, json_body={"requests": requests},
                    headers=headers, retry=retry)
    return (api._json(resp, operation, ok=(200, 207)) or {}).get("responses") or []


def bulk_put_items(api: EbayClient, requests: list[dict], language: str) -> list[dict]:
    """``bulkCreateOrReplaceInventoryItem``: ``responses[{sku, locale, statusCode, errors?, warnings?}]``."""
    return _bulk(api, "bulk_create_or_replace_inventory_item", "bulkCreateOrReplaceInventoryItem", requests, language)


def bulk_create_offers(api: EbayClient, requests: list[dict], language: str) -> list[dict]:
    """``bulkCreateOffer``: ``responses[{sku, marketplaceId, format, offerId?, statusCode, errors?}]``.
    Sent once, never retried: a create that failed on the way back may have made the offers, and a
    second one would be refused for each SKU; the channel looks them up instead."""
    return _bulk(api, "bulk_create_offer", "bulkCreateOffer", requests, language, retry=SEND_ONCE)


def bulk_publish(api: EbayClient, offer_ids: list[str]) -> list[dict]:
    """``bulkPublishOffer``: ``responses[{offerId, listingId?, statusCode, errors?, warnings?}]``."""
    return _bulk(api, "bulk_publish_offer", "bulkPublishOffer", [{"offerId": o} for o in offer_ids])


def put_group(api: EbayClient, key: str, body: dict, language: str) -> None:
    resp = api.call("PUT", api.url(api.endpoint, f"{INVENTORY}/inventory_item_group/{quote(key, safe='')}"),
                    "createOrReplaceInventoryItemGroup", json_body=body, headers={"Content-Language": language})
    if resp.status_code not in (200, 201, 204):
        raise EbayApiError("createOrReplaceInventoryItemGroup", resp.status_code, errors_of(resp))


def publish_group(api: EbayClient, key: str, marketplace: str):
    """The answer as it came: 200 ``{listingId}``, or 400 naming what is missing."""
    return api.call("POST", api.url(api.endpoint, f"{INVENTORY}/offer/publish_by_inventory_item_group/"),
                    "publishOfferByInventoryItemGroup",
                    json_body={"inventoryItemGroupKey": key, "marketplaceId": marketplace})


def get_group(api: EbayClient, key: str) -> dict | None:
    resp = api.call("GET", api.url(api.endpoint, f"{INVENTORY}/inventory_item_group/{quote(key, safe='')}"),
                    "getInventoryItemGroup")
    if resp.status_code == 404:
        return None
    return api._json(resp, "getInventoryItemGroup")
