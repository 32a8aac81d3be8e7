"""The whole-column quick tests of the catalog's fast path may say "every value fits" only when
every value does fit the rule's regex (saying "no" is always allowed: the regexes decide then)."""
import re

from hypothesis import given, settings, strategies as st

from marketd.plugins.catalog import fastcheck as fc

NUMBERS = "0123456789.,-+ ²\x00"


def column(alphabet: str, max_size: int = 15):
    return st.lists(st.text(alphabet=alphabet, max_size=max_size), min_size=1, max_size=5)


def _fits(pattern: str, values) -> bool:
    rx = re.compile(pattern, re.ASCII)
    return all(rx.fullmatch(v) for v in values)


@settings(max_examples=400, deadline=None)
@given(column("0123456789²a \x00"), st.sampled_from([(13, 13), (1, 9)]))
def test_digit_columns(values, bounds):
    lo, hi = bounds
    if fc._digits(lo, hi)(values):
        assert _fits(f"[0-9]{{{lo},{hi}}}", values)


@settings(max_examples=400, deadline=None)
@given(column("EURUSDeüÄ1 \x00", 5))
def test_currency_columns(values):
    if fc._currencies(values):
        assert _fits("[A-Z]{3}", values)


@settings(max_examples=600, deadline=None)
@given(st.one_of(column(NUMBERS), column("0123456789.", 6)), st.sampled_from([None, ".", ","]))
def test_price_columns(values, sep):
    plain, two = fc._plain_numbers(values, sep)
    if plain:
        assert _fits(fc._INT if sep is None else rf"{fc._INT}(?:{re.escape(sep)}[0-9]{{1,2}})?", values)
    if two:
        assert sep is not None and _fits(rf"{fc._INT}{re.escape(sep)}[0-9]{{2}}", values)


def test_clean_columns_take_the_quick_path():
    assert fc._digits(13, 13)(["4006381333931", "4000000000006"]) and fc._digits(1, 9)(["0", "123456789"])
    assert fc._currencies(["EUR", "CZK"]) and fc._plain_numbers(["12.50", "0.5", "3"], ".") == (True, False)
    assert fc._plain_numbers(["12,50", "0,05"], ",") == (True, True)
