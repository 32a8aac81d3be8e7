"""ManoMano's accounting CSVs (it has no settlement API): the payout detail and the sales file as
payout formats of the settlements plugin, through the real engine (claim, parse, store, match,
split, reports), and the ``marketd status`` section that says when a payout file is overdue."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from marketd.plugins.manomano import accounting as acc
from marketd.plugins.manomano.formats import FORMATS, PayoutCsv, SalesCsv, parse_date
from marketd.sdk.settlements import Category
from marketd.sdk.testing import process_file

D = Decimal
PARIS_MIDNIGHT_UTC = datetime(2026, 10, 14, 22, 0, tzinfo=timezone.utc)  # 2026-10-15 00:00 in Paris (CEST)

SALES = ("reference;type;createdAt;amountVatIncl;commissionVatIncl;commissionVatExcl;vatOnCommission;netAmount;"
         "productPriceVatExcl;vatOnProduct;shippingPriceVatExcl;vatOnShipping\n"
         "M2026100312345;ORDER;2026-10-03;59.90;8.99;7.49;1.50;50.91;41.58;8.32;8.33;1.67\n")
DETAIL = ("REFERENCE;TYPE;PAYOUT_REFERENCE;PAYOUT_DATE;AMOUNT;AMOUNT_VAT_EXCL\n"
          "M2026100312345;ORDER;PO-2026-10-15;2026-10-15;50.91;42.43\n"
          ";SUBSCRIPTION;PO-2026-10-15;2026-10-15;-39.00;-32.50\n")


# -- recognising the files ------------------------------------------------------------------------------
@pytest.mark.parametrize("head,sales,payout", [
    (SALES, True, False), (DETAIL, False, True),
    ("\ufeff" + DETAIL, False, True),                                           # BOM
    (DETAIL.replace("AMOUNT;AMOUNT_VAT_EXCL", "NET_AMOUNT;AMOUNT_HT"), False, True),  # the parser's aliases
    (SALES.replace("createdAt", "operationDate"), True, False),
    (DETAIL.replace(";", ","), False, True),                                    # another delimiter
    (DETAIL.lower(), False, True),
    ("REFERENCE;TYPE;PAYOUT_DATE;AMOUNT\n", False, False),                      # no PAYOUT_REFERENCE
    ("settlement-id\tsettlement-start-date\ttotal-amount\n", False, False),     # Amazon
    ("Transaction creation date,Type,Order number,Net amount\n", False, False),  # eBay
])
def test_sniff(head, sales, payout):
    raw = head.encode("utf-8")
    assert SalesCsv().sniff(raw, "x.csv") is sales
    assert PayoutCsv().sniff(raw, "x.csv") is payout


def test_cp1252_headers_are_read():
    assert PayoutCsv().sniff(DETAIL.replace("\n;", "\nÉ;").encode("cp1252"), "Detail versement.csv")


@pytest.mark.parametrize("text,expected", [
    ("2026-10-15", PARIS_MIDNIGHT_UTC), ("15/10/2026", PARIS_MIDNIGHT_UTC),
    ("2026-10-15T10:00:00Z", datetime(2026, 10, 15, 10, tzinfo=timezone.utc)),
    ("2026-10-15 12:00:00", datetime(2026, 10, 15, 10, tzinfo=timezone.utc)), ("", None), ("15.10.26", None)])
def test_dates(text, expected):
    assert parse_date(text) == expected


# -- the pure mapping ---------------------------------------------------------------------------------
def prow(line, ref, kind, amount, payout="PO-1", day=PARIS_MIDNIGHT_UTC):
    return acc.PayoutRow(line, ref, kind, payout, day, D(amount))


def test_payout_lines_by_type():
    rows = [prow(2, "M1", "ORDER", "50.91"), prow(3, "M1", "ORDER", "10.00"), prow(4, "M2", "REFUND", "-20.00"),
            prow(5, "M2", "REFUND_PENALTY", "-1.50"), prow(6, None, "SUBSCRIPTION", "-39.00"),
            prow(7, "M1", "ECO_CONTRIBUTION", "-0.50"), prow(8, "M1", "ECO_CONTRIBUTION_SERVICE", "-0.20"),
            prow(9, None, "ADJUSTMENT", "5.00"), prow(10, "M3", "GOODWILL", "3.00"),
            prow(11, "M4", "ORDER", "1", "PO-2")]
    out = {p.payout_id: p for p in acc.payouts(rows, channel="mm-fr", match_channels=("mm-fr",))}
    assert sorted(out) == ["PO-1", "PO-2"]
    p = out["PO-1"]
    got = {(ln.order_ref, ln.category, ln.subtype, ln.description): (ln.amount, ln.rows) for ln in p.lines}
    assert got == {
        ("M1", "revenue", "net_of_fees", "ORDER"): (D("60.91"), 2),
        ("M2", "refund", None, "REFUND"): (D("-20.00"), 1),
        ("M2", "marketplace_fee", "refund_penalty", "REFUND_PENALTY"): (D("-1.50"), 1),
        (None, "marketplace_fee", "subscription", "SUBSCRIPTION"): (D("-39.00"), 1),
        ("M1", "other", "eco_contribution", "ECO_CONTRIBUTION"): (D("-0.50"), 1),
        ("M1", "other", "eco_contribution", "ECO_CONTRIBUTION_SERVICE"): (D("-0.20"), 1),
        (None, "other", "adjustment", "ADJUSTMENT"): (D("5.00"), 1),
        ("M3", "unclassified", "goodwill", "GOODWILL"): (D("3.00"), 1),
    }
    assert p.stated_total is None and p.paid_at == PARIS_MIDNIGHT_UTC and p.currency == "EUR"
    assert p.key() == "manomano:payout:PO-1" and p.bkey() == "manomano-payout:PO-1"
    assert p.paid_items == [("M1", "ORDER")]
    assert {r.reason for r in p.source_rows} == {"no_order", "unclassified"}
    assert any("GOODWILL" in w for w in p.warnings)
    assert ("Payout (computed)", D("7.71")) in p.summary_lines  # 60.91 - 20 - 1.50 - 39 - 0.70 + 5 + 3


def test_a_positive_refund_is_warned_about_and_kept():
    p = acc.payouts([prow(2, "M1", "REFUND", "12.00")], channel=None, match_channels=None)[0]
    assert p.lines[0].amount == D("12.00") and p.lines[0].category == Category.REFUND
    assert any("positive" in w and "unverified" in w for w in p.warnings)


def test_breakdowns_from_the_sales_file():
    rows = [acc.SalesRow(2, "M1", "ORDER", PARIS_MIDNIGHT_UTC, D("59.90"), D("8.99"), D("50.91")),
            acc.SalesRow(3, "M1", "REFUND", PARIS_MIDNIGHT_UTC, D("-59.90"), D("-8.99"), D("-50.91")),
            acc.SalesRow(4, "M2", "ORDER", PARIS_MIDNIGHT_UTC, D("10.00"), D("1.00"), D("9.50")),
            acc.SalesRow(5, "M3", "CHARGEBACK", PARIS_MIDNIGHT_UTC, D("1"), D("0"), D("1"))]
    found, warnings = acc.breakdowns(rows, "mm-fr")
    by = {(b.order_ref, b.kind): b for b in found}
    assert (by["M1", "ORDER"].gross, by["M1", "ORDER"].fee, by["M1", "ORDER"].net) == (D("59.90"), D("-8.99"),
                                                                                       D("50.91"))
    assert by["M1", "REFUND"].fee == D("8.99")  # the commission given back is a credit
    assert any("M2" in w and "is not netAmount" in w for w in warnings)
    assert any("CHARGEBACK" in w for w in warnings) and ("M3", "CHARGEBACK") not in by


# -- through the settlements plugin -------------------------------------------------------------------
def drop(world, app, name, text, encoding="utf-8"):
    path = world.root / name
    path.write_bytes(text.encode(encoding))
    return process_file(app, "settlements", path)


def synced(world, n=4, **accounts):
    world.fake.populate(n, days=10, statuses={"SHIPPED": 1})
    world.fake.add_order(status="REFUNDED", created_at=world.clock.now() - timedelta(days=2))
    app = world.app(accounts or None)
    for ch in app.channels.values():
        ch.sync_orders(None, max_wait=None)
    return app


def finance(app, key):
    rows = list(app.store.db.query("select * from order_finance where order_key = ?", [key]))
    return rows[0] if rows else None


def test_payout_detail_then_sales_file_split_each_order_exactly(world):
    app = synced(world)
    ca, detail = world.fake.accounting_csvs("PO-2026-11-15", "2026-11-15")
    row = drop(world, app, "Detail versement Manomano 2026-11.csv", detail)
    assert row["state"] == "done", row["error"]
    s = row["summary"]
    assert s["format"] == "manomano-payout-csv" and s["status"] == "unchecked"
    payout = app.store.db.execute("select * from payouts").fetchone()
    payout = dict(zip([d[0] for d in app.store.db.execute("select * from payouts").description], payout))
    assert payout["channel"] == "mm-fr" and payout["stated_total"] is None and payout["unmatched"] == 0
    ref = sorted(o for o, v in world.fake.orders.items() if v["status"] == "SHIPPED")[1]
    before = finance(app, f"mm-fr:{ref}")
    assert before["marketplace_fee_e4"] == 0 and before["revenue_e4"] > 0  # net of fees, not split yet

    row = drop(world, app, "CA Manomano 2026-11.csv", ca)
    assert row["state"] == "done" and row["summary"]["breakdowns"] == 6 and row["summary"]["split_lines"] == 5
    order = world.fake.orders[ref]
    gross = D(str(order["total_price"]["amount"]))
    commission = (gross * D("0.15")).quantize(D("0.01"))
    after = finance(app, f"mm-fr:{ref}")
    assert D(after["revenue_e4"]) / 10000 == gross and D(after["marketplace_fee_e4"]) / 10000 == -commission
    assert after["net_e4"] == before["net_e4"]  # the split moves money between categories, never changes it


def test_sales_file_first_then_payout_detail_splits_too(world):
    app = synced(world)
    ca, detail = world.fake.accounting_csvs("PO-A", "2026-11-15", decimal=",", bom=True)
    assert drop(world, app, "CA Manomano.csv", ca)["state"] == "done"
    row = drop(world, app, "Detail versement Manomano.csv", detail)
    assert row["state"] == "done" and row["summary"]["split_lines"] == 5
    fees = app.store.db.execute("select sum(marketplace_fee_e4) from order_finance").fetchone()[0]
    assert fees < 0
    refunded = next(r for r, o in world.fake.orders.items() if o["status"] == "REFUNDED")
    f = finance(app, f"mm-fr:{refunded}")
    assert f["refund_e4"] < 0 and f["revenue_e4"] > 0


def test_a_breakdown_that_does_not_add_up_leaves_the_line_net_and_says_so(world):
    app = synced(world, n=1)
    ref = next(r for r, o in world.fake.orders.items() if o["status"] == "SHIPPED")
    ca = SALES.replace("M2026100312345", ref).replace(";50.91;41.58", ";50.00;41.58")
    detail = DETAIL.replace("M2026100312345", ref)
    assert drop(world, app, "Detail versement.csv", detail)["state"] == "done"
    row = drop(world, app, "CA Manomano.csv", ca)
    warnings = row["summary"]["file_warnings"]
    assert any("is not netAmount" in w for w in warnings)
    assert any("does not add up" in w and "stays net of fees" in w for w in warnings)
    f = finance(app, f"mm-fr:{ref}")
    assert f["revenue_e4"] == 509100 and f["marketplace_fee_e4"] == 0


def test_the_same_payout_again_is_a_duplicate(world):
    app = synced(world)
    _ca, detail = world.fake.accounting_csvs("PO-B", "2026-11-15")
    assert drop(world, app, "Detail versement.csv", detail)["state"] == "done"
    again = drop(world, app, "Detail versement (1).csv", detail.replace("\n", "\r\n"))  # re-saved: other bytes
    assert again["state"] == "duplicate"
    assert app.store.db.execute("select count(*) from payouts").fetchone()[0] == 1


def test_several_payouts_in_one_file(world):
    app = synced(world)
    _ca, first = world.fake.accounting_csvs("PO-1", "2026-11-01", subscription=None)
    world.fake.add_order(status="SHIPPED", created_at=world.clock.now() - timedelta(hours=3))
    app.channel("mm-fr").sync_orders(None, max_wait=None)
    _ca, second = world.fake.accounting_csvs("PO-2", "2026-11-15")
    both = first + second.split("\n", 1)[1]
    row = drop(world, app, "Detail versement.csv", both)
    assert row["state"] == "done" and row["summary"]["applied"] == 2
    keys = [r[0] for r in app.store.db.execute("select payout_key from payouts order by paid_at")]
    assert keys == ["manomano:payout:PO-1", "manomano:payout:PO-2"]


def test_the_account_is_the_one_whose_orders_the_file_names(world):
    world.fake.populate(3, days=5, contract=1002, statuses={"SHIPPED": 1})
    app = world.app({"mm-fr": {"contract_id": 1001}, "mm-it": {"contract_id": 1002}})
    for ch in app.channels.values():
        ch.sync_orders(None, max_wait=None)
    _ca, detail = world.fake.accounting_csvs("PO-IT", "2026-11-15", contract=1002)
    row = drop(world, app, "Detail versement.csv", detail)
    assert row["state"] == "done"
    assert app.store.db.execute("select channel, matched from payouts").fetchone() == ("mm-it", 3)


@pytest.mark.parametrize("bad,reason,where", [
    (DETAIL.replace("50.91", "50,91x"), "bad_amount", "line 2, column AMOUNT"),
    (DETAIL.replace("2026-10-15;50.91", "tomorrow;50.91"), "bad_date", "line 2, column PAYOUT_DATE"),
    (DETAIL.replace(";PO-2026-10-15;2026-10-15;-39.00", ";;2026-10-15;-39.00"), "missing_payout_reference", "line 3"),
    ("REFERENCE;TYPE;PAYOUT_REFERENCE;PAYOUT_DATE;AMOUNT\n", "no_rows", "line 2")])
def test_bad_content_is_refused_with_its_place(world, bad, reason, where):
    app = synced(world, n=1)
    row = drop(world, app, "Detail versement.csv", bad)
    assert row["state"] == "error" and row["error"]["reason"] == reason and row["error"]["where"] == where


def test_an_unknown_file_lists_the_manomano_formats_in_its_fix(world):
    app = synced(world, n=1)
    row = drop(world, app, "export.csv", "foo;bar\n1;2\n")
    assert row["state"] == "error" and row["error"]["reason"] == "unknown_settlement_format"
    assert "Detail versement" in row["error"]["fix"] and "CA Manomano" in row["error"]["fix"]


def test_the_formats_are_registered_once_each(world):
    app = world.app()
    assert {n: f.channel_type for n, f in app.settlement_formats().items() if f.channel_type == "manomano"} == \
        {f.name: "manomano" for f in FORMATS}


# -- marketd status ----------------------------------------------------------------------------------
def section(app):
    from marketd.plugins.manomano.status import status_lines

    return (status_lines(app) or {}).get("manomano", [])


def test_status_says_when_a_payout_file_is_overdue_and_what_waits(world):
    world.fake.add_order(status="SHIPPED", created_at=world.clock.now() - timedelta(days=40))
    world.fake.add_order(status="PENDING", created_at=world.clock.now() - timedelta(hours=3))
    app = world.app({"mm-fr": {"payout_overdue_days": 35, "initial_days": 60}})
    assert section(app) == []  # no order yet: nothing to say
    app.channel("mm-fr").sync_orders(None, max_wait=None)
    lines = section(app)
    assert any("1 order(s) wait for acceptance" in ln and "marketd manomano accept" in ln for ln in lines)
    overdue = [ln for ln in lines if "no payout file since" in ln]
    assert len(overdue) == 1 and "ManoMano has no settlement API" in overdue[0]
    assert "Toolbox > Administrative > Accounting documents" in overdue[0] and "inbox/settlements/" in overdue[0]

    _ca, detail = world.fake.accounting_csvs("PO-C", world.clock.now().date().isoformat())
    assert drop(world, app, "Detail versement.csv", detail)["state"] == "done"
    lines = section(app)
    assert not any("no payout file" in ln for ln in lines)
    assert any(ln.startswith("mm-fr: last payout file paid on") for ln in lines)
    world.clock.advance(36 * 86400)
    assert any("no payout file since" in ln for ln in section(app))


def test_status_is_quiet_for_accounts_without_orders_sync(world):
    world.fake.add_order(status="SHIPPED", created_at=world.clock.now() - timedelta(days=90))
    app = world.app({"mm-fr": {"orders_sync": False, "initial_days": 120}})
    app.channel("mm-fr").sync_orders(None, max_wait=None)
    assert section(app) == []


def test_status_section_reaches_marketd_status(world):
    from marketd.cli import plugin_status_sections

    world.fake.add_order(status="PENDING", created_at=world.clock.now() - timedelta(hours=1))
    app = world.app()
    app.channel("mm-fr").sync_orders(None, max_wait=None)
    sections = plugin_status_sections(app)
    assert any("wait for acceptance" in ln for ln in sections["manomano"])
    assert json.dumps(sections)  # plain text, as `marketd status --json` prints it
