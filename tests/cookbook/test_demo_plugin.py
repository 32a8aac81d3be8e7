"""The cookbook plugin's own tests, as its author writes them (docs/plugins/cookbook.md): the real
marketd core in-process (``marketd.sdk.testing``), the plugin's fake instead of the real APIs."""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from marketd.sdk import Address, ConfigError, LabelFormat, Parcel, ShipmentRequest, TrackingStatus
from marketd.sdk.testing import make_app, process_file, run_job

from . import marketd_demo
from .marketd_demo.fake import API_KEY, DemoFake


@pytest.fixture
def fake():
    return DemoFake()


@pytest.fixture
def app(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("DEMO_SHOP_API_KEY", API_KEY)
    monkeypatch.setenv("DEMO_POST_API_KEY", API_KEY)
    transport = httpx.WSGITransport(app=fake)
    app = make_app(tmp_path / "inst", {"demo": marketd_demo},
                   inbox={"stock": {"warehouse": "milano"}},
                   channels={"shop": {"type": "demoshop", "base_url": "http://shop.test", "transport": transport}},
                   carriers={"post": {"type": "demopost", "base_url": "http://post.test", "transport": transport}},
                   jobs={"demo-low-stock": {"threshold": 3}})
    yield app
    app.close()


def test_stock_file_is_applied_with_a_receipt(app, tmp_path):
    f = tmp_path / "counts.csv"
    f.write_text("sku;qty\nA-1;2\nB-2;10\n")
    row = process_file(app, "stock", f)
    assert row["state"] == "done" and row["summary"] == {"rows": 2, "warehouse": "milano"}
    assert list(app.store.db.execute("select sku, warehouse, qty from demo_stock order by sku")) == [
        ("A-1", "milano", 2), ("B-2", "milano", 10)]
    assert (app.outbox_dir / row["outputs"][0]["relpath"]).read_text().splitlines()[1] == "A-1,milano,2"


def test_a_bad_quantity_rejects_the_file_and_changes_nothing(app, tmp_path):
    f = tmp_path / "counts.csv"
    f.write_text("sku,qty\nA-1,2\nB-2,ten\n")
    row = process_file(app, "stock", f)
    assert row["state"] == "error" and row["error"]["reason"] == "bad_quantity"
    assert row["error"]["where"] == "line 3, column qty"
    assert app.store.db.execute("select count(*) from demo_stock").fetchone()[0] == 0


def test_orders_sync_through_the_job(app, fake):
    fake.add_order("1001")
    fake.add_order("1002", total="7.00")
    assert run_job(app, "demo-orders") is None
    order = app.store.get_order("shop:1002")
    assert order["total"] == "7.00" and order["channel_type"] == "demoshop"


def test_a_refused_key_is_a_config_error(app, monkeypatch):
    monkeypatch.setenv("DEMO_SHOP_API_KEY", "wrong")
    with pytest.raises(ConfigError, match="DEMO_SHOP_API_KEY was refused"):
        app.channel("shop").sync_orders(None)


def test_carrier_label_and_tracking(app):
    post = app.carrier("post")
    req = ShipmentRequest(carrier="post", parcels=[Parcel(Decimal("1.5"))], label_format=LabelFormat.ZPL,
                          recipient=Address(name="Ada", street="Via Roma 1", postal_code="00184", city="Roma",
                                            country="IT"), idempotency_key="K1")
    res = post.create_shipment(req)
    assert res.ok and res.parcels[0].label.data.startswith(b"^XA")
    assert post.track(res.tracking_number).status == TrackingStatus.in_transit
    bad = post.create_shipment(ShipmentRequest(carrier="post", parcels=[Parcel(Decimal("1"))], recipient=Address()))
    assert not bad.ok and "postal_code" in bad.errors[0].text


def test_low_stock_report_and_its_job_setting(app, tmp_path):
    f = tmp_path / "counts.csv"
    f.write_text("sku,qty\nA-1,2\nB-2,4\n")
    process_file(app, "stock", f)
    assert run_job(app, "demo-low-stock") is None  # threshold 3 from [jobs.demo-low-stock]
    day = app.clock.now().strftime("%Y-%m-%d")
    report = app.outbox_dir / "reports" / f"low-stock-{day}.csv"
    assert report.read_text().splitlines() == ["sku,warehouse,qty", "A-1,milano,2"]
    assert app.reports()["low-stock"](app, threshold="10") == [report]
    assert len(report.read_text().splitlines()) == 3


def test_a_typo_in_the_plugins_settings_stops_start_up(tmp_path):
    with pytest.raises(ConfigError, match=r"\[channels.shop\] unknown key 'base_ulr': did you mean 'base_url'\?"):
        make_app(tmp_path, {"demo": marketd_demo}, channels={"shop": {"type": "demoshop", "base_ulr": "x"}})
    with pytest.raises(ConfigError, match=r"\[inbox.stock\] unknown key 'warehose': did you mean 'warehouse'\?"):
        make_app(tmp_path, {"demo": marketd_demo}, inbox={"stock": {"warehose": "x"}})


def test_a_shipment_file_line_goes_through_the_carrier(tmp_path, fake, monkeypatch):
    """The built-in shipments plugin uses a third-party carrier like its own."""
    import marketd.plugins.shipments as shipments

    monkeypatch.setenv("DEMO_POST_API_KEY", API_KEY)
    app = make_app(tmp_path / "inst", {"demo": marketd_demo, "shipments": shipments},
                   inbox={"shipments": {"require_known_order": False}},
                   carriers={"post": {"type": "demopost", "base_url": "http://post.test",
                                      "transport": httpx.WSGITransport(app=fake)}})
    try:
        f = tmp_path / "ship.csv"
        f.write_text("order,carrier,weight_kg,label_format,recipient_name,recipient_street,recipient_zip,"
                     "recipient_city,recipient_country\nX-1,post,1.5,ZPL,Ada,Via Roma 1,00184,Roma,IT\n")
        row = process_file(app, "shipments", f)
        assert row["state"] == "done" and row["summary"]["created"] == 1, row
        labels = sorted(app.outbox_dir.glob("labels/**/*.zpl"))
        assert labels and b"DP000001" in labels[0].read_bytes()
        assert list(fake.shipments) == ["DP000001"]
    finally:
        app.close()
