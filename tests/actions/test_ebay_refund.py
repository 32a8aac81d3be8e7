"""Refunds on eBay through ``issueRefund`` from ``marketd orders act ORDER refund``: full and
partial, validated against eBay's OpenAPI contract by the fake, once per request (the call is
not idempotent at eBay), a refusal reported in eBay's words."""
from __future__ import annotations

from decimal import Decimal

from click.testing import CliRunner

import marketd.plugins.actions as actions_plugin

from tests.ebay.conftest import clock, creds_env, fake, make_app, transport  # noqa: F401  (fixtures)


def world(fake, make_app):  # noqa: F811
    orders = fake.populate(2, days=2)
    app = make_app(extra_plugins={"actions": actions_plugin}, shop={})
    app.channel("shop").sync_orders(None)
    return app, orders


def act(app, *args):
    from marketd.cli import cli

    return CliRunner().invoke(cli, ["orders", "act", *args], obj={"app": app}, env={"USER": "anna"},
                              catch_exceptions=False)


def test_a_partial_then_the_rest_refunded_once_each(fake, make_app, ebay_contract):  # noqa: F811
    app, orders = world(fake, make_app)
    oid = orders[0]["orderId"]
    total = Decimal(orders[0]["pricingSummary"]["total"]["value"])
    cur = orders[0]["pricingSummary"]["total"]["currency"]
    res = act(app, oid, "refund", "--amount", "1.50", "--currency", cur, "--reason", "price_error")
    assert res.exit_code == 0, res.output
    (applied,) = fake.refunds
    assert applied["body"] == {"reasonForRefund": "SELLER_FOUND_CHEAPER_PRICE",
                               "orderLevelRefundAmount": {"value": "1.50", "currency": cur}}
    again = act(app, oid, "refund", "--amount", "1.50", "--currency", cur, "--reason", "price_error")
    assert "already done" in again.output and len(fake.refunds) == 1  # the same request: not a second refund
    too_much = act(app, oid, "refund", "--amount", str(total), "--currency", cur, "--reason", "buyer_request")
    assert too_much.exit_code != 0 and "34915" in too_much.output
    rest = total - Decimal("1.50")
    res = act(app, oid, "refund", "--amount", str(rest), "--currency", cur, "--reason", "buyer_request")
    assert res.exit_code == 0, res.output
    assert [r["body"]["orderLevelRefundAmount"]["value"] for r in fake.refunds] == ["1.50", format(rest, "f")]
    refunds = fake.orders[oid]["paymentSummary"]["refunds"]
    assert {r["refundStatus"] for r in refunds} == {"PENDING"}
    assert fake.violations == []
    rows = list(app.store.db.query("select state, remote_ref, reason from order_actions order by id"))
    assert [(r["state"], r["reason"]) for r in rows] == [("done", "price_error"), ("failed", "buyer_request"),
                                                         ("done", "buyer_request")]
    assert rows[0]["remote_ref"] == refunds[0]["refundId"]


def test_a_full_refund_takes_the_stored_total_and_lines_are_refused(fake, make_app):  # noqa: F811
    app, orders = world(fake, make_app)
    oid = orders[1]["orderId"]
    res = act(app, oid, "refund", "--reason", "out_of_stock")
    assert res.exit_code == 0, res.output
    assert fake.refunds[0]["body"]["orderLevelRefundAmount"]["value"] == \
        app.store.get_order(f"shop:{oid}")["total"]
    assert fake.refunds[0]["body"]["reasonForRefund"] == "SELLER_OUT_OF_STOCK"
    res = act(app, oid, "refund", "--lines", "SKU-1:1", "--reason", "other")
    assert res.exit_code != 0 and "amount per line" in res.output
    assert len(fake.refunds) == 1


def test_a_refund_made_here_gets_its_credit_note_against_the_invoice(fake, make_app, tmp_path):  # noqa: F811
    import json

    import marketd.plugins.invoices as invoices_plugin
    from marketd.plugins.invoices.issuer import issue_invoice
    from marketd.plugins.invoices.render import find_font
    from marketd.plugins.invoices.settings import InvoicesSettings, invoice_settings

    orders = fake.populate(1, days=2)
    app = make_app(extra_plugins={"actions": actions_plugin, "invoices": invoices_plugin}, shop={})
    # the eBay fixture builds the App without [jobs]: the table as a start would have validated it
    app.config["jobs"]["invoices"] = InvoicesSettings.model_validate({
        "seller": {"name": "Bottega Srl", "vat_id": "IT01234567890", "country": "IT"}, "vat_rate": "22",
        "channels": {"shop": {}}})
    app.channel("shop").sync_orders(None)
    oid = orders[0]["orderId"]
    order = app.store.get_order(f"shop:{oid}")
    inv = issue_invoice(app, invoice_settings(app), order, find_font(None), explicit=True)
    res = act(app, oid, "refund", "--amount", "2.00", "--currency", order["currency"], "--reason", "price_error")
    assert res.exit_code == 0, res.output
    (cn,) = app.store.db.query("select * from documents where kind = 'credit_note'")
    assert (cn["refers_to"], cn["total_gross"], cn["trigger_key"]) == (inv["id"], "2.00", "action:1")
    assert json.loads(cn["snapshot"])["refers_to"]["doc_no"] == inv["doc_no"]
