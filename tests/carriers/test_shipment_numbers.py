"""Weights, dimensions and COD through the one number parser: a file's decimal style comes from
all its numbers, and a value that does not fit it is a rejected line naming the column."""
from decimal import Decimal

import pytest

from marketd.carriers import Parcel, to_decimal
from marketd.numbers import COMMA, NumberError
from marketd.plugins.shipments.lines import line_from_mapping, number_style

DEFAULTS = {"carrier": "brt"}


def lines_of(rows):
    style = number_style(rows)
    return style, [line_from_mapping(i, r, DEFAULTS, style) for i, r in enumerate(rows, 2)]


def test_a_comma_weight_in_a_point_file_is_refused_not_read_as_thousands():
    rows = [{"order": "A", "weight_kg": "2.5"}, {"order": "B", "weight_kg": "1,250"}, {"order": "C", "weight_kg": "0.75"}]
    style, lines = lines_of(rows)
    assert style.sep == "." and lines[0].error is None and lines[2].parcels[0].weight_kg == Decimal("0.75")
    assert lines[1].error is not None and lines[1].column == "weight_kg"
    # 1,250 in a point file is 1250 kg: over the limit, named as such rather than read as 1.25
    assert "larger than 1000" in lines[1].error[1]
    rows[1]["weight_kg"] = "1,5"
    _, lines = lines_of(rows)
    assert lines[1].column == "weight_kg" and "decimal point" in lines[1].error[1]


def test_a_comma_file_reads_grouped_cod_and_comma_weights():
    rows = [{"order": "A", "weight_kg": "2,5", "cod_amount": "1.234,56", "cod_currency": "EUR"},
            {"order": "B", "weight_kg": "1,2|3,4", "length_cm": "30,5"}]
    style, lines = lines_of(rows)
    assert style is COMMA
    assert lines[0].cod_amount == Decimal("1234.56") and lines[0].parcels[0].weight_kg == Decimal("2.5")
    assert [p.weight_kg for p in lines[1].parcels] == [Decimal("1.2"), Decimal("3.4")]
    assert lines[1].parcels[0].length_cm == Decimal("30.5")


@pytest.mark.parametrize("weight, why", [("1e3", "scientific"), ("1_0", "'_'"), ("٢", "0-9"), ("nan", "finite")])
def test_weights_that_are_no_plain_number_are_refused_with_the_reason(weight, why):
    _, lines = lines_of([{"order": "A", "weight_kg": weight}])
    assert lines[0].column == "weight_kg" and why in lines[0].error[1]


def test_json_numbers_and_nested_parcels():
    # JSON numbers arrive as exact Decimals (the reader's parse_float), strings in the file's style
    rows = [{"order": "A", "parcels": [{"weight_kg": Decimal("2.5"), "length_cm": "40,5"}],
             "cod": {"amount": "12,50", "currency": "EUR"}}]
    style, lines = lines_of(rows)
    assert style is COMMA and lines[0].error is None
    assert lines[0].parcels[0].weight_kg == Decimal("2.5") and lines[0].parcels[0].length_cm == Decimal("40.5")
    assert lines[0].cod_amount == Decimal("12.50")


def test_to_decimal_is_the_one_parser():
    assert to_decimal("2,5", "weight_kg") == Decimal("2.5") and to_decimal(None) is None
    assert to_decimal(1.1, "w") == Decimal("1.1") and to_decimal(Decimal("3"), "w") == 3
    with pytest.raises(NumberError, match="weight_kg '1,234' is ambiguous"):
        to_decimal("1,234", "weight_kg")
    with pytest.raises(ValueError):
        Parcel(weight_kg="1e400")
