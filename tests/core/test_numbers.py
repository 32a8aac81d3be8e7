"""The one number parser: the misreadings of issue 9 as regressions, and its contract as properties
(formatted Decimals read back exactly in both styles; any text gives a Decimal or NumberError)."""
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from marketd.money import AmountError, parse_amount
from marketd.numbers import (AMOUNT, COMMA, COUNT, DOT, MEASURE, DecimalStyle, NumberError, NumberKind,
                             parse_decimal, votes)


# -- issue 9 item 1: values whose grouping is invalid for the file's style are refused ------------
@pytest.mark.parametrize("text, style, kind, today", [
    ("12,50", DOT, AMOUNT, "1250.00"),       # a price in a decimal-point file
    ("1,5", DOT, COUNT, "15"),               # stock
    ("12.50", COMMA, AMOUNT, "1250"),        # a price in a decimal-comma file
    ("12.50.00", COMMA, AMOUNT, "125000"),
    ("12.50.00", DOT, AMOUNT, None),
    ("1,2345", DOT, AMOUNT, None),           # four digits after a thousands separator
    ("12 50", COMMA, AMOUNT, "1250"),        # a blank grouping two digits
])
def test_grouping_that_does_not_fit_the_files_style_is_refused(text, style, kind, today):
    with pytest.raises(NumberError) as e:
        parse_decimal(text, style, kind)
    assert repr(text) in str(e.value)


def test_the_refusal_says_what_the_file_uses():
    with pytest.raises(NumberError) as e:
        parse_decimal("12,50", DOT)
    assert "decimal point" in str(e.value) and "three digits" in str(e.value) and "1,234.50" in str(e.value)


@pytest.mark.parametrize("text, style, expected", [
    ("1.234,56", COMMA, "1234.56"),          # issue 9: today 1.23456
    ("1,234.56", DOT, "1234.56"), ("1 234,5", COMMA, "1234.5"), ("1\u202f234,56", COMMA, "1234.56"),
    ("1\u00a0234.56", DOT, "1234.56"), ("1'234.50", DOT, "1234.50"), ("12,50", COMMA, "12.50"),
    ("-3.50", DOT, "-3.50"), ("(12.00)", DOT, "-12.00"), ("12-", DOT, "-12"), (" +7 ", DOT, "7"),
    (".5", DOT, "0.5"), (",5", COMMA, "0.5"), ("1.234", COMMA, "1234"), ("1,234", DOT, "1234"),
    ("1.234.567,00", COMMA, "1234567.00"), ("007", DOT, "7"), ("-0.00", DOT, "0.00"),
    ("12.500000", DOT, "12.5"),               # ERP decimal(18,6): trailing zeros are not decimals
])
def test_valid_numbers(text, style, expected):
    got = parse_decimal(text, style)
    assert got == Decimal(expected) and not got.is_signed() or Decimal(expected) < 0


@pytest.mark.parametrize("text, why", [
    ("1e-999", "scientific notation"), ("1E5", "scientific notation"), ("1_000", "'_'"),
    ("²", "not one of 0-9"), ("4006381333931²", "not one of 0-9"), ("١٢٣", "not one of 0-9"), ("１２", "not one of 0-9"),
    ("NaN", "finite"), ("inf", "finite"), ("-Infinity", "finite"), ("", "empty"), ("   ", "empty"),
    ("1" * 28 + ".00", "sane limit"), ("9" * 5000, "too long"), ("0.00001", "decimals"),
    ("=1+1", "not a number"), ("12abc", "not a number"), ("--", "not a number"), ("1,234", "ambiguous"),
])
def test_refusals_always_say_why(text, why):
    with pytest.raises(NumberError) as e:
        parse_decimal(text, None if why == "ambiguous" else DOT)
    assert why in str(e.value)


def test_bounds_per_use():
    assert parse_decimal("999999999999.9999", DOT, AMOUNT) == Decimal("999999999999.9999")
    with pytest.raises(NumberError, match="sane limit"):
        parse_decimal("1000000000000", DOT, AMOUNT)
    with pytest.raises(NumberError, match="sane limit"):
        parse_decimal(str(2 ** 63), DOT, COUNT)   # issue 9: stock >= 2^63 overflowed sqlite
    with pytest.raises(NumberError, match="whole number"):
        parse_decimal("1.5", DOT, COUNT)
    assert parse_decimal("12.0", DOT, COUNT) == 12
    assert parse_decimal("1.500", COMMA, COUNT) == 1500
    with pytest.raises(NumberError):
        parse_decimal(10 ** 5000, DOT, AMOUNT)
    with pytest.raises(NumberError):
        parse_decimal(Decimal("NaN"))
    with pytest.raises(NumberError):
        parse_decimal(1.5)


def test_strict_mode_takes_only_a_leading_sign():
    for text in ("(12.00)", "12-", "1'234.50", "12."):
        assert parse_decimal(text, DOT) is not None
        with pytest.raises(NumberError):
            parse_decimal(text, DOT, strict=True)
    assert parse_decimal("-1,234.56", DOT, strict=True) == Decimal("-1234.56")


def test_a_single_value_reads_itself_unless_ambiguous():
    assert parse_amount("95,00") == Decimal("95.00") and parse_amount("1.234,56") == Decimal("1234.56")
    with pytest.raises(AmountError, match="ambiguous"):
        parse_amount("1.234")
    assert parse_amount("1.234", ",") == 1234


# -- the style of a file, from all its values -----------------------------------------------------
def test_style_is_decided_by_all_values_not_the_first():
    values = ["1,234"] * 50 + ["12.50"] + ["3"]          # the first 50 fit both styles
    assert DecimalStyle.detect(values) is DOT
    assert DecimalStyle.detect(["1.234"] * 50 + ["1.234,56"]) is COMMA
    assert DecimalStyle.detect(["1,234", "2.345"]) is None        # nothing decides: ambiguous ones refused
    assert DecimalStyle.detect(["1,234"], default=",") is COMMA
    assert DecimalStyle.detect(["12,50"] * 3 + ["1.50"]) is COMMA  # the minority is refused row by row


def test_votes_agree_between_the_column_shortcut_and_value_by_value():
    import pandas as pd
    values = ["1.50", "12,00", "3", "1,234", "1.234,56", "-0,5", " 3.5 ", "1,234,567", "", ".5", "x,yz"]
    by_one = {".": 0, ",": 0}
    for v in values:
        for k, n in votes([v]).items():
            by_one[k] += n
    assert votes(values) == by_one == votes(pd.Series(values))


# -- properties -----------------------------------------------------------------------------------
def _format(value: Decimal, style: DecimalStyle, group: str | None) -> str:
    text = format(value, "f")
    neg = text.startswith("-")
    intpart, _, frac = text.lstrip("-").partition(".")
    if group:
        rev = intpart[::-1]
        intpart = group.join(rev[i:i + 3] for i in range(0, len(rev), 3))[::-1]
    out = intpart + (style.sep + frac if frac else "")
    return ("-" if neg else "") + out


amounts = st.decimals(min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"),
                      places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(amounts, st.sampled_from([DOT, COMMA]), st.sampled_from([None, "thousands", " ", "\u00a0", "\u202f"]))
def test_round_trip_of_formatted_amounts(value, style, group):
    sep = style.group if group == "thousands" else group
    text = _format(value, style, sep)
    assert parse_decimal(text, style, AMOUNT) == value
    assert parse_decimal(text, style, AMOUNT, strict=True) == value
    if abs(value) >= 1000 and sep in (",", "."):
        assert DecimalStyle.detect([text, _format(Decimal("1.25"), style, None)]) is style


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=999_999_999), st.sampled_from([DOT, COMMA]), st.booleans())
def test_round_trip_of_counts(value, style, grouped):
    text = _format(Decimal(value), style, style.group if grouped else None)
    assert parse_decimal(text, style, COUNT) == value


number_like = st.text(alphabet="0123456789.,-+() '\u00a0eE_²٣xN", max_size=20)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.text(max_size=80), number_like), st.sampled_from([None, DOT, COMMA]),
       st.sampled_from([AMOUNT, COUNT, MEASURE]), st.booleans())
def test_any_text_gives_a_bounded_decimal_or_a_number_error(text, style, kind: NumberKind, strict):
    try:
        value = parse_decimal(text, style, kind, strict=strict)
    except NumberError as exc:
        assert str(exc)
        return
    assert isinstance(value, Decimal) and value.is_finite() and abs(value) < kind.limit
    assert all(c in "0123456789" for c in format(value, "f").lstrip("-").replace(".", ""))
    if kind.whole:
        assert value == value.to_integral_value()
