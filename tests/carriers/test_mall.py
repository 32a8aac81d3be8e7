"""MALL Delivery against the MALL fake: the smallbox rule, labels, and status read from MALL."""
from __future__ import annotations

import csv
import io

from pypdf import PdfReader

from marketd.sdk.labels import check_pdf_label, zpl_blocks
from marketd.plugins.shipments.tracking import tracking_sync

from .conftest import RecordingChannel, add_order, drop, outputs

MALL_ADDR = {"name": "Jana Novakova", "street": "Dlouha 1", "city": "Praha", "zip": "11000", "country": "CZ",
             "phone": "+420600000000"}


def mall_order(app, mall_fake, oid: int, *, size="smallbox", mdp=True, status="open"):
    mall_fake.add_order(oid, mdp=mdp, status=status)
    add_order(app, str(oid), channel="mall-cz", channel_type="mall", ship_to=MALL_ADDR,
              items=[{"id": "SKU-1", "quantity": 1, "package_size": size}], raw={"mdp": mdp})


def manifest(app):
    return list(csv.DictReader(outputs(app, "labels/manifest-*.csv")[-1].open(encoding="utf-8")))


def test_smallbox_order_with_another_carrier_is_refused(make_app, mall_fake, tmp_path):
    app = make_app()
    mall_order(app, mall_fake, 5001)
    mall_order(app, mall_fake, 5002, size="bigbox", mdp=False)
    text = ("order,carrier,weight_kg,recipient_name,recipient_street,recipient_zip,recipient_city,"
            "recipient_province,recipient_country\n"
            "5001,brt,1.0,Jana,Via Roma 1,00184,Roma,RM,IT\n"
            "5002,brt,9.0,Jana,Via Roma 1,00184,Roma,RM,IT\n")
    rec = drop(app, tmp_path, "mall.csv", text)
    assert rec["state"] == "done", rec
    m = manifest(app)
    assert m[0]["status"] == "rejected" and "MALL Delivery is active for mall-cz" in m[0]["reason"]
    assert "smallbox" in m[0]["reason"] and "'brt'" in m[0]["reason"]
    assert m[1]["status"] == "created"  # bigbox, not MDP: the seller's own carrier is fine
    rejects = list(csv.DictReader(outputs(app, "labels/rejects-*.csv")[0].open(encoding="utf-8")))
    assert rejects[0]["reason"] == "carrier_refused" and "carrier = mall" in rejects[0]["fix"]


def test_refusal_can_be_switched_off(make_app, mall_fake, tmp_path):
    from .conftest import MALL_SETTINGS
    import httpx

    app = make_app(carriers={"mall": {**MALL_SETTINGS, "active": False, "transport": httpx.WSGITransport(app=mall_fake)},
                             "erp": {"type": "manual"}})
    mall_order(app, mall_fake, 5003)
    drop(app, tmp_path, "m.csv", "order,carrier,tracking_number,weight_kg\n5003,erp,X1,1\n")
    assert manifest(app)[0]["status"] == "created"


def test_mall_labels_pdf_are_cut_to_one_page_per_parcel(make_app, mall_fake, tmp_path):
    app = make_app()
    mall_order(app, mall_fake, 5010)
    rec = drop(app, tmp_path, "m.csv", "order,carrier,weight_kg,parcel_count\n5010,mall,1.0,3\n")
    assert rec["state"] == "done", rec
    assert mall_fake.orders[5010]["status"] == "shipping" and mall_fake.orders[5010]["confirmed"]
    m = manifest(app)
    assert [r["parcel_number"] for r in m] == ["14IS00005010*001003", "14IS00005010*002003", "14IS00005010*003003"]
    printed = outputs(app, "labels/print-*.pdf")[0]
    assert len(PdfReader(io.BytesIO(printed.read_bytes())).pages) == 3
    for w, h in check_pdf_label(printed.read_bytes()):
        assert round(w) == 100 and round(h) == 150
    assert (printed.stat().st_mode & 0o777) == 0o600


def test_mall_labels_zpl(make_app, mall_fake, tmp_path):
    app = make_app()
    mall_order(app, mall_fake, 5011)
    drop(app, tmp_path, "m.csv", "order,carrier,weight_kg,parcel_count,label_format\n5011,mall,1.0,2,ZPL\n")
    z = outputs(app, "labels/print-*.zpl")[0].read_text()
    assert z.startswith("^XA") and z.rstrip().endswith("^XZ") and len(zpl_blocks(z)) == 2


def test_mall_status_is_read_not_pushed(make_app, mall_fake, clock, tmp_path):
    app = make_app(channels={"amazon-it": {"type": "recording"}, "mall-cz": {"type": "recording"}})
    mall_order(app, mall_fake, 5020)
    drop(app, tmp_path, "m.csv", "order,carrier,weight_kg\n5020,mall,1.0\n")
    assert list(app.store.db.query("select * from shipment_pushes")) == []
    statuses = []
    for _ in range(40):
        clock.advance(3600)
        tracking_sync(app)
        row = next(app.store.db.query("select * from shipments"))
        statuses.append(row["status"])
        if row["final"]:
            break
    assert statuses[0] == "pending" and "in_transit" in statuses and statuses[-1] == "delivered"
    assert row["tracking_number"] == "MDP0000005020"  # MALL adds it after pickup
    assert RecordingChannel.calls == []
    # the partner never moved the MDP order past shipping itself
    assert not [r for r in mall_fake.requests("PUT") if b'"shipped"' in r.body or b'"delivered"' in r.body]


def test_non_mdp_order_and_blocked_order_are_messages(make_app, mall_fake):
    app = make_app()
    mall_order(app, mall_fake, 5030, mdp=False)
    mall_order(app, mall_fake, 5031, status="blocked")
    from decimal import Decimal

    from marketd.carriers import Address, Parcel, ShipmentRequest

    mall = app.carrier("mall")
    for oid, text in ((5030, "not a MALL Delivery"), (5031, "blocked")):
        r = ShipmentRequest("mall", [Parcel(Decimal(1))], Address(name="x"), references=[str(oid)],
                            options={"order_ids": [str(oid)]})
        res = mall.create_shipment(r)
        assert not res.ok and text in res.errors[0].text


def test_client_id_is_required(make_app, mall_fake, monkeypatch):
    monkeypatch.setenv("MALL_CLIENT_ID", "wrong")
    app = make_app()
    mall_fake.add_order(5040)
    t = app.carrier("mall").track("5040")
    assert not t.found and "client" in t.messages[0].text.lower()


def test_mall_returned_and_lost_orders_are_reported(make_app, mall_fake, clock, tmp_path):
    """MALL moves the order to returned/lost from the carrier's tracking: closed, and in the report."""
    app = make_app()
    for oid, outcome in ((5050, "returned"), (5051, "lost"), (5052, "delivered")):
        mall_order(app, mall_fake, oid)
        mall_fake.set_outcome(oid, outcome)
    drop(app, tmp_path, "m.csv", "order,carrier,weight_kg\n5050,mall,1\n5051,mall,1\n5052,mall,1\n")
    for _ in range(40):
        clock.advance(3600)
        tracking_sync(app)
    rows = {r["shipment_id"]: r for r in app.store.db.query("select * from shipments")}
    assert {k: (r["status"], r["open"]) for k, r in rows.items()} == {
        "5050": ("return_to_sender", 0), "5051": ("lost", 0), "5052": ("delivered", 0)}
    reports = sorted(app.outbox_dir.glob("reports/shipment-exceptions-*.csv"))
    lines = [r for p in reports for r in csv.DictReader(p.open(encoding="utf-8"))]
    assert sorted((r["orders"], r["status"]) for r in lines) == [("5050", "return_to_sender"), ("5051", "lost")]
    assert all(r["tracking_number"].startswith("MDP") and r["problem"] for r in lines)
    assert "Jana" not in "".join(p.read_text() for p in reports)  # no addresses in reports


def test_erp_tracking_for_a_smallbox_order_is_refused_too(make_app, mall_fake, tmp_path):
    """The ERP's own tracking (tracking inbox) for a MALL Delivery smallbox order: the same rule."""
    app = make_app(channels={"amazon-it": {"type": "recording"}, "mall-cz": {"type": "recording"}})
    mall_order(app, mall_fake, 5060)
    mall_order(app, mall_fake, 5061, size="bigbox", mdp=False)
    rec = drop(app, tmp_path, "t.csv", "order,carrier,tracking_number\n5060,DHL,JJD1\n5061,DHL,JJD2\n", kind="tracking")
    assert rec["state"] == "done", rec
    receipt = list(csv.DictReader(outputs(app, "tracking/receipt-*.csv")[0].open(encoding="utf-8")))
    assert [r["result"] for r in receipt] == ["rejected", "queued"]
    assert "MALL Delivery is active for mall-cz" in receipt[0]["detail"] and "'erp'" in receipt[0]["detail"]
    assert [r["order_keys"] for r in app.store.db.query("select order_keys from shipments")] == ['["mall-cz:5061"]']
    tracking_sync(app)
    assert [c[1] for c in RecordingChannel.calls] == ["5061"]


def test_each_mall_label_page_is_the_label_of_its_parcel(make_app, mall_fake, tmp_path):
    """MALL's A4 sheets of four, cut into 100x150 pages: the label file of parcel i, and page i of
    the print run, show parcel i's barcode (two sheets for five parcels)."""
    from .label_text import pages_lines

    app = make_app()
    mall_order(app, mall_fake, 5020)
    mall_order(app, mall_fake, 5021)
    rec = drop(app, tmp_path, "m.csv", "order,carrier,weight_kg,parcel_count\n5020,mall,1.0,5\n5021,mall,2.0,2\n")
    assert rec["state"] == "done", rec
    m = manifest(app)
    barcodes = [r["parcel_number"] for r in m]
    assert barcodes[:5] == [f"14IS00005020*{i:03d}005" for i in range(1, 6)] and len(barcodes) == 7
    for r in m:
        shown = pages_lines((app.outbox_dir / "labels" / r["label_file"]).read_bytes())
        assert len(shown) == 1 and shown[0][0] == r["parcel_number"], (r, shown)
        n, total = r["parcel"].split("/")
        assert f"Parcel {n}/{total}" in shown[0] and any(line.startswith("Sender: ") for line in shown[0])
    printed = pages_lines(outputs(app, "labels/print-*.pdf")[0].read_bytes())
    assert [p[0] for p in printed] == barcodes
