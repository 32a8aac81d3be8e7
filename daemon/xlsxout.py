"""Workbooks we only write (reports for people): XlsxWriter in constant-memory mode.

Why not openpyxl here: it builds every cell as an object and writes ~4,000 rows a second, so
reports had to be capped; XlsxWriter streams each row to the sheet as it comes (constant memory,
tens of thousands of rows a second), so a report holds every row up to the sheet limit.
openpyxl stays for *reading* XLSX (:mod:`marketd.tabular`).

Every text cell is written as text (``write_string``: never a formula, whatever it starts with),
after :func:`marketd.tabular.clean_text` (characters XML cannot hold: a NUL or control character
from an input file must not fail the workbook). Callers still pass untrusted text through
:func:`marketd.tabular.safe_cell`, so the cell stays harmless when re-saved as CSV.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from .tabular import clean_text

MAX_ROWS = 1_048_576  # rows an XLSX sheet can hold


class Sheet:
    def __init__(self, book: "Workbook", ws):
        self._book = book
        self._ws = ws
        self.rows = 0

    def header(self, names) -> None:
        """A bold row of column names."""
        self.append(names, bold=True)

    def append(self, values=(), *, bold: bool = False) -> None:
        if self.rows >= MAX_ROWS:
            raise ValueError(f"sheet {self._ws.name!r} is full ({MAX_ROWS} rows)")
        fmt = self._book.bold if bold else None
        ws, r = self._ws, self.rows
        for c, v in enumerate(values):
            if v is None or v == "":
                continue
            if isinstance(v, str):
                ws.write_string(r, c, clean_text(v), fmt)
            elif isinstance(v, bool):
                ws.write_boolean(r, c, v, fmt)
            elif isinstance(v, (int, float, Decimal)):
                ws.write_number(r, c, v, fmt)  # an XLSX number is a double: amounts print exactly to 15 digits
            elif isinstance(v, (datetime, date)):
                ws.write_string(r, c, v.isoformat(), fmt)
            else:
                ws.write_string(r, c, clean_text(str(v)), fmt)
        self.rows += 1


class Workbook:
    """``Workbook(fh)`` → ``sheet(name)`` → ``append(...)`` → ``close()`` (writes the ZIP to ``fh``).

    ``created`` (an aware datetime) is written as the document's creation time instead of now: with
    it, the same rows give the same bytes (XlsxWriter dates the ZIP members 1980-01-01 anyway), which
    a statement that must be reproducible byte for byte needs."""

    def __init__(self, fh, *, created: datetime | None = None):
        import xlsxwriter  # only when a workbook is written: every daemon start imports this module

        self._wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "nan_inf_to_errors": True})
        if created is not None:
            if created.tzinfo is not None:  # XlsxWriter writes the clock time with a "Z": give it UTC
                from datetime import timezone

                created = created.astimezone(timezone.utc).replace(tzinfo=None)
            self._wb.set_properties({"created": created})
        self.bold = self._wb.add_format({"bold": True})

    def sheet(self, name: str) -> Sheet:
        return Sheet(self, self._wb.add_worksheet(name))

    def close(self) -> None:
        self._wb.close()
