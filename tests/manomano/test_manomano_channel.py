"""The channel on the real core (store, events, jobs) against the fake, in-process: order sync
windows and resumption, PENDING orders accepted by a person or automatically, tracking sent
once per order with the lost-answer and 207 cases, and buyer data kept out of the logs."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from marketd.plugins.manomano.fake import BUYERS
from marketd.sdk import TransientError
from marketd.sdk.testing import run_job

PACKAGE = {"packageReferenceId": "1", "carrierCode": "BRT", "carrierName": "BRT", "trackingNumber": "0102000001",
           "trackingUrl": "https://vas.brt.it/track?n=0102000001", "orderItems": []}


def stored(app, key):
    return app.store.get_order(key)


def test_orders_sync_imports_pages_and_then_only_changes(world):
    world.fake.populate(120, days=5)
    app = world.app()
    ch = app.channel("mm-fr")
    assert ch.sync_orders(None) == 120
    assert ch.last_sync["complete"] and ch.last_sync["windows"] >= 2  # 120 orders: more than one page
    call = world.fake.calls_of("listOrders")[0]
    assert call.query["limit"] == ["100"] and call.query["status_updated_at_end"] == ["2026-11-02T08:59:00Z"]
    row = stored(app, f"mm-fr:{next(iter(world.fake.orders))}")
    assert row["channel_type"] == "manomano" and row["channel_status"] in ("PENDING", "PREPARATION", "SHIPPED")
    assert ch._state()["synced_until"] == "2026-11-02T08:59:00+00:00"
    world.clock.advance(900)
    before = world.fake.count("listOrders")
    assert ch.sync_orders(None) == 0  # nothing changed: the overlap re-reads, nothing is rewritten
    assert world.fake.count("listOrders") == before + 1
    ref = next(r for r, o in world.fake.orders.items() if o["status"] == "PREPARATION")
    world.fake.set_status(ref, "REFUNDED")
    world.clock.advance(900)
    assert ch.sync_orders(None) == 1
    assert stored(app, f"mm-fr:{ref}")["status"] == "REFUNDED"


def test_a_window_is_walked_in_parts_that_fit_one_page(world):
    world.fake.populate(1000, days=30, statuses={"PREPARATION": 1})
    app = world.app()
    ch = app.channel("mm-fr")
    assert ch.sync_orders(None) == 1000
    calls = world.fake.calls_of("listOrders")
    assert all(c.query["page"] == ["1"] for c in calls)  # never a page number that could shift
    assert len(calls) <= 20  # ten pages' worth, plus a part asked again when it overflowed
    parts = [(c.query["status_updated_at_start"][0], c.query["status_updated_at_end"][0]) for c in calls]
    assert parts[0][0] < parts[-1][0] and parts[-1][1] == "2026-11-02T08:59:00Z"
    # a part ends where another starts: an order on the bound is read twice, never missed
    starts = {p[0] for p in parts}
    assert all(end in starts or end == parts[-1][1] for _, end in parts)


def test_sync_is_off_until_orders_sync(world, caplog):
    world.fake.populate(5)
    app = world.app({"mm-fr": {"orders_sync": False}})
    with caplog.at_level(logging.INFO, "marketd.manomano"):
        assert run_job(app, "manomano-orders") is None
    assert world.fake.count() == 0 and "orders_sync is off" in caplog.text


def test_an_order_changing_between_pages_is_not_lost(world):
    """The listing pages through a window by page number; an order whose status moves after its
    page was read leaves the window and is caught by the next one."""
    world.fake.populate(30, days=2, statuses={"PREPARATION": 1})
    app = world.app({"mm-fr": {"page_size": 10}})
    ch = app.channel("mm-fr")
    original = world.fake._listOrders
    moved = []

    def list_then_ship(req):
        resp = original(req)
        if req.q("page") == "1" and not moved:
            ref = resp.body["content"][0]["order_reference"]
            world.fake.set_status(ref, "SHIPPED")
            moved.append(ref)
        return resp

    world.fake.routes = [(m, p, list_then_ship if n == "listOrders" else f, n) for m, p, f, n in world.fake.routes]
    ch.sync_orders(None, max_wait=None)
    assert app.store.db.execute("select count(*) from orders").fetchone()[0] == 30
    world.clock.advance(900)
    ch.sync_orders(None, max_wait=None)
    assert stored(app, f"mm-fr:{moved[0]}")["channel_status"] == "SHIPPED"


def test_a_long_backlog_is_read_over_several_runs(world):
    world.fake.populate(300, days=20, statuses={"PREPARATION": 1})
    app = world.app({"mm-fr": {"page_size": 10, "max_wait_seconds": 0}})
    ch = app.channel("mm-fr")
    runs, marks = 0, []
    while True:
        runs += 1
        ch.sync_orders(None)
        marks.append(ch._state()["synced_until"])
        if ch.last_sync["complete"]:
            break
        world.clock.advance(900)
    assert runs > 1 and marks == sorted(marks)  # the watermark only moves forward, part by part
    assert app.store.db.execute("select count(*) from orders").fetchone()[0] == 300
    assert world.fake.count(status=429) == 0
    assert world.fake.count("listOrders") <= 3 * 30


def test_a_job_run_stays_short_however_long_the_backlog(world):
    """Pages of the sync share come every ~23 s once its burst is spent, within max_wait (30 s):
    without a bound a 10k-order import would hold one job run (and `systemctl stop`) for most of
    an hour. ``run_seconds`` ends the run; the next one goes on from the watermark."""
    world.fake.populate(3000, days=30, statuses={"PREPARATION": 1})
    app = world.app()
    ch = app.channel("mm-fr")
    durations = []
    while True:
        t0 = world.clock.monotonic()
        assert run_job(app, "manomano-orders") is None
        durations.append(world.clock.monotonic() - t0)
        if ch.last_sync["complete"]:
            break
        world.clock.advance(900)
    assert len(durations) >= 2 and max(durations) <= 60 + 30
    assert app.store.db.execute("select count(*) from orders").fetchone()[0] == 3000


def test_manual_mode_leaves_pending_orders_to_a_person(world):
    refs = [world.fake.add_order(status="PENDING", created_at=world.clock.now() - timedelta(hours=h))
            ["order_reference"] for h in (3, 2)]
    app = world.app()
    ch = app.channel("mm-fr")
    ch.sync_orders(None)
    assert world.fake.count("acceptOrders") == 0
    assert [r["order_id"] for r in ch.pending_orders()] == refs
    assert stored(app, f"mm-fr:{refs[0]}")["status"] == "PENDING"
    out = ch.decide("accept", [refs[0]])
    assert out[refs[0]]["ok"] and world.fake.orders[refs[0]]["status"] == "PREPARATION"
    assert stored(app, f"mm-fr:{refs[0]}")["status"] == "UNSHIPPED"
    assert [r["order_id"] for r in ch.pending_orders()] == [refs[1]]
    body = world.fake.calls_of("acceptOrders")[0].json()
    assert body == [{"order_reference": refs[0], "seller_contract_id": 1001}]
    row = app.store.db.execute("select mode, state, status from manomano_decisions where order_reference = ?",
                               [refs[0]]).fetchone()
    assert tuple(row) == ("manual", "done", 204)


def test_accepting_twice_is_read_back_and_counts_as_done(world):
    ref = world.fake.add_order(status="PENDING")["order_reference"]
    other = world.fake.add_order(status="REFUSED")["order_reference"]
    app = world.app()
    ch = app.channel("mm-fr")
    assert ch.decide("accept", [ref])[ref]["ok"]
    out = ch.decide("accept", [ref, other])
    assert world.fake.calls_of("acceptOrders")[-1].status == 207
    assert out[ref] == {"ok": True, "status": 207, "text": "already PREPARATION at ManoMano"}
    assert not out[other]["ok"] and "ORDER_NOT_PENDING" in out[other]["text"]
    assert len([d for d in world.fake.decisions if d["order_reference"] == ref]) == 1


def test_auto_mode_accepts_each_page_in_one_call(world):
    world.fake.populate(25, days=1, statuses={"PENDING": 1})
    app = world.app({"mm-fr": {"accept": "auto", "page_size": 10}})
    ch = app.channel("mm-fr")
    ch.sync_orders(None)
    assert world.fake.count("acceptOrders") == 3  # one per page
    assert all(o["status"] == "PREPARATION" for o in world.fake.orders.values())
    assert ch.pending_orders() == [] and ch.last_sync["accepted"] == 25


def test_auto_mode_retries_an_accept_that_failed(world):
    world.fake.populate(3, days=1, statuses={"PENDING": 1})
    app = world.app({"mm-fr": {"accept": "auto"}})
    world.fake.fail_next("acceptOrders", 503, times=8)  # the sync's accept and the job's retry both fail
    assert run_job(app, "manomano-orders") is None  # the sync itself worked; the accept is tried again later
    assert all(o["status"] == "PENDING" for o in world.fake.orders.values())
    world.clock.advance(900)
    assert run_job(app, "manomano-orders") is None
    assert all(o["status"] == "PREPARATION" for o in world.fake.orders.values())


def test_many_pending_orders_are_accepted_a_hundred_at_a_time(world):
    world.fake.populate(230, days=1, statuses={"PENDING": 1})
    app = world.app()
    ch = app.channel("mm-fr")
    ch.sync_orders(None, max_wait=None)
    out = ch.decide("accept", [r["order_id"] for r in ch.pending_orders()])
    assert len(out) == 230 and all(r["ok"] for r in out.values())
    assert [len(c.json()) for c in world.fake.calls_of("acceptOrders")] == [100, 100, 30]


def test_refuse(world):
    ref = world.fake.add_order(status="PENDING")["order_reference"]
    app = world.app()
    assert app.channel("mm-fr").decide("refuse", [ref])[ref]["ok"]
    assert world.fake.orders[ref]["status"] == "REFUSED" and stored(app, f"mm-fr:{ref}") is None


# -- tracking back ----------------------------------------------------------------------------------
def synced(world, status="PREPARATION", **app_kw):
    ref = world.fake.add_order(status=status, products=[("MM-DRILL-18V", 2)],
                               created_at=world.clock.now() - timedelta(hours=1))["order_reference"]
    app = world.app(**app_kw)
    ch = app.channel("mm-fr")
    ch.sync_orders(None)
    return app, ch, ref


def test_tracking_is_sent_once(world):
    app, ch, ref = synced(world)
    out = ch.confirm_shipment(ref, PACKAGE)
    assert out["ok"] and out["status"] == 204
    sent = world.fake.calls_of("createShippings")[0].json()
    assert sent == [{"order_reference": ref, "seller_contract_id": 1001, "carrier": "BRT",
                     "tracking_number": "0102000001", "tracking_url": PACKAGE["trackingUrl"],
                     "products": [{"seller_sku": "MM-DRILL-18V", "quantity": 2}]}]
    assert world.fake.orders[ref]["status"] == "SHIPPED" and world.fake.orders[ref]["carrier"] == "BRT"
    assert stored(app, f"mm-fr:{ref}")["status"] == "SHIPPED"
    again = ch.confirm_shipment(ref, PACKAGE)
    assert again["ok"] and again["already_confirmed"]
    assert world.fake.count("createShippings") == 1
    assert ch.shipment_confirmed(ref, PACKAGE) is True


def test_a_lost_answer_is_read_back_before_anything_is_sent_again(world):
    """D7: ManoMano applied the shipping and answered 500. The POST is not retried; the next try
    reads the order, finds it SHIPPED and records it: one shipping at ManoMano."""
    app, ch, ref = synced(world)
    world.fake.lose_answer("createShippings")
    with pytest.raises(TransientError, match="HTTP 500"):
        ch.confirm_shipment(ref, PACKAGE)
    assert app.store.db.execute("select state from manomano_shippings").fetchone()[0] == "sending"
    out = ch.confirm_shipment(ref, PACKAGE)
    assert out["ok"] and out["already_confirmed"] and out["verified"]
    assert world.fake.count("createShippings") == 1 and len(world.fake.shippings_of(ref)) == 1


def test_a_5xx_that_did_nothing_is_sent_again_after_the_read_back(world):
    app, ch, ref = synced(world)
    world.fake.fail_next("createShippings", 502)
    with pytest.raises(TransientError):
        ch.confirm_shipment(ref, PACKAGE)
    assert world.fake.count("createShippings") == 1 and world.fake.shippings == []
    assert ch.confirm_shipment(ref, PACKAGE)["ok"]
    assert world.fake.count("getOrder") == 1 and world.fake.count("createShippings") == 2
    assert len(world.fake.shippings_of(ref)) == 1


def test_a_207_without_our_order_is_not_taken_for_success(world):
    app, ch, ref = synced(world)
    world.fake.fail_next("createShippings", 207, body={"content": [{"order_reference": "M-other",
                                                                    "result": {"status": "SUCCESS"}}]})
    with pytest.raises(TransientError, match="does not say whether"):
        ch.confirm_shipment(ref, PACKAGE)
    assert ch.confirm_shipment(ref, PACKAGE)["ok"] and len(world.fake.shippings_of(ref)) == 1


def test_a_207_refusal_is_kept_for_that_order_only(world):
    app, ch, ref = synced(world)
    world.fake.set_status(ref, "SHIPPED")  # shipped in the back office meanwhile
    out = ch.confirm_shipment(ref, PACKAGE)
    assert not out["ok"] and out["status"] == 207 and "ORDER_ALREADY_SHIPPED" in out["error"]
    assert app.store.db.execute("select state from manomano_shippings").fetchone()[0] == "refused"


def test_a_pending_order_waits_for_a_person_and_nothing_is_sent(world):
    app, ch, ref = synced(world, status="PENDING")
    with pytest.raises(TransientError, match=f"waits for acceptance: accept it .*manomano accept {ref}"):
        ch.confirm_shipment(ref, PACKAGE)
    assert world.fake.count("createShippings") == 0 and world.fake.count("acceptOrders") == 0
    world.fake.set_status(ref, "PREPARATION")  # accepted in the back office: the next try goes out
    assert ch.confirm_shipment(ref, PACKAGE)["ok"]


def test_auto_mode_accepts_before_shipping(world):
    app, ch, ref = synced(world, status="PENDING", accounts={"mm-fr": {"accept": "auto"}})
    # the sync accepted it already; put it back to PENDING as if the accept had failed
    world.fake.set_status(ref, "PENDING")
    app.store.upsert_order({"key": f"mm-fr:{ref}", "channel": "mm-fr", "order_id": ref, "channel_status": "PENDING"})
    assert ch.confirm_shipment(ref, PACKAGE)["ok"]
    assert world.fake.orders[ref]["status"] == "SHIPPED" and world.fake.count("acceptOrders") == 2


def test_shipment_confirmed_reads_the_order_at_manomano(world):
    app, ch, ref = synced(world)
    assert ch.shipment_confirmed(ref, PACKAGE) is False
    world.fake.set_status(ref, "SHIPPED")
    assert ch.shipment_confirmed(ref, PACKAGE) is True
    world.fake.set_status(ref, "REFUNDED")
    assert ch.shipment_confirmed(ref, PACKAGE) is None
    world.fake.fail_next("getOrder", 500, times=4)
    assert ch.shipment_confirmed(ref, PACKAGE) is None


def test_buyer_data_never_reaches_the_log(world, caplog):
    world.fake.populate(12, days=1)
    app = world.app({"mm-fr": {"accept": "auto"}})
    with caplog.at_level(logging.DEBUG):
        ch = app.channel("mm-fr")
        ch.sync_orders(None)
        ref = next(r for r, o in world.fake.orders.items() if o["status"] == "PREPARATION")
        ch.confirm_shipment(ref, PACKAGE)
        world.fake.fail_next("createShippings", 400, body={"message": "bad"})
        ch.confirm_shipment(next(r for r, o in world.fake.orders.items() if o["status"] == "PREPARATION"), PACKAGE)
    assert "manomano mm-fr" in caplog.text
    for first, last, *_ in BUYERS:
        assert first not in caplog.text and last not in caplog.text
    assert "@example.com" not in caplog.text and world.fake.key not in caplog.text
    row = stored(app, f"mm-fr:{ref}")
    assert json.loads(row["ship_to"])["city"]  # the address is stored (for labels), just never logged


def test_settings_refuse_a_key_in_clear_and_name_the_variable(world):
    from marketd.sdk import ConfigError

    with pytest.raises(ConfigError, match="api_key in clear.*MARKETD_MANOMANO_MM_FR_API_KEY"):
        world.app({"mm-fr": {"api_key": "abc"}})
    with pytest.raises(ConfigError, match="tracking_urls.BRT must contain"):
        world.app({"mm-fr": {"tracking_urls": {"BRT": "https://brt.example/"}}})
    with pytest.raises(ConfigError, match="page_size"):
        world.app({"mm-fr": {"page_size": 101}})


def test_a_rate_limited_first_page_changes_nothing(world):
    world.fake.populate(5)
    app = world.app({"mm-fr": {"max_wait_seconds": 0}})
    ch = app.channel("mm-fr")
    ch.api.http  # the budget exists: spend the sync share
    while ch.api.budget.sync.wait_time() == 0:
        ch.api.budget.sync.acquire()
    assert ch.sync_orders(None) == 0 and not ch.last_sync["complete"]
    assert world.fake.count("listOrders") == 0 and ch._state()["synced_until"] is None
    world.clock.advance(3600)
    assert ch.sync_orders(None) == 5
