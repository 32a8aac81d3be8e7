"""``store_orders``: the one way a channel stores the orders a sync fetched (``marketd.sdk``).

Every channel did the same four things and they had started to drift (Amazon compared the status
differently): one transaction per page, unchanged orders skipped, ``imported_at`` kept from the
first import, and ``order_imported`` announced only *after* the commit, so a listener (the
settlements plugin attaching waiting payout lines, the shipments plan) reads what is stored and a
crash before the commit announces nothing that is not there."""
from __future__ import annotations


def store_orders(app, rows, stats: dict | None = None, *, skip_unchanged: bool = True) -> list[str]:
    """Store ``rows`` (the channel mapper's order rows, ``aliases`` included) in one transaction
    and announce each new or changed order; returns their keys. ``stats`` (optional) gets
    ``new``/``changed``/``unchanged`` added. ``skip_unchanged=False`` stores every row (a channel
    whose ``updated_at`` does not move on every change it cares about)."""
    store = app.store
    with store.transaction():
        stored, unchanged = store.save_orders(list(rows), now=app.clock.now().isoformat(),
                                              skip_unchanged=skip_unchanged)
    if stats is not None:
        new = sum(1 for _, is_new in stored if is_new)
        for name, n in (("new", new), ("changed", len(stored) - new), ("unchanged", unchanged)):
            if n or name in stats:
                stats[name] = stats.get(name, 0) + n
    keys = [key for key, _ in stored]
    for key in keys:  # after the commit: listeners see what is in the store
        app.emit("order_imported", order=store.get_order(key))
    return keys
