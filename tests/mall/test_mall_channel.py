"""The MALL channel against the MALL fake, in-process: order sync (details only for new or
changed orders), confirming, MALL's limiter, tracking back (MDP refused without a call), and
the carrier sharing the channel's client. The fake checks every request and answer against the
hand-written contract (tests/contracts/mall)."""
from __future__ import annotations

import logging

import pytest

from marketd.plugins.mall.channel import MallChannel
from marketd.sdk import RateLimited, TransientError, redact_text
from marketd.sdk.testing import run_job

from .conftest import ACCOUNT, stored


def gets(fake) -> int:
    return fake.count("mall.get_order")


def test_orders_sync_is_off_until_switched_on(mall_app, fake):
    fake.add_order(1, mdp=False)
    app = mall_app(orders_sync=False)
    assert run_job(app, "mall-orders") is None
    assert fake.journal == [] and stored(app, 1) is None


def test_sync_fetches_details_only_for_new_or_changed_orders(mall_app, fake, clock):
    for oid in (1, 2, 3):
        fake.add_order(oid, mdp=oid == 3, status="open", confirmed=oid != 1)
    fake.add_order(4, mdp=False, status="blocked")
    fake.add_order(5, mdp=False, status="delivered", confirmed=True)   # final before we ever looked: not listed
    app = mall_app()
    ch = app.channel(ACCOUNT)
    assert isinstance(ch, MallChannel)
    assert ch.sync_orders(None) == 4
    assert gets(fake) == 4 and stored(app, 5) is None
    row = stored(app, 1)
    assert (row["status"], row["channel_type"], row["currency"], row["total"]) == ("PENDING", "mall", "CZK", "578.0")
    assert stored(app, 2)["status"] == "UNSHIPPED" and stored(app, 4)["status"] == "PENDING"

    # nothing changed: lists only, no detail
    assert ch.sync_orders(None) == 0 and gets(fake) == 4
    # MALL's payment check opens order 4 and the partner confirms order 1 elsewhere: two details
    clock.advance(fake.payment_delay + 1)
    fake.orders[1]["confirmed"] = True
    assert ch.sync_orders(None) == 2 and gets(fake) == 6
    assert stored(app, 4)["channel_status"] == "open" and stored(app, 1)["status"] == "UNSHIPPED"
    # order 2 is cancelled by MALL: it leaves the lists, its detail is read once
    fake.mall_update(2, "cancelled")
    assert ch.sync_orders(None) == 1 and gets(fake) == 7 and stored(app, 2)["status"] == "CANCELLED"
    assert ch.sync_orders(None) == 0 and gets(fake) == 7
    assert fake.violations == [] and fake.response_violations == []


def test_lists_only_orders_that_can_still_move(mall_app, fake):
    fake.populate(250, statuses={"open": 1, "shipped": 1, "delivered": 1, "cancelled": 1})
    app = mall_app()
    app.channel(ACCOUNT).sync_orders(None)
    statuses = sorted({r.query["status"][0] for r in fake.calls_of("mall.list_orders")})
    assert statuses == ["blocked", "open", "returned", "shipped", "shipping"]
    listed = sum(1 for o in fake.orders.values() if o["status"] in ("open", "shipped"))
    assert gets(fake) == listed == app.store.db.execute("select count(*) from orders").fetchone()[0]
    assert all(int(r.query["page_size"][0]) == 100 for r in fake.calls_of("mall.list_orders"))


def test_a_return_after_delivery_is_found_by_the_returns_check(mall_app, fake, clock):
    fake.add_order(10, mdp=False, status="shipped", confirmed=True)
    app = mall_app(returns_check_hours=24)
    ch = app.channel(ACCOUNT)
    ch.sync_orders(None)
    fake.mall_update(10, "delivered")
    ch.sync_orders(None)
    assert stored(app, 10)["status"] == "DELIVERED"
    fake.mall_update(10, "returned")
    n = gets(fake)
    clock.advance(3600)
    assert ch.sync_orders(None) == 0 and gets(fake) == n      # returns are checked once a day
    clock.advance(24 * 3600)
    assert ch.sync_orders(None) == 1 and stored(app, 10)["status"] == "RETURNED"


def test_test_orders_are_skipped_unless_asked_for(mall_app, fake, tmp_path):
    fake.add_order(20, mdp=False)
    fake.add_order(21, mdp=False, test=True)
    app = mall_app()
    app.channel(ACCOUNT).sync_orders(None)
    assert stored(app, 20) and stored(app, 21) is None
    app2 = mall_app(root=tmp_path / "two", include_test_orders=True)
    app2.channel(ACCOUNT).sync_orders(None)
    assert stored(app2, 21)["order_id"] == "21"


def test_auto_confirm_confirms_new_orders_once(mall_app, fake):
    fake.add_order(30, mdp=False, confirmed=False)
    fake.add_order(31, mdp=True, confirmed=False)
    app = mall_app(auto_confirm=True)
    ch = app.channel(ACCOUNT)
    ch.sync_orders(None)
    assert fake.orders[30]["confirmed"] and fake.orders[31]["confirmed"]
    assert stored(app, 30)["status"] == "UNSHIPPED"
    puts = fake.count("mall.update_order")
    ch.sync_orders(None)
    assert fake.count("mall.update_order") == puts == 2


def test_without_auto_confirm_nothing_is_confirmed(mall_app, fake):
    fake.add_order(32, mdp=False, confirmed=False)
    app = mall_app()
    app.channel(ACCOUNT).sync_orders(None)
    assert fake.count("mall.update_order") == 0 and stored(app, 32)["status"] == "PENDING"
    assert app.channel(ACCOUNT).unconfirmed() == ["32"]
    assert app.channel(ACCOUNT).confirm_order("32")["ok"] and fake.orders[32]["confirmed"]


@pytest.mark.parametrize("http", [200, 429])
def test_limited_is_never_retried_and_pauses_the_group(mall_app, fake, clock, http):
    fake.add_order(40, mdp=False)
    app = mall_app()
    ch = app.channel(ACCOUNT)
    fake.limited_next("mall.list_orders", http=http)
    assert ch.sync_orders(None) == 0                        # the run ends early, not as a failure
    assert fake.count("mall.list_orders") == 1               # one LIMITED answer, no retry
    assert "LIMITED" in app.store.db.execute("select last_error from mall_order_sync").fetchone()[0] or \
        "rate limit" in app.store.db.execute("select last_error from mall_order_sync").fetchone()[0]
    n = len(fake.journal)
    with pytest.raises(RateLimited):
        ch.client.get_order("40")                             # the group rests: nothing is sent
    assert len(fake.journal) == n
    clock.advance(3601)
    assert ch.sync_orders(None) == 1


def test_daily_quota_stops_before_mall_refuses_and_survives_a_restart(mall_app, fake, tmp_path):
    fake.populate(30, statuses={"open": 1})
    app = mall_app(daily_quota_orders=12, page_size=10)
    assert app.channel(ACCOUNT).sync_orders(None) > 0
    assert len(fake.journal) == 12 and fake.count(status=429) == 0
    used = app.store.db.execute("select used from mall_quota where grp = 'orders'").fetchone()[0]
    assert used == 12
    app.close()
    again = mall_app(daily_quota_orders=12, page_size=10)   # the same instance, restarted
    assert again.channel(ACCOUNT).sync_orders(None) == 0
    assert len(fake.journal) == 12                            # the day's quota was remembered


def test_server_errors_are_retried_and_the_push_lands_once(mall_app, fake):
    fake.add_order(50, mdp=False, confirmed=True)
    app = mall_app()
    ch = app.channel(ACCOUNT)
    ch.sync_orders(None)
    fake.fail_next("mall.update_order", 503)
    res = ch.confirm_shipment("50", {"trackingNumber": "DPD50", "trackingUrl": "https://t.example/DPD50"})
    assert res["ok"] and res["status"] == "shipped"
    assert len(fake.status_puts(50)) == 1
    assert fake.orders[50]["tracking_number"] == "DPD50" and fake.orders[50]["tracking_url"].endswith("DPD50")


def test_tracking_back_confirms_an_unconfirmed_order_in_the_same_call(mall_app, fake):
    fake.add_order(51, mdp=False, confirmed=False)
    app = mall_app()
    res = app.channel(ACCOUNT).confirm_shipment("51", {"trackingNumber": "GLS51"})
    assert res["ok"] and fake.orders[51]["confirmed"] and fake.orders[51]["status"] == "shipped"
    assert fake.count("mall.update_order") == 1


def test_a_package_mall_already_has_is_not_sent_again(mall_app, fake):
    fake.add_order(52, mdp=False, confirmed=True)
    app = mall_app()
    ch = app.channel(ACCOUNT)
    assert ch.shipment_confirmed("52", {"trackingNumber": "DPD52"}) is False
    assert ch.confirm_shipment("52", {"trackingNumber": "DPD52"})["ok"]
    assert ch.shipment_confirmed("52", {"trackingNumber": "DPD52"}) is True
    again = ch.confirm_shipment("52", {"trackingNumber": "DPD52"})
    assert again["ok"] and again["already_confirmed"]
    assert len(fake.status_puts(52)) == 1
    other = ch.confirm_shipment("52", {"trackingNumber": "OTHER"})
    assert not other["ok"] and "one tracking number per order" in other["error"]
    assert fake.count("mall.update_order") == 1


def test_mdp_orders_are_refused_without_any_http_call(mall_app, fake):
    fake.add_order(60, mdp=True, confirmed=True)
    app = mall_app()
    ch = app.channel(ACCOUNT)
    ch.sync_orders(None)
    n = len(fake.journal)
    res = ch.confirm_shipment("60", {"trackingNumber": "DPD60"})
    assert res == {"ok": False, "error": "MALL Delivery order: MALL sets shipped and the tracking", "mdp": True,
                   "order_id": "60", "tracking_number": "DPD60"}
    assert ch.shipment_confirmed("60", {"trackingNumber": "DPD60"}) is False
    assert len(fake.journal) == n
    # an MDP order we have not stored yet is read first, and refused all the same
    fake.add_order(61, mdp=True, confirmed=True)
    assert not ch.confirm_shipment("61", {"trackingNumber": "DPD61"})["ok"]
    assert [r.operation for r in fake.journal[n:]] == ["mall.get_order"]
    assert fake.status_puts(60) == [] and fake.status_puts(61) == []


def test_blocked_order_waits_and_cancelled_order_is_refused(mall_app, fake):
    fake.add_order(70, mdp=False, status="blocked")
    fake.add_order(71, mdp=False, status="cancelled")
    app = mall_app()
    ch = app.channel(ACCOUNT)
    with pytest.raises(TransientError, match="blocked"):
        ch.confirm_shipment("70", {"trackingNumber": "T70"})
    res = ch.confirm_shipment("71", {"trackingNumber": "T71"})
    assert not res["ok"] and "cancelled" in res["error"]
    missing = ch.confirm_shipment("79", {"trackingNumber": "T79"})
    assert not missing["ok"] and "not found" in missing["error"]
    assert fake.count("mall.update_order") == 0


def test_the_carrier_shares_the_channels_client(mall_app, fake):
    app = mall_app(carriers={"mdp": {"type": "mall_delivery", "channels": [ACCOUNT]},
                             "own": {"type": "mall_delivery", "channels": [ACCOUNT], "client_id_secret": "OTHER_ID"}})
    assert app.carrier("mdp").client is app.channel(ACCOUNT).client
    assert app.carrier("own").client is not app.channel(ACCOUNT).client


def test_client_id_comes_from_the_environment_only(mall_app, monkeypatch):
    from marketd.sdk import ConfigError

    with pytest.raises(ConfigError, match="MARKETD_MALL_MALL_CZ_CLIENT_ID"):
        mall_app(client_id="abc")


def test_no_buyer_data_in_logs(mall_app, fake, caplog):
    fake.add_order(80, mdp=False, confirmed=True)
    caplog.set_level(logging.DEBUG)
    app = mall_app()
    ch = app.channel(ACCOUNT)
    ch.sync_orders(None)
    ch.confirm_shipment("80", {"trackingNumber": "T80"})
    fake.fail_next("mall.get_order", 400, body={"result": {"code": 400, "status": "ERROR",
                                                          "message": "bad"}, "data": {}})
    ch.confirm_shipment("80", {"trackingNumber": "T81"})
    assert caplog.records
    text = redact_text(caplog.text)   # what the daemon's log handler writes (the client_id is a registered secret)
    for pii in ("Jana", "Nováková", "jana@example.cz", "Dlouhá", "+420600000000", fake.client_id):
        assert pii not in text


def test_bad_settings_are_clear(mall_app, tmp_path):
    from marketd.sdk import ConfigError

    with pytest.raises(ConfigError, match="time zone"):
        mall_app(timezone="Prague").channel(ACCOUNT)
    with pytest.raises(ConfigError, match="1..100"):
        mall_app(root=tmp_path / "two", page_size=500).channel(ACCOUNT)


def test_status_section_says_what_waits(mall_app, fake):
    from marketd.plugins.mall.status import status_lines

    fake.add_order(90, mdp=False, confirmed=False)
    app = mall_app(daily_quota_orders=1000)
    app.channel(ACCOUNT).sync_orders(None)
    lines = status_lines(app)["mall"]
    assert lines[0].startswith(f"{ACCOUNT}: last sync ") and "1 order(s) wait for confirmation" in lines[0]
    assert "`marketd mall confirm`" in lines[0]
    assert lines[1] == f"{ACCOUNT}: MALL quota today orders 6/1000"
