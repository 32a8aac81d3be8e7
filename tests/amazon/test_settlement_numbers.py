"""Settlement amounts through the one number parser, and the header checks that must stay fast:
issue 9 reproducers (29-digit amount, 40,000-column header, NUL past the first 64 KiB)."""
from __future__ import annotations

import pytest

from marketd.errors import FileRejected
from marketd.plugins.amazon.settlement_parser import parse_settlement

from .settlement_samples import D, Settlement, V2_COLUMNS_24, basic_settlement, line_of, other_line, render_v2, set_cell


def reject(data: bytes, reason: str, settings=None) -> FileRejected:
    with pytest.raises(FileRejected) as exc:
        parse_settlement(data, settings)
    assert exc.value.reason == reason, str(exc.value)
    assert exc.value.fix
    return exc.value


def test_a_29_digit_amount_is_a_clean_rejection():
    data = render_v2(basic_settlement())
    line = line_of(data, "Storage Fee")
    e = reject(set_cell(data, line, "amount", "12345678901234567890123456789.00"), "bad_amount")
    assert e.where == f"line {line}, column 'amount'" and "sane limit" in e.message


def test_a_29_digit_payout_is_a_clean_rejection():
    data = set_cell(render_v2(basic_settlement()), 2, "total-amount", "-12345678901234567890123456789.00")
    e = reject(data, "bad_amount")
    assert e.where == "line 2, column 'total-amount'" and "sane limit" in e.message


@pytest.mark.parametrize("decimal, bad", [(".", "12 50"), (".", "1,2345.00"), (",", "12.50"), (",", "12.50.00"),
                                          (".", "1e3"), (".", "١٢.٠٠"), (".", "NaN")])
def test_amounts_that_do_not_fit_the_files_style_are_refused(decimal, bad):
    data = render_v2(basic_settlement(), decimal=decimal)
    line = line_of(data, "Storage Fee")
    e = reject(set_cell(data, line, "amount", bad), "bad_amount")
    assert e.where == f"line {line}, column 'amount'" and repr(bad) in e.message


def test_the_style_comes_from_all_amounts_not_the_first_20000():
    # 20,000 distinct amounts written "2.000" … "21.999" (thousands, no decimals: they fit both
    # styles), then one only a decimal-comma file writes: the old sample of the first 20,000
    # distinct amounts decided "point" and read 2.000 as 2
    lines = [other_line("Storage Fee", str(i)) for i in range(2000, 22000)] + [other_line("Storage Fee", "-0.50")]
    s = Settlement(lines=lines)
    data = render_v2(s, decimal=",", thousands=True).replace(b",00\t", b"\t")
    assert b"\t2.000\t" in data and b"\t-0,50\t" in data
    p = parse_settlement(data)
    assert p.decimal_sep == "," and p.difference == 0 and p.total == s.total_amount
    assert D("2000") in {p.to_decimal(u) for u in p.rows["units"].tolist()}


def test_a_header_wider_than_any_settlement_is_refused_at_once():
    header = "\t".join(list(V2_COLUMNS_24) + [f"x{i}" for i in range(40_000)])
    data = (header + "\n" + "\t" * 40_023 + "\n").encode()
    e = reject(data, "too_many_columns")
    assert "40,024 columns" in e.message and e.where == "line 1 (header)"


def test_duplicate_columns_are_still_named():
    cols = list(V2_COLUMNS_24) + ["sku", "x1", "x1"]
    data = ("\t".join(cols) + "\n").encode() + render_v2(basic_settlement()).split(b"\n", 1)[1]
    e = reject(data, "duplicate_column")
    assert "sku" in e.message and "x1" in e.message


def test_a_nul_byte_after_the_first_64_kib_is_refused():
    data = render_v2(Settlement(lines=[other_line("Storage Fee", "-1.00") for _ in range(600)]))
    assert len(data) > 70_000
    cut = data.rindex(b"Storage Fee")
    e = reject(data[:cut] + b"\x00" + data[cut:], "binary")
    line = data.count(b"\n", 0, cut) + 1
    assert e.where == f"line {line}, byte {cut}"
