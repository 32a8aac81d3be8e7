"""ManoMano's accounting CSVs as payout formats of the ``settlements`` plugin:
``manomano-payout-csv`` (the payout detail) and ``manomano-sales-csv`` (the sales/commission
file), registered through ``register_settlement_formats``. This module reads the file (CSV or
XLSX through the SDK's ``read_table``: delimiter, encoding, BOM; numbers through the one number
parser, the file's decimal separator decided from all its amounts); ``accounting.py`` turns the
rows into the SDK's models; the ``settlements`` plugin does the rest.

Which account a file belongs to: the files name no contract. The ManoMano account whose stored
orders match most of the file's order references; else ``[inbox.settlements] channel``; else
the only ManoMano account; else none (matched against every ManoMano account's orders).
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketd.sdk import AMOUNT, DecimalStyle, FileRejected, NumberError, parse_decimal, quote_input, read_table
from marketd.sdk.settlements import ParsedSettlement

from . import accounting as acc

PARIS = ZoneInfo("Europe/Paris")  # a date alone is a day at ManoMano (France): its midnight, in UTC
UTC = ZoneInfo("UTC")
WHERE_FROM = "Toolbox > Administrative > Accounting documents"


def _first_line(head: bytes) -> list[str]:
    """The header cells of a CSV head (UTF-8 with or without BOM, else cp1252), any delimiter."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    for encoding in ("utf-8", "cp1252"):
        try:
            text = codecs.decode(line, encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return []
    delimiter = max(";,\t|", key=text.count)
    try:
        return next(csv.reader(io.StringIO(text), delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []


def parse_date(text: str) -> datetime | None:
    """``2026-10-15`` (the files' form), with a time or an offset, or ``15/10/2026``, as aware UTC;
    a date or time without a zone is Paris time (ManoMano is French)."""
    s = str(text or "").strip()
    if not s:
        return None
    try:
        d = (datetime.strptime(s, "%d/%m/%Y") if re.fullmatch(r"\d{2}/\d{2}/\d{4}", s)
             else datetime.fromisoformat(s.replace("Z", "+00:00")))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=PARIS)
    return d.astimezone(UTC)


class _Table:
    """One accounting CSV read: its rows as {canonical column: text}, amounts decided per file."""

    def __init__(self, ctx, columns: dict, required: tuple[str, ...], amounts: tuple[str, ...], what: str):
        table = read_table(ctx.path, ctx.settings or {})
        self.found = acc.header_map(table.columns, columns)
        gone = acc.missing(self.found, required)
        if gone:
            raise FileRejected("missing_columns", f"the {what} has no column {', '.join(gone)}", where="line 1",
                               fix=f"download the file again from ManoMano ({WHERE_FROM}) without changing it")
        self.header = table.columns
        self.rows: list[tuple[int, dict]] = []
        for line, values in table.rows():
            cells = list(values.values())
            row = {c: str(cells[i]).strip() for c, i in self.found.items()}
            if any(row.values()):
                self.rows.append((line, row))
        if not self.rows:
            raise FileRejected("no_rows", f"the {what} has a header but no row", where="line 2",
                               fix="download the file for a period with operations")
        configured = (ctx.settings or {}).get("decimal", "auto")
        values = [row[c] for _, row in self.rows for c in amounts if row.get(c)]
        self.style = DecimalStyle.detect(values, None if configured == "auto" else configured)

    def amount(self, line: int, row: dict, column: str, *, required: bool = True) -> Decimal | None:
        text = row.get(column, "")
        if not text and not required:
            return None
        try:
            return parse_decimal(text, self.style, AMOUNT)
        except NumberError as exc:
            raise FileRejected("bad_amount", f"{self.header[self.found[column]]} {quote_input(text)} {exc.why}",
                               where=f"line {line}, column {self.header[self.found[column]]}",
                               fix="amounts are numbers such as 59.90 or 59,90 (one separator for the whole file)")

    def when(self, line: int, row: dict, column: str) -> datetime:
        value = parse_date(row.get(column, ""))
        if value is None:
            name = self.header[self.found[column]]
            raise FileRejected("bad_date", f"{name} {quote_input(row.get(column, ''))} is not a date",
                               where=f"line {line}, column {name}",
                               fix="dates are written YYYY-MM-DD (as ManoMano exports them)")
        return value


def account(ctx, refs) -> tuple[str | None, tuple[str, ...] | None]:
    """(channel, match_channels) for a file whose order references are ``refs``."""
    accounts = ctx.accounts(acc.CHANNEL_TYPE)
    refs = sorted({r for r in refs if r})
    db = ctx.app.store.db
    if refs and accounts and "orders" in db.table_names():
        marks = ",".join("?" * len(accounts))
        best = db.execute(
            f"select channel, count(*) n from orders where channel in ({marks}) and order_id in "
            "(select value from json_each(?)) group by channel order by n desc, channel limit 1",
            [*accounts, json.dumps(refs)]).fetchone()
        if best:
            return best[0], (best[0],)
    configured = ctx.configured_channels(acc.CHANNEL_TYPE)
    if configured:
        return configured[0], tuple(configured)
    if len(accounts) == 1:
        return accounts[0], (accounts[0],)
    return None, None


class PayoutCsv:
    name = acc.PAYOUT_FORMAT
    channel_type = acc.CHANNEL_TYPE
    describe = ("ManoMano payout detail ('Detail versement', ';'-separated: REFERENCE;TYPE;PAYOUT_REFERENCE;"
                f"PAYOUT_DATE;AMOUNT; {WHERE_FROM})")

    def sniff(self, head: bytes, name: str) -> bool:
        return acc.is_payout_header(_first_line(head))

    def parse(self, ctx) -> ParsedSettlement:
        t = _Table(ctx, acc.PAYOUT_COLUMNS, acc.PAYOUT_REQUIRED, acc.PAYOUT_AMOUNTS, "payout detail")
        rows = []
        for line, row in t.rows:
            if not row["payout_reference"]:
                raise FileRejected("missing_payout_reference", "a row has no PAYOUT_REFERENCE", where=f"line {line}",
                                   fix="download the payout detail again: every row belongs to a payout")
            rows.append(acc.PayoutRow(line, row["reference"] or None, row["type"] or "?", row["payout_reference"],
                                      t.when(line, row, "payout_date"), t.amount(line, row, "amount"),
                                      t.amount(line, row, "amount_vat_excl", required=False)))
        channel, match = account(ctx, [r.reference for r in rows])
        ctx.prefetch(order_refs=sorted({r.reference for r in rows if r.reference}), channels=match)
        return ParsedSettlement(payouts=acc.payouts(rows, channel=channel, match_channels=match,
                                                    source_name=ctx.name))


class SalesCsv:
    name = acc.SALES_FORMAT
    channel_type = acc.CHANNEL_TYPE
    describe = ("ManoMano sales and commissions ('CA Manomano', ';'-separated: reference;type;createdAt;"
                f"amountVatIncl;commissionVatIncl;…;netAmount; {WHERE_FROM}): gross and commission per order")

    def sniff(self, head: bytes, name: str) -> bool:
        return acc.is_sales_header(_first_line(head))

    def parse(self, ctx) -> ParsedSettlement:
        t = _Table(ctx, acc.SALES_COLUMNS, acc.SALES_REQUIRED, acc.SALES_AMOUNTS, "sales file")
        rows = []
        for line, row in t.rows:
            if not row["reference"]:
                raise FileRejected("missing_reference", "a row has no order reference", where=f"line {line}",
                                   fix="every row of the sales file names its order (M…)")
            rows.append(acc.SalesRow(line, row["reference"], row["type"] or "?", t.when(line, row, "created_at"),
                                     t.amount(line, row, "amount_vat_incl"), t.amount(line, row, "commission_vat_incl"),
                                     t.amount(line, row, "net_amount"),
                                     t.amount(line, row, "vat_on_commission", required=False)))
        channel, _match = account(ctx, [r.reference for r in rows])
        found, warnings = acc.breakdowns(rows, channel)
        return ParsedSettlement(breakdowns=found, warnings=warnings)


FORMATS = (PayoutCsv(), SalesCsv())


def settlement_formats(register) -> None:
    for fmt in FORMATS:
        register(fmt)
