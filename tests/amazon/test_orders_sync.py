"""The Amazon channel: incremental order sync into the store, confirmShipment once, settings, secrets."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import tomli_w

from marketd.errors import ConfigError, TransientError
from marketd.hookspecs import hookimpl
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)


class Listener:
    def __init__(self):
        self.orders = []

    @hookimpl
    def order_imported(self, app, order):
        self.orders.append(order)


def _listen(app) -> Listener:
    listener = Listener()
    app.plugins.register(listener, "listener")
    return listener


def test_orders_sync_is_off_by_default_and_logged_once(fake, make_app, caplog):
    from marketd.plugins.amazon.orders import sync_all_orders

    fake.populate(10)
    app = make_app(amz={})
    caplog.set_level(logging.INFO, logger="marketd.amazon")
    assert app.channel("amz").orders_sync is False
    assert sync_all_orders(app, None) == {}
    assert sync_all_orders(app, None) == {}
    assert fake.calls == []  # nothing called Amazon
    assert caplog.text.count("orders_sync is off") == 1


def test_first_sync_imports_with_pii_only_in_buyer_name_and_ship_to(fake, make_app, clock):
    orders = fake.populate(120, days=20)
    app = make_app(amz={"orders_sync": True})
    listener = _listen(app)
    ch = app.channel("amz")
    assert ch.sync_orders(None) == 120
    rows = app.store.find_orders(channel="amz")
    assert len(rows) == 120 and len(listener.orders) == 120
    src = {o["orderId"]: o for o in orders}
    for row in rows:
        o = src[row["order_id"]]
        assert row["key"] == f"amz:{row['order_id']}" and row["channel_type"] == "amazon"
        assert row["buyer_name"] == o["buyer"]["buyerName"]
        ship_to = json.loads(row["ship_to"])
        assert ship_to["postalCode"] == o["recipient"]["deliveryAddress"]["postalCode"]
        raw = json.loads(row["raw"])
        assert "buyer" not in raw and "recipient" not in raw
        assert o["buyer"]["buyerName"] not in row["raw"] and o["buyer"]["buyerEmail"] not in row["raw"]
        assert row["updated_at"].endswith("+00:00") and row["purchased_at"].endswith("+00:00")
        if "proceeds" in o:
            assert row["total"] == o["proceeds"]["grandTotal"]["amount"] and row["currency"] == "EUR"
            Decimal(row["total"])
        else:
            assert row["total"] is None  # pending: Amazon gives no prices
        items = json.loads(row["items"])
        assert [i["order_item_id"] for i in items] == [i["orderItemId"] for i in o["orderItems"]]
        assert all(isinstance(i["quantity"], int) for i in items)
    # only the blocks we need were asked for; the request used lastUpdatedAfter
    q = fake.calls_of("searchOrders")[0].query
    assert "lastUpdatedAfter" in q and "createdAfter" not in q
    assert set(q["includedData"][0].split(",")) == {"BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES"}


def test_second_run_fetches_only_what_changed(fake, make_app, clock):
    fake.populate(300, days=20)
    app = make_app(amz={"orders_sync": True})
    listener = _listen(app)
    ch = app.channel("amz")
    ch.sync_orders(None)
    first_pages = fake.count("searchOrders")
    watermark = datetime.fromisoformat(ch._state()["synced_until"])
    clock.advance(3600)
    changed = [fake.touch(oid, status="CANCELLED")["orderId"] for oid in list(fake.orders)[:3]]
    new = [o["orderId"] for o in fake.new_orders(2)]
    clock.advance(600)  # past Amazon's 2-minute consistency window
    listener.orders.clear()
    assert ch.sync_orders(None) == 5
    assert fake.count("searchOrders") == first_pages + 1
    q = fake.calls_of("searchOrders")[-1].query
    after = datetime.fromisoformat(q["lastUpdatedAfter"][0].replace("Z", "+00:00"))
    assert after == watermark - timedelta(seconds=ch.overlap)
    assert sorted(o["order_id"] for o in listener.orders) == sorted(changed + new)
    assert ch.last_sync["seen"] == 5
    for oid in changed:
        assert app.store.get_order(f"amz:{oid}")["status"] == "CANCELLED"
    # a third run with nothing new reads one page, writes nothing
    clock.advance(900)
    listener.orders.clear()
    assert ch.sync_orders(None) == 0 and listener.orders == []


def test_job_uses_since_for_a_new_account_and_runs_through_the_scheduler(fake, make_app, clock):
    from marketd.scheduler import JobRunner

    fake.populate(50, days=30)
    app = make_app(amz={"orders_sync": True})
    since = clock.now() - timedelta(days=5)
    app.store.job_started("amazon-orders", since)
    app.store.job_finished("amazon-orders", since, since, None)
    runner = JobRunner(app)
    assert "amazon-orders" in runner.specs and "amazon-settlements-fetch" in runner.specs
    assert runner.run_job("amazon-orders") is None
    q = fake.calls_of("searchOrders")[0].query
    after = datetime.fromisoformat(q["lastUpdatedAfter"][0].replace("Z", "+00:00"))
    assert after == since - timedelta(seconds=120)
    expected = [o for o in fake.orders.values()
                if datetime.fromisoformat(o["lastUpdatedTime"].replace("Z", "+00:00")) >= after]
    assert len(app.store.find_orders(channel="amz")) == len(expected) > 0


def test_one_failing_account_does_not_block_the_other(fake, make_app, clock, monkeypatch):
    from marketd.plugins.amazon.orders import sync_all_orders

    fake.populate(20)
    app = make_app(good={"orders_sync": True}, bad={"orders_sync": True})
    monkeypatch.delenv("MARKETD_AMAZON_BAD_REFRESH_TOKEN")
    with pytest.raises(TransientError, match="bad: secret MARKETD_AMAZON_BAD_REFRESH_TOKEN is not set"):
        sync_all_orders(app, None)
    assert len(app.store.find_orders(channel="good")) == 20
    row = list(app.store.db.query("select * from amazon_order_sync where channel = 'bad'"))[0]
    assert "MARKETD_AMAZON_BAD_REFRESH_TOKEN" in row["last_error"] and row["synced_until"] is None


def test_transient_failure_keeps_the_watermark(fake, make_app, clock):
    fake.populate(150)
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    fake.fail_next("searchOrders", 503, times=4)  # every attempt of the first run
    with pytest.raises(TransientError):
        ch.sync_orders(None)
    assert ch._state() is None
    assert ch.sync_orders(None) == 150


# -- settings and secrets ---------------------------------------------------------------------------
def test_secrets_in_toml_are_refused(tmp_path):
    from marketd import config as config_mod

    path = tmp_path / "marketd.toml"
    path.write_text(tomli_w.dumps({"channels": {"shop": {"type": "amazon", "marketplace": "IT",
                                                         "refresh_token": "Atzr|oops"}}}))
    with pytest.raises(ConfigError, match="refresh_token in clear"):
        config_mod.load(path)


def test_channel_refuses_secrets_even_without_the_loader(make_app):
    # At start-up: the channel's settings model refuses the key and names the variables to use.
    with pytest.raises(ConfigError) as exc:
        make_app(amz={"client_secret": "s3cret-value"})
    msg = str(exc.value)
    assert "[channels.amz] holds client_secret in clear" in msg
    assert "MARKETD_AMAZON_AMZ_CLIENT_SECRET" in msg and "s3cret-value" not in msg
    # A channel built by hand from a dict that never went through the loader or the App.
    from marketd.plugins.amazon.channel import AmazonChannel

    app = make_app(amz={})
    with pytest.raises(ConfigError) as exc:
        AmazonChannel(app, "shop", {"type": "amazon", "marketplace": "IT", "refresh_token": "Atzr|s3cret-value"})
    assert "MARKETD_AMAZON_SHOP_REFRESH_TOKEN" in str(exc.value) and "s3cret-value" not in str(exc.value)


def test_credentials_come_from_named_secrets_or_systemd_credentials(fake, make_app, tmp_path, monkeypatch):
    from .spapi_fixtures import CREDS

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "amz_secret").write_text(CREDS[1] + "\n")
    (creds / "amz_refresh").write_text(CREDS[2])
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    app = make_app(creds=False, amz={"orders_sync": True, "client_id": CREDS[0],
                                     "client_secret_secret": "amz_secret", "refresh_token_secret": "amz_refresh"})
    assert app.channel("amz").credentials() == CREDS


def test_marketplace_settings(make_app):
    app = make_app(it={"marketplace": "it"}, us={"marketplace": "US"},
                   other={"marketplace": "BE", "marketplace_id": "AMEN7PMS3EDWL", "region": "eu"})
    assert (app.channel("it").marketplace_id, app.channel("it").region) == ("APJ6JRA9NG5V4", "eu")
    assert app.channel("us").endpoint.endswith("sellingpartnerapi-eu.amazon.com")  # endpoint override wins
    assert app.channel("other").marketplace_id == "AMEN7PMS3EDWL"
    app2 = make_app(x={"marketplace": "XX"})
    with pytest.raises(ConfigError, match="marketplace_id and region"):
        app2.channel("x")


def test_default_endpoints_per_region(make_app):
    from marketd.plugins.amazon.channel import AmazonChannel

    ch = AmazonChannel(None, "us", {"type": "amazon", "marketplace": "US"})
    assert ch.endpoint == "https://sellingpartnerapi-na.amazon.com"
    ch = AmazonChannel(None, "it", {"type": "amazon", "marketplace": "IT", "sandbox": True})
    assert ch.endpoint == "https://sandbox.sellingpartnerapi-eu.amazon.com"
    assert ch.lwa_endpoint == "https://api.amazon.com/auth/o2/token"


# -- confirmShipment ---------------------------------------------------------------------------------
def _package(order: dict, ref="1", code="BRT", tracking="123456789012"):
    return {"packageReferenceId": ref, "carrierCode": code, "carrierName": code, "trackingNumber": tracking,
            "shipDate": "2026-11-02T08:30:00+00:00",
            "orderItems": [{"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in order["orderItems"]]}


def test_confirm_shipment_once_per_package(fake, make_app, clock):
    order = fake.new_orders(1)[0]
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    res = ch.confirm_shipment(order["orderId"], _package(order))
    assert res["ok"] is True and res["status"] == 204 and res["carrierCode"] == "BRT"
    sent = fake.confirmations[-1]["body"]["packageDetail"]
    assert sent["carrierCode"] == "BRT" and "carrierName" not in sent and sent["shipDate"] == "2026-11-02T08:30:00Z"
    assert fake.orders[order["orderId"]]["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    again = ch.confirm_shipment(order["orderId"], _package(order))
    assert again["ok"] and again["already_confirmed"] and fake.count("confirmShipment") == 1
    assert ch.shipment_confirmed(order["orderId"], _package(order)) is True


def test_confirm_shipment_unknown_carrier_goes_as_other_and_items_from_store(fake, make_app, clock):
    order = fake.new_orders(1)[0]
    clock.advance(600)
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    ch.sync_orders(None)
    pkg = _package(order, code="MALL Delivery")
    pkg["orderItems"] = []  # the tracking job had no item ids: taken from the stored order
    res = ch.confirm_shipment(order["orderId"], pkg)
    assert res["ok"], res
    sent = fake.confirmations[-1]["body"]["packageDetail"]
    assert sent["carrierCode"] == "Other" and sent["carrierName"] == "MALL Delivery"
    assert [i["orderItemId"] for i in sent["orderItems"]] == [i["orderItemId"] for i in order["orderItems"]]


def test_carrier_code_override_per_account(make_app):
    app = make_app(amz={"carrier_codes": {"brt": "Other", "my-courier": "GLS"}})
    ch = app.channel("amz")
    assert ch.amazon_carrier("BRT", "BRT") == ("Other", "BRT")
    assert ch.amazon_carrier("MY_COURIER", "") == ("GLS", "GLS")
    assert ch.amazon_carrier("Poste Italiane", "Poste Italiane") == ("Poste Italiane", "Poste Italiane")


def test_confirm_shipment_refusal_is_returned_as_data(fake, make_app):
    order = fake.new_orders(1)[0]
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    pkg = _package(order)
    pkg["orderItems"] = [{"orderItemId": "00000000000000", "quantity": 1}]
    res = ch.confirm_shipment(order["orderId"], pkg)
    assert res["ok"] is False and res["status"] == 400 and "not in order" in json.dumps(res["errors"])
    row = list(app.store.db.query("select state from amazon_confirmations"))[0]
    assert row["state"] == "refused"
    # fixed and sent again: allowed (only a *confirmed* identical package is skipped)
    assert ch.confirm_shipment(order["orderId"], _package(order))["ok"] is True


def test_confirm_shipment_throttled_or_5xx_raises_transient(fake, make_app):
    order = fake.new_orders(1)[0]
    app = make_app(amz={"orders_sync": True})
    fake.fail_next("confirmShipment", 503, times=10)
    with pytest.raises(TransientError):
        app.channel("amz").confirm_shipment(order["orderId"], _package(order))


def test_shipment_confirmed_asks_amazon_after_a_crash(fake, make_app):
    order = fake.new_orders(1)[0]
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    assert ch.shipment_confirmed(order["orderId"], _package(order)) is False
    # confirmed by "another process" whose answer was lost: only Amazon knows
    ch.api.confirm_shipment(order["orderId"], ch.confirmation_body(order["orderId"], _package(order)))
    assert ch.shipment_confirmed(order["orderId"], _package(order)) is True
    fake.fail_next("getOrder", 503, times=10)
    assert ch.shipment_confirmed(order["orderId"], _package(order, tracking="other")) is None


def test_tracking_sync_pushes_through_the_amazon_channel(fake, make_app, clock):
    """The shipments plugin's push code calls our confirm_shipment and records the result."""
    pytest.importorskip("marketd.plugins.shipments.tracking")
    from marketd.plugins.shipments.tracking import build_package

    order = fake.new_orders(1)[0]
    clock.advance(600)
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    ch.sync_orders(None)
    stored = app.store.get_order(f"amz:{order['orderId']}")
    push = {"package_ref": "1", "carrier_code": "BRT", "carrier_label": "BRT", "tracking_number": "0123456789",
            "first_scan_at": clock.now().isoformat(), "created_at": clock.now().isoformat(), "service": ""}
    res = ch.confirm_shipment(order["orderId"], build_package(push, push, stored))
    assert res["ok"] is True
    assert fake.orders[order["orderId"]]["packages"][-1]["trackingNumber"] == "0123456789"


# -- long backlogs: stop at the rate limit, continue next run -------------------------------------------
def _state(app, name="amz"):
    return list(app.store.db.query("select * from amazon_order_sync where channel = ?", [name]))[0]


def test_backlog_pass_stops_at_the_rate_limit_and_resumes_next_run(fake, make_app, clock):
    """A job never sleeps minutes for a token (that would hold a daemon stop): it stops after the
    burst, keeps the paginationToken, and the following runs continue until the last page."""
    fake.populate(2800, days=25)
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    assert ch.sync_orders(None) == 2000  # the burst: 20 pages of 100
    st = _state(app)
    assert st["resume_token"] and st["synced_until"] is None and clock.sleeps == 0
    first_after = fake.calls_of("searchOrders")[0].query["lastUpdatedAfter"]
    total, runs = 2000, 1
    while _state(app)["resume_token"]:
        clock.advance(900)  # the job interval
        total += ch.sync_orders(None)
        runs += 1
        assert runs < 10
    assert total == 2800 and len(app.store.find_orders(channel="amz")) == 2800 and runs == 3
    assert fake.count("searchOrders", 429) == 0 and clock.sleeps == 0
    assert all(c.query["lastUpdatedAfter"] == first_after for c in fake.calls_of("searchOrders"))
    assert _state(app)["synced_until"]  # the watermark moved only at the end of the pass


def test_stale_resume_token_restarts_the_window(fake, make_app, clock, amazon_contract):
    fake.populate(2100, days=25)
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    ch.sync_orders(None)
    assert _state(app)["resume_token"]
    clock.advance(24 * 3600)  # the token has expired at Amazon (24 h)
    ch.sync_orders(None)
    q = fake.calls_of("searchOrders")[-20].query  # the first call of the second run
    assert "paginationToken" not in q
    assert fake.violations == []


def test_job_mode_429_stops_quietly_and_resumes(fake, make_app, clock):
    from marketd.plugins.amazon.fake import Bucket

    fake.populate(150, days=5)
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    drained = fake.buckets["searchOrders"] = Bucket(0.0056, 20, clock)
    drained.tokens = 0  # another app used the quota
    assert ch.sync_orders(None) == 0
    assert fake.count("searchOrders", 429) == 1 and clock.sleeps == 0
    clock.advance(900)
    assert ch.sync_orders(None) == 150


def test_max_wait_none_waits_in_one_pass(fake, make_app, clock):
    fake.populate(2200, days=25)
    app = make_app(amz={"orders_sync": True, "max_wait_seconds": -1})
    assert app.channel("amz").sync_orders(None) == 2200
    assert clock.sleeps == 2 and fake.count("searchOrders", 429) == 0


def test_an_order_whose_status_is_normalised_is_unchanged_when_fetched_again(fake, make_app, clock):
    """PENDING_AVAILABILITY is stored as PENDING (and Amazon's word in channel_status): fetching the
    same order again in the next window's overlap must not count it as changed or announce it again."""
    fake.new_orders(3, status="PENDING_AVAILABILITY")
    clock.advance(600)  # past the window's safety lag
    app = make_app(amz={"orders_sync": True})
    listener = _listen(app)
    ch = app.channel("amz")
    assert ch.sync_orders(None) == 3
    rows = app.store.find_orders(channel="amz")
    assert {r["status"] for r in rows} == {"PENDING"} and {r["channel_status"] for r in rows} == {"PENDING_AVAILABILITY"}
    clock.advance(60)
    assert ch.sync_orders(clock.now() - timedelta(days=1), resync=True) == 0  # the same orders, fetched again
    assert ch.last_sync["seen"] == 3 and ch.last_sync["unchanged"] == 3 and len(listener.orders) == 3
