"""Cancelling an eBay order with ``marketd orders act ORDER cancel`` through the Post-Order API
(``check_eligibility`` then ``createCancellation``, ``Authorization: IAF``), against the fake
eBay; and, for EU/UK sellers (``digital_signature = true``), the money-moving calls
(``issueRefund``, ``createCancellation``) carry an RFC 9421 signature covering the body's
``Content-Digest`` — the fake refuses them unsigned."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import marketd.plugins.actions as actions_plugin
from marketd.plugins.ebay.settings import env_name

from tests.ebay.conftest import clock, creds_env, fake, keypair as signing, make_app, transport  # noqa: F401  (fixtures)


def world(fake, make_app, **shop):  # noqa: F811
    orders = fake.populate(3, days=2)
    app = make_app(extra_plugins={"actions": actions_plugin}, shop=shop)
    app.channel("shop").sync_orders(None)
    return app, orders


def act(app, *args):
    from marketd.cli import cli

    return CliRunner().invoke(cli, ["orders", "act", *args], obj={"app": app}, env={"USER": "anna"},
                              catch_exceptions=False)


def test_cancel_goes_through_post_order_once_with_the_sellers_reason(fake, make_app):  # noqa: F811
    app, orders = world(fake, make_app)
    oid = orders[0]["orderId"]
    fake.touch(oid, orderFulfillmentStatus="NOT_STARTED")
    res = act(app, oid, "cancel", "--reason", "out_of_stock")
    assert res.exit_code == 0, res.output
    (done,) = fake.cancellations
    assert done["body"] == {"legacyOrderId": oid, "cancelReason": "OUT_OF_STOCK_OR_CANNOT_FULFILL"}
    assert fake.orders[oid]["cancelStatus"]["cancelState"] == "CANCELED"
    calls = fake.calls_of("createCancellation")
    assert calls and all(c.headers["authorization"] == "***" for c in calls)
    again = act(app, oid, "cancel", "--reason", "out_of_stock")
    assert "already done" in again.output and len(fake.cancellations) == 1
    (row,) = app.store.db.query("select * from order_actions")
    assert (row["state"], row["remote_ref"]) == ("done", done["cancelId"])
    # a buyer's request maps to eBay's BUYER_ASKED_CANCEL
    other = orders[1]["orderId"]
    fake.touch(other, orderFulfillmentStatus="NOT_STARTED")
    assert act(app, other, "cancel", "--reason", "buyer_request").exit_code == 0
    assert fake.cancellations[-1]["body"]["cancelReason"] == "BUYER_ASKED_CANCEL"


def test_a_shipped_order_is_refused_in_ebays_words_and_lines_before_any_call(fake, make_app):  # noqa: F811
    app, orders = world(fake, make_app)
    oid = orders[0]["orderId"]
    fake.touch(oid, orderFulfillmentStatus="FULFILLED")
    res = act(app, oid, "cancel")
    assert res.exit_code != 0 and "ORDER_ALREADY_SHIPPED" in res.output
    assert fake.count("createCancellation") == 0 and fake.cancellations == []
    lines = act(app, orders[1]["orderId"], "cancel", "--lines", "SKU-1:1")
    assert lines.exit_code != 0 and "whole orders only" in lines.output
    assert fake.count("checkCancellationEligibility") == 1


def test_the_fake_takes_only_iaf_auth_on_post_order(fake, make_app):  # noqa: F811
    app, orders = world(fake, make_app)
    api = app.channel("shop").api
    token = api.tokens.access_token()
    url = api.url(api.endpoint, "/post-order/v2/cancellation/check_eligibility")
    bearer = api.http.request("POST", url, operation="x", headers={"Authorization": f"Bearer {token}",
                                                                    "Content-Type": "application/json"},
                              content=b'{"legacyOrderId": "1"}')
    assert bearer.status_code == 401


def test_an_eu_seller_signs_refund_and_cancellation_with_the_body_digest(fake, make_app, signing):  # noqa: F811
    app, orders = world(fake, make_app, digital_signature=True)
    oid, other = orders[0]["orderId"], orders[1]["orderId"]
    cur = orders[0]["pricingSummary"]["total"]["currency"]
    assert act(app, oid, "refund", "--amount", "1.00", "--currency", cur).exit_code == 0
    fake.touch(other, orderFulfillmentStatus="NOT_STARTED")
    assert act(app, other, "cancel", "--reason", "address_issue").exit_code == 0
    assert len(fake.refunds) == 1 and len(fake.cancellations) == 1
    signed = fake.calls_of("issueRefund") + fake.calls_of("createCancellation")
    assert all(c.status in (200, 201) and "content-digest" in c.headers and "signature-input" in c.headers
               for c in signed)
    assert all('"content-digest"' in c.headers["signature-input"] for c in signed)
    # reads stay unsigned
    assert all("signature-input" not in c.headers for c in fake.calls_of("getOrders"))


def test_an_unsigned_refund_from_an_eu_seller_is_refused_and_nothing_moves(fake, make_app, signing):  # noqa: F811
    app, orders = world(fake, make_app)   # digital_signature left off
    oid = orders[0]["orderId"]
    cur = orders[0]["pricingSummary"]["total"]["currency"]
    res = act(app, oid, "refund", "--amount", "1.00", "--currency", cur)
    assert res.exit_code != 0 and "215120" in res.output
    assert fake.refunds == []
