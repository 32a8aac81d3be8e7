"""Remote products: what each platform shows, pulled through the platform's channel
(``capabilities.fetch_listings``: ``fetch_listings(skus)`` yields remote listings) into
``remote_listings``. The SKUs asked for are the ones the content plugin knows for that platform
(Amazon's search pages through at most 1,000 listings without identifiers, so asking by SKU is the
only way to see 50,000). A SKU the platform no longer returns is kept with ``present = 0``.
"""
from __future__ import annotations

import json
import logging

from marketd.sdk import MarketdError, TransientError, inbox_settings_for

from .push import listing_channel

log = logging.getLogger("marketd.content.listings")
ALL_FIELDS = ["title", "category", "price", "quantity", "main_image", "issues"]


def pull_platform(app, name: str, ps, only: set[str] | None = None) -> dict:
    """Pull the platform's listings of every SKU it has content for (or of ``only`` among them:
    a notification named them; then only those can be marked gone)."""
    ch = listing_channel(app, ps, "fetch_listings")
    if ch is None:
        return {"skipped": "no channel that can fetch listings"}
    db = app.store.db
    skus = [r["sku"] for r in db.query("select sku from content_payloads where platform = ? order by sku", [name])
            if only is None or r["sku"] in only]
    if not skus:
        return {"pulled": 0}
    now = app.clock.now().isoformat()
    old = {r["sku"]: r for r in db.query("select sku, first_live_at from remote_listings where platform = ?", [name])
           if only is None or r["sku"] in only}
    seen = []
    try:
        for r in ch.fetch_listings(skus):
            seen.append(r)
    except (TransientError, MarketdError) as exc:
        log.warning("listings %s: pull stopped: %s (nothing recorded; next run tries again)", name, exc)
        return {"error": str(exc)}
    got = set()
    with app.store.transaction() as tx:
        for r in seen:
            got.add(r["sku"])
            first_live = (old.get(r["sku"]) or {}).get("first_live_at") or (now if r.get("live") else None)
            tx["remote_listings"].upsert({
                "platform": name, "sku": r["sku"], "channel": ch.name, "remote_id": r.get("remote_id") or "",
                "status": json.dumps(r.get("status") or []), "live": int(bool(r.get("live"))), "present": 1,
                "title": r.get("title") or "", "category": r.get("category") or "",
                "price": str(r["price"]) if r.get("price") is not None else None, "currency": r.get("currency") or "",
                "quantity": r.get("quantity"), "main_image_url": r.get("main_image_url") or "", "url": r.get("url") or "",
                "issues": json.dumps(r.get("issues") or [], sort_keys=True), "fetched_at": now,
                "shows": json.dumps(r.get("shows") or ALL_FIELDS),
                "first_live_at": first_live}, pk=("platform", "sku"))
        gone = [s for s in old if s not in got]
        for s in gone:
            tx.execute("update remote_listings set present = 0, live = 0, fetched_at = ? where platform = ? and sku = ?",
                       [now, name, s])
    log.info("listings %s: %d remote listing(s) pulled, %d live, %d no longer shown", name, len(seen),
             sum(1 for r in seen if r.get("live")), len(gone))
    return {"pulled": len(seen), "live": sum(1 for r in seen if r.get("live")), "gone": len(gone)}


def pull(app, *, platforms: set[str] | None = None) -> dict:
    settings = inbox_settings_for(app, "content")
    out = {}
    for name, ps in sorted(settings.platforms.items()):
        if platforms and name not in platforms:
            continue
        if not settings.listings.pulled(name):
            continue
        out[name] = pull_platform(app, name, ps)
    return out
