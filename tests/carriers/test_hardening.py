"""Adversarial shipment files and carrier answers: every bad line is refused on its own (with the
line and the column), nothing ships twice by accident, personal data stays out of logs and out
of world-readable files, and odd carrier answers never break a whole file or a tracking round."""
from __future__ import annotations

import csv
import json
import logging
import os

import pytest

from marketd.errors import TransientError
from marketd.plugins.shipments.tracking import tracking_sync

from .conftest import add_order, drop, outputs
from .test_mall import mall_order


def read_csv(path):
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_absurd_weights_and_dimensions_reject_the_line_not_the_file(make_app, brt_fake, tmp_path):
    """``1e30`` is a valid Decimal; it used to reach BRT's payload builder and fail the whole file."""
    app = make_app(inbox={"concurrency": 1})
    for i in range(4):
        add_order(app, f"402-{i}")
    text = ("order;carrier;weight_kg;length_cm;width_cm;height_cm\n"
            "402-0;brt;1e30;;;\n"
            "402-1;brt;1;1e30;1e30;1e30\n"
            "402-2;brt;250000;;;\n"
            "402-3;brt;1,5;30;20;10\n")
    rec = drop(app, tmp_path, "absurd.csv", text)
    assert rec["state"] == "done", rec
    m = read_csv(outputs(app, "labels/manifest-*.csv")[0])
    assert [(r["line"], r["status"]) for r in m] == [("2", "rejected"), ("3", "rejected"), ("4", "rejected"),
                                                     ("5", "created")]
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert [(r["line"], r["column"]) for r in rejects] == [("2", "weight_kg"), ("3", "length_cm"),
                                                           ("4", "weight_kg")]
    assert all(r["reason"] == "invalid_line" and r["fix"] for r in rejects)
    assert brt_fake.creates == 1
    assert brt_fake.shipments[next(iter(brt_fake.shipments))]["data"]["weightKG"] == 1.5


def test_bad_values_name_their_column(make_app, tmp_path):
    app = make_app()
    for i in range(5):
        add_order(app, f"402-{i}")
    text = ("order,carrier,weight_kg,parcel_count,cod_amount,cod_currency\n"
            "402-0,brt,1,abc,,\n"
            "402-1,brt,1,2.5,,\n"
            "402-2,brt,1,0,,\n"
            "402-3,brt,1,1,12x,EUR\n"
            "402-4,brt,,1,,\n")
    drop(app, tmp_path, "cols.csv", text)
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    got = [(r["line"], r["column"]) for r in rejects]
    assert got == [("2", "parcel_count"), ("3", "parcel_count"), ("4", "parcel_count"), ("5", "cod_amount"),
                   ("6", "weight_kg")]
    assert "parcel_count" in rejects[0]["message"] and "invalid literal" not in rejects[0]["message"]


def test_json_lines_name_their_field(make_app, tmp_path):
    app = make_app()
    add_order(app, "402-1")
    add_order(app, "402-2")
    doc = {"shipments": [
        {"order": "402-1", "carrier": "brt", "parcels": [{"weight_kg": 1}, {"weight_kg": "x"}]},
        {"order": "402-2", "carrier": "brt", "parcels": [{"weight_kg": 2, "height_cm": -3}]},
    ]}
    drop(app, tmp_path, "cols.json", json.dumps(doc))
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert [(r["line"], r["column"]) for r in rejects] == [("1", "parcels[2].weight_kg"), ("2", "parcels[1].height_cm")]


def test_an_order_shipped_before_is_not_shipped_again_unless_asked(make_app, brt_fake, tmp_path):
    """An ERP that re-exports yesterday's orders in a new file (one changed byte is enough to pass
    the duplicate-file check) must not get a second BRT shipment and a second confirmShipment."""
    app = make_app(inbox={"concurrency": 1})
    add_order(app, "402-1")
    add_order(app, "402-2")
    drop(app, tmp_path, "a.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    rec = drop(app, tmp_path, "b.csv", "order,carrier,weight_kg,reship\n"
                                       "402-1,brt,1,\n"       # shipped in a.csv
                                       "402-2,brt,1,\n"
                                       "402-2,brt,3,\n"       # same order twice in this file
                                       "402-1,brt,2,yes\n")   # explicitly a second shipment
    assert rec["state"] == "done", rec
    m = read_csv(outputs(app, "labels/manifest-*-b.csv")[0])
    assert [(r["line"], r["status"]) for r in m] == [("2", "rejected"), ("3", "created"), ("4", "rejected"),
                                                     ("5", "created")]
    rejects = read_csv(outputs(app, "labels/rejects-*-b.csv")[0])
    assert [r["reason"] for r in rejects] == ["already_shipped", "already_shipped"]
    assert "a.csv" in rejects[0]["message"] and "line 3" in rejects[1]["message"]
    assert "reship" in rejects[0]["fix"]
    assert brt_fake.creates == 3
    pushes = list(app.store.db.query("select order_key, package_ref from shipment_pushes order by rowid"))
    assert [(p["order_key"], p["package_ref"]) for p in pushes] == [
        ("amazon-it:402-1", "1"), ("amazon-it:402-2", "1"), ("amazon-it:402-1", "2")]


def test_reship_check_can_be_switched_off_and_requeue_still_reuses(make_app, brt_fake, tmp_path):
    from marketd.inbox import InboxEngine

    app = make_app(inbox={"allow_reship": True})
    add_order(app, "402-1")
    drop(app, tmp_path, "a.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    rec = drop(app, tmp_path, "b.csv", "order,carrier,weight_kg\n402-1,brt,2\n")
    assert json.loads(rec["summary"])["created"] == 1
    app2 = make_app(root=tmp_path / "other")
    add_order(app2, "402-9")
    rec = drop(app2, tmp_path, "c.csv", "order,carrier,weight_kg\n402-9,brt,1\n")
    app2.clock.advance(5)
    again = InboxEngine(app2).requeue(rec["id"])  # its own shipment is not a "previous" one
    assert json.loads(again["summary"])["reused"] == 1


def test_manifest_and_rejects_are_not_world_readable(make_app, tmp_path):
    app = make_app()
    add_order(app, "402-1")
    drop(app, tmp_path, "priv.csv", "order,carrier,weight_kg\n402-1,brt,1\n402-404,brt,1\n")
    for pattern in ("labels/manifest-*.csv", "labels/rejects-*.csv"):
        path = outputs(app, pattern)[0]
        assert path.stat().st_mode & 0o077 == 0, (pattern, oct(path.stat().st_mode))


def test_carrier_ledger_is_not_world_readable(make_app, tmp_path):
    """The ledger keeps the request (recipient address) and the label bytes of every call."""
    old = os.umask(0o022)
    try:
        app = make_app()
        add_order(app, "402-1")
        drop(app, tmp_path, "l.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    finally:
        os.umask(old)
    ledger = app.state_dir / "carrier-ledger.sqlite"
    assert ledger.exists() and ledger.stat().st_mode & 0o077 == 0, oct(ledger.stat().st_mode)


def test_logs_carry_no_buyer_address_name_or_email(make_app, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app()
    long_street = "Via Lunghissima Del Corso Vittorio Emanuele Secondo 123"
    add_order(app, "402-1", ship_to={"name": "Mario Rossi", "addressLine1": long_street, "city": "Roma",
                                     "postalCode": "00184", "stateOrRegion": "RM", "countryCode": "IT",
                                     "email": "mario.rossi@example.com"})
    add_order(app, "402-2", ship_to={"name": "Anna Verdi", "addressLine1": "Via Po 2", "city": "Frosinone",
                                     "postalCode": "00000", "stateOrRegion": "FR", "countryCode": "IT",
                                     "email": "anna.verdi@example.com"})
    text = ("order,carrier,weight_kg,recipient_name,recipient_street,recipient_zip,recipient_city,"
            "recipient_province,recipient_country,recipient_email\n"
            "402-1,brt,1,,,,,,,\n"
            "402-2,brt,1,,,,,,,\n"
            "WEB-7,brt,1,Giulia Neri,Piazza Garibaldi 9,20121,Milano,MILANO,IT,giulia@example.com\n")
    rec = drop(app, tmp_path, "pii.csv", text)
    assert rec["state"] == "done", rec
    assert len(read_csv(outputs(app, "labels/rejects-*.csv")[0])) == 3
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rejected" in logged
    for secret in (long_street, "Mario Rossi", "mario.rossi@example.com", "Anna Verdi", "Frosinone",
                   "Giulia Neri", "Piazza Garibaldi", "giulia@example.com", "MILANO"):
        assert secret not in logged, secret


def test_manifest_cells_cannot_start_a_formula(make_app, tmp_path):
    app = make_app(inbox={"require_known_order": False})
    text = ("order,carrier,weight_kg,recipient_name,recipient_street,recipient_zip,recipient_city,"
            "recipient_province,recipient_country\n"
            "\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",brt,1,=cmd|' /C calc'!A0,Via Roma 1,00184,Roma,RM,IT\n"
            "@SUM(1),brt,abc,Anna,Via Roma 1,00184,Roma,RM,IT\n")
    rec = drop(app, tmp_path, "f.csv", text)
    assert rec["state"] == "done", rec
    for pattern in ("labels/manifest-*.csv", "labels/rejects-*.csv"):
        for row in csv.reader(outputs(app, pattern)[0].open(encoding="utf-8")):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), (pattern, cell)


# -- MALL ----------------------------------------------------------------------------------------
def test_mall_iso_dates_without_offset_do_not_break_the_tracking_round(make_app, mall_fake, tmp_path):
    """MALL documents ``Y-m-d H:i:s``; an ISO date without offset used to come back naive and the
    round crashed comparing it with the aware ones (every later shipment waited)."""
    app = make_app()
    mall_order(app, mall_fake, 7001)
    add_order(app, "402-1")
    drop(app, tmp_path, "m.csv", "order,carrier,weight_kg\n7001,mall,1\n402-1,brt,1\n")
    o = mall_fake.orders[7001]
    o["status"], o["shipped"] = "shipped", "2026-11-02 12:00:00"
    o["consignment_status_history"] = [{"status": "RECEIVED", "date": "2026-11-02T12:05:00"}]
    app.clock.advance(3600)
    tracking_sync(app)
    row = next(app.store.db.query("select * from shipments where carrier = 'mall'"))
    assert row["status"] == "in_transit"
    from datetime import datetime

    first = datetime.fromisoformat(row["first_scan_at"])
    assert first.utcoffset() is not None


def test_mall_limited_envelope_is_transient_even_with_http_200(make_app, mall_fake):
    app = make_app()
    mall_fake.add_order(7002, status="shipping")
    mall_fake.fail_next(r"/v1/orders/7002$", 200, times=5, body={
        "result": {"code": 429, "status": "LIMITED", "message": "daily limit for orders reached"}, "data": None})
    carrier = app.carrier("mall")
    with pytest.raises(TransientError):
        carrier.track("7002")


def test_mall_refuses_a_non_numeric_order_id_without_calling_mall(make_app, mall_fake, tmp_path):
    app = make_app(inbox={"require_known_order": False})
    text = ("order,carrier,weight_kg,recipient_name,recipient_street,recipient_zip,recipient_city,recipient_country\n"
            "../products/1,mall,1,Jana,Dlouha 1,11000,Praha,CZ\n")
    drop(app, tmp_path, "m.csv", text)
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert rejects[0]["reason"] == "carrier_check" and "MALL order" in rejects[0]["message"]
    assert not [r for r in mall_fake.journal if "products" in r.path]
