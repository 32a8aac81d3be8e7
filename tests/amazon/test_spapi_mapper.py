"""SP-API JSON <-> store rows and confirmShipment bodies, on plain dicts (mapper.py: no HTTP, no store)."""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone

from marketd.plugins.amazon import mapper
from marketd.plugins.amazon.fake_orders import make_order

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)


def test_order_row_keeps_buyer_data_out_of_raw_and_adds_up_the_items():
    order = make_order(random.Random(3), created=NOW, updated=NOW, marketplace_id="APJ6JRA9NG5V4",
                       status="UNSHIPPED", fulfilled_by="MERCHANT")
    row = mapper.order_row("shop", order)
    assert row["key"] == f"shop:{order['orderId']}" and row["status"] == "UNSHIPPED"
    assert row["purchased_at"] == "2026-11-02T09:30:00+00:00"
    assert row["buyer_name"] == order["buyer"]["buyerName"]
    assert row["ship_to"]["email"] == order["buyer"]["buyerEmail"]
    assert "buyer" not in row["raw"] and "recipient" not in row["raw"]
    assert row["total"] == order["proceeds"]["grandTotal"]["amount"] and row["currency"] == "EUR"
    assert [i["order_item_id"] for i in row["items"]] == [i["orderItemId"] for i in order["orderItems"]]


def test_pending_orders_have_no_total_and_bad_amounts_are_not_guessed():
    order = make_order(random.Random(4), created=NOW, updated=NOW, marketplace_id="X", status="PENDING")
    assert mapper.order_row("shop", order)["total"] is None
    assert mapper.money({"amount": "1,5", "currencyCode": "EUR"}) == (None, "EUR")
    assert mapper.money({"amount": "12.50", "currencyCode": "EUR"}) == ("12.50", "EUR")
    assert mapper.store_time("not a time") == "not a time" and mapper.store_time(None) is None


def test_carrier_codes_map_loosely_with_overrides_first():
    assert mapper.amazon_carrier("poste-italiane") == ("Poste Italiane", "Poste Italiane")
    assert mapper.amazon_carrier("My Courier", "") == ("Other", "My Courier")
    assert mapper.amazon_carrier("MY_COURIER", "", {"MYCOURIER": "GLS"}) == ("GLS", "GLS")
    assert mapper.amazon_carrier("BRT", "Bartolini") == ("BRT", "Bartolini")


def test_confirmation_body_uses_the_packages_items_or_the_orders():
    body = mapper.confirmation_body("APJ6JRA9NG5V4", {"carrierCode": "BRT", "trackingNumber": 123},
                                    [{"orderItemId": 111, "quantity": "2"}], NOW)
    assert body == {"marketplaceId": "APJ6JRA9NG5V4", "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "BRT", "trackingNumber": "123", "shipDate": "2026-11-02T09:30:00Z",
        "orderItems": [{"orderItemId": "111", "quantity": 2}]}}
    own = mapper.confirmation_body("M", {"carrierCode": "Acme", "trackingNumber": "T", "packageReferenceId": 2,
                                         "shipDate": "2026-11-01T10:00:00+01:00", "shippingMethod": "Std",
                                         "orderItems": [{"orderItemId": "9", "quantity": 1}]}, [], NOW)
    detail = own["packageDetail"]
    assert detail["carrierCode"] == "Other" and detail["carrierName"] == "Acme"
    assert detail["shipDate"] == "2026-11-01T09:00:00Z" and detail["packageReferenceId"] == "2"
    assert detail["orderItems"] == [{"orderItemId": "9", "quantity": 1}] and detail["shippingMethod"] == "Std"


def test_stored_items_read_the_store_json():
    row = {"items": json.dumps([{"order_item_id": "1", "quantity": 3}, {"sku": "no id"}, "junk"])}
    assert mapper.stored_items(row) == [{"orderItemId": "1", "quantity": 3}]
    assert mapper.stored_items(None) == [] and mapper.stored_items({"items": None}) == []
