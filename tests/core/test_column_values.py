"""``TableFile.column_values``: one column read from the bytes of a CSV without quotes gives the
same texts as the parser (``chunks(usecols=...)``), across blocks, line ends, blank and short
lines, a BOM, cp1252 and a last line without a line break; a quoted file takes the parser."""
import io

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from marketd import csvscan
from marketd.errors import FileRejected
from marketd.numbers import votes
from marketd.tabular import read_table

cells = st.text(alphabet="ab1.,9 éü-", max_size=5)


def _by_parser(table, pos):
    return [v for chunk in table.chunks(usecols=[pos]) for v in chunk.frame[pos].tolist()]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.lists(cells, min_size=n, max_size=n),
                                                                          max_size=15))),
       st.sampled_from([",", ";", "\t", "|"]), st.sampled_from(["\n", "\r\n"]), st.booleans(),
       st.lists(st.integers(0, 15)), st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), st.integers(0, 3),
       st.sampled_from([7, 64, 1 << 20]))
def test_a_column_from_the_bytes_equals_the_parser(tmp_path, monkeypatch, table, delimiter, terminator, final_newline,
                                                    blank_at, encoding, pos, block):
    n, rows = table
    pos = min(pos, n - 1)
    monkeypatch.setattr(csvscan, "BLOCK", block)
    buf = io.StringIO(newline="")
    buf.write(delimiter.join(f"h{i}" for i in range(n)) + terminator)
    for i, row in enumerate(rows):
        if i in blank_at:
            buf.write(terminator)
        buf.write(delimiter.join(c.replace(delimiter, "") for c in row) + terminator)
    text = buf.getvalue()
    if not final_newline:
        text = text[: -len(terminator)]
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode(encoding))
    try:
        table = read_table(p, {"delimiter": delimiter, "encoding": encoding})
    except FileRejected:
        return
    if table._column is None:  # the exact scan took the file: nothing to compare
        return
    ours = [v for part in table.column_values(pos) for v in part]
    parsed = _by_parser(table, pos)
    assert [v for v in ours if v.strip()] == [v for v in parsed if v.strip()]
    assert votes(ours) == votes(parsed)


def test_a_quoted_file_is_read_by_the_parser(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('sku,price\nA,"1,50"\nB,2.00\n', encoding="utf-8")
    table = read_table(p, {"delimiter": ","})
    assert table._column is None
    assert [v for part in table.column_values(1) for v in part] == ["1,50", "2.00"]


def test_a_big_plain_file_is_read_from_its_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(csvscan, "BLOCK", 4096)
    p = tmp_path / "big.csv"
    p.write_text("sku;price\r\n" + "".join(f"S{i};{i}.{i % 100:02d}\r\n" for i in range(5000)), encoding="utf-8")
    table = read_table(p, {})
    assert table._column is not None
    values = [v for part in table.column_values(1) for v in part]
    assert values == [f"{i}.{i % 100:02d}" for i in range(5000)]
