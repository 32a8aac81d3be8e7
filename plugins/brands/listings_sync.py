"""Activation and live states from the content plugin's listings work, where it runs: a SKU whose
data a platform accepted (``listing_pushes``) is activated, one the platform shows live
(``remote_listings.first_live_at``) is live. Read from the store (plugins never import each
other); the channel account name (``channel``) is the brand's platform name.

``activated_at`` and ``live_at`` keep their first value (golive.py), so reading the same rows
every pass changes nothing, and a SKU live before any activation was recorded stays as it is
(it went live before marketd tracked it: no due date to measure).
"""
from __future__ import annotations

from . import golive


def sync(app, brands: dict) -> dict:
    db = app.store.db
    names = set(db.table_names())
    counts = {"activated": 0, "live": 0}
    if "listing_pushes" not in names and "remote_listings" not in names:
        return counts
    platforms = {bid: set(b.platforms) for bid, b in brands.items()}
    with app.store.transaction() as tx:
        if "listing_pushes" in names:
            for sku, channel, bid, at in tx.execute(
                    "select p.sku, p.channel, b.brand, min(p.accepted_at) from listing_pushes p join brand_skus b "
                    "on b.sku = p.sku where p.accepted_at is not null group by p.sku, p.channel, b.brand"):
                if channel in platforms.get(bid, ()) and golive.record_activation(tx, bid, sku, channel, at, "listings"):
                    counts["activated"] += 1
        if "remote_listings" in names:
            for sku, channel, at in tx.execute(
                    "select r.sku, r.channel, r.first_live_at from remote_listings r join golive g on g.sku = r.sku "
                    "and g.platform = r.channel where r.first_live_at is not null and g.live_at is null"):
                if golive.record_live(tx, sku, channel, at, "listings") == "new":
                    counts["live"] += 1
    return counts
