"""The Seller Hub Transaction report as the ``ebay-transaction-report`` settlement format, through
the real settlements plugin: recognition, layouts, cells, row types, per-order money, the exact
payout check, open money, duplicates and replacements, buyer data."""
from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from .settlement_env import ACCOUNT, env, make_env, summary  # noqa: F401  (fixtures)

HEADER = ('Transaction creation date,Type,Order number,Legacy order ID,Buyer username,Buyer name,Ship to city,'
          'Ship to province/region/state,Ship to zip,Ship to country,Net amount,Payout currency,Payout date,Payout ID,'
          'Payout method,Payout status,Reason for hold,Item ID,Transaction ID,Item title,Custom label,Quantity,'
          'Item subtotal,Shipping and handling,Seller collected tax,eBay collected tax,Final Value Fee - fixed,'
          'Final Value Fee - variable,Regulatory operating fee,"Very high ""item not as described"" fee",'
          'Below standard performance fee,International fee,Charity donation,Deposit processing fee,'
          'Gross transaction amount,Transaction currency,Exchange rate,Reference ID,Description')
# design §2.6: the payout check holds (17.60 - 4.90 - 1.10 = 11.60 = -(-11.60))
SAMPLE = "\n".join([
    '"Transaction report"', '"Oct 1, 2026 - Oct 31, 2026"', "Seller,negozio_it", "", HEADER,
    '"Oct 3, 2026",Order,12-34567-89012,12-34567-89012,buyer_x1,Mario Rossi,Milano,MI,20121,IT,17.60,EUR,"Oct 7, 2026",'
    '7000000001,Bank account,Funds sent,--,1234567890,9876543210,Tazza 350 ml,SKU-1,1,15.00,5.00,--,--,-0.35,-2.05,--,'
    '--,--,--,--,--,20.00,EUR,--,--,--',
    '"Oct 4, 2026",Shipping label,12-34567-89012,12-34567-89012,--,--,--,--,--,--,-4.90,EUR,"Oct 7, 2026",7000000001,'
    'Bank account,Funds sent,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,-4.90,EUR,--,LBL-1,Shipping label',
    '"Oct 5, 2026",Other fee,12-34567-89012,12-34567-89012,--,--,--,--,--,--,-1.10,EUR,"Oct 7, 2026",7000000001,'
    'Bank account,Funds sent,--,1234567890,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,--,-1.10,EUR,--,FEE-1,'
    'Promoted Listings - General fee',
    '"Oct 7, 2026",Payout,--,--,--,--,--,--,--,--,-11.60,EUR,--,7000000001,Bank account,Funds sent,--,--,--,--,--,--,'
    '--,--,--,--,--,--,--,--,--,--,--,--,-11.60,EUR,--,--,Scheduled payout',
]) + "\n"
NEW_COLS = HEADER.replace('"Very high ""item not as described"" fee"', "VERYHIGH").split(",")


def row(**cells) -> str:
    """One data row of the newer layout; unnamed cells are ``--``."""
    out = []
    for c in NEW_COLS:
        name = 'Very high "item not as described" fee' if c == "VERYHIGH" else c
        v = cells.get(name, "--")
        out.append(f'"{v}"' if "," in str(v) else str(v))
    return ",".join(out)


def report(*rows, header=HEADER, preamble=('"Transaction report"',)) -> str:
    return "\n".join([*preamble, "", header, *rows]) + "\n"


def test_the_design_sample_gives_the_expected_order_money(env):
    res = env.drop(SAMPLE)
    assert res["state"] == "done", res["error"]
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:7000000001"]
    assert p["status"] == "ok" and p["stated_total"] == "11.60" and p["computed_total"] == "11.60"
    assert p["source"] == "ebay-transaction-report" and p["channel"] == ACCOUNT
    by = {(l["category"], l["subtype"]): l["amount"] for l in env.lines("12-34567-89012")}
    assert by == {("revenue", None): "20.00", ("marketplace_fee", "final_value_fee_fixed"): "-0.35",
                  ("marketplace_fee", "final_value_fee_variable"): "-2.05",
                  ("marketplace_fee", "promoted_listings"): "-1.10", ("shipping_label", None): "-4.90"}
    assert sum(Decimal(v) for v in by.values()) == Decimal("11.60")


def test_sniff_both_layouts_bom_and_preamble():
    from marketd.plugins.ebay.transaction_report import EbayTransactionReport

    fmt = EbayTransactionReport()
    assert fmt.sniff(SAMPLE.encode(), "x.csv")
    assert fmt.sniff(("\ufeff" + SAMPLE).encode(), "x.csv")
    old = SAMPLE.replace("Transaction creation date", "Transaction date")
    assert fmt.sniff(old.encode(), "x.csv")
    assert fmt.sniff(("--,--,--\n" * 5 + SAMPLE).encode(), "x.csv")
    assert not fmt.sniff(b"settlement-id\tsettlement-start-date\n", "x.txt")
    assert not fmt.sniff(b"Transaction creation date,Type,Order number\n", "x.csv")  # no Net amount
    earnings = b"Order creation date,Order number,Item ID,Item title,Order earnings\n"
    assert not fmt.sniff(earnings, "x.csv")


def test_the_order_earnings_report_is_refused_with_the_way_to_the_right_one(env):
    res = env.drop("Order creation date,Order number,Item ID,Item title,Gross amount,Order earnings\n"
                   '"Oct 3, 2026",12-34567-89012,1,Tazza,20.00,17.60\n')
    assert res["state"] == "error"
    err = res["error"]
    assert err["reason"] == "ebay_order_earnings_report" and "Transaction report" in err["fix"]


def test_the_older_transaction_date_layout_and_missing_columns(env):
    header = HEADER.replace("Transaction creation date", "Transaction date").replace(",Payout method", "") \
        .replace(",Regulatory operating fee", "").replace(",Charity donation", "").replace(",Deposit processing fee", "")
    text = SAMPLE.replace(HEADER, header)
    lines = text.splitlines()
    cols = HEADER.replace('"Very high ""item not as described"" fee"', "V").split(",")
    dropped = [cols.index(c) for c in ("Payout method", "Regulatory operating fee", "Charity donation",
                                       "Deposit processing fee")]
    import csv
    import io

    out = []
    for line in lines:
        cells = next(csv.reader(io.StringIO(line))) if line else []
        if len(cells) == len(cols) and line != HEADER:
            cells = [c for i, c in enumerate(cells) if i not in dropped]
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(cells)
            out.append(buf.getvalue())
        else:
            out.append(line if line != HEADER else header)
    res = env.drop("\n".join(out) + "\n")
    assert res["state"] == "done", res["error"]
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:7000000001"]
    assert p["status"] == "ok" and '"layout": "old"' in p["meta"]


def test_uk_en_dash_very_high_fee_and_an_unknown_fee_column(env):
    header = (HEADER.replace("Final Value Fee - fixed", "Final value fee \u2013 fixed")
              .replace('"Very high ""item not as described"" fee"', "Very high fee") + ",Promoted Listing Standard fee"
              + ",Mystery fee")
    data = [
        row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Order", "Order number": "01-11111-11111",
               "Net amount": "14.00", "Payout currency": "GBP", "Payout ID": "P1", "Final Value Fee - fixed": "-0.30",
               'Very high "item not as described" fee': "-1.00", "Gross transaction amount": "20.00",
               "Transaction currency": "GBP"}) + ",-2.70,-2.00",
        row(**{"Transaction creation date": "Oct 7, 2026", "Type": "Payout", "Net amount": "-14.00",
               "Payout currency": "GBP", "Payout ID": "P1", "Transaction currency": "GBP"}) + ",--,--",
    ]
    res = env.drop(report(*data, header=header))
    assert res["state"] == "done", res["error"]
    by = {(l["category"], l["subtype"]): l["amount"] for l in env.lines("01-11111-11111")}
    assert by[("marketplace_fee", "final_value_fee_fixed")] == "-0.30"
    assert by[("marketplace_fee", "inad_very_high")] == "-1.00"
    assert by[("marketplace_fee", "promoted_listings")] == "-2.70"
    assert by[("marketplace_fee", "mystery_fee")] == "-2.00"
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:P1"]
    assert p["status"] == "ok" and "Mystery fee" in p["warnings"] and p["currency"] == "GBP"


def test_quoted_thousands_parentheses_currency_symbols_and_exact_decimals(env):
    data = [
        row(**{"Transaction creation date": "Jan 1, 2026", "Type": "Order", "Order number": "02-22222-22222",
               "Net amount": "$3,666.88", "Payout currency": "USD", "Payout ID": "P2",
               "Final Value Fee - variable": "($333.12)", "Gross transaction amount": "4,000.00"}),
        row(**{"Transaction creation date": "Jan 1, 2026", "Type": "Order", "Order number": "02-22222-22223",
               "Net amount": "0.1", "Payout currency": "USD", "Payout ID": "P2", "Gross transaction amount": "0.1"}),
        row(**{"Transaction creation date": "Jan 2, 2026", "Type": "Order", "Order number": "02-22222-22224",
               "Net amount": "0.2", "Payout currency": "USD", "Payout ID": "P2", "Gross transaction amount": "0.2"}),
        row(**{"Transaction creation date": "Jan 9, 2026", "Type": "Payout", "Net amount": "-3,667.18",
               "Payout currency": "USD", "Payout ID": "P2"}),
    ]
    res = env.drop(report(*data))
    assert res["state"] == "done", res["error"]
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:P2"]
    assert p["status"] == "ok" and p["stated_total"] == "3667.18" and p["difference"] in ("0.00", "0", None)
    assert {(l["category"], l["amount"]) for l in env.lines("02-22222-22222")} == {
        ("revenue", "4000.00"), ("marketplace_fee", "-333.12")}


def test_inconsistent_unchecked_and_open(env):
    data = [
        row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Order", "Order number": "03-1", "Net amount": "10.00",
               "Payout currency": "EUR", "Payout ID": "P3", "Gross transaction amount": "10.00"}),
        row(**{"Transaction creation date": "Oct 7, 2026", "Type": "Payout", "Net amount": "-10.01",
               "Payout currency": "EUR", "Payout ID": "P3"}),
        row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Order", "Order number": "03-2", "Net amount": "5.00",
               "Payout currency": "EUR", "Payout ID": "P4", "Gross transaction amount": "5.00"}),
        row(**{"Transaction creation date": "Oct 9, 2026", "Type": "Order", "Order number": "03-3", "Net amount": "7.00",
               "Payout currency": "EUR", "Gross transaction amount": "7.00"}),
    ]
    res = env.drop(report(*data))
    assert res["state"] == "done", res["error"]
    ps = env.payouts()
    assert ps[f"ebay:{ACCOUNT}:payout:P3"]["status"] == "inconsistent"
    assert ps[f"ebay:{ACCOUNT}:payout:P3"]["difference"] == "-0.01"  # the rows add up to 10.00, eBay paid 10.01
    assert ps[f"ebay:{ACCOUNT}:payout:P4"]["status"] == "unchecked"
    assert ps[f"ebay:{ACCOUNT}:open"]["status"] == "open" and ps[f"ebay:{ACCOUNT}:open"]["kind"] == "open"
    # the complete copy of P3 later replaces the inconsistent one; P4 gets its Payout row
    fixed = [data[0], data[1].replace("-10.01", "-10.00"), data[2],
             row(**{"Transaction creation date": "Oct 9, 2026", "Type": "Payout", "Net amount": "-5.00",
                    "Payout currency": "EUR", "Payout ID": "P4"})]
    res = env.drop(report(*fixed))
    assert res["state"] == "done", res["error"]
    ps = env.payouts()
    assert ps[f"ebay:{ACCOUNT}:payout:P3"]["status"] == "ok" and ps[f"ebay:{ACCOUNT}:payout:P4"]["status"] == "ok"
    # the same file again: every payout a duplicate
    again = env.drop(report(*fixed))
    assert again["state"] == "duplicate" or summary(again).get("duplicate_payout")


def test_roll_up_and_detail_rows_hold_pairs_and_many_payouts_from_the_fake(make_env):
    env = make_env()
    orders = env.shipped_orders(6, items=3)
    first = env.fake.make_payout([o["orderId"] for o in orders[:3]])
    second = env.fake.make_payout([o["orderId"] for o in orders[3:]], refund=(orders[3]["orderId"], "5.00"))
    res = env.drop(env.fake.transaction_report_csv(holds=True))
    assert res["state"] == "done", res["error"]
    ps = env.payouts()
    for payout in (first, second):
        p = ps[f"ebay:{ACCOUNT}:payout:{payout['payoutId']}"]
        assert p["status"] == "ok", p
        assert Decimal(p["stated_total"]) == Decimal(payout["amount"]["value"])
    for o in orders:
        f = env.finance(o["orderId"])[0]
        total = Decimal(o["pricingSummary"]["total"]["value"])
        assert Decimal(f["revenue"]) == total  # the roll-up's Gross, once, not once per item
        fee = Decimal(o["totalMarketplaceFee"]["value"])
        assert Decimal(f["marketplace_fee"]) <= -fee  # FVF fixed + variable, plus promoted listings for some
        assert f["other"] in ("0.00", "0") or Decimal(f["other"]) == 0  # the hold pair adds up to nothing
    assert Decimal(env.finance(orders[3]["orderId"])[0]["refund"]) == Decimal("-5.00")


def test_the_same_payout_from_the_api_and_from_the_report_is_one_payout(make_env):
    from marketd.plugins.ebay.payouts import fetch_payouts

    env = make_env(channel={"settlements_fetch": True})
    orders = env.shipped_orders(4, items=2)
    payout = env.fake.make_payout()
    files = fetch_payouts(env.app, env.channel)
    res = env.drop(files[0].read_bytes(), name=files[0].name)
    assert res["state"] == "done", res["error"]
    by_api = {o["orderId"]: env.finance(o["orderId"]) for o in orders}
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:{payout['payoutId']}"]
    assert p["status"] == "ok" and p["source"] == "ebay-finances-api"
    again = env.drop(env.fake.transaction_report_csv())
    assert again["state"] == "duplicate" or summary(again).get("duplicate_payout"), again
    assert {o["orderId"]: env.finance(o["orderId"]) for o in orders} == by_api
    # and the report alone gives the same money per order as the API
    other = make_env(fake=env.fake)
    other.channel.sync_orders(None, resync=True)
    assert other.drop(env.fake.transaction_report_csv())["state"] == "done"
    for o in orders:
        a, b = by_api[o["orderId"]][0], other.finance(o["orderId"])[0]
        for k in ("revenue", "marketplace_fee", "shipping_label", "refund", "net"):
            assert Decimal(a[k]) == Decimal(b[k]), (o["orderId"], k, a[k], b[k])


def test_fx_rows_keep_the_fee_detail_informational(env):
    data = [
        row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Order", "Order number": "04-1", "Net amount": "18.20",
               "Payout currency": "EUR", "Payout ID": "P5", "Final Value Fee - variable": "-2.30",
               "Gross transaction amount": "22.00", "Transaction currency": "GBP", "Exchange rate": "1.17"}),
        row(**{"Transaction creation date": "Oct 7, 2026", "Type": "Payout", "Net amount": "-18.20",
               "Payout currency": "EUR", "Payout ID": "P5"}),
    ]
    assert env.drop(report(*data))["state"] == "done"
    lines = env.lines("04-1")
    assert {(l["category"], l["subtype"], l["amount"], l["currency"], l["informational"]) for l in lines} == {
        ("revenue", "net_fx", "18.20", "EUR", 0), ("marketplace_fee", "final_value_fee_variable", "-2.30", "GBP", 1)}
    assert env.payouts()[f"ebay:{ACCOUNT}:payout:P5"]["status"] == "ok"


def test_unknown_types_are_unclassified_and_counted(env):
    data = [
        row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Mystery", "Net amount": "-3.00",
               "Payout currency": "EUR", "Payout ID": "P6"}),
        row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Transfer", "Net amount": "-2.00",
               "Payout currency": "EUR", "Payout ID": "P6"}),
        row(**{"Transaction creation date": "Oct 7, 2026", "Type": "Payout", "Net amount": "5.00",
               "Payout currency": "EUR", "Payout ID": "P6"}),
    ]
    assert env.drop(report(*data))["state"] == "done"
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:P6"]
    assert p["status"] == "ok" and p["unclassified_rows"] == 1 and "Mystery" in p["warnings"]


def test_ebay_collected_tax_in_or_out_of_gross(env):
    inside = row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Order", "Order number": "05-1",
                    "Net amount": "20.00", "Payout currency": "EUR", "Payout ID": "P7", "eBay collected tax": "4.40",
                    "Final Value Fee - variable": "-2.00", "Gross transaction amount": "26.40"})
    outside = row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Order", "Order number": "05-2",
                     "Net amount": "20.00", "Payout currency": "EUR", "Payout ID": "P7", "eBay collected tax": "4.40",
                     "Final Value Fee - variable": "-2.00", "Gross transaction amount": "22.00"})
    pay = row(**{"Transaction creation date": "Oct 7, 2026", "Type": "Payout", "Net amount": "-40.00",
                 "Payout currency": "EUR", "Payout ID": "P7"})
    assert env.drop(report(inside, outside, pay))["state"] == "done"
    a = {(l["category"]): l["amount"] for l in env.lines("05-1")}
    b = {(l["category"]): l["amount"] for l in env.lines("05-2")}
    assert a == {"revenue": "26.40", "marketplace_fee": "-2.00", "withheld_tax": "-4.40"}
    assert b == {"revenue": "22.00", "marketplace_fee": "-2.00"}


def test_a_bad_amount_names_its_line_and_column(env):
    data = [row(**{"Transaction creation date": "Oct 3, 2026", "Type": "Order", "Order number": "06-1",
                   "Net amount": "12,3,4", "Payout currency": "EUR", "Payout ID": "P8"})]
    res = env.drop(report(*data))
    assert res["state"] == "error" and res["error"]["reason"] == "bad_amount"
    assert res["error"]["where"].startswith("line 4, column") and "Net amount" in res["error"]["where"]


def test_a_bad_date_is_refused(env):
    data = [row(**{"Transaction creation date": "yesterday", "Type": "Order", "Order number": "06-2",
                   "Net amount": "1.00", "Payout currency": "EUR", "Payout ID": "P9"})]
    res = env.drop(report(*data))
    assert res["state"] == "error" and res["error"]["reason"] == "bad_date"


def test_the_account_comes_from_the_seller_line(make_env):
    env = make_env(channel={"seller_username": "negozio_it"},
                   accounts={"ebay-de": {"type": "ebay", "marketplace": "EBAY_DE", "seller_username": "laden_de"}})
    assert env.drop(SAMPLE)["state"] == "done"
    assert env.payouts()[f"ebay:{ACCOUNT}:payout:7000000001"]["channel"] == ACCOUNT
    res = env.drop(SAMPLE.replace("Seller,negozio_it", "Seller,someone_else"))
    assert res["state"] == "error" and res["error"]["reason"] == "ebay_account_unknown"
    assert "seller_username" in res["error"]["fix"]


def test_buyer_data_stays_in_the_archived_file(make_env, caplog):
    caplog.set_level(logging.DEBUG)
    env = make_env()
    orders = env.shipped_orders(3)
    env.fake.make_payout()
    assert env.drop(env.fake.transaction_report_csv())["state"] == "done"
    names = {o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["fullName"] for o in orders}
    users = {o["buyer"]["username"] for o in orders}
    stored = "".join(str(r) for r in env.db.query("select * from payout_lines")) + \
        "".join(str(r) for r in env.db.query("select * from payouts")) + \
        "".join(str(r) for r in env.db.query("select * from payout_refs"))
    reports = "".join(p.read_text(errors="ignore") for p in env.reports.glob("*.csv"))
    for value in names | users:
        assert value not in caplog.text and value not in stored and value not in reports


def test_a_row_with_more_or_fewer_cells_than_the_header_is_refused(env):
    """A title with an unquoted comma would shift the row's cells (Net read from another column)."""
    shifted = SAMPLE.replace("Tazza 350 ml", "Tazza, 350 ml")
    res = env.drop(shifted)
    assert res["state"] == "error" and res["error"]["reason"] == "bad_row"
    assert res["error"]["where"] == "line 6" and "40 cells where the header has 39" in res["error"]["message"]
    short = SAMPLE.replace(",-4.90,EUR,--,LBL-1,Shipping label", ",-4.90,EUR")
    assert env.drop(short)["error"]["reason"] == "bad_row"
    quoted = SAMPLE.replace("Tazza 350 ml", '"Tazza, 350 ml ""XL"""')
    assert env.drop(quoted)["state"] == "done"


def test_open_money_is_replaced_by_the_next_report(env):
    def open_row(order, net):
        return row(**{"Transaction creation date": "Oct 9, 2026", "Type": "Order", "Order number": order,
                      "Net amount": net, "Payout currency": "EUR", "Gross transaction amount": net})
    assert env.drop(report(open_row("07-1", "7.00")))["state"] == "done"
    assert env.drop(report(open_row("07-2", "9.00")))["state"] == "done"
    p = env.payouts()[f"ebay:{ACCOUNT}:open"]
    assert p["status"] == "open" and p["net"] == "9.00"
    assert env.lines("07-1") == [] and [l["amount"] for l in env.lines("07-2")] == ["9.00"]


def test_every_row_type_lands_in_its_category_and_the_payout_still_checks(env):
    """Issue 11's row types in one payout: Order and Refund decomposed, Shipping label, Other fee,
    Claim, Dispute, Transfer and a Hold pair one line each; the rows with the Payout ID add up
    to minus the Payout row, exactly."""
    def r(kind, net, order="--", **cells):
        return row(**{"Transaction creation date": "Oct 3, 2026", "Type": kind, "Order number": order,
                      "Net amount": net, "Payout currency": "EUR", "Payout ID": "P9", "Transaction currency": "EUR",
                      **cells})
    data = [
        r("Order", "27.00", "09-1", **{"Gross transaction amount": "30.00", "Final Value Fee - variable": "-3.00"}),
        r("Refund", "-10.00", "09-1", **{"Gross transaction amount": "-10.00"}),
        r("Shipping label", "-4.00", "09-1", Description="Shipping label"),
        r("Other fee", "-1.00", "09-1", Description="Promoted Listings - General fee"),
        r("Claim", "-5.00", "09-2"),
        r("Dispute", "-2.00", "09-2"),
        r("Transfer", "-3.00", Description="Transfer to eBay"),
        r("Hold", "-6.00", "09-1", **{"Reason for hold": "Buyer protection case"}),
        r("Hold", "6.00", "09-1", **{"Reason for hold": "Buyer protection case"}),
        r("Payout", "-2.00", Description="Scheduled payout"),
    ]
    res = env.drop(report(*data))
    assert res["state"] == "done", res["error"]
    p = env.payouts()[f"ebay:{ACCOUNT}:payout:P9"]
    assert p["status"] == "ok" and p["stated_total"] == "2.00" and p["difference"] in ("0.00", "0", None)
    assert {k: Decimal(p[k]) for k in ("revenue", "marketplace_fee", "shipping_label", "refund", "transfer",
                                       "other", "unclassified")} == {
        "revenue": Decimal("30"), "marketplace_fee": Decimal("-4"), "shipping_label": Decimal("-4"),
        "refund": Decimal("-17"), "transfer": Decimal("-3"), "other": Decimal("0"), "unclassified": Decimal("0")}
    first = {(l["category"], l["subtype"], l["amount"]) for l in env.lines("09-1")}
    assert {("revenue", None, "30.00"), ("marketplace_fee", "final_value_fee_variable", "-3.00"),
            ("refund", None, "-10.00"), ("shipping_label", None, "-4.00")} <= first, first
    assert ("other", "hold", "0.00") in first  # placed and released: one line that adds up to nothing
    assert ("marketplace_fee", "promoted_listings", "-1.00") in first, first
    second = {(l["category"], l["subtype"], l["amount"]) for l in env.lines("09-2")}
    assert second == {("refund", "claim", "-5.00"), ("refund", "dispute", "-2.00")}, second
