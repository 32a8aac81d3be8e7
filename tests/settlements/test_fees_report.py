"""The monthly fees report: month of the posting date, currencies never added, fee % rounded half
to even, offsets and open money left out, the job catching up the months it missed."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import openpyxl

from marketd.plugins.settlements.fees import months_between
from marketd.sdk.testing import run_job

from .demo_format import render

UTC = timezone.utc


def _csv(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _month_of_payouts(env):
    env.order("A-1")
    env.order("B-2", channel="demo-de")
    rows = [
        "payout,P1,,2026-10-20T00:00:00+00:00,payout,",
        "line,P1,A-1,revenue,,8.00,EUR,2026-10-03T10:00:00+00:00",
        "line,P1,A-1,marketplace_fee,commission,-1.01,EUR,2026-10-03T10:00:00+00:00",
        "line,P1,A-1,shipping_label,,-4.90,EUR,2026-10-04T10:00:00+00:00",
        "line,P1,B-2,revenue,,100.00,GBP,2026-10-05T10:00:00+00:00",
        "line,P1,B-2,marketplace_fee,final_value_fee_variable,-12.00,GBP,2026-10-05T10:00:00+00:00",
        "line,P1,B-2,marketplace_fee,x_fee,-9.00,GBP,2026-10-05T10:00:00+00:00,info",   # informational: no sum
        "line,P1,,other,,-39.00,EUR,2026-10-31T23:59:59+00:00",
        # posted in November: November's, though the order is October's
        "payout,P2,,2026-11-20T00:00:00+00:00,payout,",
        "line,P2,A-1,refund,,-8.00,EUR,2026-11-02T10:00:00+00:00",
        "line,P2,A-1,marketplace_fee,refund_commission,0.81,EUR,2026-11-02T10:00:00+00:00",
        # cash netting and open money are no fees
        "payout,O1,,2026-10-25T00:00:00+00:00,offset,",
        "line,O1,A-1,other,cod_offset,-3.00,EUR,2026-10-25T10:00:00+00:00",
    ]
    assert env.drop(render(*rows))["state"] == "done"


def test_one_row_per_channel_and_currency_by_the_month_amounts_were_posted(env):
    _month_of_payouts(env)
    outputs = env.app.reports()["fees"](env.app, month="2026-10")
    names = sorted(p.name for p in outputs)
    assert names == ["fees-2026-10-subtypes.csv", "fees-2026-10.csv", "fees-2026-10.xlsx"]
    rows = _csv(env.reports / "fees-2026-10.csv")
    assert [(r["channel_type"], r["channel"], r["currency"]) for r in rows] == [
        ("demo", "", "EUR"), ("demo", "demo-de", "GBP"), ("demo", "demo-it", "EUR")]
    it = rows[2]
    assert (it["orders"], it["revenue"], it["marketplace_fee"], it["shipping_label"], it["refund"], it["net"]) == (
        "1", "8.00", "-1.01", "-4.90", "0.00", "2.09")
    assert it["fee_pct"] == "12.62"  # 12.625 rounded half to even (half up would say 12.63)
    de = rows[1]
    assert (de["revenue"], de["marketplace_fee"], de["fee_pct"]) == ("100.00", "-12.00", "12.00")
    assert rows[0]["net"] == "-39.00" and rows[0]["orders"] == "0"  # account-level money, no order
    subtypes = _csv(env.reports / "fees-2026-10-subtypes.csv")
    assert [(s["channel"], s["currency"], s["subtype"], s["amount"]) for s in subtypes] == [
        ("demo-de", "GBP", "final_value_fee_variable", "-12.00"), ("demo-it", "EUR", "commission", "-1.01")]
    sheet = list(openpyxl.load_workbook(env.reports / "fees-2026-10.xlsx").active.iter_rows(values_only=True))
    assert sheet[0][-2:] == ("fee: commission", "fee: final_value_fee_variable")
    assert sheet[2][-2:] == (None, -12) and sheet[3][-2:] == (-1.01, None)

    nov = env.app.reports()["fees"](env.app, month="2026-11")
    rows = _csv(env.reports / "fees-2026-11.csv")
    assert [(r["channel"], r["refund"], r["marketplace_fee"], r["fee_pct"]) for r in rows] == [
        ("demo-it", "-8.00", "0.81", "")]  # no revenue that month: no percentage
    assert len(nov) == 3


def test_the_job_writes_last_month_and_catches_up_the_months_it_missed(env):
    _month_of_payouts(env)
    env.app.clock.advance((datetime(2026, 12, 1, 6, 0, tzinfo=UTC) - env.app.clock.now()).total_seconds())
    assert run_job(env.app, "fees-report") is None
    assert (env.reports / "fees-2026-11.csv").exists() and not (env.reports / "fees-2026-10.csv").exists()
    # the daemon was down for two months: the next run writes every month since the last success
    env.app.clock.advance(62 * 86400)
    assert run_job(env.app, "fees-report") is None
    assert {p.name for p in env.reports.glob("fees-*.csv") if "subtypes" not in p.name} == {
        "fees-2026-11.csv", "fees-2026-12.csv", "fees-2027-01.csv"}
    assert months_between(datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)) == [
        "2026-09", "2026-10", "2026-11"]
    assert months_between(None, datetime(2027, 1, 1, tzinfo=UTC)) == ["2026-12"]


def test_a_wrong_month_says_how_to_write_it(env):
    import pytest

    from marketd.sdk import MarketdError

    with pytest.raises(MarketdError, match="write YYYY-MM"):
        env.app.reports()["fees"](env.app, month="10/2026")
