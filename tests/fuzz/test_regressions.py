"""Inputs the fuzz campaign found, each through the ``marketd process`` path: the outcome a person
can act on (a rejection with reason and place), never a plugin error or minutes of work."""
from __future__ import annotations

import time

import pytest

from marketd.sdk import process_file

from .harness import judge, make_app


@pytest.fixture
def app(tmp_path):
    a = make_app(tmp_path / "instance")
    yield a
    a.close()


def run(app, tmp_path, kind: str, name: str, data: bytes) -> dict:
    src = tmp_path / name
    src.write_bytes(data)
    t0 = time.perf_counter()
    row = process_file(app, kind, src)
    row["seconds"] = time.perf_counter() - t0
    assert judge(row) is None, (judge(row), row.get("error"))
    return row


def test_a_header_of_half_a_million_columns_is_refused_at_once(app, tmp_path):
    """seed 1 #31 (tracking CSV): a value of 1,1,1,… in the header line kept the worker 29-87 s in
    pandas, one Series per column."""
    header = "order,channel,carrier,tracking_number," + ",".join(["1"] * 475_000)
    for kind, name in (("tracking", "t.csv"), ("catalog", "c.csv"), ("shipments", "s.csv")):
        row = run(app, tmp_path, kind, name, (header + "\n402-1234567-1234567,amazon-it,DHL,JJD1\n").encode())
        err = row["error"]
        assert row["state"] == "error" and err["reason"] == "too_many_columns" and err["where"] == "line 1", err
        assert "475,004 columns" in err["message"] and row["seconds"] < 10


def test_a_wide_xlsx_header_is_refused_naming_sheet_and_row(app, tmp_path):
    from .corpus import xlsx_bytes

    row = run(app, tmp_path, "catalog", "wide.xlsx", xlsx_bytes([[f"c{k}" for k in range(2_500)], ["x"] * 3]))
    assert row["error"]["reason"] == "too_many_columns" and row["error"]["where"] == "sheet 'Artikel', row 1"


def test_a_file_holding_only_a_byte_order_mark_is_rejected_not_a_crash(app, tmp_path):
    """seed 916 #9440 (catalog CSV): three bytes EF BB BF raised IndexError in tabular.read_table."""
    for kind in ("catalog", "tracking", "shipments"):
        row = run(app, tmp_path, kind, f"bom-{kind}.csv", b"\xef\xbb\xbf")
        assert row["state"] == "error" and row["error"]["reason"] == "no_header", row["error"]


def test_json_too_deep_for_the_parser_says_where_the_nesting_passes_the_limit(app, tmp_path):
    """seed 1 #15 (shipments JSON): 100,000 nested lists were refused without a place."""
    data = b'{"shipments": [\n  ' + b"[" * 100_000 + b"]" * 100_000 + b"\n]}"
    row = run(app, tmp_path, "shipments", "deep.json", data)
    assert row["error"]["reason"] == "json_too_deep" and row["error"]["where"] == "line 2, column 33", row["error"]


def test_json_of_the_wrong_shape_names_the_field(app, tmp_path):
    row = run(app, tmp_path, "shipments", "shape.json", b'{"shipments": {"order": "1"}}')
    assert row["error"]["reason"] == "json_shape" and row["error"]["where"] == "field $.shipments"
    row = run(app, tmp_path, "shipments", "scalar.json", b"42")
    assert row["error"]["reason"] == "json_shape" and row["error"]["where"] == "the top level ($)"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("row", [1, 2])  # the summary row, an order line
def test_a_carriage_return_inside_a_settlement_line_is_a_csv_syntax_error(app, tmp_path, newline, row):
    """seed 20261130 #533 (settlement V2): a CR inserted mid-line was a row end for pandas but not
    for the parser's own line model, so the column read asked for a column the short row did not
    have: ``plugin_error`` (ValueError "Usecols do not match columns")."""
    from tests.amazon import settlement_samples as st

    lines = st.render_v2(st.basic_settlement(settlement_id=str(20_285_130_000_533 + row)),
                         newline=newline).decode().split(newline)
    cut = lines[row].index("\t", 20)
    lines[row] = lines[row][:cut] + "\r" + lines[row][cut:]
    data = newline.join(lines).encode()
    res = run(app, tmp_path, "settlements", f"cr-{row}.txt", data)
    err = res["error"]
    assert res["state"] == "error" and err["reason"] == "csv_syntax", err
    offset = len((newline.join(lines[:row]) + newline).encode()) + cut
    assert data[offset:offset + 1] == b"\r" and err["where"] == f"line {row + 1}, byte {offset}", err


def test_crlf_and_a_final_cr_are_line_ends_not_errors(app, tmp_path):
    from tests.amazon import settlement_samples as st

    data = st.render_v2(st.basic_settlement(settlement_id="20285130009999"), newline="\r\n")
    assert run(app, tmp_path, "settlements", "crlf.txt", data)["state"] == "done"
    data = st.render_v2(st.basic_settlement(settlement_id="20285130009998"), newline="\n").rstrip(b"\n") + b"\r"
    assert run(app, tmp_path, "settlements", "final-cr.txt", data)["state"] == "done"
