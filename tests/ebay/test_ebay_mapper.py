"""The eBay mapper on plain dicts (no HTTP, no store): orders -> rows, packages -> fulfilment
bodies, the filter grammar's encoding, the ``next`` link, error lists."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from marketd.plugins.ebay import mapper
from marketd.plugins.ebay.fake_orders import make_order

UTC = timezone.utc
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def order(**kw) -> dict:
    o = make_order(random.Random(3), NOW - timedelta(days=1), items=2)
    o.update(kw)
    return o


def test_order_row_amounts_are_exact_decimal_text_and_ids_strings():
    o = order()
    o["pricingSummary"]["total"] = {"value": "1234.10", "currency": "EUR"}
    o["totalMarketplaceFee"] = {"value": "142.27", "currency": "EUR"}
    row = mapper.order_row("shop", o)
    assert row["key"] == f"shop:{o['orderId']}" and row["channel_type"] == "ebay"
    assert row["total"] == "1234.10" and Decimal(row["total"]) == Decimal("1234.10") and row["currency"] == "EUR"
    assert row["expected_fee"] == "142.27"
    assert row["purchased_at"].endswith("+00:00") and row["updated_at"].endswith("+00:00")
    items = row["items"]
    assert [i["order_item_id"] for i in items] == [li["lineItemId"] for li in o["lineItems"]]
    assert all(isinstance(i["order_item_id"], str) and isinstance(i["quantity"], int) for i in items)


def test_buyer_data_only_in_buyer_name_and_ship_to():
    o = order()
    contact = o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
    row = mapper.order_row("shop", o)
    assert row["buyer_name"] == contact["fullName"]
    assert row["ship_to"] == {
        "name": contact["fullName"], "street": contact["contactAddress"]["addressLine1"],
        "postal_code": contact["contactAddress"]["postalCode"], "city": contact["contactAddress"]["city"],
        "province": contact["contactAddress"]["stateOrProvince"], "country": "IT",
        "phone": contact["primaryPhone"]["phoneNumber"], "email": contact["email"]}
    raw = json.dumps(row["raw"])
    for secret in (contact["fullName"], contact["email"], contact["contactAddress"]["addressLine1"],
                   o["buyer"]["username"]):
        assert secret not in raw
    assert row["raw"]["orderId"] == o["orderId"]  # the rest is kept


def test_shipments_read_the_address_in_its_neutral_keys():
    from marketd.plugins.shipments.orders import address_from_order

    row = mapper.order_row("shop", order())
    addr = address_from_order({"ship_to": json.dumps(row["ship_to"]), "buyer_name": row["buyer_name"]})
    assert addr.name == row["buyer_name"] and addr.postal_code == row["ship_to"]["postal_code"]
    assert addr.province == row["ship_to"]["province"] and addr.country == "IT"


@pytest.mark.parametrize("fulfil,payment,cancel,status", [
    ("NOT_STARTED", "PAID", "NONE_REQUESTED", "UNSHIPPED"),
    ("IN_PROGRESS", "PAID", "NONE_REQUESTED", "PARTIALLY_SHIPPED"),
    ("FULFILLED", "PAID", "NONE_REQUESTED", "SHIPPED"),
    ("FULFILLED", "PARTIALLY_REFUNDED", "NONE_REQUESTED", "SHIPPED"),
    ("FULFILLED", "FULLY_REFUNDED", "NONE_REQUESTED", "REFUNDED"),
    ("NOT_STARTED", "FULLY_REFUNDED", "CANCELED", "CANCELLED"),
    ("NOT_STARTED", "PENDING", "NONE_REQUESTED", "PENDING"),
    ("NOT_STARTED", "PAID", "IN_PROGRESS", "UNSHIPPED"),   # a cancel request is not a cancellation yet
])
def test_status_table(fulfil, payment, cancel, status):
    o = order(orderFulfillmentStatus=fulfil, orderPaymentStatus=payment, cancelStatus={"cancelState": cancel})
    got, raw = mapper.order_status(o)
    assert got == status and raw == f"{fulfil}/{payment}/{cancel}"
    assert mapper.order_row("x", o)["channel_status"] == raw


def test_legacy_order_id_becomes_an_alias_when_an_answer_has_one():
    o = order(legacyOrderId="110123456789-2345678901")
    assert mapper.order_row("shop", o)["aliases"] == [("110123456789-2345678901", "ebay_legacy")]
    assert mapper.order_row("shop", order())["aliases"] == []  # v1.20.7 no longer sends it


def test_fulfillment_body_from_a_package():
    pkg = {"carrierCode": "brt", "carrierName": "BRT", "trackingNumber": 123456789012,
           "shipDate": "2026-11-01T10:00:00+00:00",
           "orderItems": [{"orderItemId": "10011", "quantity": 2}, {"orderItemId": "10012", "quantity": 1}]}
    body = mapper.fulfillment_body(pkg, [], NOW)
    assert body == {"lineItems": [{"lineItemId": "10011", "quantity": 2}, {"lineItemId": "10012", "quantity": 1}],
                    "shippedDate": "2026-11-01T10:00:00.000Z", "shippingCarrierCode": "BRT",
                    "trackingNumber": "123456789012"}


def test_fulfillment_body_never_dates_a_shipment_in_the_future_and_takes_stored_items():
    pkg = {"carrierCode": "GLS", "trackingNumber": "T1", "shipDate": (NOW + timedelta(hours=3)).isoformat()}
    body = mapper.fulfillment_body(pkg, [{"lineItemId": "7", "quantity": 1}], NOW)
    assert body["shippedDate"] == "2026-11-02T09:00:00.000Z" and body["lineItems"] == [{"lineItemId": "7", "quantity": 1}]
    assert mapper.fulfillment_body({"trackingNumber": "T"}, [], NOW)["shippedDate"] == "2026-11-02T09:00:00.000Z"


@pytest.mark.parametrize("code,name,overrides,expected", [
    ("BRT", "", None, "BRT"), ("poste-italiane", "", None, "PosteItaliane"), ("fedex", "", None, "FedEx"),
    ("MYCOURIER", "My Courier", None, "MYCOURIER"),            # unknown: sent as given
    ("MYCOURIER", "", {"MYCOURIER": "Other"}, "Other"),         # the account's table wins
    ("", "Royal Mail", None, "RoyalMail"),
])
def test_carrier_codes(code, name, overrides, expected):
    assert mapper.ebay_carrier(code, name, overrides) == expected


def test_location_gives_the_fulfillment_id():
    loc = "https://api.ebay.com/sell/fulfillment/v1/order/01-03955-36441/shipping_fulfillment/9405509699937003457459"
    assert mapper.fulfillment_id(loc) == "9405509699937003457459"
    assert mapper.fulfillment_id(None) is None and mapper.fulfillment_id("https://api.ebay.com/sell/x") is None


def test_find_fulfillment_compares_tracking_loosely():
    found = [{"fulfillmentId": "1", "shipmentTrackingNumber": "ab 123", "lineItems": [{"lineItemId": "9"}]}]
    assert mapper.find_fulfillment(found, "AB123")["fulfillmentId"] == "1"
    assert mapper.find_fulfillment(found, "AB124") is None
    assert mapper.covered_line_items(found) == {"9"}


def test_times_in_the_filter_form():
    assert mapper.ebay_time(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    with pytest.raises(ValueError):
        mapper.ebay_time(datetime(2026, 1, 2))
    assert mapper.date_range("lastmodifieddate", NOW, NOW + timedelta(hours=1)) == \
        "lastmodifieddate:[2026-11-02T09:00:00.000Z..2026-11-02T10:00:00.000Z]"
    assert mapper.date_range("creationdate", NOW) == "creationdate:[2026-11-02T09:00:00.000Z..]"
    assert mapper.value_set("orderfulfillmentstatus", ["NOT_STARTED", "IN_PROGRESS"]) == \
        "orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}"


def test_query_encoding_encodes_brackets_braces_and_bars_itself():
    q = mapper.encode_query({"filter": "lastmodifieddate:[2026-11-02T09:00:00.000Z..],payoutStatus:{A|B}",
                             "limit": 200, "offset": 0, "none": None})
    assert q == ("filter=lastmodifieddate:%5B2026-11-02T09:00:00.000Z..%5D,payoutStatus:%7BA%7CB%7D"
                 "&limit=200&offset=0")
    assert not any(ch in q for ch in "[]{}| ")


def test_next_link_keeps_only_the_query():
    nxt = "https://evil.example.com/sell/fulfillment/v1/order?filter=x%3A%5Ba..%5D&limit=10&offset=40"
    assert mapper.next_query(nxt, "/order") == {"filter": "x:[a..]", "limit": "10", "offset": "40"}
    assert mapper.next_query("/sell/fulfillment/v1/order?limit=10&offset=20", "/order")["offset"] == "20"
    assert mapper.next_query(None, "/order") is None and mapper.next_query("", "/order") is None
    with pytest.raises(ValueError):
        mapper.next_query("https://api.ebay.com/sell/fulfillment/v1/order/1/shipping_fulfillment?offset=2", "/order")


def test_error_lists():
    doc = {"errors": [{"errorId": 32300, "domain": "API_FULFILLMENT", "message": "Invalid shipment tracking number "
                       "or carrier", "longMessage": "x"}, {"errorId": "34500", "message": "use PUT"}, "junk"]}
    errors = mapper.errors_of(doc)
    assert len(errors) == 2 and mapper.error_ids(errors) == {32300, 34500}
    assert mapper.error_text(errors).startswith("32300: Invalid shipment tracking number or carrier (x)")
    assert mapper.errors_of(None) == [] and mapper.errors_of({"errors": "no"}) == []


def test_amount_values_are_strings_parsed_exactly():
    assert mapper.amount({"value": "0.10", "currency": "GBP"}) == ("0.10", "GBP")
    assert mapper.amount({"value": "1e2"}) == ("100", None)
    assert mapper.amount({"value": "abc", "currency": "EUR"}) == (None, "EUR")
    assert mapper.amount(None) == (None, None)
