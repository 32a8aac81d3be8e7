"""Workbooks we only write (reports for people), streamed row by row.

Why our own writer: openpyxl builds every cell as an object (~4,000 rows a second, so reports
had to be capped), and XlsxWriter, even in constant-memory mode, spends some twenty Python calls
on each cell; a payout's workbook of 200,000 order rows or a content run's issue list took longer
than the whole reconciliation. The reports need only what a sheet of values needs — text, numbers,
booleans and a bold header row — so each row here is one formatted string appended to the sheet's
XML (spooled to a temporary file: memory stays flat whatever the row count), and ``close`` zips
the parts. The layout is the one XlsxWriter's constant-memory mode writes (inline strings, a
minimal style sheet), which Excel, LibreOffice and openpyxl read.

Every text cell is written as text (an inline string: never a formula, whatever it starts with),
after :func:`marketd.tabular.clean_text` (characters XML cannot hold: a NUL or control character
from an input file must not fail the workbook). Callers still pass untrusted text through
:func:`marketd.tabular.safe_cell`, so the cell stays harmless when re-saved as CSV.
"""
from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal

from .tabular import clean_text

MAX_ROWS = 1_048_576  # rows an XLSX sheet can hold
MAX_COLUMNS = 16_384
_LEVEL = 1  # deflate level: the XML is repetitive; level 6 cost a third more time for ~20 % smaller files
_SPOOL_BYTES = 4 * 1024 * 1024  # a sheet's XML stays in memory up to this, then goes to a temporary file
_BAD_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (
    f'{_HEAD}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def _column_letters(n: int) -> str:
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


_LETTERS: list[str] = []  # column index -> "A", "B", … (filled as far as a sheet needs)
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _text(value: str) -> str:
    """An inline-string cell's content: escaped; spaces at either end kept (``xml:space``)."""
    value = clean_text(value).translate(_ESCAPES)
    if value[:1].isspace() or value[-1:].isspace():
        return f'<is><t xml:space="preserve">{value}</t></is>'
    return f"<is><t>{value}</t></is>"


def _cell(ref: str, style: str, v) -> str:
    """A cell of any other value ("" for an empty text)."""
    if isinstance(v, str):
        return f'<c r="{ref}"{style} t="inlineStr">{_text(v)}</c>' if v else ""
    if isinstance(v, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (int, float, Decimal)):
        if isinstance(v, int) or math.isfinite(v):
            return f'<c r="{ref}"{style}><v>{v:.16G}</v></c>'
        return f'<c r="{ref}"{style} t="e"><v>{"#NUM!" if v != v else "#DIV/0!"}</v></c>'
    if isinstance(v, (datetime, date)):
        return f'<c r="{ref}"{style} t="inlineStr">{_text(v.isoformat())}</c>'
    text = str(v)
    return f'<c r="{ref}"{style} t="inlineStr">{_text(text)}</c>' if text else ""


class Sheet:
    def __init__(self, book: "Workbook", name: str):
        self._book = book
        self.name = name
        self._xml = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")  # the rows
        self.rows = 0
        self._used: list[int] | None = None  # first row, last row, first column, last column with a value

    def header(self, names) -> None:
        """A bold row of column names."""
        self.append(names, bold=True)

    def append(self, values=(), *, bold: bool = False) -> None:
        if self.rows >= MAX_ROWS:
            raise ValueError(f"sheet {self.name!r} is full ({MAX_ROWS} rows)")
        if not isinstance(values, (list, tuple)):
            values = list(values)
        if len(values) > len(_LETTERS):
            if len(values) > MAX_COLUMNS:
                raise ValueError(f"sheet {self.name!r}: more than {MAX_COLUMNS} columns")
            _LETTERS.extend(_column_letters(i) for i in range(len(_LETTERS), len(values)))
        r = self.rows + 1
        style = ' s="1"' if bold else ""
        cells = []
        for letter, v in zip(_LETTERS, values):
            t = type(v)  # the common types by identity first: this loop runs once per cell
            if t is str:
                if v:
                    cells.append(f'<c r="{letter}{r}"{style} t="inlineStr">{_text(v)}</c>')
            elif v is None:
                continue
            elif t is int or (t is Decimal and v.is_finite()):
                # an XLSX number is a double: amounts print exactly to 15 digits
                cells.append(f'<c r="{letter}{r}"{style}><v>{v:.16G}</v></c>')
            else:
                cell = _cell(f"{letter}{r}", style, v)
                if cell:
                    cells.append(cell)
        if cells:
            self._xml.write(f'<row r="{r}">{"".join(cells)}</row>'.encode("utf-8", "surrogatepass"))
            lo, hi = 0, len(values) - 1
            while values[lo] is None or values[lo] == "":
                lo += 1
            while values[hi] is None or values[hi] == "":
                hi -= 1
            u = self._used
            if u is None:
                self._used = [r, r, lo, hi]
            else:
                u[1] = r
                u[2], u[3] = min(u[2], lo), max(u[3], hi)
        self.rows = r

    def _finish(self, out) -> None:
        # the used range first, as XlsxWriter writes it: readers (openpyxl's read-only mode) pad
        # every row to it, so a trailing empty column reads back the same as before
        if self._used is None:
            ref = "A1"
        else:
            r0, r1, c0, c1 = self._used
            ref = f"{_LETTERS[c0]}{r0}" + ("" if (r0, c0) == (r1, c1) else f":{_LETTERS[c1]}{r1}")
        out.write(f'{_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELS}"><dimension ref="{ref}"/><sheetData>'.encode())
        self._xml.write(b"</sheetData></worksheet>")
        self._xml.seek(0)
        shutil.copyfileobj(self._xml, out, 1024 * 1024)
        self._xml.close()


class Workbook:
    """``Workbook(fh, created=None)`` → ``sheet(name)`` → ``append(...)`` → ``close()`` (writes the
    ZIP to ``fh``)."""

    def __init__(self, fh, *, created: datetime | None = None):
        """``created`` (an aware datetime) is written as the document's creation time instead of
        now: with it, the same rows give the same bytes (the ZIP members are dated 1980-01-01
        anyway), which a statement that must be reproducible byte for byte needs."""
        self._fh = fh
        self._sheets: list[Sheet] = []
        when = created if created is not None else datetime.now(timezone.utc)
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc)
        self._created = when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def sheet(self, name: str) -> Sheet:
        if not name or len(name) > 31 or _BAD_SHEET_NAME.search(name) or name.startswith("'") or name.endswith("'"):
            raise ValueError(f"invalid sheet name {name!r} (1-31 characters, none of []:*?/\\)")
        if any(s.name.lower() == name.lower() for s in self._sheets):
            raise ValueError(f"the workbook already has a sheet named {name!r}")
        sheet = Sheet(self, name)
        self._sheets.append(sheet)
        return sheet

    def close(self) -> None:
        sheets = self._sheets or [self.sheet("Sheet1")]
        n = len(sheets)
        esc = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
        types = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, n + 1))
        parts = {
            "[Content_Types].xml": (
                f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
                '<Override PartName="/docProps/core.xml" ContentType="application/'
                f'vnd.openxmlformats-package.core-properties+xml"/>{types}</Types>'),
            "_rels/.rels": (
                f'{_HEAD}<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" Type="{_RELS}/officeDocument" '
                f'Target="xl/workbook.xml"/><Relationship Id="rId2" Type="{_PKG_RELS}/metadata/core-properties" '
                'Target="docProps/core.xml"/></Relationships>'),
            "docProps/core.xml": (
                f'{_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
                'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
                'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                f'<dcterms:created xsi:type="dcterms:W3CDTF">{self._created}</dcterms:created>'
                f'<dcterms:modified xsi:type="dcterms:W3CDTF">{self._created}</dcterms:modified></cp:coreProperties>'),
            "xl/workbook.xml": (
                f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheets>'
                + "".join(f'<sheet name="{s.name.translate(esc)}" sheetId="{i}" r:id="rId{i}"/>'
                          for i, s in enumerate(sheets, start=1)) + "</sheets></workbook>"),
            "xl/_rels/workbook.xml.rels": (
                f'{_HEAD}<Relationships xmlns="{_PKG_RELS}">'
                + "".join(f'<Relationship Id="rId{i}" Type="{_RELS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                          for i in range(1, n + 1))
                + f'<Relationship Id="rId{n + 1}" Type="{_RELS}/styles" Target="styles.xml"/></Relationships>'),
            "xl/styles.xml": _STYLES,
        }
        with zipfile.ZipFile(self._fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_LEVEL) as z:
            for name, text in parts.items():
                z.writestr(_member(name), text, compresslevel=_LEVEL)
            for i, s in enumerate(sheets, start=1):
                with z.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as out:  # dated 1980-01-01 too
                    s._finish(out)


def _member(name: str) -> zipfile.ZipInfo:
    """A ZIP entry dated 1980-01-01 (not the clock): the same rows give the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info
