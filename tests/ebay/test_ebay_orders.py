"""The eBay channel's order sync against the fake eBay (in-process): OAuth, getOrders windows and
paging, the daily call limit, buyer data kept out of logs."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest

from marketd.errors import ConfigError, TransientError
from marketd.hookspecs import hookimpl
from marketd.plugins.ebay.fake import QUOTA_BODY

from .conftest import CREDS


class Listener:
    def __init__(self):
        self.orders = []

    @hookimpl
    def order_imported(self, app, order):
        self.orders.append(order)


def test_orders_sync_is_off_by_default_and_logged_once(fake, make_app, caplog):
    from marketd.plugins.ebay.jobs import sync_all_orders

    fake.populate(10)
    app = make_app(shop={})
    caplog.set_level(logging.INFO, logger="marketd.ebay")
    assert app.channel("shop").orders_sync is False
    assert sync_all_orders(app, None) == {} and sync_all_orders(app, None) == {}
    assert fake.journal == []
    assert caplog.text.count("orders_sync is off") == 1


def test_first_sync_imports_every_page_with_one_token(fake, make_app, clock, ebay_contract):
    orders = fake.populate(450, days=20)
    app = make_app(shop={"orders_sync": True})
    listener = Listener()
    app.plugins.register(listener, "listener")
    ch = app.channel("shop")
    assert ch.sync_orders(None) == 450
    assert len(app.store.find_orders(channel="shop")) == 450 and len(listener.orders) == 450
    calls = fake.calls_of("getOrders")
    assert len(calls) == 3  # 200 + 200 + 50: limit 200, offset paging by `next`
    assert fake.count("oauth.token") == 1
    first = calls[0]
    assert first.query["limit"] == ["200"] and first.query["offset"] == ["0"]
    flt = first.query["filter"][0]
    assert flt.startswith("lastmodifieddate:[") and flt.endswith("]")
    start, end = flt[len("lastmodifieddate:["):-1].split("..")
    assert datetime.fromisoformat(end.replace("Z", "+00:00")) == clock.now() - timedelta(seconds=60)
    assert datetime.fromisoformat(start.replace("Z", "+00:00")) == clock.now() - timedelta(days=30, seconds=120)
    assert [c.query["offset"] for c in calls] == [["0"], ["200"], ["400"]]
    assert fake.violations == []
    row = app.store.get_order(f"shop:{orders[0]['orderId']}")
    assert row["status"] == "UNSHIPPED" and row["channel_status"] == "NOT_STARTED/PAID/NONE_REQUESTED"
    assert json.loads(row["ship_to"])["postal_code"]


def test_the_filter_brackets_go_encoded_on_the_wire(fake, make_app):
    fake.populate(3)
    app = make_app(shop={"orders_sync": True})
    seen = []
    original = fake.__call__

    def spy(environ, start_response):
        seen.append(environ.get("QUERY_STRING", ""))
        return original(environ, start_response)

    app.channel("shop")._transport.app = spy
    app.channel("shop").sync_orders(None)
    query = next(q for q in seen if q.startswith("filter="))
    assert "%5B" in query and "%5D" in query and "[" not in query and "]" not in query


def test_second_run_reads_from_the_watermark_minus_the_overlap(fake, make_app, clock):
    fake.populate(50, days=5)
    app = make_app(shop={"orders_sync": True, "overlap_seconds": 300})
    ch = app.channel("shop")
    ch.sync_orders(None)
    synced_until = datetime.fromisoformat(ch._state()["synced_until"])
    assert synced_until == clock.now() - timedelta(seconds=60)
    clock.advance(900)
    changed = fake.touch(next(iter(fake.orders)), orderFulfillmentStatus="FULFILLED")
    fake.new_orders(2)
    clock.advance(120)
    assert ch.sync_orders(None) == 3
    flt = fake.calls_of("getOrders")[-1].query["filter"][0]
    start = datetime.fromisoformat(flt.split("[")[1].split("..")[0].replace("Z", "+00:00"))
    assert start == synced_until - timedelta(seconds=300)
    assert app.store.get_order(f"shop:{changed['orderId']}")["status"] == "SHIPPED"
    assert ch.last_sync["new"] == 2 and ch.last_sync["changed"] == 1


def test_an_order_changing_between_pages_loses_nothing(fake, make_app, clock):
    """Offsets shift when an order leaves the window while it is read (its lastModifiedDate moves
    to now): the order at the page border would be skipped. The shrinking total shows it and the
    window is read again; the changed order comes with the next window."""
    orders = fake.populate(450, days=20)
    app = make_app(shop={"orders_sync": True})
    ch = app.channel("shop")
    state = {"done": False}

    def change_one(offset):
        if offset == 0 and not state["done"]:
            state["done"] = True
            fake.touch(orders[3]["orderId"], orderFulfillmentStatus="FULFILLED")  # from the first page

    fake.on_orders_page = change_one
    ch.sync_orders(None)
    stored = {r["order_id"] for r in app.store.find_orders(channel="shop")}
    assert stored == {o["orderId"] for o in orders}  # not one skipped
    assert ch.last_sync["passes"] == 2 and ch.last_sync["complete"]
    fake.on_orders_page = None
    clock.advance(600)
    ch.sync_orders(None)  # the next window has the changed order's new state
    assert app.store.get_order(f"shop:{orders[3]['orderId']}")["status"] == "SHIPPED"


def test_without_the_second_reading_one_order_would_be_skipped(fake, make_app):
    """The reproducer for the re-read: the same change, the window read once."""
    import marketd.plugins.ebay.channel as channel_mod

    orders = fake.populate(450, days=20)
    app = make_app(shop={"orders_sync": True})
    fake.on_orders_page = lambda offset: offset == 0 and fake.touch(orders[3]["orderId"]) and None
    old = channel_mod.MAX_PASSES
    channel_mod.MAX_PASSES = 1
    try:
        app.channel("shop").sync_orders(None)
    finally:
        channel_mod.MAX_PASSES = old
    stored = {r["order_id"] for r in app.store.find_orders(channel="shop")}
    assert len(stored) == 449  # one lost: what the re-read prevents
    assert app.channel("shop")._state()["synced_until"] is None  # and the watermark did not move


def test_unchanged_orders_are_not_written_or_announced_again(fake, make_app, clock):
    fake.populate(30, days=3)
    app = make_app(shop={"orders_sync": True, "overlap_seconds": 4 * 86400})
    ch = app.channel("shop")
    assert ch.sync_orders(None) == 30
    clock.advance(300)
    listener = Listener()
    app.plugins.register(listener, "listener")
    assert ch.sync_orders(None) == 0
    assert ch.last_sync["unchanged"] == 30 and listener.orders == []


def test_the_window_never_ends_in_the_future_nor_starts_two_years_back(fake, make_app, clock):
    app = make_app(shop={"orders_sync": True, "initial_days": 1000})
    ch = app.channel("shop")
    start, end = ch.window(None)
    assert end == clock.now() - timedelta(seconds=60)
    assert start >= clock.now() - timedelta(days=730)
    ch.sync_orders(None)
    assert fake.calls_of("getOrders")[0].status == 200  # no 30850 / 30830


def test_the_access_token_is_cached_and_refreshed_once_on_401(fake, make_app, clock):
    fake.populate(5)
    app = make_app(shop={"orders_sync": True})
    ch = app.channel("shop")
    ch.sync_orders(None)
    ch.sync_orders(None)
    assert fake.count("oauth.token") == 1
    fake.expire_tokens()
    ch.sync_orders(None)
    assert fake.count("oauth.token") == 2
    assert [c.status for c in fake.calls_of("getOrders")][-2:] == [401, 200]
    clock.advance(7200)  # the cached token's lifetime passed: refreshed before use, no 401
    n401 = fake.count("getOrders", 401)
    ch.sync_orders(None)
    assert fake.count("oauth.token") == 3 and fake.count("getOrders", 401) == n401
    token_call = fake.calls_of("oauth.token")[0]
    assert token_call.headers["authorization"] == "***"  # the journal redacts it
    assert b"refresh_token=%2A%2A%2A" in token_call.body or b"refresh_token=***" in token_call.body
    assert b"grant_type=refresh_token" in token_call.body and b"sell.fulfillment" in token_call.body


def test_a_revoked_refresh_token_is_a_clear_config_error(fake, make_app, creds_env):
    app = make_app(shop={"orders_sync": True})
    creds_env("shop", (CREDS[0], CREDS[1], "v^1.1#revoked"))
    with pytest.raises(ConfigError, match="invalid_grant.*consent again"):
        app.channel("shop").sync_orders(None)


def test_the_daily_limit_is_counted_persisted_and_never_overrun(fake, make_app, clock):
    import marketd.plugins.ebay as ebay_plugin
    import marketd.plugins.settlements as settlements_plugin
    from marketd.app import App

    fake.populate(450, days=20)
    app = make_app(shop={"orders_sync": True, "daily_quota": {"order": 4}})
    app.channel("shop").sync_orders(None)  # 3 calls
    assert app.store.db.execute("select used from ebay_quota where resource = 'order'").fetchone()[0] == 3
    app.close()
    # a new process on the same store (a restart) continues the count
    again = App(app.config, clock=clock, load_entry_points=False,
                extra_plugins={"ebay": ebay_plugin, "settlements": settlements_plugin})
    try:
        ch = again.channel("shop")
        clock.advance(900)
        before = fake.count("getOrders")
        ch.sync_orders(None, resync=True)  # 3 pages wanted, 1 call left: the limit stops the pass before sending
        assert fake.count("getOrders") == before + 1
        assert ch.last_sync["complete"] is False
        assert fake.count("getOrders", 429) == 0  # we never met eBay's own 429
    finally:
        again.close()


def test_ebays_429_with_the_quota_body_stops_the_pass_at_once(fake, make_app):
    fake.populate(450, days=20)
    app = make_app(shop={"orders_sync": True})
    fake.fail_next("getOrders", 429, times=5)
    ch = app.channel("shop")
    assert ch.sync_orders(None) == 0
    assert fake.count("getOrders", 429) == 1  # not retried within seconds: the limit is for the day
    assert ch.last_sync["complete"] is False and ch._state()["synced_until"] is None
    assert QUOTA_BODY["errors"][0]["errorId"] == 2001


def test_the_fakes_daily_limit_resets_at_midnight_pacific(fake, make_app, clock):
    fake.populate(5)
    fake.set_quota("order", 1)
    app = make_app(shop={"orders_sync": True})
    ch = app.channel("shop")
    ch.sync_orders(None)
    ch.sync_orders(None)
    assert fake.count("getOrders", 429) == 1
    clock.advance((fake.quota_reset_at() - clock.now()).total_seconds() + 1)
    ch.sync_orders(None)
    assert fake.calls_of("getOrders")[-1].status == 200


def test_a_server_error_is_retried_then_transient(fake, make_app):
    fake.populate(5)
    app = make_app(shop={"orders_sync": True})
    fake.fail_next("getOrders", 500, times=1)
    assert app.channel("shop").sync_orders(None) == 5
    fake.fail_next("getOrders", 503, times=10)
    from marketd.plugins.ebay.jobs import sync_all_orders

    with pytest.raises(TransientError):
        sync_all_orders(app, None)
    assert "503" in app.channel("shop")._state()["last_error"]


def test_secrets_in_the_config_file_are_refused(make_app):
    with pytest.raises(ConfigError, match="MARKETD_EBAY_SHOP_REFRESH_TOKEN"):
        make_app(shop={"refresh_token": "v^1.1#in-clear"})


def test_buyer_names_never_reach_the_log(fake, make_app, caplog):
    orders = fake.populate(20)
    caplog.set_level(logging.DEBUG)
    app = make_app(shop={"orders_sync": True})
    app.channel("shop").sync_orders(None)
    names = {o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["fullName"] for o in orders}
    mails = {o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["email"] for o in orders}
    assert not any(n in caplog.text for n in names | mails)
    assert CREDS[1] not in caplog.text and CREDS[2] not in caplog.text
