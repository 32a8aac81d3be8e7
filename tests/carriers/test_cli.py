"""``marketd shipments``: the listing a person reads (open shipments, state, the carrier's last answer)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from marketd.plugins.shipments.tracking import tracking_sync
from tests.conftest import write_config

from .conftest import BRT_SETTINGS, add_order, drop


def marketd(config, *args) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(config), "shipments", *args],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "BRT_PASSWORD": "x"})
    assert out.returncode == 0, out.stderr
    return out


def test_listing_shows_open_shipments_with_state_and_last_carrier_answer(make_app, brt_fake, clock, tmp_path):
    root = tmp_path / "inst"
    app = make_app(root=root)
    add_order(app, "402-1")
    add_order(app, "402-2")
    add_order(app, "402-3")
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n402-1,brt,1\n402-2,brt,1\n402-3,brt,1\n")
    rows = {r["refs"]: r for r in app.store.db.query("select key, refs, tracking_number from shipments")}
    failed_tn = rows['["402-2"]']["tracking_number"]
    brt_fake.set_outcome(failed_tn, "failed")  # ends with MIC (failed attempt): stays open
    for _ in range(30):
        clock.advance(1800)
        tracking_sync(app)
    app.close()
    # 402-4: a new shipment BRT does not know yet
    app = make_app(root=root)
    add_order(app, "402-4")
    drop(app, tmp_path, "s2.csv", "order,carrier,weight_kg\n402-4,brt,1\n")
    clock.advance(700)
    tracking_sync(app)
    app.close()
    config = write_config(root, carriers={"brt": {k: v for k, v in BRT_SETTINGS.items()}})

    text = marketd(config).stdout
    lines = text.splitlines()
    assert lines[0].split()[:6] == ["shipment", "orders", "carrier", "tracking", "status", "checks"]
    assert "last carrier answer" in lines[0]
    body = "\n".join(lines[1:])
    assert "402-1" not in body  # delivered and confirmed: closed
    failed = next(line for line in lines if "402-2" in line)
    assert "delivery_failed" in failed and failed_tn in failed and "MIC MANCATA CONSEGNA" in failed
    assert "amazon-it:pushed" in failed
    new = next(line for line in lines if "402-4" in line)
    assert " pending " in new and "not known to the carrier yet" in new and "amazon-it:waiting" in new

    listed = json.loads(marketd(config, "--all", "--json").stdout)
    assert {r["refs"]: r["status"] for r in listed} == {
        '["402-1"]': "delivered", '["402-2"]': "delivery_failed", '["402-3"]': "delivered", '["402-4"]': "pending"}
    assert all(r["last_answer"] and r["checks"] >= 1 for r in listed)

    shown = marketd(config, "show", failed_tn).stdout
    assert "status changes:" in shown and "in_transit -> out_for_delivery" in shown
    assert "out_for_delivery -> delivery_failed" in shown and "amazon-it:402-2: pushed (attempts 1" in shown
    assert marketd(config, "unresolved").stdout.strip() == "none"


def test_listing_never_cuts_a_value_and_sync_says_what_happened(make_app, brt_fake, clock, tmp_path):
    """Long channel names, several orders on a line and MALL-length barcodes were cut to fixed
    widths; `shipments sync` printed ``{}`` when nothing was due."""
    root = tmp_path / "inst"
    app = make_app(root=root, channels={"amazon_sandbox_italia": {"type": "recording"}})
    for oid in ("402-1234567-1234567", "402-7654321-7654321"):
        add_order(app, oid, channel="amazon_sandbox_italia")
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n402-1234567-1234567|402-7654321-7654321,brt,1\n")
    app.close()
    config = write_config(root, carriers={"brt": {k: v for k, v in BRT_SETTINGS.items()}},
                          channels={"amazon_sandbox_italia": {"type": "amazon", "marketplace": "IT"}})
    lines = marketd(config).stdout.splitlines()
    row = next(line for line in lines if "402-1234567" in line)
    assert "402-1234567-1234567|402-7654321-7654321" in row
    assert "amazon_sandbox_italia:waiting amazon_sandbox_italia:waiting" in row
    # the header's columns start where the values do
    assert lines[0].index("carrier") == row.index("brt") and lines[0].index("push") == row.index("amazon_sandbox")

    # the fake's base_url does not answer outside the test process: one check, one carrier error
    out = marketd(config, "sync").stdout.strip()
    assert out == "tracking sync: 1 checked at the carrier, 1 carrier errors", out
    out = marketd(config, "sync").stdout.strip()  # the next check waits for the error backoff
    assert out.startswith("tracking sync: nothing due; 1 open shipment(s), next check 20"), out
    assert json.loads(marketd(config, "sync", "--json").stdout) == {}
