import os
import stat
import threading
import hashlib
from decimal import Decimal

import openpyxl
import pytest

from marketd.errors import FileRejected, OutputExists
from marketd.money import AmountError, guess_decimal_separator, parse_amount
from marketd.outbox import Outbox
from marketd.tabular import read_table, safe_cell, csv_text


@pytest.mark.parametrize("text,sep,expected", [
    ("95.00", None, "95.00"), ("95,00", None, "95.00"), ("1.234,56", None, "1234.56"),
    ("1,234.56", None, "1234.56"), ("  -3.50 ", None, "-3.50"), ("(12.00)", None, "-12.00"),
    ("12-", None, "-12"), ("1 234,5", ",", "1234.5"), ("1.234", ",", "1234"), ("0,1", None, "0.1"),
])
def test_parse_amount(text, sep, expected):
    assert parse_amount(text, sep) == Decimal(expected)


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3,4x", "=1+1", "--"])
def test_parse_amount_rejects(bad):
    with pytest.raises(AmountError):
        parse_amount(bad)


def test_parse_amount_refuses_float():
    with pytest.raises(AmountError):
        parse_amount(1.5)


def test_guess_decimal_separator():
    assert guess_decimal_separator(["1,50", "12,00", "3"]) == ","
    assert guess_decimal_separator(["1.50", "1,234.00"]) == "."


def _rows(path, settings=None):
    t = read_table(path, settings or {})
    return t, list(t.rows())


def test_csv_bom_semicolon(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes("\ufeffsku;title\nA;Füller\n".encode("utf-8"))
    t, rows = _rows(p)
    assert t.columns == ["sku", "title"] and t.delimiter == ";" and t.encoding == "utf-8-sig"
    assert rows == [(2, {"sku": "A", "title": "Füller"})]


def test_csv_cp1252_tab(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes("sku\ttitle\nA\tStraße €\n".encode("cp1252"))
    t, rows = _rows(p)
    assert t.encoding == "cp1252" and t.delimiter == "\t" and rows[0][1]["title"] == "Straße €"


def test_truncated_mid_row(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("sku,ean,title\nA,1,x\nB,2")
    with pytest.raises(FileRejected) as e:  # refused on opening, before any row is used
        read_table(p)
    assert e.value.reason == "truncated" and "line 3" in e.value.where


def test_unclosed_quote_is_truncated(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('sku,title\nA,"half')
    with pytest.raises(FileRejected) as e:
        list(read_table(p).rows())
    assert e.value.reason == "truncated"


def test_last_line_without_newline_but_complete_is_fine(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("sku,title\nA,x\nB,y")
    assert [r["sku"] for _, r in read_table(p).rows()] == ["A", "B"]


def test_column_count_mismatch_in_middle(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("sku,title\nA,x,extra\nB,y\n")
    with pytest.raises(FileRejected) as e:
        list(read_table(p).rows())
    assert e.value.reason == "column_count" and e.value.where == "line 2"


@pytest.mark.parametrize("data,reason", [(b"", "empty_file"), (b"\x00\x01\x02garbage" * 100, "binary"),
                                         (b"PK\x03\x04not really a zip", "xlsx")])
def test_unusable_files(tmp_path, data, reason):
    p = tmp_path / "a.csv"
    p.write_bytes(data)
    with pytest.raises(FileRejected) as e:
        read_table(p)
    assert e.value.reason == reason and e.value.fix


def test_undecodable_text(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b"sku,title\nA,\x81\x8d\x8f\x90\n")  # bytes undefined in cp1252 and invalid UTF-8
    with pytest.raises(FileRejected) as e:
        read_table(p)
    assert e.value.reason == "encoding"


def test_xlsx(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["sku", "ean", "price"])
    ws.append(["A", 4006381333931, 12.5])
    ws.append([None, None, None])
    p = tmp_path / "c.xlsx"
    wb.save(p)
    t, rows = _rows(p)
    assert t.format == "xlsx" and rows == [(2, {"sku": "A", "ean": "4006381333931", "price": "12.5"})]


def test_safe_cell_formula_injection():
    assert safe_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("-12.50") == "-12.50"
    assert safe_cell(Decimal("-1.5")) == "-1.5"
    assert "'+cmd" in csv_text(["a"], [["+cmd|' /C calc'!A0"]])


def test_outbox_never_overwrites_and_private_mode(tmp_path):
    ob = Outbox(tmp_path)
    p = ob.write("reports/a.csv", "one", private=True)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    with pytest.raises(OutputExists):
        ob.write("reports/a.csv", "two")
    assert p.read_text() == "one"
    assert ob.write("reports/a.csv", "two", policy="rename").name == "a-1.csv"
    assert not ob.orphan_temps()
    with pytest.raises(ValueError):
        ob.write("../escape.csv", "x")


def test_outbox_reader_never_sees_partial(tmp_path):
    """A reader hashing every visible non-dot file while 300 outputs are written sees only whole files."""
    ob = Outbox(tmp_path)
    payload = os.urandom(200_000)
    good = hashlib.sha256(payload).hexdigest()
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            for f in tmp_path.glob("out/*"):
                if f.name.startswith("."):
                    continue
                try:
                    if hashlib.sha256(f.read_bytes()).hexdigest() != good:
                        bad.append(f.name)
                except FileNotFoundError:
                    pass

    t = threading.Thread(target=reader)
    t.start()
    for i in range(300):
        ob.write(f"out/f{i}.bin", payload)
    stop.set()
    t.join()
    assert bad == [] and len(list(tmp_path.glob("out/f*.bin"))) == 300
