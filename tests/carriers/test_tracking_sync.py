"""Tracking pushed to the channel exactly once: repeated rounds, restarts, and the crash window."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

import marketd.plugins.shipments.tracking as tracking_mod  # where the sync calls crashpoint
from marketd.hookspecs import hookimpl
from marketd.plugins.shipments import tracking as tracking_mod
from marketd.plugins.shipments.tracking import tracking_sync

from .conftest import RecordingChannel, add_order, drop


class SimulatedCrash(BaseException):
    pass


def ship_with_erp(app, tmp_path, orders=("402-1",)):
    for o in orders:
        add_order(app, o)
    lines = "".join(f"{o},DHL,JJD-{o}\n" for o in orders)
    rec = drop(app, tmp_path, "t.csv", "order,carrier,tracking_number\n" + lines, kind="tracking")
    assert rec["state"] == "done", rec


def pushes(app):
    return list(app.store.db.query("select * from shipment_pushes order by order_key"))


def dead_owner() -> str:
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}:{p.stdout.strip()}:gone"


def test_pushed_once_across_rounds_and_restarts(make_app, tmp_path, clock):
    root = tmp_path / "inst"
    app = make_app(root=root)
    ship_with_erp(app, tmp_path, ("402-1", "402-2"))
    for _ in range(3):
        tracking_sync(app)
        clock.advance(3600)
    app.close()
    app2 = make_app(root=root)
    tracking_sync(app2)
    assert sorted(c[1] for c in RecordingChannel.calls) == ["402-1", "402-2"]
    assert {p["state"] for p in pushes(app2)} == {"pushed"}
    assert all(p["pushed_at"] and p["attempts"] == 1 for p in pushes(app2))


def test_crash_after_claim_is_never_pushed_again_automatically(make_app, tmp_path, monkeypatch):
    root = tmp_path / "inst"
    app = make_app(root=root)
    ship_with_erp(app, tmp_path)

    def crash(name):
        if name == "tracking_after_push_claim":
            raise SimulatedCrash()

    monkeypatch.setattr(tracking_mod, "crashpoint", crash)
    with pytest.raises(SimulatedCrash):
        tracking_sync(app)
    monkeypatch.setattr(tracking_mod, "crashpoint", lambda name: None)
    assert pushes(app)[0]["state"] == "pushing" and RecordingChannel.calls == []
    # the process that claimed it is gone
    app.store.db.execute("update shipment_pushes set owner = ?", [dead_owner()])
    app.close()
    app2 = make_app(root=root)
    stats = tracking_sync(app2)
    tracking_sync(app2)
    assert stats["push_uncertain"] == 1
    p = pushes(app2)[0]
    assert p["state"] == "uncertain" and "--force" in p["error"]
    assert RecordingChannel.calls == []  # at most once: a person decides
    report = sorted(app2.outbox_dir.glob("reports/shipment-exceptions-*.csv"))
    assert report and "uncertain" in report[-1].read_text()
    # the operator checked Seller Central and releases it
    app2.store.db.execute("update shipment_pushes set state = 'waiting', next_attempt_at = null")
    tracking_sync(app2)
    assert len(RecordingChannel.calls) == 1


def test_channel_that_can_verify_resolves_the_crash_window(make_app, tmp_path, monkeypatch):
    answers = {"verdict": True}

    def shipment_confirmed(self, order_id, package):
        return answers["verdict"]

    monkeypatch.setattr(RecordingChannel, "shipment_confirmed", shipment_confirmed, raising=False)
    root = tmp_path / "inst"
    app = make_app(root=root)
    ship_with_erp(app, tmp_path, ("402-1", "402-2"))
    monkeypatch.setattr(tracking_mod, "crashpoint", lambda n: (_ for _ in ()).throw(SimulatedCrash())
                        if n == "tracking_after_push_claim" else None)
    with pytest.raises(SimulatedCrash):
        tracking_sync(app)
    monkeypatch.setattr(tracking_mod, "crashpoint", lambda name: None)
    app.store.db.execute("update shipment_pushes set owner = ? where state = 'pushing'", [dead_owner()])
    stats = tracking_sync(app)
    assert stats["push_verified"] == 1
    states = {p["order_key"]: p["state"] for p in pushes(app)}
    assert states == {"amazon-it:402-1": "pushed", "amazon-it:402-2": "pushed"}
    assert [c[1] for c in RecordingChannel.calls] == ["402-2"]  # 402-1 was already on the channel


def test_a_live_claim_is_left_alone(make_app, tmp_path):
    app = make_app()
    ship_with_erp(app, tmp_path)
    app.store.db.execute("update shipment_pushes set state = 'pushing', owner = ?", [tracking_mod.OWNER])
    tracking_sync(app)
    assert pushes(app)[0]["state"] == "pushing" and RecordingChannel.calls == []


def test_a_claim_of_a_restart_with_the_same_pid_is_settled(make_app, tmp_path):
    """The daemon as PID 1 in a container: the claim of the process before it carries the same
    host and PID but another instance id, and is settled (here: marked uncertain, the channel
    cannot verify), not left alone as a live claim."""
    app = make_app()
    ship_with_erp(app, tmp_path)
    before = f"{socket.gethostname()}:{os.getpid()}:0123456789ab"
    assert before != tracking_mod.OWNER
    app.store.db.execute("update shipment_pushes set state = 'pushing', owner = ?", [before])
    stats = tracking_sync(app)
    assert stats["push_uncertain"] == 1 and pushes(app)[0]["state"] == "uncertain"
    assert RecordingChannel.calls == []


def test_channel_without_confirm_capability_is_skipped_and_unknown_channel_waits(make_app, tmp_path):
    app = make_app(channels={"amazon-it": {"type": "readonly"}})
    ship_with_erp(app, tmp_path)
    tracking_sync(app)
    assert pushes(app)[0]["state"] == "skipped"
    app2 = make_app(channels={}, root=tmp_path / "other")
    ship_with_erp(app2, tmp_path / "o", ("402-9",))
    tracking_sync(app2)
    p = pushes(app2)[0]
    assert p["state"] == "waiting" and "no channel account named" in p["error"]


def test_channel_refusal_and_transient_failure(make_app, tmp_path, monkeypatch, clock):
    from marketd.errors import TransientError

    outcomes = iter([TransientError("503"), {"ok": False, "error": "order cancelled"}])

    def confirm(self, order_id, package):
        RecordingChannel.calls.append((self.name, order_id, package))
        out = next(outcomes)
        if isinstance(out, Exception):
            raise out
        return out

    monkeypatch.setattr(RecordingChannel, "confirm_shipment", confirm)
    app = make_app()
    ship_with_erp(app, tmp_path)
    tracking_sync(app)
    assert pushes(app)[0]["state"] == "retry"
    tracking_sync(app)
    assert len(RecordingChannel.calls) == 1  # waits for its retry time
    clock.advance(3600)
    tracking_sync(app)
    p = pushes(app)[0]
    assert p["state"] == "failed" and "order cancelled" in p["error"] and len(RecordingChannel.calls) == 2
    clock.advance(86400)
    tracking_sync(app)
    assert len(RecordingChannel.calls) == 2


def test_status_changes_fire_shipment_updated(make_app, brt_fake, clock, tmp_path):
    app = make_app()
    seen = []

    class Listener:
        @hookimpl
        def shipment_updated(self, app, shipment, old_status, new_status):
            seen.append((shipment["key"], old_status, new_status))

    app.plugins.register(Listener(), "listener")
    add_order(app, "402-1")
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    for _ in range(24):
        clock.advance(1800)
        tracking_sync(app)
    assert [s[1:] for s in seen] == [("pending", "in_transit"), ("in_transit", "out_for_delivery"),
                                     ("out_for_delivery", "delivered")]
    assert len(list(app.store.db.query("select * from shipment_events"))) == 4


def test_never_scanned_is_reported_once_and_closed_after_give_up(make_app, brt_fake, clock, tmp_path):
    app = make_app(jobs={"tracking-sync": {"pending_alert_hours": 6, "give_up_days": 2}})
    add_order(app, "402-1")
    brt_fake.auto_confirm = False  # never confirmed: BRT never knows it
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    for _ in range(60):
        clock.advance(3600)
        tracking_sync(app)
    row = next(app.store.db.query("select * from shipments"))
    assert row["open"] == 0 and row["status"] == "unknown"
    text = "".join(p.read_text() for p in app.outbox_dir.glob("reports/shipment-exceptions-*.csv"))
    assert text.count("no carrier scan") == 1 and "closed: no final status" in text
    assert RecordingChannel.calls == []


def test_a_round_stops_after_round_seconds_and_the_next_one_continues(make_app, brt_fake, clock, tmp_path):
    """A long backlog never keeps one round (and so ``systemctl stop``) busy: the rest waits."""
    app = make_app(jobs={"tracking-sync": {"round_seconds": 10, "chunk": 2}})
    for i in range(5):
        add_order(app, f"402-{i}")
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n" + "".join(f"402-{i},brt,1\n" for i in range(5)))
    clock.advance(4 * 3600)  # all due, all scanned by BRT
    slow = {"calls": 0}
    original = app.carrier("brt").track

    def track(number):  # each BRT answer takes 4 s (of the app's clock)
        slow["calls"] += 1
        clock.advance(4)
        return original(number)

    app.carrier("brt").track = track
    stats = tracking_sync(app)
    # chunk 1 (8 s) and chunk 2 (16 s > 10 s) ran; chunk 3 was left for the next round
    assert (stats["checks"], stats["deferred"]) == (4, 1) and slow["calls"] == 4
    statuses = [r["status"] for r in app.store.db.query("select status from shipments order by line")]
    assert statuses == ["in_transit"] * 4 + ["pending"]
    stats = tracking_sync(app)  # the one left over comes first
    assert stats["checks"] == 1 and "deferred" not in stats
    assert [r["status"] for r in app.store.db.query("select status from shipments order by line")] == ["in_transit"] * 5
    assert len(RecordingChannel.calls) == 5


def test_pushing_is_bounded_by_round_seconds_too(make_app, tmp_path, clock, monkeypatch):
    def confirm(self, order_id, package):
        clock.advance(30)  # a slow marketplace
        RecordingChannel.calls.append((self.name, order_id, package))
        return {"ok": True}

    monkeypatch.setattr(RecordingChannel, "confirm_shipment", confirm)
    app = make_app(jobs={"tracking-sync": {"round_seconds": 45}})
    ship_with_erp(app, tmp_path, ("402-1", "402-2", "402-3"))
    stats = tracking_sync(app)
    assert stats["pushed"] == 2 and stats["push_deferred"] == 1
    stats = tracking_sync(app)
    assert stats["pushed"] == 1 and "push_deferred" not in stats
    assert sorted(c[1] for c in RecordingChannel.calls) == ["402-1", "402-2", "402-3"]
