"""Store table of the custom plugin (component ``custom``).

``custom_items``: one row per order item with Amazon Custom personalisation, from the moment an
order sync announces it until its files are in ``outbox/custom/<order>/<item>/``. The download
URL is not copied here: Amazon counts it as buyer data (it stays in the order row only, where
retention purges it). ``state``: ``waiting`` → ``done``; ``refused`` (an unsafe or unreadable
archive: not tried again), ``failed`` (the channel cannot download), ``waiting`` again with
``next_attempt_at`` after a temporary error.
"""
from __future__ import annotations

COMPONENT = "custom"


def _v1(db) -> None:
    db.execute("CREATE TABLE custom_items (order_key TEXT NOT NULL, item_id TEXT NOT NULL, channel TEXT NOT NULL, "
               "order_id TEXT NOT NULL, sku TEXT, state TEXT NOT NULL, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, "
               "next_attempt_at TEXT, files TEXT, noted_at TEXT NOT NULL, fetched_at TEXT, "
               "PRIMARY KEY (order_key, item_id)) WITHOUT ROWID")
    db.execute("CREATE INDEX idx_custom_items_state ON custom_items (state, next_attempt_at)")


MIGRATIONS = [(1, _v1)]
