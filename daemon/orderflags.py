"""The manual-operation flag: an order someone handled by hand in the marketplace's portal.

Once an order is flagged, no automatic path acts on it again (the tracking push, invoice issuing
and upload, fulfilment actions): a second confirmation, cancellation or invoice for an order a
person already dealt with does harm that cannot be undone remotely. Every such path asks
:func:`order_guard` before it acts and records the reason it returns as its visible skip; a
command that names the order explicitly may still act, and keeps the flag.

The flag lives in a table of its own (component ``order_flags``), not in ``orders``: every
order sync rewrites the order row, and must not wipe a person's decision. ``order_flag_log``
keeps who set or cleared it, when and why.
"""
from __future__ import annotations

COMPONENT = "order_flags"


def _v1(db) -> None:
    db.execute("CREATE TABLE order_flags (order_key TEXT PRIMARY KEY, manual INTEGER NOT NULL, set_at TEXT, "
               "set_by TEXT, reason TEXT, source TEXT) WITHOUT ROWID")
    db.execute("CREATE TABLE order_flag_log (id INTEGER PRIMARY KEY, order_key TEXT NOT NULL, action TEXT NOT NULL, "
               "at TEXT NOT NULL, by TEXT, reason TEXT, source TEXT)")
    db.execute("CREATE INDEX idx_order_flag_log_order ON order_flag_log (order_key)")


MIGRATIONS = [(1, _v1)]


def manual_flag(db, order_key: str) -> dict | None:
    """The flag row of ``order_key`` while it is set, else None."""
    rows = list(db.query("select * from order_flags where order_key = ? and manual = 1", [order_key]))
    return rows[0] if rows else None


def mark_manual(store, order_key: str, *, by: str, reason: str, source: str, at: str) -> bool:
    """Set the flag; False when it was set already (the first setter's record stays)."""
    with store.transaction() as db:
        if manual_flag(db, order_key):
            return False
        db.execute("insert or replace into order_flags (order_key, manual, set_at, set_by, reason, source) "
                   "values (?, 1, ?, ?, ?, ?)", [order_key, at, by, reason, source])
        db.execute("insert into order_flag_log (order_key, action, at, by, reason, source) values (?, 'set', ?, ?, ?, ?)",
                   [order_key, at, by, reason, source])
    return True


def unmark_manual(store, order_key: str, *, by: str, reason: str, at: str) -> bool:
    """Clear the flag; False when it was not set."""
    with store.transaction() as db:
        if not manual_flag(db, order_key):
            return False
        db.execute("update order_flags set manual = 0 where order_key = ?", [order_key])
        db.execute("insert into order_flag_log (order_key, action, at, by, reason, source) "
                   "values (?, 'clear', ?, ?, ?, 'cli')", [order_key, at, by, reason])
    return True


def order_guard(app, order_key: str, purpose: str) -> str | None:
    """Why an automatic ``purpose`` (``"tracking push"``, ``"invoice"`` …) must not act on the
    order, or None when it may. The text is what the caller records as its skip reason."""
    flag = manual_flag(app.store.db, order_key)
    if flag is None:
        return None
    return (f"{purpose} skipped: order {order_key} is flagged as handled by hand (by {flag['set_by'] or '?'} "
            f"at {flag['set_at']}: {flag['reason'] or 'no reason given'}); `marketd orders unmark-manual` clears it")
