"""A carrier refusal that was not the line's fault (a wrong base_url, refused credentials) says
so, and `marketd requeue` after the fix is a new attempt for the refused lines only: created
shipments are never sent to the carrier again."""
from __future__ import annotations

import csv

import httpx

from marketd.inbox import InboxEngine

from .conftest import BRT_SETTINGS, SENDER, add_order, drop, outputs


def read_csv(path):
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_requeue_calls_the_carrier_again_for_refused_lines_only(make_app, brt_fake, tmp_path):
    app = make_app(inbox={"concurrency": 1})
    for oid in ("402-1", "402-2", "402-3"):
        add_order(app, oid)
    brt_fake.fail_next(r"/shipments/shipment$", 404, times=1, method="POST", body="<html>Not Found</html>")
    rec = drop(app, tmp_path, "batch.csv", "order,carrier,weight_kg\n402-1,brt,1\n402-2,brt,2\n402-3,brt,3\n")
    assert rec["state"] == "done", rec
    assert brt_fake.creates == 2
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert [(r["line"], r["reason"]) for r in rejects] == [("2", "carrier_error")]
    fix = rejects[0]["fix"]
    assert "not this line's data" in fix and "base_url" in fix and f"marketd requeue {rec['id']}" in fix
    assert "address" not in fix and "other lines were shipped" not in fix

    app.clock.advance(5)
    again = InboxEngine(app).requeue(rec["id"])
    assert again["state"] == "done", again
    assert brt_fake.creates == 3 and brt_fake.duplicate_creates == 0  # only the refused line, once
    assert len(brt_fake.requests("POST", r"/shipments/shipment$")) == 4  # 3 first time (one refused) + 1
    manifest = read_csv(sorted(outputs(app, "labels/manifest-*.csv"))[-1])
    assert [(r["line"], r["status"]) for r in manifest] == [("2", "created"), ("3", "reused"), ("4", "reused")]
    assert app.store.db["shipments"].count == 3 and app.store.db["shipment_pushes"].count == 3

    app.clock.advance(5)
    third = InboxEngine(app).requeue(again["id"])
    assert third["state"] == "done" and brt_fake.creates == 3  # everything shipped: nothing is called


def test_a_re_run_of_the_same_claim_reuses_the_refusal(make_app, brt_fake, tmp_path, monkeypatch):
    """Within one claim (a retry after a transient error, a restart after a crash) a refused line
    is not sent again: only a requeue — a person decided — is a new attempt."""
    import marketd.inbox as inbox_mod

    app = make_app(inbox={"concurrency": 1})
    add_order(app, "402-1")
    add_order(app, "402-2")
    brt_fake.fail_next(r"/shipments/shipment$", 404, times=1, method="POST")
    calls = {"n": 0}

    class Stop(BaseException):
        pass

    def crashpoint(name):
        if name == "shipments_after_ledger":
            calls["n"] += 1
            if calls["n"] == 2:
                raise Stop()

    monkeypatch.setattr(inbox_mod, "crashpoint", crashpoint)
    src = tmp_path / "drops" / "rerun.csv"
    src.parent.mkdir(parents=True)
    src.write_text("order,carrier,weight_kg\n402-1,brt,1\n402-2,brt,2\n")
    try:
        InboxEngine(app).adopt("shipments", src)
    except Stop:
        pass
    monkeypatch.setattr(inbox_mod, "crashpoint", lambda name: None)
    engine = InboxEngine(app)
    engine.recover()
    engine.run_once()
    row = next(app.store.db.query("select * from files"))
    assert row["state"] == "done", row
    assert len(brt_fake.requests("POST", r"/shipments/shipment$")) == 2  # the refused line was not sent again
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert [r["line"] for r in rejects] == ["2"]


def test_reject_reasons_say_whether_other_lines_shipped(make_app, brt_fake, tmp_path):
    app = make_app(inbox={"concurrency": 1})
    add_order(app, "402-1")
    drop(app, tmp_path, "none.csv", "order,carrier,weight_kg\n402-1,brt,abc\n")
    only = read_csv(outputs(app, "labels/rejects-*none.csv")[0])
    assert "no line of this file was shipped" in only[0]["fix"] and "other line" not in only[0]["fix"]
    drop(app, tmp_path, "some.csv", "order,carrier,weight_kg\n402-1,brt,abc\n402-1,brt,1\n")
    some = read_csv(outputs(app, "labels/rejects-*some.csv")[0])
    assert "1 other line(s) of this file were shipped" in some[0]["fix"]


def test_business_refusals_still_ask_to_correct_the_line(make_app, brt_fake, tmp_path):
    app = make_app()
    add_order(app, "402-4", ship_to={"name": "Luca", "addressLine1": "Via Po 2", "city": "Torino",
                                     "postalCode": "00000", "stateOrRegion": "TO", "countryCode": "IT"})
    drop(app, tmp_path, "routing.csv", "order,carrier,weight_kg\n402-4,brt,1\n")
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert "ROUTING CALCULATION ERROR" in rejects[0]["message"]
    assert rejects[0]["fix"].startswith("correct the line (address, CAP/province, weight)")


def test_refused_credentials_are_an_account_problem(make_app, brt_fake, tmp_path, monkeypatch):
    monkeypatch.setenv("BRT_PASSWORD", "wrong")
    app = make_app(carriers={"brt": {**BRT_SETTINGS, "sender": SENDER,
                                     "transport": httpx.WSGITransport(app=brt_fake)}})
    add_order(app, "402-1")
    rec = drop(app, tmp_path, "creds.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    rejects = read_csv(outputs(app, "labels/rejects-*.csv")[0])
    assert "HTTP 401" in rejects[0]["message"]
    assert "password credential" in rejects[0]["fix"] and f"marketd requeue {rec['id']}" in rejects[0]["fix"]
