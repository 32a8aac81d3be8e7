"""The weekly reports' workbooks, written as SpreadsheetML text straight into the ZIP.

Why not the SDK's ``XlsxWorkbook`` (XlsxWriter) here: a brand's weekly package holds ~180,000
cells (20,000 go-live rows at 5,000 SKUs × 4 platforms, the stock sheet, 12 weeks of sales), and
XlsxWriter's per-cell Python path (dimension checks, one ``write`` per XML element) was half of
the weekly job's time (profiled, bench/results/brands13-20261130*.txt). These sheets need none
of its features — text, numbers, one bold header row — so a row is one joined string here.
The statement keeps ``XlsxWorkbook``: its issued bytes are stored and re-verified.

Same rules as the SDK writer: text is always a text cell (inline string, never a formula),
cleaned of characters XML cannot hold (``clean_text``); ``None``/"" leave the cell empty;
dates are ISO text. The same rows and ``created`` give the same bytes (ZIP members dated
1980-01-01, fixed order).
"""
from __future__ import annotations

import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal
from xml.sax.saxutils import escape

from marketd.sdk import XLSX_MAX_ROWS, clean_text

_FIXED = (1980, 1, 1, 0, 0, 0)
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _col(n: int) -> str:
    name = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


_COLS = [_col(i) for i in range(128)]


def _text(v: str) -> str:
    v = clean_text(v)
    space = ' xml:space="preserve"' if v[:1].isspace() or v[-1:].isspace() else ""
    return f'<is><t{space}>{escape(v)}</t></is>'


class Sheet:
    def __init__(self, name: str):
        self.name = name
        self.rows = 0
        self._parts: list[str] = []
        self._width = 0

    def header(self, names) -> None:
        self.append(names, bold=True)

    def append(self, values=(), *, bold: bool = False) -> None:
        if self.rows >= XLSX_MAX_ROWS:
            raise ValueError(f"sheet {self.name!r} is full ({XLSX_MAX_ROWS} rows)")
        self.rows += 1
        r = str(self.rows)
        style = ' s="1"' if bold else ""
        cells = []
        for c, v in enumerate(values):
            if v is None or v == "":
                continue
            ref = (_COLS[c] if c < 128 else _col(c)) + r
            if isinstance(v, str):
                cells.append(f'<c r="{ref}"{style} t="inlineStr">{_text(v)}</c>')
            elif isinstance(v, bool):
                cells.append(f'<c r="{ref}"{style} t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, (int, Decimal)):
                cells.append(f'<c r="{ref}"{style}><v>{v}</v></c>' if isinstance(v, int) or v.is_finite()
                             else f'<c r="{ref}"{style} t="inlineStr">{_text(str(v))}</c>')
            elif isinstance(v, float):
                cells.append(f'<c r="{ref}"{style}><v>{v!r}</v></c>' if v == v and abs(v) != float("inf")
                             else f'<c r="{ref}"{style} t="e"><v>#NUM!</v></c>')
            elif isinstance(v, (datetime, date)):
                cells.append(f'<c r="{ref}"{style} t="inlineStr">{_text(v.isoformat())}</c>')
            else:
                cells.append(f'<c r="{ref}"{style} t="inlineStr">{_text(str(v))}</c>')
        self._width = max(self._width, len(values))
        self._parts.append(f'<row r="{r}">{"".join(cells)}</row>')

    def xml(self) -> str:
        dim = f"A1:{_col(max(self._width, 1) - 1)}{max(self.rows, 1)}"
        return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}" '
                f'xmlns:r="{_REL}"><dimension ref="{dim}"/><sheetData>{"".join(self._parts)}</sheetData>'
                '</worksheet>')


_STYLES = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_NS}">'
           '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
           '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
           '<fills count="2"><fill><patternFill patternType="none"/></fill>'
           '<fill><patternFill patternType="gray125"/></fill></fills>'
           '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
           '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
           '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
           '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


class Workbook:
    """``Workbook(fh, created=…)`` → ``sheet(name)`` → ``append(...)`` → ``close()``: the SDK
    writer's interface, so a report does not care which one writes it."""

    def __init__(self, fh, *, created: datetime):
        self._fh = fh
        self._created = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._sheets: list[Sheet] = []

    def sheet(self, name: str) -> Sheet:
        s = Sheet(name[:31])
        self._sheets.append(s)
        return s

    def close(self) -> None:
        n = len(self._sheets)
        ct = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                     'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, n + 1))
        parts = {
            "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://'
            'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/docProps/core.xml" '
            f'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>{ct}</Types>',
            "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://'
            'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>',
            "docProps/core.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties '
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.'
            'org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/'
            f'XMLSchema-instance"><dc:creator>marketd</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">'
            f'{self._created}</dcterms:created></cp:coreProperties>',
            "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_NS}" '
            f'xmlns:r="{_REL}"><sheets>' + "".join(
                f'<sheet name="{escape(s.name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
                for i, s in enumerate(self._sheets, 1)) + "</sheets></workbook>",
            "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
            'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' + "".join(
                f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, n + 1)) + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" '
            'Target="styles.xml"/></Relationships>',
            "xl/styles.xml": _STYLES,
        }
        for i, s in enumerate(self._sheets, 1):
            parts[f"xl/worksheets/sheet{i}.xml"] = s.xml()
        with zipfile.ZipFile(self._fh, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            for name, text in parts.items():
                info = zipfile.ZipInfo(name, _FIXED)
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, text.encode("utf-8"), compresslevel=6)
