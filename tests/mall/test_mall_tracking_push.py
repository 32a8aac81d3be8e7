"""Tracking of MALL orders the seller ships itself goes back to MALL through the shipments
plugin's tracking-sync, exactly once per order; a MALL Delivery order is never moved to
shipped by us (refused before any call, and reported)."""
from __future__ import annotations

import socket
import subprocess
import sys

from marketd.plugins.shipments.tracking import tracking_sync
from marketd.sdk import process_file

from .conftest import ACCOUNT


def ship(app, tmp_path, lines: str) -> dict:
    src = tmp_path / "drops" / "t.csv"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text("order,carrier,tracking_number,tracking_url\n" + lines, encoding="utf-8")
    return process_file(app, "tracking", src)


def pushes(app) -> dict:
    return {p["order_id"]: p for p in app.store.db.query("select * from shipment_pushes")}


def dead_owner() -> str:
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}:{p.stdout.strip()}:gone"


def test_tracking_goes_back_once_per_order(mall_app, fake, clock, tmp_path):
    fake.add_order(101, mdp=False, confirmed=True)
    fake.add_order(102, mdp=False, confirmed=False)
    fake.add_order(103, mdp=True, confirmed=True)       # a MALL Delivery order shipped with DHL by mistake
    app = mall_app()
    app.channel(ACCOUNT).sync_orders(None)
    rec = ship(app, tmp_path, "101,DHL,JJD101,https://t.example/JJD101\n102,DHL,JJD102,\n103,DHL,JJD103,\n")
    assert rec["state"] == "done", rec
    for _ in range(3):
        tracking_sync(app)
        clock.advance(3600)
    p = pushes(app)
    assert (p["101"]["state"], p["102"]["state"], p["103"]["state"]) == ("pushed", "pushed", "failed")
    assert "MALL Delivery order" in p["103"]["error"]
    for oid in (101, 102):
        assert len(fake.status_puts(oid)) == 1 and fake.orders[oid]["status"] == "shipped"
        assert fake.orders[oid]["tracking_number"] == f"JJD{oid}"
    assert fake.orders[101]["tracking_url"] == "https://t.example/JJD101"
    assert fake.orders[102]["confirmed"]
    assert fake.orders[103]["status"] == "open" and fake.status_puts(103) == []
    assert not [r for r in fake.journal if r.path.endswith("/103") and r.method == "PUT"]
    reports = sorted(app.outbox_dir.glob("reports/shipment-exceptions-*.csv"))
    assert reports and "MALL Delivery order" in reports[-1].read_text()
    assert fake.violations == [] and fake.response_violations == []


def test_a_push_cut_by_a_crash_is_verified_at_mall_not_sent_again(mall_app, fake, clock, tmp_path):
    fake.add_order(111, mdp=False, confirmed=True)
    fake.add_order(112, mdp=False, confirmed=True)
    app = mall_app()
    app.channel(ACCOUNT).sync_orders(None)
    ship(app, tmp_path, "111,DHL,JJD111,\n112,DHL,JJD112,\n")
    # 111: MALL applied it but the daemon died before recording it; 112: died before sending
    app.channel(ACCOUNT).confirm_shipment("111", {"trackingNumber": "JJD111"})
    with app.store.transaction() as db:
        db.execute("update shipment_pushes set state = 'pushing', owner = ?", [dead_owner()])
    tracking_sync(app)
    p = pushes(app)
    assert p["111"]["state"] == "pushed" and "verified" in p["111"]["error"]
    assert p["112"]["state"] == "pushed"
    assert len(fake.status_puts(111)) == 1 and len(fake.status_puts(112)) == 1
