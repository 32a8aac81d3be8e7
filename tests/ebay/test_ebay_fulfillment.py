"""Tracking back to eBay: createShippingFulfillment exactly once per package, never re-sent blind
after an error answer (read back first), 409/34500 handled, refusals as data."""
from __future__ import annotations

import pytest

from marketd.errors import TransientError
from marketd.plugins.shipments.tracking import build_package


def _setup(fake, make_app, n=3):
    orders = fake.populate(n, days=2)
    app = make_app(shop={"orders_sync": True})
    ch = app.channel("shop")
    ch.sync_orders(None)
    return app, ch, orders


def package(order: dict, tracking="0123456789ABC", ref="1", carrier="BRT") -> dict:
    """The package tracking-sync builds from the stored order (orderItems = the eBay line items)."""
    return {"packageReferenceId": ref, "carrierCode": carrier, "carrierName": carrier, "trackingNumber": tracking,
            "shipDate": None,
            "orderItems": [{"orderItemId": li["lineItemId"], "quantity": li["quantity"]} for li in order["lineItems"]]}


def test_created_once_with_the_fulfillment_id_from_location(fake, make_app, ebay_contract):
    app, ch, orders = _setup(fake, make_app)
    o = orders[0]
    result = ch.confirm_shipment(o["orderId"], package(o))
    assert result["ok"] and result["status"] == 201
    created = fake.fulfillments_of(o["orderId"])
    assert len(created) == 1 and result["fulfillment_id"] == created[0]["fulfillmentId"]
    assert created[0]["shipmentTrackingNumber"] == "0123456789ABC" and created[0]["shippingCarrierCode"] == "BRT"
    assert fake.orders[o["orderId"]]["orderFulfillmentStatus"] == "FULFILLED"
    # the same package again: nothing is sent
    again = ch.confirm_shipment(o["orderId"], package(o))
    assert again["ok"] and again["already_confirmed"]
    assert fake.count("createShippingFulfillment") == 1
    assert fake.violations == []
    row = app.store.db.execute("select state, fulfillment_id from ebay_fulfillments").fetchone()
    assert tuple(row) == ("confirmed", result["fulfillment_id"])


def test_package_from_the_stored_order_through_build_package(fake, make_app):
    app, ch, orders = _setup(fake, make_app)
    o = orders[1]
    stored = app.store.get_order(f"shop:{o['orderId']}")
    shipment = {"package_ref": "1", "carrier_code": "GLS", "carrier_label": "GLS", "tracking_number": "GLS123",
                "first_scan_at": "2026-11-01T08:00:00+00:00", "created_at": "2026-11-01T07:00:00+00:00"}
    pkg = build_package({"package_ref": "1"}, shipment, stored)
    result = ch.confirm_shipment(o["orderId"], pkg)
    assert result["ok"]
    sent = fake.calls_of("createShippingFulfillment")[0].json()
    assert sorted((li["lineItemId"], li["quantity"]) for li in sent["lineItems"]) == \
        sorted((li["lineItemId"], li["quantity"]) for li in o["lineItems"])
    assert sent["shippedDate"] == "2026-11-01T08:00:00.000Z" and sent["shippingCarrierCode"] == "GLS"


@pytest.mark.parametrize("status", [500, 409])
def test_an_error_answer_after_the_fulfillment_was_made_is_read_back_not_resent(fake, make_app, status):
    """eBay: a 500 'may succeed if you issue it once more' — the first one may have worked."""
    app, ch, orders = _setup(fake, make_app)
    o = orders[0]
    fake.succeed_then(status)
    result = ch.confirm_shipment(o["orderId"], package(o))
    assert result["ok"] and result["already_confirmed"]
    assert fake.count("createShippingFulfillment") == 1  # no blind retry of the POST
    assert fake.count("getShippingFulfillments") == 1
    assert len(fake.fulfillments_of(o["orderId"])) == 1
    assert ch.shipment_confirmed(o["orderId"], package(o)) is True


def test_a_500_that_did_nothing_is_transient_and_the_next_try_looks_first(fake, make_app):
    app, ch, orders = _setup(fake, make_app)
    o = orders[0]
    fake.fail_next("createShippingFulfillment", 500)
    with pytest.raises(TransientError, match="no fulfilment with this tracking number"):
        ch.confirm_shipment(o["orderId"], package(o))
    assert fake.count("createShippingFulfillment") == 1 and fake.count("getShippingFulfillments") == 1
    assert app.store.db.execute("select state from ebay_fulfillments").fetchone()[0] == "unknown"
    result = ch.confirm_shipment(o["orderId"], package(o))  # the tracking job's next try
    assert result["ok"] and not result.get("already_confirmed")
    assert [c.operation for c in fake.journal if c.operation != "oauth.token"][-3:] == [
        "getShippingFulfillments", "getShippingFulfillments", "createShippingFulfillment"]
    assert len(fake.fulfillments_of(o["orderId"])) == 1


def test_a_timeout_is_not_retried_either(fake, make_app):
    app, ch, orders = _setup(fake, make_app)
    o = orders[0]
    fake.succeed_then(504)
    result = ch.confirm_shipment(o["orderId"], package(o))
    assert result["ok"] and fake.count("createShippingFulfillment") == 1


def test_34500_for_the_same_tracking_is_success(fake, make_app):
    app, ch, orders = _setup(fake, make_app)
    o = orders[0]
    assert ch.confirm_shipment(o["orderId"], package(o, ref="1"))["ok"]
    # another package reference with the same tracking (a restored ledger, a second shipment row)
    result = ch.confirm_shipment(o["orderId"], package(o, ref="2"))
    assert result["ok"] and result["already_confirmed"]
    assert fake.count("createShippingFulfillment", 400) == 1
    assert len(fake.fulfillments_of(o["orderId"])) == 1


def test_34500_with_other_tracking_is_a_refusal_that_names_it(fake, make_app):
    app, ch, orders = _setup(fake, make_app)
    o = orders[0]
    assert ch.confirm_shipment(o["orderId"], package(o, tracking="FIRST1", ref="1"))["ok"]
    result = ch.confirm_shipment(o["orderId"], package(o, tracking="SECOND2", ref="2"))
    assert not result["ok"] and result["status"] == 400
    assert "34500" in result["error"] and "eBay already has tracking FIRST1" in result["error"]
    assert "Seller Hub" in result["error"]


def test_an_unknown_carrier_code_is_refused_with_a_fix(fake, make_app):
    app, ch, orders = _setup(fake, make_app)
    o = orders[0]
    result = ch.confirm_shipment(o["orderId"], package(o, carrier="SPEEDYPOST"))
    assert not result["ok"] and "32300" in result["error"] and "carrier_codes" in result["error"]
    assert app.store.db.execute("select state from ebay_fulfillments").fetchone()[0] == "refused"
    app2 = make_app(shop={"carrier_codes": {"speedypost": "Other"}})
    assert app2.channel("shop").confirm_shipment(o["orderId"], package(o, carrier="SPEEDYPOST"))["ok"]


def test_a_partial_package_leaves_the_order_in_progress(fake, make_app, clock):
    orders = fake.populate(1, days=1, items=2)
    app = make_app(shop={"orders_sync": True})
    ch = app.channel("shop")
    o = orders[0]
    pkg = package(o)
    pkg["orderItems"] = pkg["orderItems"][:1]
    assert ch.confirm_shipment(o["orderId"], pkg)["ok"]
    assert fake.orders[o["orderId"]]["orderFulfillmentStatus"] == "IN_PROGRESS"
    clock.advance(120)  # the change is in the next closed window
    ch.sync_orders(None)
    assert app.store.get_order(f"shop:{o['orderId']}")["status"] == "PARTIALLY_SHIPPED"


def test_shipment_confirmed_tells_yes_no_and_cannot_tell(fake, make_app):
    app, ch, orders = _setup(fake, make_app)
    a, b = orders[0], orders[1]
    assert ch.shipment_confirmed(a["orderId"], package(a)) is False
    # made on eBay by someone else (or by us before a crash): only the read-back knows
    fake.fulfillments[a["orderId"]] = [{"fulfillmentId": "9", "shipmentTrackingNumber": "0123456789ABC",
                                       "shippingCarrierCode": "BRT", "shippedDate": "2026-11-01T00:00:00.000Z",
                                       "lineItems": [{"lineItemId": a["lineItems"][0]["lineItemId"], "quantity": 1}]}]
    assert ch.shipment_confirmed(a["orderId"], package(a)) is True
    fake.fail_next("getShippingFulfillments", 503, times=10)
    assert ch.shipment_confirmed(b["orderId"], package(b)) is None
