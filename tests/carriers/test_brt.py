"""BRT against its fake: create/confirm/delete, 200-with-error, delayed tracking, backoff, 429/5xx."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from marketd.carriers import Address, LabelFormat, Parcel, ShipmentRequest, TrackingStatus
from marketd.errors import TransientError
from marketd.sdk.labels import check_pdf_label, zpl_blocks
from marketd.plugins.shipments.tracking import tracking_sync

from .conftest import BRT_SETTINGS, SENDER, RecordingChannel, add_order, drop


def req(n=1, fmt=LabelFormat.PDF, zip_code="00184", seq=1, key="MTEST0000000001"):
    return ShipmentRequest(
        carrier="brt", parcels=[Parcel(Decimal("2.0")) for _ in range(n)],
        recipient=Address(name="Mario Rossi", street="Via Roma 1", postal_code=zip_code, city="Roma", province="RM",
                          country="IT"),
        sender=Address(**SENDER), label_format=fmt, references=["402-1"], idempotency_key=key, sequence=seq)


def test_create_returns_one_label_per_parcel(make_app, brt_fake):
    brt = make_app().carrier("brt")
    res = brt.create_shipment(req(3))
    assert res.ok, res.messages
    assert len(res.parcels) == 3 and len({p.tracking_number for p in res.parcels}) == 3
    for p in res.parcels:
        assert p.label.format == LabelFormat.PDF
        assert check_pdf_label(p.label.data) == [pytest.approx((100, 150), abs=0.5)]
    zres = brt.create_shipment(req(2, LabelFormat.ZPL, seq=2, key="MTEST0000000002"))
    assert all(len(zpl_blocks(p.label.data)) == 1 for p in zres.parcels)
    assert res.tracking_url.startswith("https://vas.brt.it/")


def test_http_200_with_error_inside_becomes_a_message(make_app):
    res = make_app().carrier("brt").create_shipment(req(zip_code="00000"))
    assert not res.ok
    assert res.errors and "ROUTING CALCULATION ERROR" in res.errors[0].text and res.errors[0].code == "-63"


def test_wrong_password_is_a_message_not_an_exception(make_app, monkeypatch):
    monkeypatch.setenv("BRT_PASSWORD", "wrong")
    res = make_app().carrier("brt").create_shipment(req())
    assert not res.ok and "401" in res.errors[0].text


def test_missing_secret_names_env_and_credential(make_app, monkeypatch):
    from marketd.errors import ConfigError

    monkeypatch.delenv("BRT_PASSWORD")
    with pytest.raises(ConfigError) as exc:
        make_app().carrier("brt").create_shipment(req())
    assert "BRT_PASSWORD" in str(exc.value) and "LoadCredential" in str(exc.value)


def test_explicit_confirm_mode_and_cancel(make_app, brt_fake, clock):
    brt_fake.auto_confirm = False
    app = make_app(carriers={"brt": {**BRT_SETTINGS, "confirm": "explicit",
                                     "transport": httpx.WSGITransport(app=brt_fake)}})
    brt = app.carrier("brt")
    res = brt.create_shipment(req())
    assert res.ok and not res.confirmed
    clock.advance(5 * 3600)
    assert not brt.track(res.tracking_number).found  # unconfirmed: never visible
    assert brt.confirm(res) == []
    assert brt.cancel(res) == []  # before pickup a delete works
    res2 = brt.create_shipment(req(seq=2, key="MTEST0000000002"))
    brt.confirm(res2)
    clock.advance(4 * 3600)
    msgs = brt.cancel(res2)
    assert msgs and "PICKED UP" in msgs[0].text


@pytest.mark.parametrize("delay", [600, 3 * 3600, 24 * 3600])
def test_pending_then_in_transit_then_delivered_on_the_fake_clock(make_app, brt_fake, clock, tmp_path, delay):
    brt_fake.tracking_delay = delay
    app = make_app()
    add_order(app, "402-1")
    rec = drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n402-1,brt,2.5\n")
    assert rec["state"] == "done", rec
    created = clock.now()
    seen, check_times = [], []
    for _ in range(24 * 12 * 3):  # three days in 5-minute rounds
        clock.advance(300)
        before = brt_fake.track_calls
        tracking_sync(app)
        if brt_fake.track_calls > before:
            check_times.append((clock.now() - created).total_seconds())
        row = next(app.store.db.query("select * from shipments"))
        seen.append(row["status"])
        if row["final"]:
            break
    assert row["status"] == "delivered" and row["open"] == 0 and row["delivered_at"]
    # never failed or unknown during the delay: pending until BRT knows the parcel
    first_moving = next(i for i, s in enumerate(seen) if s != "pending")
    assert (first_moving + 1) * 300 >= delay
    assert set(seen[:first_moving]) == {"pending"}
    events = [(e["old_status"], e["new_status"]) for e in app.store.db.query(
        "select * from shipment_events order by id")]
    assert events == [(None, "pending"), ("pending", "in_transit"), ("in_transit", "out_for_delivery"),
                      ("out_for_delivery", "delivered")]
    # backoff grows while pending: gaps between checks never shrink before the first scan
    pending_checks = [t for t in check_times if t < delay]
    gaps = [b - a for a, b in zip(pending_checks, pending_checks[1:])]
    assert gaps == sorted(gaps)
    assert brt_fake.track_calls == len(check_times) <= delay / 3600 + 12
    # pushed exactly once, after the first scan, with BRT's parcel ID
    assert len(RecordingChannel.calls) == 1
    name, order_id, package = RecordingChannel.calls[0]
    assert (name, order_id, package["carrierCode"]) == ("amazon-it", "402-1", "BRT")
    assert datetime.fromisoformat(package["shipDate"]) >= created
    # no more requests once final
    calls = brt_fake.track_calls
    clock.advance(86400)
    tracking_sync(app)
    assert brt_fake.track_calls == calls


def test_returned_parcel_is_reported_in_outbox_reports(make_app, brt_fake, clock, tmp_path):
    app = make_app()
    add_order(app, "402-9")
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n402-9,brt,1\n")
    pid = next(app.store.db.query("select tracking_number from shipments"))["tracking_number"]
    brt_fake.set_outcome(pid, "returned")
    for _ in range(60):
        clock.advance(1800)
        tracking_sync(app)
    row = next(app.store.db.query("select * from shipments"))
    assert row["status"] == "return_to_sender" and row["final"] == 1
    reports = sorted(app.outbox_dir.glob("reports/shipment-exceptions-*.csv"))
    text = "".join(p.read_text() for p in reports)
    assert "delivery_failed" in text and "return_to_sender" in text and pid in text


def test_5xx_and_429_are_retried_with_backoff(make_app, brt_fake, clock):
    brt = make_app().carrier("brt")
    res = brt.create_shipment(req())
    clock.advance(4 * 3600)
    brt_fake.fail_next(r"/tracking/", 503, times=2)
    brt_fake.fail_next(r"/tracking/", 429, times=1, headers={"Retry-After": "2"})
    slept = clock.slept
    t = brt.track(res.tracking_number)
    assert t.status == TrackingStatus.in_transit
    assert clock.slept > slept  # waited on the (fake) clock between attempts
    brt_fake.fail_next(r"/tracking/", 503, times=50)
    with pytest.raises(TransientError):
        brt.track(res.tracking_number)


def test_tracking_sync_survives_a_carrier_outage(make_app, brt_fake, clock, tmp_path):
    app = make_app()
    for i in range(5):
        add_order(app, f"402-{i}")
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n" + "".join(f"402-{i},brt,1\n" for i in range(5)))
    clock.advance(4 * 3600)
    brt_fake.fail_next(r"/tracking/", 503, times=10_000)
    stats = tracking_sync(app)
    assert stats["errors"] == 3 and stats["skipped"] == 2  # three strikes, then the rest waits
    rows = list(app.store.db.query("select * from shipments"))
    assert all(r["status"] == "pending" for r in rows)
    brt_fake.faults.clear()
    for _ in range(6):
        clock.advance(3600)
        tracking_sync(app)
    assert {r["status"] for r in app.store.db.query("select status from shipments")} != {"pending"}


def test_refused_tracking_credentials_are_errors_not_pending(make_app, clock, tmp_path, monkeypatch):
    app = make_app()
    add_order(app, "402-1")
    drop(app, tmp_path, "s.csv", "order,carrier,weight_kg\n402-1,brt,1\n")
    app.carrier("brt")._client = None
    monkeypatch.setenv("BRT_PASSWORD", "changed")
    clock.advance(3600)
    stats = tracking_sync(app)
    row = next(app.store.db.query("select * from shipments"))
    assert stats["errors"] == 1 and row["errors"] == 1 and "401" in row["last_error"]
    assert row["status"] == "pending" and row["pending_checks"] == 0


def test_brt_labels_per_parcel_with_sender_and_the_manifest_weights(make_app, brt_fake, tmp_path):
    """The file gave 1.2 and 3.4 kg: BRT takes one weight per shipment (4.6, printed as the
    shipment's weight on each label with "Collo i/n"), so the manifest row of each parcel
    carries that parcel's weight next to its label file; every label shows the sender block."""
    import csv

    from .conftest import add_order, drop, outputs
    from .label_text import pages_lines

    app = make_app()
    add_order(app, "402-1")
    rec = drop(app, tmp_path, "w.csv", "order,carrier,weight_kg\n402-1,brt,1.2|3.4\n")
    assert rec["state"] == "done", rec
    m = list(csv.DictReader(outputs(app, "labels/manifest-*.csv")[0].open(encoding="utf-8")))
    assert [(r["parcel"], r["weight_kg"]) for r in m] == [("1/2", "1.2"), ("2/2", "3.4")]
    for r in m:
        (shown,) = pages_lines((app.outbox_dir / "labels" / r["label_file"]).read_bytes())
        assert f"BRT {r['parcel_number']}" in shown and f"Collo {r['parcel']}" in shown
        assert "Peso spedizione 4.6 kg (2 colli)" in shown
        assert "Mittente: Negozio Srl, Via Milano 5, 20100 Milano MI" in shown
        assert r["label_file"].endswith(f"-{r['parcel'].replace('/', 'of')}.pdf")
