"""The payout check by its rule (plugins/settlements/frame.py ``Frame.check``), on frames built from
SDK payouts: the status a format decides (``by_format``, MALL's documents) is kept, with the
difference to a stated total only when the source states one; the default rule judges the exact
sum; money not paid out yet is ``open`` whatever it adds up to."""
from __future__ import annotations

from decimal import Decimal

import pytest

from marketd.plugins.settlements.frame import build
from marketd.sdk.settlements import CheckRule, Payout, PayoutLine, PayoutStatus


def payout(stated=None, **kw) -> Payout:
    lines = [PayoutLine("revenue", Decimal("10.10"), "EUR", order_ref="A-1"),
             PayoutLine("marketplace_fee", Decimal("-1.05"), "EUR", order_ref="A-1"),
             PayoutLine("payout", Decimal("-9.05"), "EUR")]
    return Payout("demo", "P1", "test", "EUR", lines=lines,
                  stated_total=None if stated is None else Decimal(stated), **kw)


def test_by_format_keeps_the_formats_status_and_states_the_difference_only_against_a_total():
    assert build(payout("9.00", check_rule=CheckRule.BY_FORMAT, status=PayoutStatus.OK)).check() == (
        PayoutStatus.OK, 90000, 500)                    # 9.05 computed (payout lines left out) - 9.00 stated
    assert build(payout(None, check_rule=CheckRule.BY_FORMAT, status=PayoutStatus.INCONSISTENT)).check() == (
        PayoutStatus.INCONSISTENT, None, None)
    with pytest.raises(ValueError, match="by_format needs Payout.status"):
        build(payout("9.05", check_rule=CheckRule.BY_FORMAT)).check()


def test_the_default_rule_judges_the_exact_sum():
    assert build(payout("9.05")).check() == (PayoutStatus.OK, 90500, 0)
    assert build(payout("9.04")).check() == (PayoutStatus.INCONSISTENT, 90400, 100)
    assert build(payout(None)).check() == (PayoutStatus.UNCHECKED, None, None)


def test_open_money_is_open_whatever_it_adds_up_to():
    assert build(payout("1.00", status=PayoutStatus.OPEN)).check() == (PayoutStatus.OPEN, 10000, None)


def test_a_payout_without_lines_has_no_references_and_checks_against_its_total():
    frame = build(Payout("demo", "P0", "test", "EUR", lines=[], stated_total=Decimal("0.00")))
    assert frame.refs == [] and frame.ref_first == [] and frame.ref_last == []
    assert frame.check() == (PayoutStatus.OK, 0, 0)


def test_each_reference_keeps_its_own_last_posting_even_the_earliest_time_of_the_payout():
    from datetime import datetime, timezone

    t1, t2 = (datetime(2026, 10, d, 8, tzinfo=timezone.utc) for d in (1, 2))
    lines = [PayoutLine("revenue", Decimal("1.00"), "EUR", order_ref="A-1", posted_first=t1, posted_last=t1),
             PayoutLine("revenue", Decimal("2.00"), "EUR", order_ref="B-2", posted_first=t2, posted_last=t2)]
    frame = build(Payout("demo", "P1", "test", "EUR", lines=lines))
    assert frame.refs == ["A-1", "B-2"]
    assert frame.ref_first == frame.ref_last == [t1.isoformat(), t2.isoformat()]


def test_a_merchant_reference_shared_by_every_line_is_kept():
    lines = [PayoutLine("revenue", Decimal("5.00"), "EUR", order_ref="S01-1", merchant_ref="SHOP-1001"),
             PayoutLine("marketplace_fee", Decimal("-1.00"), "EUR", order_ref="S01-1", merchant_ref="SHOP-1001")]
    frame = build(Payout("demo", "P1", "test", "EUR", lines=lines, match_merchant_refs=True))
    assert frame.refs == ["S01-1"] and frame.merchant_refs == ["SHOP-1001"]


def test_references_come_sorted_whatever_the_order_of_the_lines_with_account_money_last():
    lines = [PayoutLine("revenue", Decimal("1.00"), "EUR", order_ref=r) for r in ("A-1", "C-3", "B-2")]
    lines.append(PayoutLine("other", Decimal("-0.50"), "EUR"))
    frame = build(Payout("demo", "P1", "test", "EUR", lines=lines))
    assert frame.refs == ["A-1", "B-2", "C-3", None]
    assert [frame.text(v) for v in frame.ref_amounts().sum(axis=1)] == ["1.00", "1.00", "1.00", "-0.50"]


def test_the_fast_amount_texts_equal_the_exact_ones_for_every_scale():
    """``fmt_e4`` formats many ten-thousandths at once; it must write exactly what ``e4_text`` (one
    value at a time, the reference) writes, also for values finer than the payout's scale."""
    import random

    from marketd.plugins.settlements.frame import fmt_e4
    from marketd.sdk.settlements import e4_text

    rnd = random.Random(16)
    for scale in (0, 1, 2, 3, 4):
        for values in ([199900, -50000, 0, 10000], [20, -120, 5], [20, -120], [30, 60, -90], [rnd.randint(-10 ** 9, 10 ** 9) for _ in range(200)],
                       [rnd.randint(-10 ** 6, 10 ** 6) * 10 ** (4 - min(scale, 4)) for _ in range(200)]):
            assert fmt_e4(values, scale) == [e4_text(v, scale) for v in values], (scale, values[:5])
    assert fmt_e4([199900, -50000, 0], 2) == ["19.99", "-5.00", "0.00"]


def test_the_column_forms_a_format_may_hand_over_keep_what_they_carry():
    """``LineTable`` lets a format give a value for every line at once (a constant) or the
    references' columns once per reference (the grouped form, Amazon's): merchant references,
    other ids and each line's own posting survive either form."""
    from datetime import datetime, timezone

    import numpy as np

    from marketd.sdk.settlements import LineTable

    flat = LineTable(2, order_ref=["S01-1", "S01-1"], merchant_ref="SHOP-1001", category=["revenue", "marketplace_fee"],
                     currency="EUR", amount_e4=[50000, -10000])
    frame = build(Payout("demo", "P1", "test", "EUR", lines=flat, match_merchant_refs=True))
    assert frame.refs == ["S01-1"] and frame.merchant_refs == ["SHOP-1001"]

    t1, t2 = (datetime(2026, 10, d, 8, tzinfo=timezone.utc).isoformat() for d in (1, 2))
    grouped = LineTable(3, refs={"order_ref": ["A-1", "B-2"], "alt_refs": [("L-1",), ()], "posted_first": [t1, t2],
                                 "posted_last": [t2, t2]},
                        ref_of_line=np.array([0, 0, 1]), category="revenue", currency="EUR",
                        amount_e4=[10000, 20000, 30000], posted_first=[t1, t2, t2], posted_last=[t1, t2, t2])
    frame = build(Payout("demo", "P2", "test", "EUR", lines=grouped))
    assert frame.refs == ["A-1", "B-2"] and frame.alt_refs == [("L-1",), ()]
    assert (frame.ref_first, frame.ref_last) == ([t1, t2], [t2, t2])
    assert (frame.posted_first, frame.posted_last) == ([t1, t2, t2], [t1, t2, t2])   # each line's own times


def test_a_payout_without_lines_is_stored_end_to_end(env):
    from .conftest import summary
    from .demo_format import render

    row = env.drop(render("payout,P0,0.00,2026-10-05T00:00:00+00:00,payout,"))
    assert row["state"] == "done" and summary(row)["status"] == "ok", row
    p = env.one("select lines, orders, matched, unmatched, computed_total from payouts where payout_id = 'P0'")
    assert (p["lines"], p["orders"], p["matched"], p["unmatched"]) == (0, 0, 0, 0)
    assert env.db.execute("select count(*) from payout_lines").fetchone()[0] == 0
