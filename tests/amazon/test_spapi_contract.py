"""Contract tests against the official models in shared/specs/amazon (skipped when absent, failed under CI)."""
from __future__ import annotations

import json

import pytest

from tests.fakes.specs import amazon_model, require_amazon_specs
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def specs():
    return str(require_amazon_specs())


def test_rate_limit_tables_match_the_models_usage_plans(specs):
    from marketd.plugins.amazon.client import DEFAULT_LIMITS
    from marketd.plugins.amazon.fake import OFFICIAL_LIMITS
    from tests.fakes.specs import MODEL_OF

    for table in (OFFICIAL_LIMITS, DEFAULT_LIMITS):
        for op, (rate, burst) in table.items():
            plan = amazon_model(MODEL_OF[op], specs).usage_plan(op)
            assert plan == (rate, burst), f"{op}: model says {plan}, table says {(rate, burst)}"


def test_model_examples_are_valid_and_the_validator_catches_drift(specs):
    orders = amazon_model("orders2026", specs)
    example = orders.ops["searchOrders"][2]["responses"]["200"]["examples"]["application/json"]
    assert orders.validate("SearchOrdersResponse", example) == []
    broken = json.loads(json.dumps(example))
    del broken["orders"][0]["lastUpdatedTime"]
    assert any("lastUpdatedTime" in p for p in orders.validate("SearchOrdersResponse", broken))


def test_generated_orders_are_valid_v2026_orders(specs, fake):
    orders = amazon_model("orders2026", specs)
    for o in fake.populate(300):
        assert orders.validate("Order", o) == [], o["orderId"]


def test_wrong_confirm_shipment_body_is_rejected_by_the_fake(specs, fake, api):
    fake.populate(3, status="UNSHIPPED", fulfilled_by="MERCHANT")
    oid = next(iter(fake.orders))
    bad = {"marketplaceId": "APJ6JRA9NG5V4",
           "packageDetail": {"packageReferenceId": "1", "carrierCode": "BRT", "trackingNumber": "123",
                             "shipDate": "02/21/2022",  # not ISO 8601 (the model's own 400 example)
                             "orderItems": [{"orderItemId": "1", "quantity": "one"}]}}
    resp = api.confirm_shipment(oid, bad)
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["code"] == "Invalid Input"
    problems = fake.violations[-1]["problems"]
    assert any("shipDate" in p for p in problems) and any("quantity" in p for p in problems)
    assert fake.orders[oid]["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"


def test_missing_required_field_in_create_report_is_rejected(specs, fake, api):
    resp = api.call("POST", "/reports/2021-06-30/reports", "createReport", json_body={"reportType": "X"})
    assert resp.status_code == 400
    assert any("marketplaceIds" in p for p in fake.violations[-1]["problems"])


def test_confirmation_body_built_by_the_channel_is_valid(specs, fake, make_app):
    model = amazon_model("ordersV0", specs)
    app = make_app(amz={"orders_sync": True})
    ch = app.channel("amz")
    body = ch.confirmation_body("402-1234567-1234567", {
        "packageReferenceId": "1", "carrierCode": "SpeedyCourier", "carrierName": "Speedy Courier",
        "trackingNumber": "AB123", "shipDate": "2026-11-02T10:00:00+00:00",
        "orderItems": [{"orderItemId": "12345678901234", "quantity": 2}]})
    assert model.validate("ConfirmShipmentRequest", body) == []
    assert body["packageDetail"]["carrierCode"] == "Other"


def test_fake_response_drift_is_visible(specs, fake, api, clock):
    """If the fake served something outside the model, the test sees HTTP 599 and a violation."""
    fake.populate(1)
    oid = next(iter(fake.orders))
    del fake.orders[oid]["salesChannel"]  # make the fake wrong on purpose
    resp = api.call("GET", f"/orders/2026-01-01/orders/{oid}", "getOrder")
    assert resp.status_code == 599
    assert fake.response_violations and "salesChannel" in fake.response_violations[0]["problems"][0]
    fake.response_violations.clear()  # expected here; the fixture checks none are left


def test_sandbox_static_examples_of_confirm_shipment(specs):
    model = amazon_model("ordersV0", specs)
    resp = model.ops["confirmShipment"][2]["responses"]
    good = resp["204"]["x-amzn-api-sandbox"]["static"][0]["request"]["parameters"]["body"]["value"]
    bad = resp["400"]["x-amzn-api-sandbox"]["static"][0]["request"]["parameters"]["body"]["value"]
    assert model.validate("ConfirmShipmentRequest", good) == []
    assert model.validate("ConfirmShipmentRequest", bad) != []
