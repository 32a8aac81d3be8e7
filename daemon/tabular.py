"""Reading the tables ERPs export, and writing tables people open in spreadsheets.

ERPs in the seeds' markets write CSV with ``;`` or ``,`` or tabs, UTF-8 with or without BOM or
cp1252, decimal comma or point. Each is detected per file (or fixed per inbox in the config),
and every problem is reported with the line and column an operator can look at.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from .errors import FileRejected

SNIFF_BYTES = 256 * 1024
DELIMITERS = [";", ",", "\t", "|"]
XLSX_MAGIC = b"PK\x03\x04"


@dataclass
class TableFile:
    path: Path
    format: str  # csv | xlsx
    columns: list[str]
    encoding: str = ""
    delimiter: str = ""
    _rows: Iterator[tuple[int, dict]] | None = field(default=None, repr=False)

    def rows(self) -> Iterator[tuple[int, dict]]:
        """Yield ``(line_number, {column: text})``; line numbers are 1-based, header is line 1."""
        assert self._rows is not None
        return self._rows


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    ctrl = sum(1 for b in head if b < 9 or 13 < b < 32)
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
            where=f"byte {exc.start}",
            fix="export the file as UTF-8 (or set `encoding` for this inbox in the config)",
        )


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
    """Open a CSV/TSV/XLSX file for row-by-row reading, or raise FileRejected saying why not."""
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
        raise FileRejected(
            "binary", "the file is not text: it contains binary data (NUL or control bytes)",
            where="first 256 KiB", fix="drop a CSV (or XLSX) export; compressed or binary files are not read here")
    encoding = detect_encoding(head, settings.get("encoding", "auto"))
    first_line = head.decode(encoding, errors="replace").splitlines()[0] if head.strip() else ""
    delimiter = detect_delimiter(first_line, settings.get("delimiter", "auto"))
    text = open(path, "r", encoding=encoding, newline="", errors="strict")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error, UnicodeDecodeError) as exc:
        text.close()
        raise FileRejected("no_header", f"the header line cannot be read ({exc})", where="line 1",
                           fix="the first line must hold the column names")
    header = [h.strip().lstrip("\ufeff") for h in header]
    ends_with_newline = _ends_with_newline(path)

    def check(record, line, is_last):
        if len(record) == len(header):
            return
        if is_last and not ends_with_newline and len(record) < len(header):
            raise FileRejected(
                "truncated", f"the last row has {len(record)} of {len(header)} columns and the file "
                "does not end with a line break: it was cut off mid-row (an interrupted upload?)",
                where=f"line {line}",
                fix="upload the file again; ERPs should upload to a temporary name and rename when "
                    "done (inbox mode require_rename)")
        raise FileRejected(
            "column_count", f"row has {len(record)} columns but the header has {len(header)}",
            where=f"line {line}", fix=f"check quoting and the delimiter ({delimiter!r}) on that line")

    def rows():
        pending = None
        line = 1
        try:
            for record in reader:
                line = reader.line_num
                if not record or all(not c.strip() for c in record):
                    continue
                if pending is not None:
                    check(pending[1], pending[0], False)
                    yield pending[0], dict(zip(header, pending[1]))
                pending = (line, record)
            if pending is not None:
                check(pending[1], pending[0], True)
                yield pending[0], dict(zip(header, pending[1]))
        except csv.Error as exc:
            raise FileRejected(
                "truncated" if "EOF" in str(exc) or "end of data" in str(exc) else "csv_syntax",
                f"CSV syntax error: {exc} (an unclosed quote means the file was cut off or badly quoted)",
                where=f"line {reader.line_num}", fix="fix the quoting on that line, or upload the file again")
        except UnicodeDecodeError as exc:
            raise FileRejected("encoding", f"text is not valid {encoding}: {exc.reason}",
                               where=f"after line {line}",
                               fix="export the whole file in one encoding (UTF-8 recommended), or set `encoding`")
        finally:
            text.close()

    return TableFile(path, "csv", header, encoding, delimiter, rows())


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return False
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")


def _read_xlsx(path: Path) -> TableFile:
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise FileRejected("xlsx", f"the file is not a readable XLSX workbook ({type(exc).__name__}: {exc})",
                           fix="save it again from Excel/LibreOffice as .xlsx, or export CSV")
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        header = [_xlsx_text(v) for v in next(it)]
    except StopIteration:
        wb.close()
        raise FileRejected("empty_file", "the first sheet of the workbook is empty", where=f"sheet {ws.title!r}",
                           fix="put the column names in row 1 of the first sheet")
    while header and header[-1] == "":
        header.pop()

    def rows():
        try:
            for i, values in enumerate(it, start=2):
                cells = [_xlsx_text(v) for v in values[: len(header)]]
                if all(c == "" for c in cells):
                    continue
                cells += [""] * (len(header) - len(cells))
                yield i, dict(zip(header, cells))
        finally:
            wb.close()

    return TableFile(path, "xlsx", header, "", "", rows())


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
