"""ERP-supplied tracking numbers: the tracking inbox and manual-carrier lines in shipment files."""
from __future__ import annotations

import csv

from marketd.plugins.shipments.tracking import tracking_sync

from .conftest import RecordingChannel, add_order, drop, outputs


def rows(path):
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_tracking_inbox_pushes_once_even_when_the_file_comes_again(make_app, tmp_path):
    app = make_app()
    add_order(app, "402-111")
    add_order(app, "402-222")
    text = ("order,carrier,tracking_number,service,ship_date\n"
            "402-111,DHL,JJD000111,Paket,2026-11-02\n"
            "402-222,GLS,GLS222,,\n"
            "402-999,GLS,GLS999,,\n")
    rec = drop(app, tmp_path, "tracking-1.csv", text, kind="tracking")
    assert rec["state"] == "done", rec
    receipt = rows(outputs(app, "tracking/receipt-*.csv")[0])
    assert [r["result"] for r in receipt] == ["queued", "queued", "rejected"]
    tracking_sync(app)
    assert sorted((c[1], c[2]["trackingNumber"], c[2]["carrierCode"]) for c in RecordingChannel.calls) == [
        ("402-111", "JJD000111", "DHL"), ("402-222", "GLS222", "GLS")]
    first = RecordingChannel.calls[0][2]
    assert first["packageReferenceId"] == "1" and first["orderItems"] == [{"orderItemId": "402-111-1", "quantity": 1}]
    assert first["shipDate"].startswith("2026-11-02")
    # the same content again (a new file name, one more line): nothing pushed twice
    text2 = text + "402-111,DHL,JJD000111,Paket,2026-11-02\n"
    drop(app, tmp_path, "tracking-2.csv", text2.replace("2026-11-02\n402-222", "2026-11-02\n402-222", 1), kind="tracking")
    tracking_sync(app)
    tracking_sync(app)
    assert len(RecordingChannel.calls) == 2


def test_tracking_inbox_status_update_is_recorded_not_pushed(make_app, tmp_path):
    app = make_app()
    add_order(app, "402-111")
    drop(app, tmp_path, "t1.csv", "order,carrier,tracking_number\n402-111,DHL,JJD1\n", kind="tracking")
    tracking_sync(app)
    seen = []
    app.plugins.register(type("L", (), {"shipment_updated": staticmethod(
        __import__("marketd.hookspecs", fromlist=["hookimpl"]).hookimpl(
            lambda app, shipment, old_status, new_status: seen.append((old_status, new_status))))})(), "listener")
    drop(app, tmp_path, "t2.csv", "order,carrier,tracking_number,status\n402-111,DHL,JJD1,delivered\n", kind="tracking")
    row = next(app.store.db.query("select * from shipments"))
    assert row["status"] == "delivered" and row["final"] == 1
    assert seen == [("in_transit", "delivered")]
    assert len(RecordingChannel.calls) == 1


def test_shipment_file_line_with_manual_carrier_records_erp_tracking(make_app, tmp_path):
    app = make_app()
    add_order(app, "402-333")
    text = "order,carrier,carrier_code,tracking_number,weight_kg\n402-333,erp,DHL,JJD333,1.0\n"
    rec = drop(app, tmp_path, "ship.csv", text)
    assert rec["state"] == "done", rec
    manifest = rows(outputs(app, "labels/manifest-*.csv")[0])
    assert manifest[0]["tracking_number"] == "JJD333" and manifest[0]["label_file"] == ""
    import json

    summary = json.loads(rec["summary"])  # the ERP made the label: marketd wrote none
    assert (summary["parcels"], summary["labels"]) == (1, 0) and not outputs(app, "labels/print-*")
    tracking_sync(app)
    assert [(c[1], c[2]["trackingNumber"], c[2]["carrierCode"]) for c in RecordingChannel.calls] == [
        ("402-333", "JJD333", "DHL")]


def test_tracking_file_without_required_columns_is_rejected(make_app, tmp_path):
    app = make_app()
    rec = drop(app, tmp_path, "bad.csv", "order,number\n1,2\n", kind="tracking")
    assert rec["state"] == "error"
    assert "missing_column" in rec["error"]


def test_tracking_file_without_header_or_with_overlong_values(make_app, tmp_path, caplog):
    """A headerless tracking file does not echo its first row (the header check names no cell);
    an overlong value refuses its line without copying it anywhere."""
    import json
    import logging

    app = make_app()
    add_order(app, "402-111")
    with caplog.at_level(logging.DEBUG):
        rec = drop(app, tmp_path, "nohead.csv", "402-111,DHL,JJD000111,Mario Rossi\n", kind="tracking")
    err = json.loads(rec["error"])
    assert rec["state"] == "error" and err["reason"] == "missing_column", rec
    assert "Mario" not in json.dumps(err) and "JJD000111" not in json.dumps(err)
    assert not any("Mario" in r.getMessage() for r in caplog.records)
    long_number = "J" * 5000
    rec = drop(app, tmp_path, "long.csv", f"order,carrier,tracking_number\n402-111,DHL,{long_number}\n"
                                          "402-111,DHL,JJD1\n", kind="tracking")
    receipt = rows(outputs(app, "tracking/receipt-*long.csv")[0])
    assert [r["result"] for r in receipt] == ["rejected", "queued"]
    assert "tracking_number is 5000 characters long" in receipt[0]["detail"] and long_number not in str(receipt)
    assert app.store.db["shipments"].count == 1
