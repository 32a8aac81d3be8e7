"""Reading CSV/XLSX: structural problems are refused with their location before any row is used,
and the fast reader (numpy scan + pandas) gives exactly what the csv module gives."""
import csv
import io
import re
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from marketd import csvscan, tabular
from marketd.errors import FileRejected
from marketd.tabular import read_table


def _reject(path, reason):
    with pytest.raises(FileRejected) as e:
        list(read_table(path).rows())
    assert e.value.reason == reason and e.value.fix, e.value
    return e.value


# -- issue 9 item 2: NUL anywhere, not only in the first 256 KiB ----------------------------------
def test_a_nul_byte_after_the_sniff_window_is_refused_with_line_and_byte(tmp_path):
    head = "sku,title\n" + "".join(f"A{i},x\n" for i in range(60_000))  # > 256 KiB
    p = tmp_path / "c.csv"
    p.write_bytes(head.encode() + b"B,y\x00z\nC,w\n")
    e = _reject(p, "binary")
    assert e.where == f"line 60002, byte {len(head) + 3}" and "NUL" in e.message


def test_a_nul_byte_in_the_head_names_its_line(tmp_path):
    p = tmp_path / "c.csv"
    p.write_bytes(b"sku,title\nA,x\nB,\x00\n")
    assert _reject(p, "binary").where == "line 3, byte 16"


def test_a_bad_byte_deep_in_a_bom_file_names_line_and_byte(tmp_path):
    body = "\ufeffsku,title\n" + "".join(f"A{i},Füller\n" for i in range(30_000))
    p = tmp_path / "c.csv"
    data = body.encode("utf-8") + b"B,\xff\n"
    p.write_bytes(data)
    e = _reject(p, "encoding")
    assert e.where == f"line 30002, byte {len(data) - 2}"


# -- structure: refused when the file is opened, with the line ------------------------------------
def test_column_count_and_cut_off_rows_are_found_before_any_row_is_read(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("sku,title\n" + "A,x\n" * 1000 + "B,y,z\n" + "C,w\n" * 10)
    with pytest.raises(FileRejected) as e:
        read_table(p)
    assert e.value.reason == "column_count" and e.value.where == "line 1002"
    p.write_text("sku,title,stock\nA,x,1\nB,y")
    with pytest.raises(FileRejected) as e:
        read_table(p)
    assert e.value.reason == "truncated" and e.value.where == "line 3"


def test_an_unclosed_quote_names_the_line_it_opens_on(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text('sku,title\nA,x\nB,"half\nmore\n')
    e = _reject(p, "truncated")
    assert e.where == "line 3"


def test_title_lines_above_the_header_are_named_as_such(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("Product list November\nsku,ean,title\nA,1,x\n")
    e = _reject(p, "column_count")
    assert "title" in e.fix and e.where == "line 2"


def test_a_last_row_without_line_break_is_marked(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("sku,stock\nA,1\nB,15")
    assert read_table(p).unterminated_line == 3
    p.write_text("sku,stock\nA,1\nB,15\n")
    assert read_table(p).unterminated_line is None
    p.write_text("sku,stock\nA,1\n  ")
    assert read_table(p).unterminated_line is None  # the cut-off part is blank: nothing was lost


@pytest.mark.parametrize("text", [
    'sku,title\nA,24" monitor\nB,"quoted, with comma"\n',            # a quote inside an unquoted value
    "sku,title\rA,x\rB,y\r",                                            # classic Mac line ends
    "sku,title\nA,x\n,,,,,,\nB,y\n",                                    # a blank row with extra delimiters
])
def test_irregular_files_are_read_by_the_exact_reader(tmp_path, text):
    p = tmp_path / "c.csv"
    p.write_text(text, newline="")
    rows = list(read_table(p).rows())
    assert [r["sku"] for _, r in rows] == ["A", "B"]


def test_multiline_values_keep_the_line_a_row_starts_on(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text('sku,title\nA,"two\nlines"\n\nB,y\n')
    assert [(n, r["sku"]) for n, r in read_table(p).rows()] == [(2, "A"), (5, "B")]


def test_chunks_are_bounded_and_usecols_reads_one_column(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(2500)))
    t = read_table(p)
    sizes = [len(c) for c in t.chunks(size=1000)]
    assert max(sizes) <= 1000 and sum(sizes) == 2500 and len(sizes) == 3
    first = next(t.chunks(size=10, usecols=[1]))
    assert first.frame[1].tolist()[:2] == ["x0", "x1"] and set(first.frame[0]) == {""}
    assert first.lines.tolist()[:2] == [2, 3]


# -- XLSX: a damaged workbook is a rejection, never an exception ----------------------------------
def _xlsx_bytes():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["sku", "ean"])
    ws.append(["A", "4006381333931"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rebuild(data: bytes, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            content = change(name, src.read(name))
            if content is not None:
                dst.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize("change", [
    # issue 9 item 4: a workbook without sheets made tabular.py raise IndexError
    lambda n, d: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", d) if n == "xl/workbook.xml" else d,
    lambda n, d: None if n == "xl/worksheets/sheet1.xml" else d,
    lambda n, d: d.replace(b'<c r="B2"', b'<c r="ZZZZZZ2"') if n.endswith("sheet1.xml") else d,
    lambda n, d: d[: len(d) // 2] if n.endswith("sheet1.xml") else d,
    lambda n, d: None if n == "xl/workbook.xml" else d,
])
def test_damaged_workbooks_are_rejected_not_crashed(tmp_path, change):
    p = tmp_path / "c.xlsx"
    p.write_bytes(_rebuild(_xlsx_bytes(), change))
    with pytest.raises(FileRejected) as e:
        list(read_table(p).rows())
    assert e.value.reason in ("xlsx", "empty_file") and e.value.fix


def test_a_truncated_xlsx_is_rejected(tmp_path):
    p = tmp_path / "c.xlsx"
    p.write_bytes(_xlsx_bytes()[:700])
    _reject(p, "xlsx")


# -- property: the fast reader equals the csv module ----------------------------------------------
cells = st.text(alphabet=list('ab1 ,;\t"\n\r€é“'), max_size=6)


def _reference(data: bytes, delimiter: str):
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header = next(reader)
    line = reader.line_num
    out = []
    for record in reader:
        start = line + 1
        line = reader.line_num
        if not record or all(not c.strip() for c in record):
            continue
        out.append((start, dict(zip([h.strip() for h in header], record))))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(
    st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=3), min_size=n, max_size=n, unique=True),
    st.lists(st.lists(cells, min_size=n, max_size=n), max_size=12))),
    st.sampled_from([",", ";", "\t"]), st.sampled_from(["\n", "\r\n"]), st.booleans(), st.lists(st.integers(0, 12)))
def test_fast_reader_equals_the_csv_module(tmp_path, table, delimiter, terminator, final_newline, blank_at):
    header, rows = table
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, lineterminator=terminator)
    w.writerow(header)
    for i, row in enumerate(rows):
        if i in blank_at:
            buf.write(terminator)
        # csv.writer quotes only what the line terminator holds: a CR it leaves bare is a line break
        w.writerow([c.replace("\r", "") for c in row] if terminator == "\n" else row)
    text = buf.getvalue()
    if not final_newline and text.endswith(terminator) and rows:
        text = text[: -len(terminator)]
    data = text.encode("utf-8")
    p = tmp_path / "t.csv"
    p.write_bytes(data)
    expected = _reference(data, delimiter)
    try:
        got = [(n, r) for n, r in read_table(p, {"delimiter": delimiter}).rows()]
    except FileRejected as exc:  # only a cut-off last row may be refused
        assert exc.reason == "truncated" and not final_newline, exc
        return
    assert got == expected
    exact = csvscan.scan_exact(p, "utf-8", delimiter)
    try:
        fast = csvscan._scan_fast(p, "utf-8", ord(delimiter), 0)
    except csvscan._Irregular:
        return
    assert fast.starts.tolist() == exact.starts.tolist() and fast.fields.tolist() == exact.fields.tolist()
    assert fast.last_unterminated == exact.last_unterminated
    via_exact = [(n, dict(zip(header, v))) for c in tabular._exact_chunks(p, "utf-8", delimiter, exact, 5)
                 for n, v in zip(c.lines.tolist(), c.frame.itertuples(index=False, name=None))]
    assert via_exact == expected


# -- property: a file without quotes cut from its bytes gives what the pandas parser gives --------
plain_cells = st.text(alphabet=list("ab1 .\t;|€é“\u00a0\x0b-"), max_size=6)


def _chunks_of(reader, *args):
    return [(line, [chunk.column(i)[k] for i in range(len(chunk.frame.columns))])
            for chunk in reader(*args) for k, line in enumerate(chunk.lines.tolist())]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.lists(plain_cells, min_size=n, max_size=n),
                                                                          max_size=15))),
       st.sampled_from([",", ";", "\t", "|"]), st.sampled_from(["\n", "\r\n"]), st.booleans(),
       st.lists(st.integers(0, 15)), st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
       st.sampled_from([8, 64, 1 << 20]), st.sampled_from([1, 3, 50_000]), st.booleans())
def test_a_file_without_quotes_cut_from_its_bytes_equals_the_pandas_parser(
        tmp_path, monkeypatch, table, delimiter, terminator, final_newline, blank_at, encoding, block, size, one_col):
    n, rows = table
    monkeypatch.setattr(csvscan, "BLOCK", block)
    buf = io.StringIO(newline="")
    buf.write(delimiter.join(f"h{i}" for i in range(n)) + terminator)
    for i, row in enumerate(rows):
        if i in blank_at:
            buf.write(delimiter * (n - 1) + terminator if i % 2 else terminator)
        buf.write(delimiter.join(c.replace(delimiter, "") for c in row) + terminator)
    text = buf.getvalue()
    if not final_newline:
        text = text[: -len(terminator)]
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode(encoding))
    try:
        t = read_table(p, {"delimiter": delimiter, "encoding": encoding})
        st_ = csvscan.scan(p, encoding, delimiter, 3 if encoding == "utf-8-sig" else 0)
    except FileRejected:
        return  # refused before any row is read (a blank line of another width, a cut last row)
    if st_.exact:
        return
    assert not st_.quoted
    usecols = [n - 1] if one_col else None
    split = _chunks_of(tabular._split_chunks, p, encoding, delimiter, st_, size, usecols)
    parsed = _chunks_of(tabular._pandas_chunks, p, encoding, delimiter, st_, size, usecols)
    assert split == parsed
    assert all(len(c) <= size for c in tabular._split_chunks(p, encoding, delimiter, st_, size, None))
    with monkeypatch.context() as m:
        m.setattr(tabular, "_pandas_chunks", None)  # read_table must take the split path
        via_table = [(line, list(v)) for c in t.chunks(size)
                     for line, v in zip(c.lines.tolist(), zip(*map(c.column, range(n))))]
    assert via_table == _chunks_of(tabular._split_chunks, p, encoding, delimiter, st_, size, None)
