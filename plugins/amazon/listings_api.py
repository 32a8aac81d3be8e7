"""Feeds API 2021-06-30 and Listings Items API 2021-08-01: the HTTP calls behind the Amazon
channel's listings push and pull (``listings_channel.py``). HTTP only; shapes are
``listings_mapper.py``'s business.

- Feeds (research api-contracts §1.7): ``createFeedDocument`` → 201 ``{feedDocumentId, url}``;
  ``PUT url`` with the **same** Content-Type and no SP-API headers (the URL is presigned, valid 5
  minutes); ``createFeed`` → 202 ``{feedId}``; ``getFeed`` until DONE/CANCELLED/FATAL;
  ``getFeedDocument`` + the download the reports already use (gzip handled there).
- Listings Items: ``searchListingsItems`` (``pageSize`` ≤ 20, ``pageToken``), ``getListingsItem``,
  ``patchListingsItem`` (only top-level attributes can be patched).

Default usage plans (rate/s, burst), from the "Usage Plan" tables in feeds_2021-06-30.json and
listingsItems_2021-08-01.json: createFeedDocument 0.5/15, createFeed 0.0083/15, getFeed 2/15,
getFeeds and getFeedDocument 0.0222/10, cancelFeed 2/15; getListingsItem and putListingsItem 5/10,
patch, delete and search 5/5.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterator

from .client import SpApiClient, SpApiError, error_list

FEEDS = "/feeds/2021-06-30/feeds"
FEED_DOCUMENTS = "/feeds/2021-06-30/documents"
LISTINGS = "/listings/2021-08-01/items"
LISTINGS_LIMITS = {
    "createFeedDocument": (0.5, 15.0), "createFeed": (0.0083, 15.0), "getFeed": (2.0, 15.0),
    "getFeeds": (0.0222, 10.0), "getFeedDocument": (0.0222, 10.0), "cancelFeed": (2.0, 15.0),
    "getListingsItem": (5.0, 10.0), "putListingsItem": (5.0, 10.0), "patchListingsItem": (5.0, 5.0),
    "deleteListingsItem": (5.0, 5.0), "searchListingsItems": (5.0, 5.0),
}
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"


def _limits(api: SpApiClient) -> None:
    for op, lim in LISTINGS_LIMITS.items():  # the channel's own `limits` overrides stay as they are
        api.limiter.limits.setdefault(op, lim)


def _sku(sku: str) -> str:
    from urllib.parse import quote

    return quote(sku, safe="")


# -- Feeds -------------------------------------------------------------------------------------------
def create_feed_document(api: SpApiClient, content_type: str = FEED_CONTENT_TYPE) -> dict:
    _limits(api)
    resp = api.call("POST", FEED_DOCUMENTS, "createFeedDocument", json_body={"contentType": content_type})
    return api._json(resp, "createFeedDocument", ok=(201,))


def upload(api: SpApiClient, url: str, data: bytes, content_type: str = FEED_CONTENT_TYPE) -> None:
    """PUT the feed to its presigned URL: exactly the declared Content-Type, no SP-API headers."""
    resp = api.download_http.request("PUT", url, operation="upload", content=data,
                                     headers={"content-type": content_type})
    if resp.status_code not in (200, 204):
        raise SpApiError("upload", resp.status_code, [{"code": "Upload", "message": resp.text[:200]}],
                         hint="the upload URL is valid 5 minutes and needs the Content-Type given to createFeedDocument")


def create_feed(api: SpApiClient, feed_type: str, marketplace_ids: list[str], document_id: str) -> str:
    _limits(api)
    body = {"feedType": feed_type, "marketplaceIds": list(marketplace_ids), "inputFeedDocumentId": document_id}
    return api._json(api.call("POST", FEEDS, "createFeed", json_body=body), "createFeed", ok=(202,))["feedId"]


def get_feed(api: SpApiClient, feed_id: str) -> dict:
    _limits(api)
    return api._json(api.call("GET", f"{FEEDS}/{feed_id}", "getFeed"), "getFeed")


def get_feeds(api: SpApiClient, *, feed_types: list[str], marketplace_ids: list[str] | None = None,
              created_since: datetime | None = None, page_size: int = 100) -> Iterator[dict]:
    """Every ``Feed``; later pages are asked with ``nextToken`` as the only parameter."""
    _limits(api)
    params: dict = {"feedTypes": feed_types, "marketplaceIds": marketplace_ids, "createdSince": created_since,
                    "pageSize": page_size}
    while True:
        doc = api._json(api.call("GET", FEEDS, "getFeeds", params=params), "getFeeds")
        yield from doc.get("feeds") or []
        token = doc.get("nextToken")
        if not token:
            return
        params = {"nextToken": token}


def fetch_feed_document(api: SpApiClient, document_id: str) -> bytes:
    """getFeedDocument + download (gunzipped); a refused URL is asked for once more."""
    _limits(api)
    for attempt in (1, 2):
        doc = api._json(api.call("GET", f"{FEED_DOCUMENTS}/{document_id}", "getFeedDocument"), "getFeedDocument")
        try:
            return api.download(doc)[0]
        except SpApiError as exc:
            if attempt == 2 or exc.status not in (400, 403):
                raise
    raise AssertionError("unreachable")


# -- Listings Items ----------------------------------------------------------------------------------
def search_listings(api: SpApiClient, seller_id: str, marketplace_id: str, *, included_data: list[str],
                    page_size: int = 20, last_updated_after: datetime | None = None,
                    identifiers: list[str] | None = None) -> Iterator[dict]:
    """Every page (``ItemSearchResults``) until ``pagination.nextToken`` is absent."""
    _limits(api)
    params: dict = {"marketplaceIds": [marketplace_id], "includedData": included_data, "pageSize": page_size,
                    "lastUpdatedAfter": last_updated_after}
    if identifiers:
        params.update(identifiers=identifiers, identifiersType="SKU")
    while True:
        doc = api._json(api.call("GET", f"{LISTINGS}/{seller_id}", "searchListingsItems", params=params),
                        "searchListingsItems")
        yield doc
        token = (doc.get("pagination") or {}).get("nextToken")
        if not token:
            return
        params = {**params, "pageToken": token}


def get_listing(api: SpApiClient, seller_id: str, sku: str, marketplace_id: str, *,
                included_data: list[str]) -> dict | None:
    _limits(api)
    resp = api.call("GET", f"{LISTINGS}/{seller_id}/{_sku(sku)}", "getListingsItem",
                    params={"marketplaceIds": [marketplace_id], "includedData": included_data})
    if resp.status_code == 404:
        return None
    return api._json(resp, "getListingsItem")


def patch_listing(api: SpApiClient, seller_id: str, sku: str, marketplace_id: str, body: bytes, *,
                  mode: str | None = None) -> dict:
    """``ListingsItemSubmissionResponse`` (ACCEPTED/INVALID/VALID); a 400 with an error list raises."""
    _limits(api)
    resp = api.call("PATCH", f"{LISTINGS}/{seller_id}/{_sku(sku)}", "patchListingsItem", json_body=body,
                    params={"marketplaceIds": [marketplace_id], "includedData": ["issues"], "mode": mode})
    if resp.status_code == 200:
        return api._json(resp, "patchListingsItem")
    raise SpApiError("patchListingsItem", resp.status_code, error_list(resp), resp.headers.get("x-amzn-RequestId", ""))
