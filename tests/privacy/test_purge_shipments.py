"""The buyer data purge reaches the shipments plugin's copies and the archived input files:
the carrier-call ledger's request (the recipient's name, street, phone) is scrubbed and its
label bytes dropped, the label files and the file's print sheet deleted, the ledger's database
file no longer holds the street; the other order's copies stay; archived shipment and payout
files past the retention are deleted and recorded without their content."""
from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from marketd.app import App
from marketd.config import default_config
from marketd.sdk.testing import run_job

from tests.carriers.conftest import BRT_SETTINGS, SENDER, add_order, drop, plugin_modules
from tests.carriers.conftest import brt_fake, clock, mall_fake, secrets_env  # noqa: F401  (fixtures)

STREET = "Purgeweg 7"
NAME = "Hildegard Purgewitz"


@pytest.fixture
def app(tmp_path, clock, brt_fake, secrets_env):  # noqa: F811
    import marketd.plugins.privacy as privacy

    cfg = default_config(tmp_path / "inst")
    cfg["carriers"] = {"brt": {**BRT_SETTINGS, "transport": httpx.WSGITransport(app=brt_fake), "sender": SENDER}}
    cfg["channels"] = {"amazon-it": {"type": "recording"}}
    cfg["jobs"] = {"privacy-purge": {"buyer_data_days": 30}}
    a = App(cfg, clock=clock, load_entry_points=False, extra_plugins={**plugin_modules(), "privacy": privacy})
    yield a
    a.close()


def _ledger_rows(app) -> dict:
    con = sqlite3.connect(Path(app.state_dir) / "carrier-ledger.sqlite")
    try:
        calls = {k: json.loads(r) for k, r in con.execute("select key, request from calls")}
        labels = {k for (k,) in con.execute("select key from call_labels")}
    finally:
        con.close()
    return {"calls": calls, "labels": labels}


def _age(path: Path, days: float) -> None:
    t = time.time() - days * 86400
    os.utime(path, (t, t))


def test_purged_orders_leave_no_address_in_ledger_labels_or_archives(app, tmp_path, clock):  # noqa: F811
    add_order(app, "404-1", ship_to={"name": NAME, "addressLine1": STREET, "city": "Roma", "postalCode": "00184", "stateOrRegion": "RM",
                                     "countryCode": "IT", "phone": "+39060000001"})
    add_order(app, "404-2")   # Mario Rossi, Via Roma 1: not due yet
    rec = drop(app, tmp_path, "ship.csv", "order,carrier,weight_kg\n404-1,brt,1\n404-2,brt,1\n")
    assert rec["state"] == "done", rec
    shipments = {json.loads(r["order_keys"])[0]: r["key"] for r in app.store.db.query("select * from shipments")}
    mine, other = shipments["amazon-it:404-1"], shipments["amazon-it:404-2"]
    labels = {r["shipment_key"]: r["label_file"] for r in app.store.db.query("select * from shipment_parcels")}
    files = {k: Path(app.outbox.final_path(v)) for k, v in labels.items()}
    sheet = next(app.outbox_dir.glob("labels/print-*.pdf"))
    assert all(f.exists() for f in files.values()) and sheet.exists()
    before = _ledger_rows(app)
    assert STREET in json.dumps(before["calls"][mine]) and mine in before["labels"]

    # 404-1 shipped long ago; the archived shipment file is old too
    clock.advance(45 * 86400)
    app.store.upsert_order({"key": "amazon-it:404-1", "channel": "amazon-it", "order_id": "404-1", "status": "SHIPPED",
                            "updated_at": (clock.now() - timedelta(days=40)).isoformat()})
    archived = [p for p in (app.inbox_dir / "shipments" / ".done").iterdir()]
    assert archived
    for day in archived:
        _age(day, 40)
    assert run_job(app, "privacy-purge") is None

    after = _ledger_rows(app)
    assert STREET not in json.dumps(after["calls"][mine]) and NAME not in json.dumps(after["calls"][mine])
    assert mine not in after["labels"] and other in after["labels"]
    assert "Via Roma 1" in json.dumps(after["calls"][other])          # the other order keeps its copies
    assert not files[mine].exists() and files[other].exists()
    assert not sheet.exists()                                           # the sheet held 404-1's label too
    assert app.store.db.execute("select label_file from shipment_parcels where shipment_key = ?",
                                [mine]).fetchone()[0] == ""
    ledger_bytes = b"".join(p.read_bytes() for p in Path(app.state_dir).glob("carrier-ledger.sqlite*"))
    assert STREET.encode() not in ledger_bytes and NAME.encode() not in ledger_bytes
    # the shipment itself stays for tracking and the marketplace confirmation
    assert app.store.db.execute("select tracking_number from shipments where key = ?", [mine]).fetchone()[0]
    # the archived input file (addresses) went, recorded by path only
    assert not any(p.exists() for p in archived)
    items = [r["item"] for r in app.store.db.query("select * from purged_files")]
    assert items and all(i.startswith("shipments/.done/") for i in items)
    from marketd.plugins.privacy import status_sections

    assert f"{len(items)} archived input file(s) with buyer data removed" in status_sections(app)["Buyer data"]
    assert run_job(app, "privacy-purge") is None                       # again: nothing more
    assert len(list(app.store.db.query("select * from purged_files"))) == len(items)
