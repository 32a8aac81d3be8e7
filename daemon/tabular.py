"""Reading the tables ERPs export, and writing tables people open in spreadsheets.

ERPs in the seeds' markets write CSV with ``;`` or ``,`` or tabs, UTF-8 with or without BOM or
cp1252, decimal comma or point. Each is detected per file (or fixed per inbox in the config),
and every problem is reported with the line and column an operator can look at.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from itertools import islice
from typing import TYPE_CHECKING, Callable, Iterator

from .errors import FileRejected

if TYPE_CHECKING:  # imported by the readers that use them: writing a CSV must not cost numpy and pandas
    import numpy as np
    import pandas as pd

    from . import csvscan

SNIFF_BYTES = 256 * 1024
CHUNK_ROWS = 50_000
PROBE_ROWS = 12
DELIMITERS = [";", ",", "\t", "|"]
XLSX_MAGIC = b"PK\x03\x04"
# Ten times the widest real export (Amazon's flat-file templates have ~250 columns). A wider header
# is a broken file (a lost line break, a wrong delimiter); read as columns, 500,000 of them kept the
# worker busy for minutes.
MAX_COLUMNS = 2_000


class Chunk:
    """Consecutive non-blank rows: one text column per header position (0…n-1), as lists
    (:meth:`column`) or as a DataFrame (``frame``); ``lines`` the 1-based line each row starts on
    (header = line 1 in CSV, row 1 in XLSX).

    The columns are kept as lists and the DataFrame is built only when asked for: a reader that
    works on lists (the catalog) then never imports pandas, which is a third of the start-up of a
    one-file ``marketd process``."""

    def __init__(self, lines: np.ndarray, frame: pd.DataFrame | None = None, *,
                 columns: list[list[str]] | None = None):
        assert (frame is None) != (columns is None)
        self.lines = lines
        self._frame = frame
        self._columns = columns

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            import pandas as pd

            self._frame = pd.DataFrame({i: pd.Series(c, dtype=object) for i, c in enumerate(self._columns)},
                                       columns=range(len(self._columns)))
        return self._frame

    def column(self, pos: int) -> list[str]:
        """The texts of header position ``pos``, one per row."""
        if self._columns is not None:
            return self._columns[pos]
        return self._frame[pos].tolist()

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class TableFile:
    """An opened CSV/XLSX whose structure was already checked (NUL bytes, encoding, column counts
    in CSV); its rows are read in :class:`Chunk`\\ s of bounded size, as often as needed."""

    path: Path
    format: str  # csv | xlsx
    columns: list[str]
    encoding: str = ""
    delimiter: str = ""
    # the last row's line when the file does not end with a line break: a row that looks complete
    # may still have been cut inside its last value (stock 15 arriving as 1)
    unterminated_line: int | None = None
    _chunks: Callable[[int, list[int] | None], Iterator[Chunk]] | None = field(default=None, repr=False)
    _probe: Callable[[], Iterator[tuple[int, list]]] | None = field(default=None, repr=False)
    _column: Callable[[int], Iterator[list[str]]] | None = field(default=None, repr=False)

    def chunks(self, size: int | None = None, usecols: list[int] | None = None) -> Iterator[Chunk]:
        """Rows in chunks of at most ``size`` (default :data:`CHUNK_ROWS`); with ``usecols`` only
        those header positions are filled (the others are empty strings), which is much faster for a
        first look at a column."""
        assert self._chunks is not None
        return self._chunks(size or CHUNK_ROWS, usecols)

    def column_values(self, pos: int) -> Iterator[list[str]]:
        """The texts of header position ``pos`` in every row (blank rows may add empty texts), in
        bounded pieces: for a first look at one column (votes, statistics), faster than
        ``chunks(usecols=[pos])`` where the file allows (a CSV without any quote is read from its
        bytes)."""
        if self._column is not None:
            return self._column(pos)
        return (chunk.column(pos) for chunk in self.chunks(usecols=[pos]))

    def probe(self) -> Iterator[tuple[int, list]]:
        """The first rows as they are, header included and not cut to the header's width: to tell
        a title row above the column names from a missing column."""
        assert self._probe is not None
        return self._probe()

    def rows(self) -> Iterator[tuple[int, dict]]:
        """Yield ``(line_number, {column: text})``; line numbers are 1-based, header is line 1."""
        header = self.columns
        for chunk in self.chunks():
            for line, values in zip(chunk.lines.tolist(), chunk.frame.itertuples(index=False, name=None)):
                yield line, dict(zip(header, values))


_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])  # not tab, LF, VT, FF, CR


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    ctrl = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return ctrl / len(head) > 0.01


def detect_encoding(head: bytes, configured: str = "auto") -> str:
    if configured and configured != "auto":
        return configured
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a multibyte char cut by the sniff window
            return "utf-8"
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "encoding",
            "the file is neither UTF-8 nor Windows-1252 (cp1252) text",
            where=_byte_where(head, exc.start),
            fix="export the file as UTF-8 (or set `encoding` for this inbox in the config)",
        )


def _byte_where(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, byte {offset}"


def detect_delimiter(header_line: str, configured: str = "auto") -> str:
    if configured and configured != "auto":
        return "\t" if configured in ("tab", "\\t") else configured
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return ","  # a single-column file
    return best


def _xlsx_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def read_table(path: str | Path, settings: dict | None = None) -> TableFile:
    """Open a CSV/TSV/XLSX file for reading in chunks, or raise FileRejected saying why not."""
    from . import csvscan

    settings = settings or {}
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head:
        raise FileRejected("empty_file", "the file is empty (0 bytes)",
                           fix="check the export on the sending side and drop the file again")
    if head.startswith(XLSX_MAGIC) or path.suffix.lower() == ".xlsx":
        return _read_xlsx(path)
    if _looks_binary(head):
        nul = head.find(b"\x00")
        raise FileRejected(
            "binary", "the file is not text: it contains binary data (NUL or control bytes)",
            where=_byte_where(head, nul) if nul >= 0 else "first 256 KiB",
            fix="drop a CSV (or XLSX) export; compressed or binary files are not read here")
    encoding = detect_encoding(head, settings.get("encoding", "auto"))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise FileRejected("encoding", f"unknown encoding {encoding!r}", fix="set a known `encoding` for this inbox")
    bom = 3 if head.startswith(b"\xef\xbb\xbf") and codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else 0
    lines = head[bom:].decode(encoding, errors="replace").splitlines()  # none: a BOM and nothing else
    first_line = lines[0] if lines and head.strip() else ""
    delimiter = detect_delimiter(first_line, settings.get("delimiter", "auto"))
    st = csvscan.scan(path, encoding, delimiter, bom)
    if not st.records:
        raise FileRejected("no_header", "the header line cannot be read (the file holds only line breaks)",
                           where="line 1", fix="the first line must hold the column names")
    header = _csv_header(path, encoding, delimiter, st)
    _check_width(header, "line 1")
    csvscan.check_columns(st, delimiter)
    st.fields = None  # checked: the chunks need only where rows start and which may be blank
    unterminated = int(st.starts[-1]) if st.last_unterminated and st.records > 1 else None
    exact = st.exact

    def chunks(size: int, usecols: list[int] | None) -> Iterator[Chunk]:
        if exact:
            yield from _exact_chunks(path, encoding, delimiter, st, size)
        elif not st.quoted and codecs.lookup(encoding).name in csvscan.ASCII_SAFE:
            yield from _split_chunks(path, encoding, delimiter, st, size, usecols)
        else:
            yield from _pandas_chunks(path, encoding, delimiter, st, size, usecols)

    def probe() -> Iterator[tuple[int, list]]:
        with open(path, "r", encoding=encoding, newline="") as text:
            reader = csv.reader(text, delimiter=delimiter)
            line = 0
            try:
                for record in islice(reader, PROBE_ROWS):
                    yield line + 1, [c.strip() for c in record]
                    line = reader.line_num
            except csv.Error:
                return

    def column(pos: int) -> Iterator[list[str]]:
        return csvscan.column_values(path, encoding, delimiter, st, pos)

    return TableFile(path, "csv", header, encoding, delimiter, unterminated, chunks, probe,
                     None if st.quoted or exact else column)


def _csv_header(path: Path, encoding: str, delimiter: str, st: csvscan.Structure) -> list[str]:
    with open(path, "r", encoding=encoding, newline="") as text:
        try:
            header = next(csv.reader(text, delimiter=delimiter, strict=True))
        except (StopIteration, csv.Error) as exc:
            raise FileRejected("no_header", f"the header line cannot be read ({exc})", where="line 1",
                               fix="the first line must hold the column names")
    return [h.strip().lstrip("\ufeff").strip() for h in header]


def _check_width(header: list[str], where: str) -> None:
    if len(header) > MAX_COLUMNS:
        raise FileRejected(
            "too_many_columns", f"the header has {len(header):,} columns, more than any table read here "
            f"({MAX_COLUMNS:,})", where=where,
            fix="check the delimiter and the line breaks of the header line, or export fewer columns")


def _pandas_chunks(path, encoding, delimiter, st: csvscan.Structure, size: int, usecols) -> Iterator[Chunk]:
    import numpy as np
    import pandas as pd

    ncols = st.ncols
    reader = pd.read_csv(
        path, sep=delimiter, header=None, names=list(range(ncols)), usecols=usecols, dtype=object, na_filter=False,
        keep_default_na=False, skip_blank_lines=False, encoding=encoding, engine="c", quotechar='"',
        doublequote=True, quoting=csv.QUOTE_MINIMAL, index_col=False, chunksize=size)
    record = 0
    with reader:
        try:
            for frame in reader:
                n = len(frame)
                if record + n > st.records:
                    raise _mismatch(st, record + n)
                keep = ~st.blank[record:record + n]
                if record == 0:
                    keep[0] = False  # the header
                lines = st.starts[record:record + n]
                maybe_blank = np.flatnonzero(~keep)
                if len(maybe_blank):  # the scan only knows "no visible byte": confirm on the values
                    for i in maybe_blank.tolist():
                        if record + i > 0 and any(isinstance(v, str) and v.strip() for v in frame.iloc[i].tolist()):
                            keep[i] = True
                record += n
                if not keep.all():
                    frame = frame[keep]
                    lines = lines[keep]
                if usecols is not None:
                    frame = frame.reindex(columns=range(ncols), fill_value="")
                if len(frame):
                    yield Chunk(np.asarray(lines), frame.reset_index(drop=True))
        except (pd.errors.ParserError, ValueError) as exc:
            raise FileRejected("csv_syntax", f"the file cannot be read as a table: {exc}",
                               where=f"after line {int(st.starts[min(record, st.records - 1)])}",
                               fix="check the quoting and the delimiter")
    if record != st.records:
        raise _mismatch(st, record)


def _split_chunks(path, encoding, delimiter, st: csvscan.Structure, size: int, usecols) -> Iterator[Chunk]:
    """The rows of a file the fast scan read and found without a single quote byte, cut from its
    bytes (:func:`csvscan.split_columns`, no CSV parser): then every line break ends a record,
    every delimiter ends a field and every record has the header's field count (the scan checked
    it, blank records included). The values are the parser's (the same texts, blank rows dropped
    alike; tests/core/test_tabular_reading.py compares the two on generated files), and a catalog
    read this way never imports pandas."""
    import numpy as np

    from .csvscan import BLOCK, line_blocks, split_columns

    ncols = st.ncols
    record = 0
    with open(path, "rb") as fh:
        for data in line_blocks(fh, 4 * BLOCK):
            columns = split_columns(data, delimiter, ncols, encoding, usecols)
            n = data.count(b"\n")
            if columns is None or record + n > st.records:
                raise _mismatch(st, record + n)
            del data
            lines = st.starts[record:record + n]
            keep = ~st.blank[record:record + n]
            if record == 0:
                keep[0] = False  # the header
            for i in np.flatnonzero(~keep).tolist():  # the scan only knows "no visible byte": confirm on the values
                if record + i > 0 and any(c[i].strip() for c in columns):
                    keep[i] = True
            record += n
            if not keep.all():
                rows = np.flatnonzero(keep).tolist()
                columns = [[c[i] for i in rows] for c in columns]
                lines = lines[keep]
            for lo in range(0, len(lines), size):
                yield Chunk(np.asarray(lines[lo:lo + size]),
                            columns=[c[lo:lo + size] for c in columns] if len(lines) > size else columns)
    if record != st.records:
        raise _mismatch(st, record)


def _mismatch(st: csvscan.Structure, got: int) -> FileRejected:
    return FileRejected("csv_syntax", f"the rows could not be counted consistently ({got} read, {st.records} "
                        "expected): the quoting is unusual", where=f"line {int(st.starts[min(got, st.records) - 1])}",
                        fix="export with standard quoting (\"…\" around values that contain the delimiter)")


def _exact_chunks(path, encoding, delimiter, st: csvscan.Structure, size: int) -> Iterator[Chunk]:
    ncols = st.ncols
    with open(path, "r", encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        next(reader, None)
        rows: list[list[str]] = []
        lines: list[int] = []
        for k, record in enumerate(reader, start=1):
            if st.blank[k] or len(record) != ncols:
                continue  # blank (column counts were checked by the scan)
            rows.append(record)
            lines.append(int(st.starts[k]))
            if len(rows) >= size:
                yield _rows_chunk(lines, rows)
                rows, lines = [], []
        if rows:
            yield _rows_chunk(lines, rows)


def _rows_chunk(lines: list[int], rows: list[list[str]]) -> Chunk:
    import numpy as np

    return Chunk(np.asarray(lines, dtype=np.int64), columns=[list(c) for c in zip(*rows)])


def _read_xlsx(path: Path) -> TableFile:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # any damage inside the ZIP/XML: openpyxl raises many kinds
        raise FileRejected("xlsx", f"the file is not a readable XLSX workbook ({type(exc).__name__}: {exc})",
                           fix="save it again from Excel/LibreOffice as .xlsx, or export CSV")
    if not wb.worksheets:
        wb.close()
        raise FileRejected("xlsx", "the workbook has no worksheet", fix="save it again from Excel/LibreOffice as "
                           ".xlsx with the table on the first sheet, or export CSV")
    ws = wb.worksheets[0]
    title = ws.title
    try:
        first = next(ws.iter_rows(values_only=True), None)
        header = [_xlsx_text(v) for v in first] if first is not None else None
    except Exception as exc:
        wb.close()
        raise _xlsx_damaged(exc, title, 1)
    if header is None:
        wb.close()
        raise FileRejected("empty_file", "the first sheet of the workbook is empty", where=f"sheet {title!r}",
                           fix="put the column names in row 1 of the first sheet")
    while header and header[-1] == "":
        header.pop()
    wb.close()
    _check_width(header, f"sheet {title!r}, row 1")
    ncols = len(header)

    def chunks(size: int, usecols: list[int] | None) -> Iterator[Chunk]:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        row = 1
        try:
            it = book.worksheets[0].iter_rows(values_only=True)
            next(it, None)
            rows: list[list[str]] = []
            lines: list[int] = []
            for row, values in enumerate(it, start=2):
                cells = [_xlsx_text(v) for v in values[:ncols]]
                if all(c == "" for c in cells):
                    continue
                cells += [""] * (ncols - len(cells))
                rows.append(cells)
                lines.append(row)
                if len(rows) >= size:
                    yield _rows_chunk(lines, rows)
                    rows, lines = [], []
            if rows:
                yield _rows_chunk(lines, rows)
        except FileRejected:
            raise
        except Exception as exc:  # a damaged sheet XML shows only while reading it
            raise _xlsx_damaged(exc, title, row + 1)
        finally:
            book.close()

    def probe() -> Iterator[tuple[int, list]]:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for row, values in enumerate(book.worksheets[0].iter_rows(max_row=PROBE_ROWS, values_only=True), start=1):
                yield row, [_xlsx_text(v) for v in values]
        except Exception:  # damage further down is reported by chunks(); a probe only helps
            return
        finally:
            book.close()

    return TableFile(path, "xlsx", header, "", "", None, chunks, probe)


def _xlsx_damaged(exc: Exception, title: str, row: int) -> FileRejected:
    return FileRejected("xlsx", f"the workbook is damaged and cannot be read ({type(exc).__name__}: {exc})",
                        where=f"sheet {title!r}, row {row}",
                        fix="save it again from Excel/LibreOffice as .xlsx, or export CSV")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


def safe_cell(value) -> str:
    """Text safe to open in Excel/LibreOffice: formula-like cells get a leading apostrophe.

    Plain negative/positive numbers are left alone so amounts stay numeric for the ERP.
    """
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def write_csv(fileobj, header: list[str], rows, delimiter: str = ",") -> int:
    """Write a CSV with every cell passed through :func:`safe_cell`; returns rows written."""
    w = csv.writer(fileobj, delimiter=delimiter, lineterminator="\r\n")
    w.writerow([safe_cell(h) for h in header])
    n = 0
    for row in rows:
        if isinstance(row, dict):
            row = [row.get(h) for h in header]
        w.writerow([safe_cell(v) for v in row])
        n += 1
    return n


def csv_text(header: list[str], rows) -> str:
    buf = io.StringIO()
    write_csv(buf, header, rows)
    return buf.getvalue()


# Characters XML 1.0 (and so XLSX) cannot hold: C0 controls other than tab/CR/LF, lone UTF-16
# surrogates, U+FFFE/U+FFFF. openpyxl refuses them with IllegalCharacterError; a settlement
# row with one would otherwise fail the whole report.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """``text`` with every character a spreadsheet cannot store replaced by U+FFFD (visible, so
    a reader sees that something was there). One function for every XLSX writer."""
    if text.isprintable():
        return text
    return _NOT_XML.sub("\ufffd", text)
