"""``marketd.sdk.store_orders`` (daemon/order_pages.py, ``Store.save_orders``): the one way the four
channels store a sync's page of orders. Through a real App and store, with a plugin listening
to ``order_imported`` as the settlements plugin does."""
from __future__ import annotations

import pytest

from marketd.sdk import hookimpl, store_orders
from marketd.sdk.testing import make_app


class Listener:
    def __init__(self):
        self.seen: list[tuple[str, str | None, bool]] = []

    @hookimpl
    def order_imported(self, app, order):
        # what a listener reads must already be committed: ask the store on its own connection
        stored = app.store.get_order(order["key"])
        self.seen.append((order["key"], order.get("channel_status"), stored is not None))


@pytest.fixture
def world(tmp_path):
    listener = Listener()
    app = make_app(tmp_path / "i", {"listener": listener})
    yield app, listener
    app.close()


def row(order_id, status="Unshipped", updated="2026-11-01T10:00:00+00:00", **extra):
    return {"key": f"demo-it:{order_id}", "channel": "demo-it", "channel_type": "demo", "order_id": order_id,
            "status": "PENDING", "channel_status": status, "updated_at": updated, "currency": "EUR",
            "total": "10.00", **extra}


def test_new_changed_and_unchanged_orders(world):
    app, listener = world
    stats = {"seen": 2}
    keys = store_orders(app, [row("A"), row("B", aliases=[("LEG-B", "legacy")])], stats)
    assert keys == ["demo-it:A", "demo-it:B"] and stats == {"seen": 2, "new": 2}
    assert [k for k, _, stored in listener.seen] == keys and all(s for _, _, s in listener.seen)
    assert [r["order_key"] for r in app.store.db.query("select order_key from order_aliases")] == ["demo-it:B"]
    first = app.store.get_order("demo-it:A")["imported_at"]
    assert first == app.clock.now().isoformat()

    app.clock.advance(3600)
    listener.seen.clear()
    stats = {}
    keys = store_orders(app, [row("A"),                                                      # the same again
                              row("B", status="Shipped"),                                    # status moved
                              row("C", updated="2026-11-02T10:00:00+00:00")], stats)         # new
    assert keys == ["demo-it:B", "demo-it:C"] and stats == {"new": 1, "changed": 1, "unchanged": 1}
    assert [(k, s) for k, s, _ in listener.seen] == [("demo-it:B", "Shipped"), ("demo-it:C", "Unshipped")]
    assert app.store.get_order("demo-it:A")["imported_at"] == first            # untouched
    assert app.store.get_order("demo-it:B")["imported_at"] == first            # kept on update
    assert app.store.get_order("demo-it:C")["imported_at"] == app.clock.now().isoformat()

    listener.seen.clear()
    stats = {}
    assert store_orders(app, [row("A", updated="2026-11-03T10:00:00+00:00")], stats) == ["demo-it:A"]
    assert stats == {"changed": 1} and app.store.get_order("demo-it:A")["imported_at"] == first


def test_without_skipping_every_row_is_stored_and_announced(world):
    app, listener = world
    store_orders(app, [row("A")])
    listener.seen.clear()
    stats = {"new": 0, "changed": 0}
    assert store_orders(app, [row("A", total="12.00")], stats, skip_unchanged=False) == ["demo-it:A"]
    assert stats == {"new": 0, "changed": 1} and app.store.get_order("demo-it:A")["total"] == "12.00"
    assert [k for k, _, _ in listener.seen] == ["demo-it:A"]


def test_a_row_without_a_change_time_is_never_taken_for_unchanged(world):
    app, _ = world
    store_orders(app, [row("A", updated=None)])
    assert store_orders(app, [row("A", updated=None, total="11.00")]) == ["demo-it:A"]
    assert app.store.get_order("demo-it:A")["total"] == "11.00"


def test_the_key_defaults_to_channel_and_order_id(world):
    app, _ = world
    r = row("A")
    del r["key"]
    assert store_orders(app, [r]) == ["demo-it:A"]


def test_a_page_that_fails_stores_nothing_and_announces_nothing(world):
    app, listener = world
    broken = row("B")
    del broken["key"], broken["order_id"]
    with pytest.raises(KeyError):
        store_orders(app, [row("A"), broken])
    assert app.store.get_order("demo-it:A") is None and listener.seen == []
