"""Finances API payouts (the files the ebay-payouts job writes) as the ``ebay-finances-api``
settlement format: signs, fee lines, every transaction's lines adding up to its amount, and the
payout check through the real settlements plugin."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from marketd.plugins.ebay.finances import EbayFinancesFormat, transaction_lines

from .settlement_env import ACCOUNT, env, make_env, summary  # noqa: F401  (fixtures)


def amt(v: str, cur: str = "EUR") -> dict:
    return {"value": v, "currency": cur}


SALE = {"transactionId": "01-1-1", "orderId": "10-1", "transactionType": "SALE", "bookingEntry": "CREDIT",
        "transactionDate": "2026-10-03T10:00:00.000Z", "amount": amt("17.60"), "totalFeeAmount": amt("2.40"),
        "totalFeeBasisAmount": amt("20.00"),
        "orderLineItems": [{"lineItemId": "L1", "feeBasisAmount": amt("20.00"), "marketplaceFees": [
            {"feeType": "FINAL_VALUE_FEE", "amount": amt("2.05")},
            {"feeType": "FINAL_VALUE_FEE_FIXED_PER_ORDER", "amount": amt("0.35")}]}]}


def by(lines) -> dict:
    return {(ln.category, ln.subtype): ln.amount for ln in lines}


def test_a_sale_splits_into_revenue_and_each_fee():
    warnings: set = set()
    lines = transaction_lines(SALE, "t", warnings)
    assert by(lines) == {("revenue", None): Decimal("20.00"),
                         ("marketplace_fee", "final_value_fee_variable"): Decimal("-2.05"),
                         ("marketplace_fee", "final_value_fee_fixed"): Decimal("-0.35")}
    assert sum(ln.amount for ln in lines) == Decimal("17.60") and not warnings
    assert all(ln.order_ref == "10-1" and ln.posted_first.isoformat() == "2026-10-03T10:00:00+00:00" for ln in lines)


def test_fees_that_do_not_add_up_to_the_total_fee_leave_an_other_fee_line():
    sale = json.loads(json.dumps(SALE))
    sale["totalFeeAmount"] = amt("2.50")
    lines = transaction_lines(sale, "t", set())
    assert by(lines)[("marketplace_fee", "other")] == Decimal("-0.10")
    assert by(lines)[("revenue", None)] == Decimal("20.10") and sum(ln.amount for ln in lines) == Decimal("17.60")


def test_a_sale_without_fee_detail_and_an_unknown_fee_type():
    sale = {**SALE, "orderLineItems": [], "totalFeeAmount": None}
    assert by(transaction_lines(sale, "t", set())) == {("revenue", None): Decimal("17.60")}
    sale = json.loads(json.dumps(SALE))
    sale["orderLineItems"][0]["marketplaceFees"][0]["feeType"] = "NEW_SHINY_FEE"
    warnings: set = set()
    assert ("marketplace_fee", "new_shiny_fee") in by(transaction_lines(sale, "t", warnings))
    assert any("NEW_SHINY_FEE" in w for w in warnings)


@pytest.mark.parametrize("t,expected", [
    ({"transactionType": "REFUND", "bookingEntry": "DEBIT", "amount": amt("20.00"), "orderId": "10-1"},
     {("refund", None): Decimal("-20.00")}),
    ({"transactionType": "SHIPPING_LABEL", "bookingEntry": "DEBIT", "amount": amt("4.90"),
      "references": [{"referenceId": "10-1", "referenceType": "ORDER_ID"}]}, {("shipping_label", None): Decimal("-4.90")}),
    ({"transactionType": "NON_SALE_CHARGE", "bookingEntry": "DEBIT", "amount": amt("1.10"), "feeType": "AD_FEE",
      "references": [{"referenceId": "10-1", "referenceType": "ORDER_ID"}]}, {("marketplace_fee", "ad_fee"): Decimal("-1.10")}),
    ({"transactionType": "CREDIT", "bookingEntry": "CREDIT", "amount": amt("3.00")}, {("other", "credit"): Decimal("3.00")}),
    ({"transactionType": "TRANSFER", "bookingEntry": "DEBIT", "amount": amt("9.99")}, {("transfer", None): Decimal("-9.99")}),
    ({"transactionType": "DISPUTE", "bookingEntry": "DEBIT", "amount": amt("5.00"), "orderId": "10-1"},
     {("refund", "dispute"): Decimal("-5.00")}),
    ({"transactionType": "LOAN_REPAYMENT", "bookingEntry": "DEBIT", "amount": amt("7.00")},
     {("unclassified", "loan_repayment"): Decimal("-7.00")}),
])
def test_one_line_types_and_their_signs(t, expected):
    lines = transaction_lines({"transactionId": "x", "transactionDate": "2026-10-03T10:00:00.000Z", **t}, "t", set())
    assert by(lines) == expected
    assert lines[0].order_ref == ("10-1" if "10-1" in json.dumps(t) else None)


def test_a_refund_with_fee_credits_gives_the_fee_back():
    t = {"transactionType": "REFUND", "bookingEntry": "DEBIT", "amount": amt("20.00"), "orderId": "10-1",
         "transactionDate": "2026-10-05T10:00:00.000Z",
         "orderLineItems": [{"lineItemId": "L1", "marketplaceFees": [{"feeType": "FINAL_VALUE_FEE", "amount": amt("2.30")}]}]}
    lines = transaction_lines(t, "t", set())
    assert by(lines) == {("marketplace_fee", "final_value_fee_variable"): Decimal("2.30"),
                         ("refund", None): Decimal("-22.30")}
    assert sum(ln.amount for ln in lines) == Decimal("-20.00")


def test_sniff():
    fmt = EbayFinancesFormat()
    assert fmt.sniff(b'{\n "marketd_source": "ebay-finances-v1",\n "account": "x"}', "x.json")
    assert not fmt.sniff(b'{"marketd_source": "mall-financial-v1"}', "x.json")
    assert not fmt.sniff(b"Transaction creation date,Type,Net amount\n", "x.csv")


def test_fetched_payouts_check_exactly_and_match_the_orders(make_env):
    from marketd.plugins.ebay.payouts import fetch_payouts

    env = make_env(channel={"settlements_fetch": True})
    orders = env.shipped_orders(5, items=2)
    payout = env.fake.make_payout(refund=(orders[0]["orderId"], "2.50"))
    files = fetch_payouts(env.app, env.channel)
    res = env.drop(files[0].read_bytes(), name=files[0].name)
    assert res["state"] == "done", res["error"]
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:{payout['payoutId']}"]
    assert p["status"] == "ok" and Decimal(p["stated_total"]) == Decimal(payout["amount"]["value"])
    assert p["matched"] == 5 and p["unmatched"] == 0
    for o in orders:
        f = env.finance(o["orderId"])[0]
        assert Decimal(f["revenue"]) == Decimal(o["pricingSummary"]["total"]["value"])
    assert Decimal(env.finance(orders[0]["orderId"])[0]["refund"]) == Decimal("-2.50")
    again = env.drop(files[0].read_bytes(), name="copy.json")
    assert again["state"] == "duplicate" or summary(again).get("duplicate_payout")


def test_a_payout_whose_transactions_do_not_add_up_is_inconsistent_and_says_why(make_env):
    from marketd.plugins.ebay.payouts import fetch_payouts

    env = make_env(channel={"settlements_fetch": True})
    env.shipped_orders(2)
    payout = env.fake.make_payout()
    files = fetch_payouts(env.app, env.channel)
    doc = json.loads(files[0].read_text())
    doc["transactions"] = doc["transactions"][1:]  # one missing
    res = env.drop(json.dumps(doc), name="short.json")
    assert res["state"] == "done"
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:{payout['payoutId']}"]
    assert p["status"] == "inconsistent" and "states" in p["warnings"]
