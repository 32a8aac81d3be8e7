"""The shipments inbox: bad lines do not stop good ones, labels per parcel plus one print run,
a manifest, and no shipment created twice at the carrier when a file is processed again."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from marketd.sdk.labels import check_pdf_label, zpl_blocks

from .conftest import BRT_SETTINGS, SENDER, add_order, drop, outputs

REPO = Path(__file__).resolve().parents[2]


def read_csv(path):
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_bad_lines_are_rejected_and_the_others_ship(make_app, brt_fake, tmp_path):
    app = make_app()
    for oid in ("402-1", "402-2", "402-3"):
        add_order(app, oid)
    add_order(app, "402-4", ship_to={"name": "Luca", "addressLine1": "Via Po 2", "city": "Torino",
                                     "postalCode": "00000", "stateOrRegion": "TO", "countryCode": "IT"})
    text = ("order;carrier;weight_kg;parcel_count;length_cm;width_cm;height_cm\n"
            "402-1;brt;2,5;2;30;20;10\n"
            "402-404;brt;1;1;;;\n"          # unknown order
            "402-2;brt;abc;1;;;\n"           # bad weight
            "402-4;brt;1;1;;;\n"             # BRT says ROUTING CALCULATION ERROR (HTTP 200)
            "402-3;nocarrier;1;1;;;\n"       # unknown carrier account
            "402-3;brt;1|2|3;;;;\n")         # three parcels, one weight each
    rec = drop(app, tmp_path, "batch.csv", text)
    assert rec["state"] == "done", rec
    summary = json.loads(rec["summary"])
    assert (summary["lines"], summary["shipped"], summary["rejected"], summary["parcels"]) == (6, 2, 4, 5)
    m = read_csv(outputs(app, "labels/manifest-*.csv")[0])
    assert [(r["line"], r["status"]) for r in m] == [
        ("2", "created"), ("2", "created"), ("3", "rejected"), ("4", "rejected"), ("5", "rejected"),
        ("6", "rejected"), ("7", "created"), ("7", "created"), ("7", "created")]
    assert "unknown_order" in m[2]["reason"] and "weight_kg" in m[3]["reason"]
    assert "ROUTING CALCULATION ERROR" in m[4]["reason"] and "unknown_carrier" in m[5]["reason"]
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert [r["line"] for r in rejects] == ["3", "4", "5", "6"] and all(r["fix"] for r in rejects)
    # one label per parcel, private; one print run with one 100x150 page per parcel
    labels = outputs(app, "labels/*-batch/*.pdf")
    assert len(labels) == 5 and all((p.stat().st_mode & 0o777) == 0o600 for p in labels)
    assert {r["label_file"] for r in m if r["status"] == "created"} == {
        str(p.relative_to(app.outbox_dir / "labels")) for p in labels}
    printed = outputs(app, "labels/print-*.pdf")[0].read_bytes()
    assert len(PdfReader(io.BytesIO(printed)).pages) == 5
    for w, h in check_pdf_label(printed):
        assert w == pytest.approx(100, abs=0.5) and h == pytest.approx(150, abs=0.5)
    assert brt_fake.creates == 2
    assert app.store.db["shipments"].count == 2 and app.store.db["shipment_pushes"].count == 2


def test_zpl_print_run(make_app, tmp_path):
    app = make_app()
    add_order(app, "402-1")
    add_order(app, "402-2")
    drop(app, tmp_path, "z.csv", "order,carrier,weight_kg,parcel_count,label_format\n402-1,brt,1,2,ZPL\n402-2,brt,1,1,zpl\n")
    z = outputs(app, "labels/print-*.zpl")[0].read_text()
    assert z.startswith("^XA") and z.rstrip().endswith("^XZ") and len(zpl_blocks(z)) == 3
    files = outputs(app, "labels/*-z/*.zpl")
    assert len(files) == 3 and all(f.read_text().startswith("^XA") for f in files)


def test_examples_in_config_are_valid(make_app, mall_fake, tmp_path):
    """config/examples/shipments.csv and .json ship as documented (each on its own instance: they
    ship the same orders, and a second shipment of an order is refused as `already_shipped`)."""
    for name in ("shipments.csv", "shipments.json"):
        app = make_app(root=tmp_path / f"inst-{name}")
        add_order(app, "402-1234567-1234567")
        add_order(app, "402-7654321-7654321")
        add_order(app, "171-5550001-0000001")
        if 32100001 not in mall_fake.orders:
            mall_fake.add_order(32100001)
        add_order(app, "32100001", channel="mall-cz", channel_type="mall",
                  ship_to={"name": "Jana", "street": "Dlouha 1", "zip": "11000", "city": "Praha", "country": "CZ"},
                  items=[{"id": "S", "quantity": 1, "package_size": "smallbox"}], raw={"mdp": True})
        src = REPO / "config" / "examples" / name
        dst = tmp_path / "drops" / f"example-{name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        from marketd.inbox import InboxEngine

        rec = InboxEngine(app).adopt("shipments", dst)
        assert rec["state"] == "done", rec
        summary = json.loads(rec["summary"])
        assert summary["rejected"] == 0 and summary["shipped"] >= 2, summary


class SimulatedCrash(BaseException):
    """Escapes every ``except Exception`` like a kill -9 would (the transaction rolls back)."""


def test_crash_mid_file_never_creates_a_shipment_twice(make_app, brt_fake, tmp_path, monkeypatch):
    import marketd.plugins.shipments.handler as handler_mod  # where the handler calls crashpoint
    from marketd.inbox import InboxEngine

    root = tmp_path / "inst"
    app = make_app(root=root, inbox={"concurrency": 1})  # deterministic: the crash comes after line 3
    for i in range(5):
        add_order(app, f"402-{i}")
    src = tmp_path / "drops" / "crash.csv"
    src.parent.mkdir(parents=True)
    src.write_text("order,carrier,weight_kg\n" + "".join(f"402-{i},brt,1\n" for i in range(5)))
    calls = {"n": 0}

    def crashpoint(name):
        if name == "shipments_after_ledger":
            calls["n"] += 1
            if calls["n"] == 3:
                raise SimulatedCrash()

    monkeypatch.setattr(handler_mod, "crashpoint", crashpoint)
    with pytest.raises(SimulatedCrash):
        InboxEngine(app).adopt("shipments", src)
    assert brt_fake.creates == 3
    assert app.store.db["shipments"].count == 0  # rolled back with the file's transaction
    assert not list(app.outbox_dir.glob("labels/**/*.pdf"))
    monkeypatch.setattr(handler_mod, "crashpoint", lambda name: None)
    app.close()
    app2 = make_app(root=root, inbox={"concurrency": 1})  # the restarted daemon
    engine = InboxEngine(app2)
    engine.recover()
    engine.run_once()
    row = next(app2.store.db.query("select * from files"))
    assert row["state"] == "done", row
    assert brt_fake.creates == 5 and brt_fake.duplicate_creates == 0
    assert len(brt_fake.live_shipments()) == 5
    assert app2.store.db["shipments"].count == 5
    assert len(outputs(app2, "labels/*-crash/*.pdf")) == 5
    m = read_csv(outputs(app2, "labels/manifest-*.csv")[0])
    assert [r["status"] for r in m] == ["reused", "reused", "reused", "created", "created"]


def test_crash_during_the_carrier_call_is_recovered_without_a_duplicate(make_app, brt_fake, tmp_path, monkeypatch):
    """The daemon dies after BRT stored the shipment but before the answer was recorded."""
    from marketd.inbox import InboxEngine

    root = tmp_path / "inst"
    state = {"armed": True}

    def dying_transport(request):
        resp = httpx.WSGITransport(app=brt_fake).handle_request(request)
        if state["armed"] and request.method == "POST":
            state["armed"] = False
            raise SimulatedCrash()
        return resp

    app = make_app(root=root, carriers={"brt": {**BRT_SETTINGS, "sender": SENDER,
                                                "transport": httpx.MockTransport(dying_transport)}})
    add_order(app, "402-1")
    src = tmp_path / "drops" / "inflight.csv"
    src.parent.mkdir(parents=True)
    src.write_text("order,carrier,weight_kg\n402-1,brt,1\n")
    with pytest.raises(SimulatedCrash):
        InboxEngine(app).adopt("shipments", src)
    assert len(brt_fake.live_shipments()) == 1
    app.close()
    app2 = make_app(root=root, carriers={"brt": {**BRT_SETTINGS, "sender": SENDER,
                                                 "transport": httpx.MockTransport(dying_transport)}})
    engine = InboxEngine(app2)
    engine.recover()
    engine.run_once()
    assert next(app2.store.db.query("select state from files"))["state"] == "done"
    assert len(brt_fake.live_shipments()) == 1  # the in-flight one was deleted by reference and made again
    assert app2.store.db["shipments"].count == 1


def test_requeue_reprints_without_calling_the_carrier(make_app, brt_fake, tmp_path):
    from marketd.inbox import InboxEngine

    app = make_app()
    add_order(app, "402-1")
    rec = drop(app, tmp_path, "r.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    app.clock.advance(5)
    again = InboxEngine(app).requeue(rec["id"])
    assert again["state"] == "done", again
    assert brt_fake.creates == 1
    manifests = outputs(app, "labels/manifest-*.csv")
    assert len(manifests) == 2 and read_csv(manifests[-1])[0]["status"] == "reused"
    assert len(outputs(app, "labels/print-*.pdf")) == 2
    assert app.store.db["shipment_pushes"].count == 1


def test_recipient_from_columns_and_missing_address(make_app, tmp_path):
    app = make_app(inbox={"require_known_order": False})
    add_order(app, "402-1", ship_to={})
    text = ("order,carrier,weight_kg,recipient_name,recipient_street,recipient_zip,recipient_city,recipient_province,"
            "recipient_country\n"
            "WEB-1,brt,1,Anna Bianchi,Via Verdi 3,20121,Milano,MI,IT\n"
            "402-1,brt,1,,,,,,\n")
    drop(app, tmp_path, "addr.csv", text)
    m = read_csv(outputs(app, "labels/manifest-*.csv")[0])
    assert m[0]["status"] == "created" and "not in the store" in m[0]["reason"]
    assert m[1]["status"] == "rejected" and "recipient lacks street" in m[1]["reason"]


def test_file_without_order_column_is_rejected(make_app, tmp_path):
    app = make_app()
    rec = drop(app, tmp_path, "bad.csv", "foo,weight_kg\n1,2\n")
    assert rec["state"] == "error" and "missing_column" in rec["error"]
    rec = drop(app, tmp_path, "cut.json", '{"shipments": [{"order": "1", "carrier": "brt"')
    assert rec["state"] == "error" and "json_syntax" in rec["error"]


def test_carrier_calls_run_concurrently_and_outputs_stay_in_line_order(make_app, brt_fake, tmp_path):
    brt_fake.latency = 0.2
    app = make_app(inbox={"concurrency": 8})
    for i in range(16):
        add_order(app, f"402-{i}")
    rec = drop(app, tmp_path, "par.csv", "order,carrier,weight_kg\n" + "".join(f"402-{i},brt,1\n" for i in range(16)))
    assert rec["state"] == "done"
    assert 4 <= brt_fake.max_in_flight <= 8  # several carrier calls at once, never more than `concurrency`
    m = read_csv(outputs(app, "labels/manifest-*.csv")[0])
    assert [r["order"] for r in m] == [f"402-{i}" for i in range(16)]
    assert brt_fake.creates == 16
    refs = sorted(s["key"][1] for s in brt_fake.live_shipments())
    assert len(set(refs)) == 16  # every numeric sender reference unique


def test_explicit_confirm_refused_deletes_the_shipment_and_rejects_only_that_line(make_app, brt_fake, tmp_path):
    """``confirm = "explicit"``: create, then PUT /shipments/shipment; a refusal deletes it again."""
    brt_fake.auto_confirm = False
    app = make_app(carriers={"brt": {**BRT_SETTINGS, "confirm": "explicit", "sender": SENDER,
                                     "transport": httpx.WSGITransport(app=brt_fake)}},
                   inbox={"concurrency": 1})
    add_order(app, "402-1")
    add_order(app, "402-2")
    brt_fake.fail_next(r"/shipments/shipment$", 200, method="PUT", body={"confirmResponse": {"executionMessage": {
        "code": -30, "severity": "ERROR", "codeDesc": "CONFIRM NOT ALLOWED", "message": "shipment data incomplete"}}})
    rec = drop(app, tmp_path, "explicit.csv", "order,carrier,weight_kg\n402-1,brt,1\n402-2,brt,2\n")
    assert rec["state"] == "done", rec
    m = read_csv(outputs(app, "labels/manifest-*.csv")[0])
    assert [(r["order"], r["status"]) for r in m] == [("402-1", "rejected"), ("402-2", "created")]
    assert "carrier_error" in m[0]["reason"] and "CONFIRM NOT ALLOWED" in m[0]["reason"]
    # at BRT: the refused one was deleted by its references, the other one confirmed
    assert len(brt_fake.requests("PUT", r"/shipments/delete$")) == 1
    live = brt_fake.live_shipments()
    assert len(live) == 1 and live[0]["confirmed_at"] is not None and live[0]["data"]["weightKG"] == 2
    assert len(brt_fake.requests("PUT", r"/shipments/shipment$")) == 2
    # nothing recorded for the refused line: no shipment to track, no label printed for it
    assert app.store.db["shipments"].count == 1 and app.store.db["shipment_pushes"].count == 1
    assert len(outputs(app, "labels/*-explicit/*.pdf")) == 1
    from marketd.plugins.shipments.ledger import Ledger

    states = sorted(r["state"] for r in Ledger.for_app(app).conn.execute("select state from calls"))
    assert states == ["done", "failed"]
