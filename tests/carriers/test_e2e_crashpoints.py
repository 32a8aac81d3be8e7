"""The shipments and tracking crash points, hit by name in the real daemon process (``kill -9``
through ``MARKETD_CRASHPOINT``): no cleanup code runs, unlike the in-process tests that raise an
exception at a crash point (``finally`` blocks, rollbacks and ``with`` exits still ran there).

- ``shipments_after_carrier_call``: BRT created the shipment, its answer is not in the carrier
  ledger yet. After the restart each line exists once at BRT (the in-flight one was deleted by
  our reference and made again), and each order is confirmed on Amazon once.
- ``tracking_after_push``: Amazon applied a confirmShipment and its ``pushed`` row was committed.
  After the restart that package is not confirmed again; the others are, once.
"""
from __future__ import annotations

import signal

import pytest

from tests.conftest import wait_for
from tests.helpers import db_dicts

from .test_e2e_carriers import count, drop_file, world  # noqa: F401  (world: fixture)

pytestmark = pytest.mark.e2e


def shipments_by_order(w) -> dict[str, int]:
    rows = db_dicts(w.root, "select refs from shipments")
    out: dict[str, int] = {}
    for r in rows:
        out[r["refs"]] = out.get(r["refs"], 0) + 1
    return out


def test_kill_9_after_the_carrier_call_creates_each_shipment_once(world, daemon_factory):
    w = world()
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": "shipments_after_carrier_call"})
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    wait_for(lambda: d1.proc.poll() is not None, 30, what="the kill after the first carrier answer")
    assert d1.proc.returncode == -signal.SIGKILL
    created_before = w.brt.creates
    assert created_before >= 1
    # the answer of at least that call is lost: the ledger still says 'calling', nothing in the store
    assert count(w.root, "select count(*) n from calls where state = 'calling'", db="carrier-ledger.sqlite") >= 1
    assert count(w.root, "select count(*) n from calls where state = 'done'", db="carrier-ledger.sqlite") == 0
    assert count(w.root, "select count(*) n from shipments") == 0

    daemon_factory(w.config, env=w.env)  # the restart, without the crash point
    manifest = w.manifest()
    w.check_labels(manifest)  # three live shipments at BRT, no duplicate create, right addresses
    refs = {s["data"]["alphanumericSenderReference"] for s in w.brt.live_shipments()}
    assert len(refs) == 3  # one per line, under the line's own reference
    assert w.brt.creates > created_before  # the in-flight ones were made again after a delete
    assert len(w.brt.requests("PUT", r"/shipments/delete$")) >= 1
    assert count(w.root, "select count(*) n from calls where state != 'done'", db="carrier-ledger.sqlite") == 0
    assert sorted(shipments_by_order(w).values()) == [1, 1, 1]
    wait_for(lambda: count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'") == 3,
             60, what="the three confirmations")
    for oid in w.order_ids:
        assert len(w.confirmations(oid)) == 1, oid
    assert w.amazon.violations == []


def test_kill_9_after_a_recorded_push_never_confirms_it_again(world, daemon_factory):
    w = world()
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": "tracking_after_push"})
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    manifest = w.manifest()
    w.check_labels(manifest)
    wait_for(lambda: d1.proc.poll() is not None, 60, what="the kill after the first recorded push")
    assert d1.proc.returncode == -signal.SIGKILL
    assert len(w.confirmations()) == 1
    pushed = db_dicts(w.root, "select order_id from shipment_pushes where state = 'pushed'")
    assert [p["order_id"] for p in pushed] == [w.confirmations()[0]["orderId"]]

    daemon_factory(w.config, env=w.env)
    wait_for(lambda: count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'") == 3,
             60, what="the other confirmations")
    for oid in w.order_ids:
        assert len(w.confirmations(oid)) == 1, oid
    assert len(w.confirm_calls()) == 3  # the recorded one was not sent again, not even to be refused
    assert count(w.root, "select count(*) n from shipment_pushes where state in ('pushing', 'uncertain')") == 0
    assert w.amazon.violations == []
