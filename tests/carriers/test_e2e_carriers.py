"""End to end with the real daemon process: a shipment file in, labels and manifest out, tracking
appearing after BRT's delay, and exactly one shipment confirmation per package on the channel —
across a crash in the middle of the file and a crash right after a confirmation.

The BRT fake runs on loopback in this process; its clock is moved by the test (the daemon runs
on the wall clock, with tracking-sync intervals of about a second). The channel is the Amazon
channel against the SP-API fake when both exist (``tests/fakes/spapi.py``), else a small
recording channel installed for the subprocess as a real entry-point plugin.
"""
from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from marketd.app import App
from tests.conftest import wait_for, write_config
from tests.fakes.brt import BrtFake
from tests.fakes.carrier_kit import FakeService, Request, Response

from .conftest import needs_http

pytestmark = [pytest.mark.e2e, needs_http]

SENDER = {"name": "Negozio Srl", "street": "Via Milano 5", "postal_code": "20100", "city": "Milano",
          "province": "MI", "country": "IT"}

CHANNEL_PLUGIN = '''
import httpx
from marketd.hookspecs import hookimpl
from marketd.models import Capabilities, Channel


class E2EChannel(Channel):
    type = "e2e"
    capabilities = Capabilities(confirm_shipment=True)

    def confirm_shipment(self, order_id, package):
        r = httpx.post(self.settings["url"] + "/confirm", json={"order_id": order_id, "package": package}, timeout=10)
        r.raise_for_status()
        return r.json()


@hookimpl
def register_channels(register):
    register("e2e", E2EChannel)
'''


class ConfirmRecorder(FakeService):
    """Receives confirmShipment calls from the test channel plugin."""

    def __init__(self):
        super().__init__()
        self.confirmations: list[dict] = []
        self.route("POST", r"/confirm", self.confirm)

    def confirm(self, req: Request) -> Response:
        self.confirmations.append(req.json())
        return Response(200, {"ok": True})


def install_channel_plugin(root: Path) -> Path:
    site = root / "plugin-site"
    dist = site / "marketd_e2e_channel-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: marketd-e2e-channel\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[marketd]\ne2e_channel = marketd_e2e_channel\n")
    (site / "marketd_e2e_channel.py").write_text(CHANNEL_PLUGIN)
    return site


def db_rows(root: Path, sql: str, params=()) -> list[dict]:
    path = root / "var" / "marketd.sqlite"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def drop_file(inbox: Path, name: str, text: str) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    tmp = inbox / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.rename(tmp, inbox / name)


def test_shipments_labels_tracking_and_one_confirmation_per_package(tmp_path, daemon_factory):
    brt = BrtFake(tracking_delay=600, event_interval=600)
    brt_url = brt.serve()
    recorder = ConfirmRecorder()
    rec_url = recorder.serve()
    root = tmp_path / "inst"
    site = install_channel_plugin(tmp_path)
    cfg = write_config(
        root,
        carriers={"brt": {"type": "brt", "base_url": brt_url + "/rest/v1", "user_id": brt.user_id,
                          "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                          "requests_per_second": 50}},
        channels={"amazon-it": {"type": "e2e", "url": rec_url}},
        jobs={"tracking-sync": {"seconds": 1, "first_check": 1, "pending_max": 2, "transit_interval": 1,
                                "out_for_delivery_interval": 1, "error_base": 1}},
    )
    env = {"BRT_PASSWORD": brt.password, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    # orders as the channel's order sync would have stored them
    app = App.from_config_path(cfg, load_entry_points=False,
                               extra_plugins={"shipments": __import__("marketd.plugins.shipments", fromlist=["x"])})
    for oid in ("402-0000001-0000001", "402-0000002-0000002", "402-0000003-0000003"):
        app.store.upsert_order({"channel": "amazon-it", "channel_type": "amazon", "order_id": oid, "status": "Unshipped",
                                "ship_to": {"name": "Mario Rossi", "addressLine1": "Via Roma 1", "city": "Roma",
                                            "postalCode": "00184", "stateOrRegion": "RM", "countryCode": "IT"},
                                "items": [{"orderItemId": f"{oid}-1", "quantity": 1}]})
    app.close()
    try:
        # run 1: dies right after the first line's carrier answer was recorded
        d1 = daemon_factory(cfg, env={**env, "MARKETD_CRASHPOINT": "shipments_after_ledger"})
        drop_file(root / "inbox" / "shipments", "day.csv",
                  "order,carrier,weight_kg,parcel_count\n"
                  "402-0000001-0000001,brt,1.5,1\n402-0000002-0000002,brt,2.0,2\n402-0000003-0000003,brt,0.5,1\n")
        wait_for(lambda: d1.proc.poll() is not None, 30, what="crash during the shipment file")
        assert d1.proc.returncode == -9
        assert brt.creates >= 1 and not list((root / "outbox").glob("labels/manifest-*.csv"))

        # run 2: finishes the file (line 1 from the ledger), polls BRT, dies right after the first confirmation
        d2 = daemon_factory(cfg, env={**env, "MARKETD_CRASHPOINT": "tracking_after_push"})
        manifest = wait_for(lambda: list((root / "outbox").glob("labels/manifest-*.csv")), 30, what="manifest")[0]
        # never twice at the carrier: a line caught mid-call was deleted by reference and made again
        assert len(brt.live_shipments()) == 3 and brt.duplicate_creates == 0
        lines = manifest.read_text().splitlines()
        assert len(lines) == 1 + 4 and all(",created," in l or ",reused," in l for l in lines[1:])
        printed = list((root / "outbox").glob("labels/print-*.pdf"))[0]
        reader = PdfReader(io.BytesIO(printed.read_bytes()))
        assert len(reader.pages) == 4
        assert all(abs(float(p.mediabox.width) * 25.4 / 72 - 100) < 1 and
                   abs(float(p.mediabox.height) * 25.4 / 72 - 150) < 1 for p in reader.pages)
        assert len(list((root / "outbox").glob("labels/*-day/*.pdf"))) == 4
        # BRT does not know the parcels yet: pending, polled, nothing confirmed
        wait_for(lambda: brt.track_calls >= 3, 30, what="tracking polls")
        assert {r["status"] for r in db_rows(root, "select status from shipments")} == {"pending"}
        assert recorder.confirmations == []
        brt.clock.advance(700)  # BRT registers the parcels (first scan: 701)
        wait_for(lambda: d2.proc.poll() is not None, 30, what="crash right after the first confirmation")
        assert len(recorder.confirmations) == 1

        # run 3: the rest is confirmed once; then delivery
        daemon_factory(cfg, env=env)
        wait_for(lambda: len(recorder.confirmations) >= 3, 30, what="all confirmations")
        brt.clock.advance(4 * 600)
        wait_for(lambda: db_rows(root, "select count(*) n from shipments where status = 'delivered'")[0]["n"] == 3,
                 40, what="delivered")
        orders = sorted(c["order_id"] for c in recorder.confirmations)
        assert orders == ["402-0000001-0000001", "402-0000002-0000002", "402-0000003-0000003"]
        assert all(c["package"]["carrierCode"] == "BRT" and c["package"]["packageReferenceId"] == "1"
                   for c in recorder.confirmations)
        pushes = db_rows(root, "select state, attempts from shipment_pushes")
        assert [(p["state"], p["attempts"]) for p in pushes] == [("pushed", 1)] * 3
        events = db_rows(root, "select new_status from shipment_events where old_status = 'pending'")
        assert len(events) == 3
        out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "shipments", "--all", "--json"],
                             capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
        assert out.returncode == 0, out.stderr
        listed = json.loads(out.stdout)
        assert len(listed) == 3 and {r["status"] for r in listed} == {"delivered"}
    finally:
        brt.shutdown()
        recorder.shutdown()
