"""The Amazon listings mapper without HTTP (pure functions), and the client's listings/feeds rate
table against the official models' usage plans."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from marketd.plugins.amazon import listings_mapper as m


def test_decimals_are_exact_json_numbers():
    doc = {"our_price": [{"schedule": [{"value_with_tax": Decimal("129.90")}]}], "n": 3, "s": "a\u0000b"}
    text = m.dumps(doc)
    assert b'"value_with_tax":129.90' in text
    assert json.loads(text, parse_float=Decimal)["our_price"][0]["schedule"][0]["value_with_tax"] == Decimal("129.90")
    assert json.loads(text)["s"] == "a\u0000b"          # a NUL in text is not taken for a number marker


def test_stored_payload_money_goes_back_to_decimal_and_locales_merge():
    payload = {"locales": {
        "de_DE": {"item_name": [{"value": "Koffer", "language_tag": "de_DE"}], "purchasable_offer": [
            {"currency": "EUR", "our_price": [{"schedule": [{"value_with_tax": "129.90"}]}]}]},
        "nl_BE": {"item_name": [{"value": "Koffer NL", "language_tag": "nl_BE"}], "purchasable_offer": [
            {"currency": "EUR", "our_price": [{"schedule": [{"value_with_tax": "129.90"}]}]}]}}}
    attrs = m.merge_locales(payload)
    assert [i["language_tag"] for i in attrs["item_name"]] == ["de_DE", "nl_BE"]
    assert len(attrs["purchasable_offer"]) == 1
    assert attrs["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"] == Decimal("129.90")


def test_new_sku_is_update_known_is_partial_update():
    assert m.content_message(1, "A", "LUGGAGE", {}, known=False)["operationType"] == "UPDATE"
    assert m.content_message(1, "A", "LUGGAGE", {}, known=False)["requirements"] == "LISTING"
    msg = m.content_message(2, "A", "LUGGAGE", {}, known=True)
    assert msg["operationType"] == "PARTIAL_UPDATE" and "requirements" not in msg


def test_offer_patch_message():
    attrs = m.offer_attributes({"price": "9.99", "currency": "EUR", "stock": 0}, "A1PA6795UKMFR9")
    msg = m.offer_message(3, "A", "LUGGAGE", attrs)
    assert [p["path"] for p in msg["patches"]] == ["/attributes/purchasable_offer", "/attributes/fulfillment_availability"]
    assert msg["patches"][1]["value"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]
    assert m.offer_message(4, "A", "LUGGAGE", {}) is None


def test_feed_size_limits():
    with pytest.raises(ValueError):
        m.feed_document("S", [])
    with pytest.raises(ValueError):
        m.feed_document("S", [{}] * (m.MAX_MESSAGES + 1))


def test_report_results_per_message_and_feed_level():
    report = {"issues": [
        {"messageId": 2, "code": "90220", "severity": "ERROR", "message": "'color' is required but not supplied.",
         "attributeName": "color"},
        {"messageId": 1, "code": "18027", "severity": "WARNING", "message": "image"},
        {"sku": "C", "code": "99022", "severity": "ERROR", "message": "price"}]}
    out = m.report_results(report, {1: "A", 2: "B", 3: "C"})
    assert out["A"]["state"] == "accepted" and out["A"]["issues"][0]["code"] == "18027"
    assert out["B"]["state"] == "invalid" and out["B"]["issues"][0]["attribute"] == "color"
    assert out["C"]["state"] == "invalid"
    feed = m.report_results({"issues": [{"severity": "ERROR", "message": "not JSON"}]}, {1: "A", 2: "B"})
    assert {r["state"] for r in feed.values()} == {"failed"}


def test_remote_listing_from_the_spec_sandbox_item():
    from tests.fakes.specs import require_amazon_specs

    doc = json.loads((require_amazon_specs() / "listingsItems_2021-08-01.json").read_text(encoding="utf-8"))
    item = doc["paths"]["/listings/2021-08-01/items/{sellerId}/{sku}"]["get"]["responses"]["200"][
        "x-amzn-api-sandbox"]["static"][0]["response"]
    us = m.remote_listing(item, "ATVPDKIKX0DER")
    assert (us["remote_id"], us["category"], us["live"], us["price"], us["quantity"]) == \
        ("B071VG5N9D", "LUGGAGE", True, Decimal("100.00"), 100)
    assert len(us["issues"]) == 5 and us["url"] == "https://www.amazon.com/dp/B071VG5N9D"
    ca = m.remote_listing(item, "A2EUQ1WTGCTBG2")
    assert ca["live"] is False and ca["price"] == Decimal("130.00") and len(ca["issues"]) == 2


@pytest.mark.contract
def test_listings_rate_table_matches_the_models():
    from marketd.plugins.amazon.listings_api import LISTINGS_LIMITS
    from tests.fakes.specs import MODEL_OF, amazon_model, require_amazon_specs

    specs = str(require_amazon_specs())
    for op, (rate, burst) in LISTINGS_LIMITS.items():
        assert amazon_model(MODEL_OF[op], specs).usage_plan(op) == (rate, burst), op


@pytest.mark.contract
def test_the_spec_feed_example_passes_the_fake_and_a_broken_one_is_one_feed_level_issue():
    from marketd.plugins.amazon.fake import SpApiFake
    from marketd.sdk import FakeClock
    from tests.fakes.specs import require_amazon_contract, require_amazon_specs

    contract = require_amazon_contract()
    example = json.loads((require_amazon_specs() / "listings-feed-schema-v2.example.json").read_text())
    assert contract.listings_feed_problems(example) == []
    ours = json.loads(m.dumps(m.feed_document("S", [m.content_message(1, "A", "LUGGAGE", {"item_name": [
        {"value": "x", "language_tag": "de_DE", "marketplace_id": "A1PA6795UKMFR9"}]}, known=False)])))
    assert contract.listings_feed_problems(ours) == []
    fake = SpApiFake(FakeClock(), contract=contract)
    fake.feed_uploads["d"] = {"content_type": "application/json", "data": b'{"header": {}, "messages": []}'}
    report = fake._process_feed({"feedId": "1", "_doc": "d", "marketplaceIds": ["A1PA6795UKMFR9"]})
    assert len(report["issues"]) == 1 and "messageId" not in report["issues"][0]
    assert contract.processing_report_problems(report) == []
