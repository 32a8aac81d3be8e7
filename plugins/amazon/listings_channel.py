"""The Amazon channel's side of the listings push and pull (``capabilities.update_listings`` and
``fetch_listings``), called by the content plugin through ``app.channel(name)``:

- ``submit_listings(batch, save)``: a batch of SKUs goes out as one ``JSON_LISTINGS_FEED`` (a
  content batch, or a large price/stock batch) or as ``patchListingsItem`` calls (a price/stock
  batch of at most ``patch_threshold`` SKUs). Every step that Amazon remembers is handed to
  ``save`` (which commits it in the caller's store) *before* the next call, so a restart resumes
  the same batch: an upload whose link may have expired starts with a new document, a feed
  created but not recorded (a crash right after ``createFeed``) is found again with ``getFeeds``
  (the JSON_LISTINGS_FEED created after the recorded ``submitting_at``) rather than sent twice.
  One batch per account is in flight at a time (the caller's rule), which is what makes that
  lookup unambiguous — another tool sending listings feeds on the same account would break it.
- ``poll_listings(handle, save)``: ``getFeed``; once DONE, the processing report mapped back to
  each SKU (``listings_mapper.report_results``); FATAL/CANCELLED fail every SKU of the batch.
- ``fetch_listings()``: ``searchListingsItems`` with summaries, attributes, issues, offers and
  fulfillment availability, 20 per page, reduced to remote listings (``listings_mapper``).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from marketd.sdk import ConfigError, crashpoint

from . import listings_api as api_
from . import listings_mapper as m

log = logging.getLogger("marketd.amazon.listings")

FEED_TYPE = "JSON_LISTINGS_FEED"
PULL_DATA = ["summaries", "attributes", "issues", "offers", "fulfillmentAvailability"]
FINAL = ("DONE", "CANCELLED", "FATAL")


def _seller(ch) -> str:
    if not ch.settings.seller_id:
        raise ConfigError(f"[channels.{ch.name}] seller_id is not set: the Listings Items and Feeds APIs need the "
                          "merchant token (Seller Central › Settings › Account Info › Merchant Token)")
    return ch.settings.seller_id


def _product_type(item: dict) -> str:
    return str(item.get("ref") or item["model"].rsplit("/", 1)[-1])


def messages_for(batch: dict, mid: str) -> tuple[list[dict], dict[int, str]]:
    messages, ids = [], {}
    for n, item in enumerate(sorted(batch["items"], key=lambda i: i["sku"]), start=1):
        if batch["kind"] == "offer":
            msg = m.offer_message(n, item["sku"], _product_type(item), m.offer_attributes(item["offer"], mid))
            if msg is None:
                continue
        else:
            msg = m.content_message(n, item["sku"], _product_type(item), m.merge_locales(item["payload"]),
                                    known=bool(item.get("known")))
        messages.append(msg)
        ids[msg["messageId"]] = item["sku"]
    return messages, ids


def submit(ch, batch: dict, save) -> dict:
    seller = _seller(ch)
    handle = dict(batch.get("handle") or {})
    if handle.get("feed_id") or handle.get("done"):
        return handle
    if batch["kind"] == "offer" and len(batch["items"]) <= ch.settings.patch_threshold and not handle.get("document_id"):
        return _patches(ch, seller, batch, save)
    api = ch.api
    now = ch.app.clock.now()
    if handle.get("submitting_at"):
        found = _created_since(ch, datetime.fromisoformat(handle["submitting_at"]))
        if found:
            log.info("amazon %s: batch %s: feed %s was created before the restart; polling it", ch.name,
                     batch["id"], found)
            handle["feed_id"] = found
            save(handle)
            return handle
    if not handle.get("uploaded") or not handle.get("document_id"):
        messages, ids = messages_for(batch, ch.marketplace_id)
        if not messages:
            handle.update(done=True, results={}, transport="feed")
            save(handle)
            return handle
        data = m.dumps(m.feed_document(seller, messages, issue_locale=ch.settings.issue_locale))
        doc = api_.create_feed_document(api)
        handle.update(transport="feed", document_id=doc["feedDocumentId"], messages={str(k): v for k, v in ids.items()},
                      bytes=len(data), created_at=now.isoformat())
        save(handle)
        api_.upload(api, doc["url"], data)
        handle["uploaded"] = True
        save(handle)
    handle["submitting_at"] = (ch.app.clock.now() - timedelta(seconds=1)).isoformat()
    save(handle)
    feed_id = api_.create_feed(api, FEED_TYPE, [ch.marketplace_id], handle["document_id"])
    crashpoint("listings_after_create_feed")
    handle["feed_id"] = feed_id
    save(handle)
    log.info("amazon %s: batch %s sent as feed %s (%d message(s))", ch.name, batch["id"], feed_id,
             len(handle["messages"]))
    return handle


def _created_since(ch, since: datetime) -> str | None:
    feeds = [f for f in api_.get_feeds(ch.api, feed_types=[FEED_TYPE], marketplace_ids=[ch.marketplace_id],
                                       created_since=since)]
    feeds.sort(key=lambda f: f.get("createdTime", ""))
    return feeds[0]["feedId"] if feeds else None


def _patches(ch, seller: str, batch: dict, save) -> dict:
    """Single price/stock changes: patchListingsItem per SKU (a replace sent again sets the same
    values, so a restart may repeat it harmlessly)."""
    results = {}
    for item in sorted(batch["items"], key=lambda i: i["sku"]):
        body = m.patch_body(_product_type(item), m.offer_attributes(item["offer"], ch.marketplace_id))
        if not body["patches"]:
            continue
        resp = api_.patch_listing(ch.api, seller, item["sku"], ch.marketplace_id, m.dumps(body))
        results[item["sku"]] = m.submission_result(resp)
    handle = {"transport": "patch", "done": True, "results": results}
    save(handle)
    return handle


def poll(ch, handle: dict, save) -> dict | None:
    """{"results": {sku: result}, "status": ...} once the batch is final, else None."""
    if handle.get("done"):
        return {"results": handle.get("results") or {}, "status": "DONE", "transport": handle.get("transport")}
    feed = api_.get_feed(ch.api, handle["feed_id"])
    status = feed.get("processingStatus")
    if status not in FINAL:
        return None
    ids = {int(k): v for k, v in (handle.get("messages") or {}).items()}
    report = None
    if feed.get("resultFeedDocumentId"):
        raw = api_.fetch_feed_document(ch.api, feed["resultFeedDocumentId"])
        try:
            report = json.loads(raw)
        except ValueError:
            report = None
    if status == "DONE" and isinstance(report, dict):
        results = m.report_results(report, ids)
    else:
        why = {"code": status, "severity": "ERROR", "attribute": "",
               "message": f"Amazon ended feed {handle['feed_id']} {status}" + (
                   "" if report is None else f": {json.dumps(report)[:300]}")}
        results = {sku: {"state": "failed", "issues": [why]} for sku in ids.values()}
    summary = (report or {}).get("summary") if isinstance(report, dict) else None
    return {"results": results, "status": status, "transport": "feed", "summary": summary or {}}


def fetch(ch, skus: list[str] | None = None):
    seller = _seller(ch)
    if skus:
        for i in range(0, len(skus), 20):
            for page in api_.search_listings(ch.api, seller, ch.marketplace_id, included_data=PULL_DATA,
                                             identifiers=skus[i:i + 20]):
                for item in page.get("items") or []:
                    yield m.remote_listing(item, ch.marketplace_id)
        return
    for page in api_.search_listings(ch.api, seller, ch.marketplace_id, included_data=PULL_DATA):
        for item in page.get("items") or []:
            yield m.remote_listing(item, ch.marketplace_id)
