"""Amazon settlement flat files (Flat File V2 and archived V1) into one long table of amounts.

Layouts are told apart by header *names*, never by position or column count (the same seller
produced 33- and 36-column V1 files; V2 has 23 or 24 columns): ``amount-type``/``amount`` is V2,
``price-amount``/``item-related-fee-amount``… is V1. See docs/plugins/amazon-settlements.md.

The first data row is the summary row (settlement-id, start, end, deposit-date, total-amount,
currency); every later row is a transaction row. V1 rows carry up to nine amounts each; they are
unfolded into the V2 shape (transaction-type, amount-type, amount-description, amount), e.g.
``price-type=Principal/price-amount`` becomes ``ItemPrice/Principal``.

Speed: a 1,000,000-row file is read by pandas' C parser (strings only, no NA guessing, only the
columns used). Amounts are converted once per *distinct* text (``pd.factorize``) with the one
number parser (:func:`marketd.numbers.parse_decimal`, strict mode, the file's decimal style
decided from all its amounts), and kept as exact
integers of minor units (``units`` at ``scale`` decimals), so sums are exact without building a
million ``Decimal`` objects. Dates are parsed once per distinct text, too.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from marketd.sdk import AMOUNT, DecimalStyle, FileRejected, NumberError, parse_decimal, quote_input

UTC = timezone.utc

SUMMARY_COLUMNS = ["settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
                   "total-amount", "currency"]
# Columns kept for every transaction row (those present in the file).
ROW_COLUMNS = ["settlement-id", "currency", "transaction-type", "order-id", "merchant-order-id", "marketplace-name",
               "sku"]
V2_AMOUNT_COLUMNS = ["amount-type", "amount-description", "amount"]
V2_REQUIRED = SUMMARY_COLUMNS + ["transaction-type", "order-id"] + V2_AMOUNT_COLUMNS
# V1: (type column or fixed amount-type, amount column) -> V2 amount-type
V1_AMOUNT_PAIRS = [
    ("ItemPrice", "price-type", "price-amount"),
    ("ItemFees", "item-related-fee-type", "item-related-fee-amount"),
    ("ShipmentFees", "shipment-fee-type", "shipment-fee-amount"),
    ("OrderFees", "order-fee-type", "order-fee-amount"),
    ("Promotion", "promotion-type", "promotion-amount"),
    ("DirectPayment", "direct-payment-type", "direct-payment-amount"),
    ("MiscFees", None, "misc-fee-amount"),
    ("OtherFees", "other-fee-reason-description", "other-fee-amount"),
    ("other-transaction", None, "other-amount"),
]
V1_MARKERS = {"price-amount", "item-related-fee-amount", "other-amount"}
V1_REQUIRED = SUMMARY_COLUMNS + ["transaction-type", "order-id"]

# No real layout comes near this (V2: 23/24 columns, V1: 33-36); a wider header is refused at once.
MAX_COLUMNS = 200
NOT_SETTLEMENT_FIX = ("this inbox takes Amazon settlement flat files only: the tab-separated file of Seller Central > "
                      "Reports > Payments > All Statements > Download Flat File V2 (or let the amazon-settlements-"
                      "fetch job download it); put other files into their own inbox")
FIX_DOWNLOAD = ("download the settlement again from Seller Central (Reports > Payments > All Statements > "
                "Download Flat File V2) and drop it unchanged; don't open and re-save it in a spreadsheet")


def _norm_header(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lstrip("\ufeff").strip().lower())


@dataclass
class ParsedSettlement:
    """One settlement file, parsed. ``rows`` has one row per amount (V1 unfolded):

    ``line`` (1-based line in the file), the kept :data:`ROW_COLUMNS`, ``amount-type``,
    ``amount-description``, ``amount`` (the original text), ``units`` (int: amount × 10**scale,
    exact), ``posted`` (int epoch seconds, or ``NO_DATE``).
    """
    layout: str                      # "v2" | "v1"
    columns: list[str]               # the file's header (normalised names)
    encoding: str
    decimal_sep: str
    settlement_id: str
    start: datetime | None
    end: datetime | None
    deposit: datetime | None
    total: Decimal
    currency: str
    scale: int
    rows: pd.DataFrame
    transaction_rows: int            # data rows after the summary (V1 quantity-only rows included)
    date_formats: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    empty_amounts: int = 0

    NO_DATE = np.iinfo(np.int64).min

    def to_decimal(self, units: int) -> Decimal:
        return Decimal(int(units)).scaleb(-self.scale) if self.scale else Decimal(int(units))

    @property
    def computed_total(self) -> Decimal:
        """Exact sum of every amount on every non-summary row."""
        u = self.rows["units"].to_numpy()
        total = int(u.sum()) if u.dtype != object else sum(u)
        return self.to_decimal(total).quantize(Decimal(1).scaleb(-self.scale))

    @property
    def difference(self) -> Decimal:
        return self.computed_total - self.total


# -- reading the head ------------------------------------------------------------------------------
def _decode(data: bytes, configured: str | None) -> tuple[str, int]:
    """(encoding, bom length). UTF-8 (with/without BOM), else cp1252; never guessed per line.

    A BOM or a configured encoding decides without trying others, so the whole file is checked
    against it here: pandas reads only the columns it needs (a bad byte elsewhere went
    unnoticed, or surfaced later as a bare UnicodeDecodeError)."""
    if configured and configured not in ("auto", ""):
        try:
            codecs.lookup(configured)
        except LookupError:
            raise FileRejected("encoding", f"the inbox's encoding setting {quote_input(configured)} is not an encoding "
                               "Python knows", fix="set [inbox.settlements] encoding = \"auto\" (or utf-8, cp1252)")
        bom = 3 if data.startswith(b"\xef\xbb\xbf") and configured.replace("-", "").lower().startswith("utf8") else 0
        _check_decodes(data, configured, bom, f"the inbox's encoding setting says {configured}, but")
        return configured, bom
    if data.startswith(b"\xef\xbb\xbf"):
        _check_decodes(data, "utf-8", 3, "the file starts with a UTF-8 byte-order mark, but")
        return "utf-8", 3
    if data.isascii():
        return "utf-8", 0
    try:
        data.decode("utf-8")
        return "utf-8", 0
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252", 0
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", "the file is neither UTF-8 nor Windows-1252 (cp1252) text: byte "
                           f"0x{data[exc.start]:02x} is not a character in either",
                           where=_byte_where(data, exc.start), fix=FIX_DOWNLOAD)


def _check_decodes(data: bytes, encoding: str, start: int, said: str) -> None:
    """Reject the file at its first byte that is not ``encoding`` (in 1 MiB steps: no second
    copy of a large file as text)."""
    if data.isascii():
        return
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    step = 1 << 20
    for pos in range(start, len(data), step):
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous step
        try:
            decoder.decode(data[pos:pos + step], final=pos + step >= len(data))
        except UnicodeDecodeError as exc:
            offset = pos - pending + exc.start
            raise FileRejected("encoding", f"{said} byte 0x{data[offset]:02x} is not {encoding} text ({exc.reason})",
                               where=_byte_where(data, offset), fix=FIX_DOWNLOAD)


def _byte_where(data: bytes, offset: int) -> str:
    """``line N, byte B`` for a byte offset (an operator's editor shows lines, not offsets)."""
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, byte {offset}"


@dataclass
class _Scan:
    encoding: str
    bom: int
    header: list[str]
    raw_header: list[str]
    summary: list[str]
    lines: int               # lines up to the last non-blank character
    tabs: int
    ends_with_newline: bool
    head: str = ""           # the first few KiB as text (to tell what a file that is no settlement is)


_BARE_CR = re.compile(rb"\r(?![\r\n])")


def _bare_cr(data: bytes) -> int | None:
    """Offset of the first CR that ends a row for pandas' reader (which takes CR, LF and CRLF as
    line ends) but not for the line model here (LF, optionally after CRs): the two would count
    different rows and columns, and the column read failed with an internal error. A CR closing
    the file is a line end for both. Counting first keeps CRLF files to two C passes."""
    n = data.count(b"\r")
    if not n or n == data.count(b"\r\n"):
        return None
    m = _BARE_CR.search(data)
    return m.start() if m and m.start() < len(data) - 1 else None


def _split(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t")


def _scan(data: bytes, encoding: str | None) -> _Scan:
    if not data or re.search(rb"[^\s]", data) is None:
        raise FileRejected("empty_file", "the file is empty" + (" (only blank lines)" if data else " (0 bytes)"),
                           fix=FIX_DOWNLOAD)
    if data[:4] == b"PK\x03\x04":
        raise FileRejected("not_a_settlement", "the file is a ZIP/XLSX workbook, not an Amazon settlement flat file",
                           fix="drop the tab-separated .txt file Amazon provides (Flat File V2), not a spreadsheet")
    if data[:2] == b"\x1f\x8b":
        raise FileRejected("compressed", "the file is gzip-compressed", fix="gunzip it first, then drop the .txt")
    if data[:5] == b"%PDF-":
        raise FileRejected("not_a_settlement", "the file is a PDF document, not an Amazon settlement flat file",
                           fix=NOT_SETTLEMENT_FIX)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FileRejected("binary", "the file is not text (it contains NUL bytes; UTF-16 or binary?)",
                           where=_byte_where(data, nul), fix=FIX_DOWNLOAD)
    enc, bom = _decode(data, encoding)
    nl = data.find(b"\n")
    head_bytes = data[bom:nl] if nl >= 0 else data[bom:]
    if b"\r" in head_bytes.rstrip(b"\r"):
        raise FileRejected(
            "csv_syntax", "the lines end with a bare carriage return (CR, old Mac style) instead of a line break "
            "(LF or CRLF): the file's line breaks were changed after the download", where="line 1",
            fix=FIX_DOWNLOAD)
    cr = _bare_cr(data)
    if cr is not None:
        raise FileRejected(
            "csv_syntax", "a carriage return (CR) without a line break after it inside a line: a reader "
            "splits the row there (the file was changed after the download)", where=_byte_where(data, cr),
            fix=FIX_DOWNLOAD)
    head_line = head_bytes.decode(enc, errors="replace")
    raw_header = [h.strip() for h in _split(head_line)]
    header = [_norm_header(h) for h in raw_header]
    # end of content: after the last non-whitespace byte
    end = len(data)
    while end > 0 and data[end - 1] in b" \t\r\n":
        end -= 1
    lines = data.count(b"\n", 0, end) + 1
    summary = []
    if nl >= 0:
        pos = nl + 1
        while pos < end:
            nxt = data.find(b"\n", pos)
            nxt = end if nxt < 0 else nxt
            text = data[pos:nxt].decode(enc, errors="replace")
            if text.strip():
                summary = [c.strip() for c in _split(text)]
                break
            pos = nxt + 1
    return _Scan(enc, bom, header, raw_header, summary, lines, data.count(b"\t"),
                 data.endswith(b"\n") or data.endswith(b"\r"),
                 data[bom:bom + 4096].decode(enc, errors="replace"))


_DATE_RANGE_RE = re.compile(r'^[\s"]*date/time["\s]*[,;\t][\s"]*settlement[ _-]?id\b', re.I | re.M)


def _excerpt(text: str, n: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + "…"


def _layout(header: list[str], raw_header: list[str] | None = None, head: str = "") -> str:
    if len(header) > MAX_COLUMNS:
        raise FileRejected(
            "too_many_columns", f"the header has {len(header):,} columns; Amazon settlement files have 23 to 36",
            where="line 1 (header)", fix=NOT_SETTLEMENT_FIX)
    cols = set(header)
    raw_header = raw_header if raw_header is not None else header
    m = _DATE_RANGE_RE.search(head)
    if m:
        line = head.count("\n", 0, m.start()) + 1
        raise FileRejected(
            "not_tab_delimited" if len(header) == 1 else "not_a_settlement",
            "the file is Amazon's Date Range (Transaction) report (Reports > Payments > Reports Repository), "
            "not a settlement flat file: it has one row per transaction with the fees summed up, no fee "
            "types and no payout summary row", where=f"line {line} (the header 'date/time', 'settlement id', …)",
            fix="drop the settlement report itself: Seller Central > Reports > Payments > All Statements > "
                "Download Flat File V2 (one file per settlement)")
    if len(header) == 1 and ("," in header[0] or ";" in header[0]):
        if "settlement-id" in header[0] and "total-amount" in header[0]:
            what = ("the file is an Amazon settlement re-saved as comma/semicolon-separated (CSV) by a "
                    "spreadsheet program; Amazon writes it tab-separated")
            fix = FIX_DOWNLOAD
        else:
            what = (f"the file is not tab-separated: line 1 is {_excerpt(raw_header[0])!r} (comma/semicolon-"
                    "separated, e.g. a catalog or another report exported as CSV), not an Amazon settlement "
                    "flat file")
            fix = NOT_SETTLEMENT_FIX
        raise FileRejected("not_tab_delimited", what, where="line 1", fix=fix)
    if len(raw_header) > 1 and all(len(h) >= 2 and h[0] == h[-1] == '"' for h in raw_header if h):
        raise FileRejected(
            "not_a_settlement", f"the header names are in double quotes ({raw_header[0]}, {raw_header[1]}, …): the "
            "file was re-saved by a spreadsheet program, which also changes amounts and dates; Amazon writes "
            "them without quotes", where="line 1 (header)", fix=FIX_DOWNLOAD)
    if {"amount-type", "amount"} <= cols:
        missing = [c for c in V2_REQUIRED if c not in cols]
        layout = "v2"
    elif cols & V1_MARKERS:
        missing = [c for c in V1_REQUIRED if c not in cols]
        layout = "v1"
    else:
        looks = "settlement-id" in cols or "total-amount" in cols
        raise FileRejected(
            "not_a_settlement" if not looks else "missing_column",
            ("the file is not an Amazon settlement flat file: " if not looks else
             "the settlement file has no amount columns: ")
            + "expected the columns amount-type/amount-description/amount (Flat File V2) or price-amount/"
            "item-related-fee-amount/... (V1); line 1 is "
            + ", ".join(repr(_excerpt(h)) for h in raw_header[:10]) + (" …" if len(raw_header) > 10 else ""),
            where="line 1 (header)", fix=NOT_SETTLEMENT_FIX if not looks else FIX_DOWNLOAD)
    if missing:
        raise FileRejected(
            "missing_column", f"{layout.upper()} settlement file without required column(s) {', '.join(missing)}",
            where="line 1 (header)", fix=FIX_DOWNLOAD)
    dupes = sorted(h for h, n in Counter(header).items() if n > 1 and h)
    if dupes:
        raise FileRejected("duplicate_column", f"column(s) {', '.join(dupes)} appear twice in the header",
                           where="line 1 (header)", fix=FIX_DOWNLOAD)
    return layout


# -- size of a row ---------------------------------------------------------------------------------
# A settlement row is a few hundred bytes (36 short fields at most). A far longer line is no
# settlement row — a value with megabytes in it, or a file with its line breaks lost — and is
# refused before anything else reads it.
MAX_LINE_BYTES = 16 * 1024


def _check_line_lengths(data: bytes, limit: int = MAX_LINE_BYTES, step: int = 8 << 20) -> None:
    """Reject the file at its first line longer than ``limit`` bytes (numpy over 8 MiB steps:
    no Python work per line)."""
    if len(data) <= limit:
        return
    start_of_line = 0  # offset where the current line starts
    for pos in range(0, len(data), step):
        chunk = np.frombuffer(data, dtype=np.uint8, count=min(step, len(data) - pos), offset=pos)
        breaks = np.flatnonzero(chunk == 10) + pos
        starts = np.concatenate(([start_of_line], breaks + 1))
        ends = np.concatenate((breaks, [pos + len(chunk)]))
        long = np.flatnonzero(ends - starts > limit)
        if len(long):
            at = int(starts[long[0]])
            raise FileRejected(
                "line_too_long", f"a line of more than {limit // 1024} KiB (settlement rows are a few hundred "
                "bytes): a value with far too much in it, or line breaks lost", where=_byte_where(data, at),
                fix=FIX_DOWNLOAD)
        if len(breaks):
            start_of_line = int(breaks[-1]) + 1


# -- line numbers ----------------------------------------------------------------------------------
class _Lines:
    """Maps a data-row ordinal (0 = summary row, in pandas' order) to its 1-based file line.
    Without blank lines between rows that is ordinal + 2; with some, the file is scanned once."""

    def __init__(self, load, internal_blank: bool = False):
        self.load = load
        self.internal_blank = internal_blank
        self._map: np.ndarray | None = None

    def of(self, ordinals: np.ndarray) -> np.ndarray:
        ordinals = np.asarray(ordinals, dtype=np.int64)
        if not self.internal_blank:
            return ordinals + 2
        if self._map is None:
            lines = []
            for i, raw in enumerate(self.load().split(b"\n")[1:], start=2):
                if raw not in (b"", b"\r"):
                    lines.append(i)
            self._map = np.asarray(lines, dtype=np.int64)
        return self._map[ordinals]


def _column_check(data: bytes, scan: _Scan, ncols: int) -> None:
    """Find the first non-blank line whose field count differs from the header's and reject the
    file with its line number (called when the tab count says there is one)."""
    total_lines = data.count(b"\n") + 1
    for i, raw in enumerate(data.split(b"\n"), start=1):
        if raw in (b"", b"\r") and i > 1:
            continue
        n = raw.count(b"\t") + 1
        if n == ncols:
            continue
        last = i >= total_lines - (1 if scan.ends_with_newline else 0)
        if last and n < ncols and not scan.ends_with_newline:
            raise FileRejected(
                "truncated", f"the last line has {n} of {ncols} columns and the file does not end with a line "
                "break: it was cut off (an interrupted download or upload)", where=f"line {i}",
                fix="download the settlement again and drop the complete file (upload as NAME.tmp and rename "
                    "when complete)")
        raise FileRejected(
            "column_count", f"line has {n} tab-separated fields but the header has {ncols}"
            + (" (a line break inside a field splits a row in two)" if n < ncols else ""),
            where=f"line {i}", fix=FIX_DOWNLOAD)


# -- amounts ---------------------------------------------------------------------------------------
def _decimal_style(samples, configured: str | None) -> DecimalStyle | None:
    """The configured style, else the one all amounts decide (None: no amount decides)."""
    if configured in (".", ","):
        return DecimalStyle.of(configured)
    return DecimalStyle.detect(samples)


def _scale_of(decimals) -> int:
    scale = 0
    for d in decimals:
        if d is not None:
            scale = max(scale, -d.as_tuple().exponent)
    return scale


_CENTS = {".": re.compile(r"[+-]?[0-9]{1,12}\.[0-9]{2}"), ",": re.compile(r"[+-]?[0-9]{1,12},[0-9]{2}")}


def _cents(uniques, sep: str) -> list[int | None] | None:
    """Amounts as integer cents when every distinct text is a plain ``-12.34`` (``-12,34``) with
    surrounding blanks at most: exact, and no Decimal per value. None when any text needs the
    full parser (thousands separators, other decimal counts, or not an amount at all)."""
    rx = _CENTS[sep]
    out: list[int | None] = []
    for raw in uniques:
        text = raw.strip()
        if not text:
            out.append(None)
        elif rx.fullmatch(text):
            out.append(int(text.replace(sep, "", 1)))
        else:
            return None
    return out


def _to_units(codes: np.ndarray, ints: list[int | None]) -> tuple[np.ndarray, int]:
    """Integer minor units per row (0 for empty) and how many rows were empty."""
    empty_codes = [k for k, v in enumerate(ints) if v is None]
    values = [0 if v is None else v for v in ints]
    big = max((abs(v) for v in values), default=0)
    if big * max(len(codes), 1) < 2 ** 62:
        table = np.asarray(values + [0], dtype=np.int64)
    else:  # astronomically large amounts: exact Python ints (slow, never in practice)
        table = np.asarray(values + [0], dtype=object)
    units = table[codes]  # code -1 (missing) hits the trailing 0
    n_empty = int(np.isin(codes, empty_codes).sum()) if empty_codes else 0
    return units, n_empty


# -- dates -----------------------------------------------------------------------------------------
# Shapes accepted (per value; a file may use different ones in different columns). Each is turned
# into "YYYY-MM-DDTHH:MM:SS" + an offset in seconds, and numpy parses the lot in C.
_DATE_SHAPES = {
    "iso": re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
    "ymd_hms": re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?: (UTC|GMT|Z))?"),
    "ymd": re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    "dot": re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?: (\d{2}):(\d{2}):(\d{2})(?: (UTC|GMT))?)?"),
    "slash": re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?: (UTC|GMT))?)?"),
}
DATE_LABELS = {"iso": "ISO-8601 (2026-08-14T06:23:59+00:00)", "ymd_hms": "YYYY-MM-DD HH:MM:SS UTC",
               "ymd": "YYYY-MM-DD", "dot": "DD.MM.YYYY[ HH:MM:SS UTC]", "slash": "MM/DD/YY"}
DATE_FIX = ("accepted: 2026-08-14T06:23:59+00:00, 2026-08-14 06:23:59 UTC, 14.08.2026[ 06:23:59 UTC], "
            "08/14/26; " + FIX_DOWNLOAD)


def _date_shape(text: str, first: str | None = None):
    if first is not None:
        m = _DATE_SHAPES[first].fullmatch(text)
        if m:
            return first, m
    for name, rx in _DATE_SHAPES.items():
        m = rx.fullmatch(text)
        if m:
            return name, m
    return None, None


def _offset(tz: str | None) -> int:
    if not tz or tz in ("Z", "UTC", "GMT"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


def _canon(name: str, m: re.Match, slash_order: str) -> tuple[str, int]:
    g = m.groups()
    if name in ("iso", "ymd_hms"):
        sec = g[5] or "00"
        return f"{g[0]}-{g[1]}-{g[2]}T{g[3]}:{g[4]}:{sec}", _offset(g[6])
    if name == "ymd":
        return f"{g[0]}-{g[1]}-{g[2]}T00:00:00", 0
    if name == "dot":
        d, mo, y = g[0], g[1], g[2]
    else:
        a, b, y = g[0], g[1], g[2]
        mo, d = (a, b) if slash_order == "MDY" else (b, a)
        if len(y) == 2:
            y = "20" + y
    time = f"{g[3]}:{g[4]}:{g[5]}" if g[3] else "00:00:00"
    return f"{y}-{int(mo):02d}-{int(d):02d}T{time}", 0


def slash_order_of(values, dotted_seen: bool = False) -> tuple[str, str]:
    """Decide MDY/DMY for ``/`` dates once per file: a first field above 12 means DMY, a second
    one MDY; otherwise a day-first dotted date elsewhere in the file means DMY; otherwise Amazon's
    documented MM/DD/YY."""
    mdy = dmy = False
    for v in values:
        m = _DATE_SHAPES["slash"].fullmatch(v)
        if not m:
            continue
        if int(m.group(1)) > 12:
            dmy = True
        if int(m.group(2)) > 12:
            mdy = True
    if mdy != dmy:
        return ("MDY" if mdy else "DMY"), "decided by the values"
    if dotted_seen:
        return "DMY", "assumed: the file writes other dates day-first (DD.MM.YYYY)"
    return "MDY", "assumed: Amazon documents posted-date as MM/DD/YY"


# Settlement dates outside these years are typos or corruption: numpy parses "9999-12-31T23:59:59-01:00"
# (year 10000 once the offset is applied) and "0000-01-01", which no datetime can hold.
FIRST_YEAR, LAST_YEAR = 1990, 2199
_EPOCH_MIN = int(np.datetime64(f"{FIRST_YEAR}-01-01T00:00:00", "s").astype(np.int64))
_EPOCH_MAX = int(np.datetime64(f"{LAST_YEAR + 1}-01-01T00:00:00", "s").astype(np.int64)) - 1


def _first_out_of_range(epochs: np.ndarray) -> int | None:
    valid = epochs != ParsedSettlement.NO_DATE
    bad = np.flatnonzero(valid & ((epochs < _EPOCH_MIN) | (epochs > _EPOCH_MAX)))
    return int(bad[0]) if len(bad) else None


def date_problem(text: str) -> str:
    """Why a date text was refused (for the rejection message)."""
    shape, _ = _date_shape(text.strip())
    if shape is not None:
        return (f"{quote_input(text)} is outside the years {FIRST_YEAR}–{LAST_YEAR} (in UTC): a typo in the year, "
                "or a corrupted file")
    return f"{quote_input(text)} is not a date format of Amazon settlement files"


def epochs_of(texts, slash_order: str = "MDY") -> tuple[np.ndarray, int | None, set]:
    """Epoch seconds (UTC) per text; NO_DATE for empty. Returns (array, index of the first bad
    text — not a date, or outside FIRST_YEAR..LAST_YEAR — or None, shapes seen)."""
    texts = [t.strip() for t in texts]
    fast = _fast_canon(texts)
    if fast is not None:
        canon, name = fast
        try:
            arr = np.array(canon, dtype="datetime64[s]").astype(np.int64)
            return arr, _first_out_of_range(arr), {name}
        except ValueError:
            pass  # a bad value among them: the slow path says which
    canon, offsets, shapes = [], [], set()
    last = None
    for i, t in enumerate(texts):
        t = t.strip()
        if not t:
            canon.append("NaT")
            offsets.append(0)
            continue
        name, m = _date_shape(t, last)
        if name is None:
            return np.zeros(0, dtype=np.int64), i, shapes
        last = name
        shapes.add(name)
        c, off = _canon(name, m, slash_order)
        canon.append(c)
        offsets.append(off)
    try:
        arr = np.array(canon, dtype="datetime64[s]")
    except ValueError:  # e.g. month 13: find which one
        for i, c in enumerate(canon):
            try:
                np.datetime64(c, "s")
            except ValueError:
                return np.zeros(0, dtype=np.int64), i, shapes
        raise
    out = arr.astype(np.int64)
    if any(offsets):
        off = np.asarray(offsets, dtype=np.int64)
        valid = out != ParsedSettlement.NO_DATE
        out[valid] -= off[valid]
    return out, _first_out_of_range(out), shapes


def _fast_canon(texts: list[str]) -> tuple[list[str], str] | None:
    """The two fixed-width shapes of real files, converted by slicing (no regex per value)."""
    sample = next((t for t in texts if t), None)
    if sample is None:
        return None
    if len(sample) == 23 and sample.endswith(" UTC") and sample[10] == " ":
        if all(not t or (len(t) == 23 and t[10] == " " and t.endswith(" UTC") and t[4] == "-") for t in texts):
            return [t[:10] + "T" + t[11:19] if t else "NaT" for t in texts], "ymd_hms"
    if len(sample) == 25 and sample[10] == "T" and sample.endswith("+00:00"):
        if all(not t or (len(t) == 25 and t[10] == "T" and t.endswith("+00:00") and t[4] == "-") for t in texts):
            return [t[:19] if t else "NaT" for t in texts], "iso"
    return None


def parse_date(text: str, slash_order: str = "MDY") -> datetime | None:
    """Any accepted settlement date text -> tz-aware UTC datetime (None when empty)."""
    if not text or not text.strip():
        return None
    arr, bad, _ = epochs_of([text], slash_order)
    if bad is not None:
        raise ValueError(f"not a settlement date: {text!r}")
    return datetime.fromtimestamp(int(arr[0]), UTC)


# -- the parser ------------------------------------------------------------------------------------
def peek_settlement_id(source: str | Path | bytes, settings: dict | None = None) -> str | None:
    """The settlement id from the summary row, reading only the file's head (cheap)."""
    settings = settings or {}
    if isinstance(source, (bytes, bytearray)):
        head = bytes(source[:1 << 16])
    else:
        with open(source, "rb") as fh:
            head = fh.read(1 << 16)
    if len(head) == 1 << 16 and b"\n" in head:
        # whole lines only: the window may end inside a multi-byte character, which would make a
        # valid UTF-8 file look like neither UTF-8 nor cp1252
        head = head[:head.rfind(b"\n") + 1]
    try:
        scan = _scan(head, settings.get("encoding"))
        _layout(scan.header, scan.raw_header, scan.head)
    except FileRejected:
        return None
    row = dict(zip(scan.header, scan.summary))
    return row.get("settlement-id") or None


def parse_settlement(source: str | Path | bytes, settings: dict | None = None) -> ParsedSettlement:
    """Parse a settlement file (path or bytes). Raises FileRejected with reason, where and fix."""
    settings = settings or {}
    is_path = not isinstance(source, (bytes, bytearray))
    data = Path(source).read_bytes() if is_path else bytes(source)
    scan = _scan(data, settings.get("encoding"))
    layout = _layout(scan.header, scan.raw_header, scan.head)
    _check_line_lengths(data)
    ncols = len(scan.header)
    if not scan.summary:
        raise FileRejected("no_rows", "the file has a header but no summary row and no transactions",
                           where="line 2", fix=FIX_DOWNLOAD)
    summary = dict(zip(scan.header, scan.summary))
    sid = summary.get("settlement-id", "")
    if not sid or not summary.get("total-amount"):
        raise FileRejected(
            "no_summary_row", "the first data row is not the settlement summary (it needs settlement-id and "
            "total-amount)", where="line 2", fix=FIX_DOWNLOAD)
    if layout == "v2" and summary.get("amount"):
        raise FileRejected("no_summary_row", "the first data row carries an amount: the summary row is missing",
                           where="line 2, column 'amount'", fix=FIX_DOWNLOAD)

    # -- the table: strings only, the columns we use ------------------------------------------------
    header = scan.header
    wanted = [c for c in ROW_COLUMNS if c in header and not (c == "currency" and summary.get("currency"))]
    # the settlement-id of every row: when it is the first column, counting "\n<id>\t" in the raw
    # bytes shows them all equal to the summary's without reading the column (checked below)
    sid_count = None
    if header[0] == "settlement-id" and "settlement-id" in wanted:
        sid_count = data.count(("\n" + sid + "\t").encode(scan.encoding))
        wanted.remove("settlement-id")
    posted_col = "posted-date-time" if "posted-date-time" in header else ("posted-date" if "posted-date" in header else None)
    if layout == "v2":
        wanted += V2_AMOUNT_COLUMNS
    else:
        for _at, tcol, acol in V1_AMOUNT_PAIRS:
            for c in (tcol, acol):
                if c and c in header and c not in wanted:
                    wanted.append(c)
    if posted_col and posted_col not in wanted:
        wanted.append(posted_col)
    positions = [header.index(c) for c in wanted]
    src = str(source) if is_path else io.BytesIO(data)
    if is_path:
        del data  # pandas reads the file itself; keep the peak memory down

    def load() -> bytes:
        return Path(source).read_bytes() if is_path else data

    try:
        df = pd.read_csv(src, sep="\t", header=None, skiprows=1, names=header, usecols=positions, dtype=str,
                         na_filter=False, quoting=csv.QUOTE_NONE, encoding=scan.encoding, engine="c",
                         skip_blank_lines=True, index_col=False, encoding_errors="strict")
    except UnicodeDecodeError as exc:
        raw = load()
        try:  # pandas' offset is within its chunk: find the file's own
            raw.decode(scan.encoding)
            where = None
        except UnicodeDecodeError as whole:
            where = _byte_where(raw, whole.start)
        forced = settings.get("encoding") not in (None, "", "auto")
        raise FileRejected("encoding", f"text is not valid {scan.encoding}: {exc.reason}"
                           + (" (the inbox's encoding setting forces it)" if forced else ""),
                           where=where, fix=FIX_DOWNLOAD)
    except (pd.errors.ParserError, ValueError) as exc:
        _column_check(load(), scan, ncols)  # says which line (too many fields)
        raise FileRejected("csv_syntax", f"the file cannot be read as a tab-separated table: {exc}",
                           fix=FIX_DOWNLOAD)
    # every non-blank line (header + rows) must have ncols fields: pandas pads short rows silently
    nonblank = len(df) + 1
    if scan.tabs != (ncols - 1) * nonblank:
        _column_check(load(), scan, ncols)
    lines = _Lines(load, internal_blank=scan.lines > nonblank)

    def read_column(position: int) -> np.ndarray:
        """One more column, for the rare checks that need it (transaction rows only)."""
        col = pd.read_csv(src if is_path else io.BytesIO(load()), sep="\t", header=None, skiprows=1,
                          usecols=[position], dtype=str, na_filter=False, quoting=csv.QUOTE_NONE,
                          encoding=scan.encoding, engine="c", skip_blank_lines=True, index_col=False)
        return col[position].to_numpy(dtype=object)[1:]
    df = df.iloc[1:]  # the summary row
    transaction_rows = len(df)
    ordinal = np.arange(1, transaction_rows + 1, dtype=np.int64)  # data-row ordinal (0 = summary)

    warnings: list[str] = []
    # rows of another settlement: two files concatenated, or a foreign row
    sids = None
    if sid_count is not None and sid_count != transaction_rows + 1 and transaction_rows:
        sids = read_column(0)
    elif "settlement-id" in df.columns and transaction_rows:
        sids = df["settlement-id"].to_numpy(dtype=object)
    if sids is not None:
        odd = np.flatnonzero((sids != sid) & (sids != ""))
        odd = [int(i) for i in odd if sids[i].strip() not in ("", sid)]
        if odd:
            pos = odd[0]
            line = int(lines.of(ordinal[[pos]])[0])
            what = ("a second header line: two files were joined into one" if sids[pos].strip() == "settlement-id"
                    else f"settlement-id {sids[pos]!r} differs from the summary row's {sid!r}")
            raise FileRejected("mixed_settlements", f"row of another settlement: {what}",
                               where=f"line {line}, column 'settlement-id'",
                               fix="drop each settlement as its own file, as Amazon provides it")

    # currency: the summary row's, else the first one on the rows (V1 leaves it empty on rows)
    currency = (summary.get("currency") or "").strip()
    if "currency" in df.columns and transaction_rows:
        row_curr = [c for c in pd.unique(df["currency"].to_numpy(dtype=object)) if c and c.strip()]
        if not currency and row_curr:
            currency = row_curr[0].strip()
        others = sorted({c.strip() for c in row_curr} - {currency})
        if others:
            warnings.append(f"rows in other currencies than {currency}: {', '.join(others)}")
    if not currency:
        warnings.append("no currency in the file (summary row and rows are empty)")

    # -- long format -----------------------------------------------------------------------------
    keep = [c for c in ROW_COLUMNS if c in df.columns]
    if layout == "v2":
        long = df[keep + V2_AMOUNT_COLUMNS].reset_index(drop=True)
        long_ordinal = ordinal
    else:
        parts, ords = [], []
        for at, tcol, acol in V1_AMOUNT_PAIRS:
            if acol not in df.columns:
                continue
            vals = df[acol].to_numpy(dtype=object)
            nonempty = np.asarray([bool(v) and not v.isspace() for v in vals], dtype=bool)
            if not nonempty.any():
                continue
            sub = df.loc[nonempty, keep].copy()
            sub["amount-type"] = at
            if at == "other-transaction":
                sub["amount-description"] = df.loc[nonempty, "transaction-type"].to_numpy(dtype=object)
            elif at == "MiscFees":
                sub["amount-description"] = "MiscFee"
            else:
                sub["amount-description"] = (df.loc[nonempty, tcol].to_numpy(dtype=object) if tcol in df.columns
                                             else at)
            sub["amount"] = vals[nonempty]
            sub["_col"] = acol
            parts.append(sub)
            ords.append(ordinal[nonempty])
        if parts:
            long = pd.concat(parts, ignore_index=True)
            long_ordinal = np.concatenate(ords)
            order = np.argsort(long_ordinal, kind="stable")
            long = long.iloc[order].reset_index(drop=True)
            long_ordinal = long_ordinal[order]
        else:
            long = pd.DataFrame({c: pd.Series([], dtype=object) for c in keep + V2_AMOUNT_COLUMNS + ["_col"]})
            long_ordinal = np.zeros(0, dtype=np.int64)
    # -- amounts ---------------------------------------------------------------------------------
    amount_texts = long["amount"].to_numpy(dtype=object) if len(long) else np.zeros(0, dtype=object)
    codes, uniques = pd.factorize(amount_texts, sort=False)
    style = _decimal_style(list(uniques) + [summary.get("total-amount", "")], settings.get("decimal"))
    sep = style.sep if style else "."
    style_text = (f"decimal {'comma' if sep == ',' else 'point'}, e.g. {style.example}" if style else
                  "no amount shows whether ',' or '.' is the decimal separator")
    column_names = long["_col"].to_numpy(dtype=object) if "_col" in long.columns else None

    def ordinal_of(pos: int) -> int:
        return int(long_ordinal[pos])

    def column_of(pos: int) -> str:
        return str(column_names[pos]) if column_names is not None else "amount"

    try:
        total = parse_decimal(summary.get("total-amount", ""), style, AMOUNT, strict=True)
    except NumberError as exc:
        raise FileRejected("bad_amount", f"the payout {exc} ({style_text})", where="line 2, column 'total-amount'",
                           fix=FIX_DOWNLOAD)
    cents = _cents(uniques, sep) if style else None  # the common case, two decimals everywhere: no Decimal per value
    if cents is not None:
        scale = max(2, -total.as_tuple().exponent)
        factor = 10 ** (scale - 2)
        ints = [None if v is None else v * factor for v in cents]
    else:
        decimals: list[Decimal | None] = []
        for k, raw in enumerate(uniques):
            if not raw.strip():
                decimals.append(None)
                continue
            try:
                decimals.append(parse_decimal(raw, style, AMOUNT, strict=True))
                continue
            except NumberError as exc:
                problem = exc
            pos = int(np.argmax(codes == k))
            line = int(lines.of(np.asarray([ordinal_of(pos)]))[0])
            raise FileRejected(
                "bad_amount", f"{problem} (this file's amounts: {style_text}; decided from all of them)",
                where=f"line {line}, column {column_of(pos)!r}",
                fix="every amount in one file must use the same decimal separator; " + FIX_DOWNLOAD)
        scale = max(_scale_of(decimals), -total.as_tuple().exponent, 0)
        ints = [None if d is None else int(d.scaleb(scale)) for d in decimals]
    units, empty = _to_units(codes, ints)
    long["units"] = units
    long["line"] = lines.of(long_ordinal) if len(long) else np.zeros(0, dtype=np.int64)
    if empty:
        warnings.append(f"{empty} row(s) with an amount type but no amount (counted as 0)")

    # -- dates -----------------------------------------------------------------------------------
    summary_texts = {c: (summary.get(c) or "").strip() for c in ("settlement-start-date", "settlement-end-date",
                                                                  "deposit-date")}
    posted_uniques: list[str] = []
    posted_codes = None
    posted_label = posted_col
    if posted_col and transaction_rows:
        posted_texts = df[posted_col].to_numpy(dtype=object)
        posted_codes, puniq = pd.factorize(posted_texts, sort=False)
        posted_uniques = [u.strip() for u in puniq]
        if posted_col == "posted-date-time" and "posted-date" in header and "" in posted_uniques:
            # rows without posted-date-time: take their posted-date (MM/DD/YY) instead
            no_time = np.isin(posted_codes, [k for k, u in enumerate(posted_uniques) if not u])
            alt = read_column(header.index("posted-date"))
            posted_texts = np.where(no_time, alt, posted_texts)
            posted_codes, puniq = pd.factorize(posted_texts, sort=False)
            posted_uniques = [u.strip() for u in puniq]
            posted_label = "posted-date-time (posted-date where empty)"
    every = [t for t in summary_texts.values() if t] + posted_uniques
    dotted = any(_DATE_SHAPES["dot"].fullmatch(t) for t in every[:50])
    order, evidence = slash_order_of([t for t in every if "/" in t], dotted)
    date_formats: dict[str, str] = {}
    summary_dates: dict[str, datetime | None] = {}
    for c, text in summary_texts.items():
        if not text:
            summary_dates[c] = None
            continue
        arr, bad, shapes = epochs_of([text], order)
        if bad is not None:
            raise FileRejected("bad_date", date_problem(text),
                               where=f"line 2, column {c!r}", fix=DATE_FIX)
        summary_dates[c] = datetime.fromtimestamp(int(arr[0]), UTC)
        date_formats[c] = DATE_LABELS[shapes.pop()]
    if posted_codes is not None:
        epoch, bad, shapes = epochs_of(posted_uniques, order)
        if bad is not None:
            pos = int(np.argmax(posted_codes == bad))
            line = int(lines.of(ordinal[[pos]])[0])
            column = "posted-date" if posted_label != posted_col and no_time[pos] else posted_col
            raise FileRejected("bad_date", date_problem(posted_uniques[bad]),
                               where=f"line {line}, column {column!r}", fix=DATE_FIX)
        date_formats[posted_label] = " + ".join(DATE_LABELS[x] for x in sorted(shapes))
        row_epoch = epoch[posted_codes]
        long["posted"] = row_epoch[long_ordinal - 1] if len(long) else np.zeros(0, dtype=np.int64)
    else:
        long["posted"] = np.full(len(long), ParsedSettlement.NO_DATE, dtype=np.int64)
    if any("/" in t for t in every):
        date_formats["slash_order"] = f"{order} ({evidence})"
        for c, label in date_formats.items():
            if c != "slash_order" and "MM/DD/YY" in label and order == "DMY":
                date_formats[c] = label.replace("MM/DD/YY", "DD/MM/YY")

    if "_col" in long.columns:
        long = long.drop(columns=["_col"])
    for c in ("transaction-type", "order-id", "merchant-order-id", "marketplace-name", "sku"):
        if c not in long.columns:
            long[c] = ""
    return ParsedSettlement(
        layout=layout, columns=header, encoding=scan.encoding + ("-sig" if scan.bom else ""), decimal_sep=sep,
        settlement_id=sid.strip(), start=summary_dates.get("settlement-start-date"),
        end=summary_dates.get("settlement-end-date"), deposit=summary_dates.get("deposit-date"), total=total,
        currency=currency, scale=scale, rows=long, transaction_rows=transaction_rows, date_formats=date_formats,
        warnings=warnings, empty_amounts=empty)
