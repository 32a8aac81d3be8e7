"""Buyer data after its retention: purged from the orders (name, address, e-mail, phone,
personalisation links, gift messages, wherever they sit in ``raw``), zeroed in the database file
itself, the plugins' copies removed (Amazon Custom folders), an order a plugin still needs kept,
and each purge recorded without personal data."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from marketd.sdk import FakeClock
from marketd.sdk.testing import make_app, run_job

NAME = "Hildegard Purgewitz"
EMAIL = "hildegard.purgewitz@example.org"


@pytest.fixture
def app(tmp_path):
    import marketd.plugins.actions as actions
    import marketd.plugins.custom as custom
    import marketd.plugins.privacy as privacy

    clock = FakeClock(datetime(2026, 11, 30, 4, 0, tzinfo=timezone.utc))
    a = make_app(tmp_path / "inst", {"privacy": privacy, "custom": custom, "actions": actions}, clock=clock,
                 jobs={"privacy-purge": {"buyer_data_days": 30}})
    yield a
    a.close()


def order(app, oid: str, *, status="SHIPPED", days_ago=40, custom_url=True):
    at = (app.clock.now() - timedelta(days=days_ago)).isoformat()
    items = [{"order_item_id": f"{oid}-1", "sku": "BOARD", "title": "Brett", "quantity": 1, "unit_price": "30.00"}]
    if custom_url:
        items[0]["customized_url"] = f"https://s3.example/{oid}.zip?X-Amz-Signature=abc"
    app.store.upsert_order({
        "channel": "amz", "channel_type": "amazon", "order_id": oid, "status": status, "purchased_at": at,
        "updated_at": at, "currency": "EUR", "total": "30.00", "buyer_name": NAME,
        "ship_to": {"name": NAME, "addressLine1": "Purgeweg 7", "city": "Köln", "postalCode": "50667",
                    "countryCode": "DE", "phone": "+49 221 555", "email": EMAIL},
        "items": items,
        "raw": {"orderId": oid, "orderItems": [{"orderItemId": f"{oid}-1", "product": {
            "sellerSku": "BOARD", "customization": {"customizedUrl": items[0].get("customized_url")}},
            "packing": {"giftOption": {"giftMessage": f"Alles Gute, {NAME}!"}}}]}})
    return f"amz:{oid}"


def test_buyer_data_past_retention_is_purged_everywhere_and_recorded_without_it(app):
    old = order(app, "OLD-1")
    recent = order(app, "NEW-1", days_ago=5)
    open_one = order(app, "OPEN-1", status="UNSHIPPED")
    folder = app.outbox_dir / "custom" / "OLD-1" / "OLD-1-1"
    folder.mkdir(parents=True)
    (folder / "production-sheet.pdf").write_bytes(f"%PDF {NAME}".encode())
    with app.store.transaction() as db:
        db.execute("insert into custom_items (order_key, item_id, channel, order_id, state, noted_at) values "
                   "(?, 'OLD-1-1', 'amz', 'OLD-1', 'done', ?)", [old, app.clock.now().isoformat()])
    assert run_job(app, "privacy-purge") is None
    got = app.store.get_order(old)
    assert got["buyer_name"] is None
    assert json.loads(got["ship_to"]) == {"countryCode": "DE", "postal_prefix": "50"}
    assert "customized_url" not in json.loads(got["items"])[0]
    assert json.loads(got["items"])[0]["sku"] == "BOARD" and got["total"] == "30.00"
    raw = json.loads(got["raw"])
    assert "customization" in raw["orderItems"][0]["product"]  # the block stays, its link does not
    assert raw["orderItems"][0]["product"]["customization"] == {}
    assert raw["orderItems"][0]["packing"]["giftOption"] == {}
    assert not (app.outbox_dir / "custom" / "OLD-1").exists()
    for key in (recent, open_one):
        assert app.store.get_order(key)["buyer_name"] == NAME
    (p,) = app.store.db.query("select * from purges")
    assert p["order_key"] == old and p["rule"] == "buyer_data_days=30"
    assert set(json.loads(p["fields"])) == {"buyer_name", "ship_to", "items.customized_url", "raw"}
    assert NAME not in json.dumps(p) and EMAIL not in json.dumps(p)
    assert run_job(app, "privacy-purge") is None
    assert app.store.db.execute("select count(*) from purges").fetchone()[0] == 1
    # the marketplace changed the order later (a return) and the sync brought the buyer back: once
    # that change is past its retention too, the order is purged again
    later = (app.clock.now() + timedelta(days=1)).isoformat()
    app.store.upsert_order({"key": old, "channel": "amz", "order_id": "OLD-1", "status": "RETURNED",
                            "updated_at": later, "buyer_name": NAME})
    assert run_job(app, "privacy-purge") is None
    assert app.store.get_order(old)["buyer_name"] == NAME  # within its retention again
    app.clock.advance(32 * 86400)
    assert run_job(app, "privacy-purge") is None
    assert app.store.get_order(old)["buyer_name"] is None
    assert app.store.db.execute("select count(*) from purges where order_key = ?", [old]).fetchone()[0] == 2


def test_the_database_file_no_longer_holds_the_purged_values(app):
    for n in range(20):
        order(app, f"OLD-{n}")
    app.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = app.store.path
    assert NAME.encode() in path.read_bytes()
    assert run_job(app, "privacy-purge") is None
    data = path.read_bytes() + (path.with_name(path.name + "-wal").read_bytes()
                                if path.with_name(path.name + "-wal").exists() else b"")
    assert NAME.encode() not in data and EMAIL.encode() not in data and b"Purgeweg" not in data


def test_an_order_a_plugin_still_needs_is_kept_until_it_is_done(app, caplog):
    import logging

    key = order(app, "HOLD-1")
    with app.store.transaction() as db:
        db.execute("insert into custom_items (order_key, item_id, channel, order_id, state, noted_at) values "
                   "(?, 'HOLD-1-1', 'amz', 'HOLD-1', 'waiting', ?)", [key, app.clock.now().isoformat()])
    with caplog.at_level(logging.INFO, logger="marketd.privacy"):
        assert run_job(app, "privacy-purge") is None
    assert app.store.get_order(key)["buyer_name"] == NAME
    assert "not downloaded yet" in caplog.text and NAME not in caplog.text
    with app.store.transaction() as db:
        db.execute("update custom_items set state = 'refused'")
    app.clock.advance(86400)
    assert run_job(app, "privacy-purge") is None
    assert app.store.get_order(key)["buyer_name"] is None
