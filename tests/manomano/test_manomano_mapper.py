"""The ManoMano mapper on plain dicts: no HTTP, no store."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from marketd.plugins.manomano import mapper

ORDER = {
    "order_reference": "M2026110212345",
    "created_at": "2026-11-02T08:00:00Z",
    "status": "PREPARATION",
    "status_updated_at": "2026-11-02T09:30:00+01:00",
    "total_price": {"amount": Decimal("65.8"), "currency": "EUR"},
    "shipping_price": {"amount": Decimal("5.9"), "currency": "EUR"},
    "products": [{"seller_sku": "SKU-1", "title": "Drill", "quantity": 2, "price": {"amount": Decimal("29.95"),
                                                                                     "currency": "EUR"},
                  "price_excluding_vat": {"amount": Decimal("24.96"), "currency": "EUR"}, "vat_rate": Decimal("20.0")}],
    "addresses": {"billing": {"firstname": "Camille", "lastname": "Dupont", "address_line1": "1 rue X",
                              "zipcode": "69002", "city": "Lyon", "country": "France", "country_iso": "FR",
                              "email": "camille@example.com"},
                  "shipping": {"firstname": "Camille", "lastname": "Dupont", "address_line1": "1 rue X",
                               "zipcode": "69002", "city": "Lyon", "country": "France", "country_iso": "FR"}},
    "carrier": None,
}


@pytest.mark.parametrize("raw,status", [
    ("WAITING_PAYMENT", "PENDING"), ("REMORSE_PERIOD", "PENDING"), ("PENDING", "PENDING"),
    ("PREPARATION", "UNSHIPPED"), ("SHIPPED", "SHIPPED"), ("DELIVERED", "DELIVERED"), ("COMPLETED", "DELIVERED"),
    ("REFUNDING", "REFUNDED"), ("REFUNDED", "REFUNDED"), ("REFUSED", "CANCELLED"), ("CANCELLED", "CANCELLED"),
    ("preparation", "UNSHIPPED"), ("SOMETHING_NEW", "SOMETHING_NEW")])
def test_status_table(raw, status):
    row = mapper.order_row("mm-fr", {**ORDER, "status": raw})
    assert row["status"] == status
    assert row["channel_status"] == raw.upper()  # the raw value is kept


def test_order_row_money_is_exact_text_and_times_are_utc():
    row = mapper.order_row("mm-fr", ORDER)
    assert row["key"] == "mm-fr:M2026110212345" and row["order_id"] == "M2026110212345"
    assert row["channel_type"] == "manomano"
    assert row["total"] == "65.8" and row["currency"] == "EUR"
    assert row["purchased_at"] == "2026-11-02T08:00:00+00:00"
    assert row["updated_at"] == "2026-11-02T08:30:00+00:00"  # +01:00 turned into UTC
    item = row["items"][0]
    assert item == {"order_item_id": "SKU-1", "sku": "SKU-1", "title": "Drill", "quantity": 2, "unit_price": "29.95",
                    "unit_price_excluding_vat": "24.96", "vat_rate": "20.0", "currency": "EUR"}


def test_buyer_data_only_in_buyer_name_and_ship_to():
    row = mapper.order_row("mm-fr", ORDER)
    assert row["buyer_name"] == "Camille Dupont"
    assert row["ship_to"]["zipcode"] == "69002" and row["ship_to"]["name"] == "Camille Dupont"
    assert "addresses" not in row["raw"]
    assert "Camille" not in json.dumps(row["raw"], default=str) and "Dupont" not in json.dumps(row["items"])


def test_shipping_address_falls_back_to_billing_and_company():
    order = {**ORDER, "addresses": {"billing": {"company": "Atelier SARL", "firstname": "", "lastname": "",
                                                "zipcode": "75001"}}}
    row = mapper.order_row("mm-fr", order)
    assert row["buyer_name"] == "Atelier SARL" and row["ship_to"]["zipcode"] == "75001"


@pytest.mark.parametrize("value,expected", [
    ({"amount": Decimal("0.1"), "currency": "EUR"}, Decimal("0.1")), ("12.50", Decimal("12.50")), (7, Decimal(7)),
    (0.1, Decimal("0.1")),  # a float that slipped through is read from its shortest text, not its binary value
    (None, None), ("", None), ("abc", None), ({"amount": None}, None), (True, None), ("NaN", None)])
def test_amount(value, expected):
    assert mapper.amount(value) == expected


def test_money_sums_stay_exact():
    total = sum((mapper.amount(v) for v in (0.1, 0.2)), Decimal(0))
    assert total == Decimal("0.3")


@pytest.mark.parametrize("code,label,overrides,expected", [
    ("BRT", "Bartolini", None, "BRT"), ("poste-italiane", "", None, "Poste Italiane"), ("GLS", "", None, "GLS"),
    ("FEDEX", "", None, "Fedex"), ("myparcel", "My Parcel Co", None, "My Parcel Co"),
    ("brt", "", {"BRT": "BRT Express"}, "BRT Express"), ("", "", None, "")])
def test_carrier_names(code, label, overrides, expected):
    assert mapper.carrier_name(code, label, overrides) == expected


def test_shipping_item_from_a_package_and_stored_items():
    package = {"packageReferenceId": "1", "carrierCode": "BRT", "carrierName": "BRT", "trackingNumber": 123456,
               "trackingUrl": "https://track.example/123456", "orderItems": []}
    stored = mapper.stored_items({"items": json.dumps([{"order_item_id": "SKU-1", "quantity": 2}])})
    item = mapper.shipping_item("M1", 1001, package, items=stored)
    assert item == {"order_reference": "M1", "seller_contract_id": 1001, "carrier": "BRT",
                    "tracking_number": "123456", "tracking_url": "https://track.example/123456",
                    "products": [{"seller_sku": "SKU-1", "quantity": 2}]}


def test_shipping_item_uses_the_package_items_and_a_url_template():
    package = {"carrierCode": "gls", "trackingNumber": "AB1", "orderItems": [{"orderItemId": "SKU-9", "quantity": 1}]}
    templates = {"GLS": "https://gls.example/?n={tracking_number}"}
    item = mapper.shipping_item("M1", "1001", package, tracking_urls=templates)
    assert item["seller_contract_id"] == 1001 and item["tracking_url"] == "https://gls.example/?n=AB1"
    assert item["products"] == [{"seller_sku": "SKU-9", "quantity": 1}]
    assert "tracking_url" not in mapper.shipping_item("M1", 1, {"carrierCode": "X", "trackingNumber": "1"})


def test_batch_204_means_every_order_worked():
    assert mapper.batch_results(204, None, ["M1", "M2"]) == {"M1": ("ok", ""), "M2": ("ok", "")}


def test_batch_207_is_read_order_by_order():
    doc = {"content": [
        {"order_reference": "M1", "seller_contract_id": 1, "result": {"status": "SUCCESS"}},
        {"order_reference": "M2", "result": {"status": "ERROR", "code": "ORDER_NOT_PENDING", "message": "is SHIPPED"}},
        {"order_reference": "M3", "result": {"success": False, "errors": [{"message": "bad carrier"}]}},
        {"order_reference": "M4", "result": "OK"},
        {"order_reference": "M5", "result": {"something": "else"}},
    ]}
    out = mapper.batch_results(207, doc, ["M1", "M2", "M3", "M4", "M5", "M6"])
    assert out["M1"][0] == "ok" and out["M4"][0] == "ok"
    assert out["M2"] == ("error", "ORDER_NOT_PENDING: is SHIPPED")
    assert out["M3"][0] == "error" and "bad carrier" in out["M3"][1]
    assert out["M5"][0] == "unknown"           # a shape nobody documented: never taken for success
    assert out["M6"] == ("unknown", "no result for this order in the answer")


def test_batch_4xx_applies_to_every_order():
    out = mapper.batch_results(400, {"message": "Invalid body", "errors": ["[0].carrier is required (str)"]}, ["M1"])
    assert out["M1"] == ("error", "Invalid body: [0].carrier is required (str)")


@pytest.mark.parametrize("doc,text", [
    ({"message": "Nope"}, "Nope"), ({"error": {"message": "deep"}}, "deep"), ({"code": "E1", "detail": "x"}, "E1: x"),
    ({"errors": {"carrier": "unknown"}}, "carrier: unknown"), ("plain text", "plain text"), (None, "")])
def test_error_text_reads_any_shape(doc, text):
    assert mapper.error_text(doc) == text
