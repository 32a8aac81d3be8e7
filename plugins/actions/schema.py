"""Store table of the actions plugin (component ``actions``).

``order_actions``: one row per requested fulfilment action on a remote order, with who asked,
when and why. ``idem_key`` is unique: the drop's ``action_id`` when given, else a hash of the
order, the action and its normalised parameters, so the same request twice is one row (and one
remote call). ``state``: ``waiting → claimed → done`` or ``failed``; ``skipped`` (the order is
flagged as handled by hand, or the marketplace offers the action only in its portal);
``uncertain`` when a crash came between the claim and the recorded answer.
"""
from __future__ import annotations

COMPONENT = "actions"


def _v1(db) -> None:
    db.execute(
        "CREATE TABLE order_actions (id INTEGER PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, order_key TEXT NOT NULL, "
        "channel TEXT NOT NULL, order_id TEXT NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL, "
        "requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, reason TEXT, note TEXT, source TEXT NOT NULL, "
        "state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, claimed_at TEXT, next_attempt_at TEXT, "
        "remote_ref TEXT, result TEXT, error TEXT, done_at TEXT)")
    db.execute("CREATE INDEX idx_order_actions_order ON order_actions (order_key)")
    db.execute("CREATE INDEX idx_order_actions_state ON order_actions (state, next_attempt_at)")


MIGRATIONS = [(1, _v1)]
