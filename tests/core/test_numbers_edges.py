"""Edges of the one number parser and the amount formatter that no other test pinned down: each
test here kills a mutant the mutation run (``make mutate``, docs/dev/mutation.md) left alive,
i.e. a change to daemon/numbers.py or daemon/money.py that every other test let pass."""
from __future__ import annotations

from decimal import Decimal

import pytest

from marketd.money import fmt
from marketd.numbers import COMMA, COUNT, DOT, NumberError, parse_decimal


def test_fmt_writes_plain_point_decimals_for_erps():
    """money.fmt: None is an empty cell (not "None"), no exponent ever, the sign only when negative."""
    assert fmt(None) == ""
    assert fmt(Decimal("1E+3")) == "1000"
    assert fmt(Decimal("1.5E-7")) == "0.00000015"
    assert fmt(Decimal("-12.50")) == "-12.50"
    assert fmt(Decimal("0.00")) == "0.00"


@pytest.mark.parametrize("text, style", [("1X234,56", COMMA), ("1X234.56", DOT), ("1O234.56", DOT), ("1a234", None)])
def test_a_letter_is_never_a_thousands_separator(text, style):
    """Blanks (space, no-break space, narrow no-break space) and the apostrophe group digits; a
    letter (an O typed for a 0) never does."""
    with pytest.raises(NumberError):
        parse_decimal(text, style)


def test_a_value_longer_than_64_characters_is_refused_before_parsing():
    assert parse_decimal("0" * 63 + "1") == Decimal("1")  # 64 characters: still read
    with pytest.raises(NumberError, match="65 characters long"):
        parse_decimal("0" * 64 + "1")


@pytest.mark.parametrize("values, style", [(["12,3456"], COMMA), (["0.125"], DOT), (["-,5"], COMMA),
                                           (["1.234.567"], COMMA), (["1,234,567"], DOT)])
def test_values_outside_the_usual_shapes_still_vote(values, style):
    """Four decimals, a leading zero before three decimals, repeated grouping: only one style can
    read these, so each decides the file alone (the fast count covers only 1-2 decimals)."""
    from marketd.numbers import DecimalStyle

    assert DecimalStyle.detect(values) is style


def test_a_value_holding_a_nul_is_one_value_in_the_vote():
    """Values are joined with NUL for the fast count; one holding a NUL itself must not be split."""
    from marketd.numbers import votes

    assert votes(["1,5\x001,5"]) == {".": 1, ",": 0}  # one value, grouping-shaped: a point file


def test_only_ambiguous_values_leave_the_inbox_default():
    from marketd.numbers import DecimalStyle

    assert DecimalStyle.detect(["1,234", "5"], default=",") is COMMA
    assert DecimalStyle.detect(["1.234"], default=".") is DOT
    assert DecimalStyle.detect(["1,234"]) is None


def test_negative_numbers_given_as_numbers_keep_their_sign():
    assert parse_decimal(Decimal("-12.50")) == Decimal("-12.50")
    assert parse_decimal(-5, kind=COUNT) == -5
    zero = parse_decimal(Decimal("-0.00"))
    assert zero == 0 and not zero.is_signed()  # no "-0.00" in a report


def test_decimals_per_kind_are_bounded():
    assert parse_decimal("1.2345", DOT) == Decimal("1.2345")
    with pytest.raises(NumberError, match="5 decimals; at most 4"):
        parse_decimal("1.23456", DOT)
    from marketd.numbers import MEASURE

    assert parse_decimal("1.123456", DOT, MEASURE) == Decimal("1.123456")
    with pytest.raises(NumberError, match="7 decimals; at most 6"):
        parse_decimal("1.1234567", DOT, MEASURE)


def test_the_limit_message_names_the_kind_and_the_bound():
    with pytest.raises(NumberError, match=r"beyond the sane limit for an amount \(below 1,000,000,000,000\)"):
        parse_decimal("1000000000000", DOT)
    with pytest.raises(NumberError, match=r"for a count \(below 1,000,000,000\)"):
        parse_decimal("1000000000", DOT, COUNT)


def test_text_around_an_ambiguous_value_does_not_make_it_decide():
    """``1,234 kg`` is as ambiguous as ``1,234``: the digits are counted next to the separator only."""
    from marketd.numbers import votes

    assert votes(["1,234 kg", "EUR 1.234", "ab1,234"]) == {".": 0, ",": 0}


@pytest.mark.parametrize("text, style, why", [
    ("12,50", DOT, "does not fit this file's numbers, which use a decimal point: ',' may only group thousands"),
    ("1.234,56", DOT, "does not fit this file's numbers, which use a decimal point"),
    ("12.50", COMMA, "does not fit this file's numbers, which use a decimal comma: '.' may only group thousands"),
    ("1.2.3", DOT, "has more than one decimal separator '.'"),
    ("12..5", DOT, "has more than one decimal separator '.'"),
    ("1 2345.5", DOT, "is not a number with a decimal point (e.g. 1,234.50); thousands separators must group"),
    ("1,2,3", None, "is not a number (e.g. 1234.50 or 1234,50)"),
])
def test_each_refusal_says_why_in_the_files_terms(text, style, why):
    with pytest.raises(NumberError) as exc:
        parse_decimal(text, style)
    assert why in str(exc.value), str(exc.value)


def test_a_style_prints_as_its_separator():
    """Config values and reports show a file's style as the separator itself."""
    assert (str(DOT), f"{COMMA}") == (".", ",")


def test_the_shared_styles_and_kinds_cannot_be_changed_by_a_caller():
    """DOT, COMMA, AMOUNT… are module-wide singletons every file is read with: frozen."""
    import dataclasses

    from marketd.numbers import AMOUNT

    with pytest.raises(dataclasses.FrozenInstanceError):
        DOT.sep = ","
    with pytest.raises(dataclasses.FrozenInstanceError):
        AMOUNT.decimals = 9
    assert len({DOT, COMMA, DOT}) == 2  # hashable: usable as keys


@pytest.mark.parametrize("text", ["(12.00", "12.00)", "(12.00))"])
def test_an_accounting_negative_needs_both_parentheses(text):
    with pytest.raises(NumberError):
        parse_decimal(text, DOT)


@pytest.mark.parametrize("length", [41, 42])
def test_a_refusal_quotes_at_most_40_characters_of_the_value(length):
    with pytest.raises(NumberError) as exc:
        parse_decimal("1" + "x" * (length - 1), DOT)
    assert ("'1" + "x" * 39 + "…'") in str(exc.value) and "x" * 40 not in str(exc.value)  # the cut, then the quote
    with pytest.raises(NumberError) as exc:
        parse_decimal("1" + "x" * 39, DOT)  # 40 characters: quoted whole
    assert ("'1" + "x" * 39 + "'") in str(exc.value)


def test_a_tie_between_the_styles_falls_back_to_the_default_then_the_point():
    from marketd.numbers import DecimalStyle

    assert DecimalStyle.detect(["12,50", "12.50"]) is DOT
    assert DecimalStyle.detect(["12,50", "12.50"], default=",") is COMMA
    assert DecimalStyle.decide({}) is None and DecimalStyle.decide({}, default=",") is COMMA


@pytest.mark.parametrize("value, style", [("1234,567", COMMA), ("1234.567", DOT)])
def test_four_digits_before_three_decimals_cannot_be_grouping(value, style):
    from marketd.numbers import DecimalStyle

    assert DecimalStyle.detect([value]) is style


def test_the_column_shortcut_takes_one_and_two_decimal_values_and_leaves_the_rest():
    """``votes`` counts a column of plain ``12``/``12.5``/``12,50`` values in a few passes over the
    joined text (a 2,000,000-row catalog); anything else goes value by value. The shortcut must
    take both one- and two-decimal values, or every real column falls to the slow path."""
    from marketd.numbers import _quick_votes

    assert _quick_votes(["12.5", "3,5", "7", "", "1.25"]) == {".": 2, ",": 1}
    assert _quick_votes(["12.500"]) is None and _quick_votes(["-1.5"]) is None and _quick_votes(["1.2x"]) is None
