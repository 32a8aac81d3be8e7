"""Report workbooks: every row (no 20,000 cap), text that XML cannot hold sanitised instead of
failing the workbook, and text never turned into a formula."""
import io
from decimal import Decimal

import openpyxl

from marketd.tabular import safe_cell
from marketd.xlsxout import Workbook


def _read(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_control_characters_and_nul_are_sanitised_not_fatal():
    buf = io.BytesIO()
    wb = Workbook(buf)
    ws = wb.sheet("S")
    ws.header(["a", "b"])
    ws.append(["fee\x00x", "tab\tok\x07bell", None, "\ud800lone"])
    wb.close()
    cells = [c.value for c in _read(buf.getvalue())["S"][2]]
    assert cells[0] == "fee\ufffdx" and cells[1] == "tab\tok\ufffdbell" and cells[3] == "\ufffdlone"
    assert _read(buf.getvalue())["S"]["A1"].font.b


def test_text_is_never_a_formula_and_amounts_are_numbers():
    buf = io.BytesIO()
    wb = Workbook(buf)
    ws = wb.sheet("S")
    ws.append([safe_cell("=HYPERLINK(\"http://x\",\"y\")"), "=1+1", Decimal("-1234.56"), 7, True])
    wb.close()
    row = _read(buf.getvalue())["S"][1]
    assert row[0].value == "'=HYPERLINK(\"http://x\",\"y\")" and row[1].data_type == "s" and row[1].value == "=1+1"
    assert row[2].value == -1234.56 and row[3].value == 7 and row[4].value is True


def test_a_report_holds_every_row():
    buf = io.BytesIO()
    wb = Workbook(buf)
    ws = wb.sheet("Orders")
    for i in range(30_000):
        ws.append([f"302-{i:07d}-0000000", Decimal(i) / 100])
    wb.close()
    sheet = openpyxl.load_workbook(io.BytesIO(buf.getvalue()), read_only=True)["Orders"]
    assert sum(1 for _ in sheet.iter_rows(values_only=True)) == 30_000


def test_markup_spaces_and_line_breaks_survive_and_cells_land_where_appended():
    buf = io.BytesIO()
    wb = Workbook(buf)
    ws = wb.sheet("A & B")
    ws.append([" lead", "a&b<c>\"'", "trail ", "x\r\ny", False])
    ws.append([])
    ws.append([None, "", "third"])
    wide = wb.sheet("Wide")
    wide.append([None] * 27 + [Decimal("0.10")])
    wb.close()
    book = _read(buf.getvalue())
    assert book.sheetnames == ["A & B", "Wide"]
    s = book["A & B"]
    assert [c.value for c in s[1]] == [" lead", "a&b<c>\"'", "trail ", "x\r\ny", False]
    assert s["C3"].value == "third" and s["A3"].value is None and s.max_row == 3
    assert book["Wide"]["AB1"].value == 0.1


def test_sheet_names_excel_refuses_are_refused_when_the_sheet_is_made():
    wb = Workbook(io.BytesIO())
    wb.sheet("Orders")
    for bad in ("orders", "a/b", "x" * 32, ""):
        try:
            wb.sheet(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_created_is_written_in_utc_and_makes_the_bytes_reproducible():
    import io
    import zipfile
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from marketd.xlsxout import Workbook

    def book(created):
        buf = io.BytesIO()
        wb = Workbook(buf, created=created)
        wb.sheet("S").append(["x", 1])
        wb.close()
        return buf.getvalue()

    berlin = datetime(2025, 1, 12, 23, 59, tzinfo=ZoneInfo("Europe/Berlin"))
    a, b = book(berlin), book(berlin)
    assert a == b
    core = zipfile.ZipFile(io.BytesIO(a)).read("docProps/core.xml").decode()
    assert "2025-01-12T22:59:00Z" in core
