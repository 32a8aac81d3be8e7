"""The SDK's payout models: exact money in ten-thousandths, the two forms of LineTable, keys."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pytest

from marketd.plugins.settlements.frame import build
from marketd.sdk.settlements import (Category, FeeSubtype, LineTable, Payout, PayoutLine, e4_text, from_e4,
                                     to_e4)

UTC = timezone.utc


def test_money_in_ten_thousandths_is_exact_and_refuses_a_fifth_decimal():
    assert to_e4(Decimal("0.1")) + to_e4(Decimal("0.2")) == to_e4(Decimal("0.3"))
    assert to_e4(Decimal("-12.3456")) == -123456 and to_e4(Decimal("1E+3")) == 10_000_000
    with pytest.raises(ValueError, match="more than 4 decimals"):
        to_e4(Decimal("0.00001"))
    assert [e4_text(v) for v in (0, 123400, -5, 12340, 10)] == ["0.00", "12.34", "-0.0005", "1.234", "0.001"]
    assert e4_text(1230000, 0) == "123" and str(from_e4(123450)) == "12.345"


def test_fee_subtype_names_are_normalised():
    assert FeeSubtype.normalise("FBAPerUnitFulfillmentFee") == "fba_per_unit_fulfillment_fee"
    assert FeeSubtype.normalise("Final Value Fee - fixed") == "final_value_fee_fixed"
    assert FeeSubtype.normalise("") == "other"


def test_payout_keys_default_from_type_account_kind_and_id():
    p = Payout("ebay", "7000000001", "ebay-transaction-report", "EUR", channel="shop-it")
    assert p.key() == "ebay:shop-it:payout:7000000001" and p.bkey() == "ebay-payout:shop-it:7000000001"
    q = Payout("amazon", "123", "amazon-flat-v2", "EUR", payout_key="amazon:123", business_key="amazon-settlement:123")
    assert (q.key(), q.bkey()) == ("amazon:123", "amazon-settlement:123")


def test_a_line_table_and_a_list_of_lines_are_the_same_payout():
    t = datetime(2026, 10, 3, 10, tzinfo=UTC)
    lines = [PayoutLine(Category.MARKETPLACE_FEE, Decimal("-2.05"), "EUR", order_ref="B", subtype="commission",
                        posted_first=t, posted_last=t),
             PayoutLine(Category.REVENUE, Decimal("20.00"), "EUR", order_ref="A", posted_first=t, posted_last=t),
             PayoutLine(Category.OTHER, Decimal("-1.10"), "EUR", posted_first=t, posted_last=t),
             PayoutLine(Category.REVENUE, Decimal("5.00"), "EUR", order_ref="B", posted_first=t, posted_last=t)]
    table = LineTable.from_lines(lines)
    assert list(table) == lines
    frame = build(Payout("demo", "P", "demo", "EUR", lines=lines))
    assert frame.refs == ["A", "B", None]  # sorted, account-level last
    assert frame.ref_no.tolist() == [0, 1, 1, 2] and frame.categories == ["revenue", "marketplace_fee", "revenue",
                                                                          "other"]
    assert frame.totals_e4()["revenue"] == 250000 and frame.net_e4() == 218500


def test_the_grouped_form_hands_over_the_references():
    t = "2026-10-03T10:00:00+00:00"
    grouped = LineTable(3, refs={"order_ref": ["A", "B", None], "merchant_ref": [None, "ERP-2", None],
                                 "posted_first": [t, t, t], "posted_last": [t, t, t]},
                        ref_of_line=np.array([0, 1, 2]), category=["revenue", "revenue", "other"], currency="EUR",
                        amount_e4=[200000, 50000, -11000])
    assert [ln.order_ref for ln in grouped] == ["A", "B", None]
    assert [ln.merchant_ref for ln in grouped] == [None, "ERP-2", None]
    frame = build(Payout("demo", "P", "demo", "EUR", lines=grouped))
    assert frame.refs == ["A", "B", None] and frame.merchant_refs == [None, "ERP-2", None]
    assert frame.ref_first == [t, t, t] and frame.posted_first == [None, None, None]
    with pytest.raises(ValueError, match="must be sorted"):
        build(Payout("demo", "P", "demo", "EUR", lines=LineTable(
            2, refs={"order_ref": ["B", "A"]}, ref_of_line=np.array([0, 1]), category=["revenue"] * 2,
            currency="EUR", amount_e4=[1, 2])))
    with pytest.raises(TypeError, match="grouped form"):
        LineTable(1, refs={"order_ref": ["A"]}, ref_of_line=[0], order_ref=["A"], category=["revenue"],
                  currency="EUR", amount_e4=[1])


def test_a_line_table_checks_its_columns():
    with pytest.raises(TypeError, match="required"):
        LineTable(1, category=["revenue"], currency="EUR")
    with pytest.raises(ValueError, match="2 values for 1 lines"):
        LineTable(1, category=["revenue", "other"], currency="EUR", amount_e4=[1])
    with pytest.raises(ValueError, match="unknown category 'fees'"):
        build(Payout("demo", "P", "demo", "EUR", lines=LineTable(1, category=["fees"], currency="EUR",
                                                                  amount_e4=[1])))
    with pytest.raises(ValueError, match="timezone-aware"):
        LineTable.from_lines([PayoutLine("revenue", Decimal(1), "EUR", posted_first=datetime(2026, 1, 1))])
