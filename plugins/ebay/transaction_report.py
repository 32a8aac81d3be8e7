"""eBay's Seller Hub **Transaction report** (Payments → Reports → Transaction report, CSV) as the
settlement format ``ebay-transaction-report``.

What the file is (settlement-formats §3.2, design §2.6; never seen as a real file here, built
from the column list and the row patterns of several third-party parsers):

- a preamble (``"Transaction report"``, start and end date lines, ``Seller,<username>``,
  ``--,--`` rows, blank lines), then the header: ``Transaction creation date`` (newer layout) or
  ``Transaction date`` (older), ``Type``, ``Net amount`` and the rest, **mapped by name, never
  by position** (columns come and go: ``Payout method``, ``Regulatory operating fee``,
  ``Charity donation``, ``Deposit processing fee``; UK writes ``Final value fee – fixed``; some
  exports say ``Very high fee``; new fee columns appear);
- ``--`` for an empty cell, amounts signed (fees negative), quoted thousands (``"-3,666.78"``),
  maybe currency symbols or accounting parentheses; dates ``"Jan 1, 2023"``;
- rows of type Order, Refund, Shipping label, Other fee, Payout, Transfer, Hold, Claim, Dispute
  (and Reserve, Charge, Adjustment …). A multi-item order is one **roll-up** Order row (Net and
  Gross) plus one **detail** row per item (fees, subtotal; Net ``--``); a Hold row may reuse an
  Order row's Transaction ID; Refund rows have no Transaction ID. So rows are never keyed one by
  one: they are added up per (Payout ID, order, type).

Per group the lines always add up to the group's Net amount, exactly: one ``marketplace_fee``
line per fee column (subtype per column), ``withheld_tax`` = −eBay collected tax, ``revenue``
(Order) or ``refund`` (Refund) = Gross, and what is left over: when it equals the eBay-collected
tax, this file's Gross excludes that tax and the withheld line goes; otherwise a non-zero rest
is ``other/unexplained`` with a warning. The other types are one line of their Net. A row whose
transaction currency is not the payout currency gives ``revenue/net_fx`` = Net (payout currency)
and its fee columns as *informational* lines (their currency is the transaction's).

One payout per Payout ID: ``stated_total`` = −Net of its ``Payout`` row, so the check is "the rows
carrying a Payout ID add up to minus that payout", exactly (no Payout row in the file:
``unchecked``). Rows without a Payout ID are money not paid out yet: one ``open`` pseudo-payout
per account, replaced by the next file.

Buyer columns (``Buyer username``, ``Buyer name``, ``Ship to …``) are read by nobody: only the
archived file keeps them. The ``Order earnings report`` (a different Seller Hub report) is
refused with the way to the right one.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timezone
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from marketd.sdk import AMOUNT, DecimalStyle, FileRejected, NumberError, parse_decimal, quote_input
from marketd.sdk.settlements import (Category, CheckRule, FeeSubtype, LineTable, ParsedSettlement, Payout,
                                     PayoutKind, PayoutStatus, SourceRow, VocabularyRow)

# numpy and pandas are imported when a report is parsed: every command line registers this format,
# and a catalog import or `marketd status` must not pay for pandas.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NAME = "ebay-transaction-report"
FIX_DOWNLOAD = ("download it again from Seller Hub: Payments → Reports → Transaction report (CSV), and drop it "
                "into inbox/settlements/ unchanged")
DATE_COLUMNS = ("transaction creation date", "transaction date")
HEAD_LINES = 50
MARKETPLACE_ZONES = {"EBAY_IT": "Europe/Rome", "EBAY_DE": "Europe/Berlin", "EBAY_FR": "Europe/Paris",
                     "EBAY_ES": "Europe/Madrid", "EBAY_GB": "Europe/London", "EBAY_AT": "Europe/Vienna",
                     "EBAY_NL": "Europe/Amsterdam", "EBAY_BE": "Europe/Brussels", "EBAY_IE": "Europe/Dublin",
                     "EBAY_PL": "Europe/Warsaw", "EBAY_CH": "Europe/Zurich", "EBAY_US": "America/Los_Angeles"}

# normalised header -> fee subtype (marketplace_fee columns)
FEE_COLUMNS = {
    "final value fee - fixed": FeeSubtype.FINAL_VALUE_FEE_FIXED,
    "final value fee - variable": FeeSubtype.FINAL_VALUE_FEE_VARIABLE,
    "regulatory operating fee": FeeSubtype.REGULATORY_OPERATING,
    'very high "item not as described" fee': FeeSubtype.INAD_VERY_HIGH,
    "very high item not as described fee": FeeSubtype.INAD_VERY_HIGH,
    "very high fee": FeeSubtype.INAD_VERY_HIGH,
    "below standard performance fee": FeeSubtype.BELOW_STANDARD,
    "international fee": FeeSubtype.INTERNATIONAL,
    "deposit processing fee": FeeSubtype.DEPOSIT_PROCESSING,
    "promoted listing standard fee": FeeSubtype.PROMOTED_LISTINGS,
    "promoted listings fee": FeeSubtype.PROMOTED_LISTINGS,
    "promoted listing fee": FeeSubtype.PROMOTED_LISTINGS,
}
# other money columns the decomposition reads (normalised header -> role)
MONEY_COLUMNS = {"net amount": "net", "gross transaction amount": "gross", "ebay collected tax": "ebay_tax",
                 "charity donation": "charity"}
# columns read as text (normalised header -> role); buyer columns are not among them, on purpose
TEXT_COLUMNS = {"type": "type", "order number": "order", "legacy order id": "legacy", "payout id": "payout",
                "payout currency": "payout_currency", "transaction currency": "txn_currency",
                "payout date": "payout_date", "item id": "item", "transaction id": "txn_id",
                "custom label": "sku", "description": "description", "reference id": "reference"}
# not fees although the name has "fee" in it
NOT_FEES = {"seller collected tax", "ebay collected tax", "item subtotal", "shipping and handling",
            "gross transaction amount", "net amount", "charity donation"}
# Type (normalised) -> (category, subtype); Order and Refund are decomposed, the rest is one line of Net
TYPES = {
    "shipping label": (Category.SHIPPING_LABEL, None),
    "other fee": (Category.MARKETPLACE_FEE, None),  # subtype from the description
    "payout": (Category.PAYOUT, None),
    "transfer": (Category.TRANSFER, None),
    "hold": (Category.OTHER, "hold"), "hold placed": (Category.OTHER, "hold"),
    "hold released": (Category.OTHER, "hold"), "reserve": (Category.OTHER, "reserve"),
    "claim": (Category.REFUND, "claim"), "dispute": (Category.REFUND, "dispute"),
    "payment dispute": (Category.REFUND, "dispute"), "charge": (Category.OTHER, "charge"),
    "adjustment": (Category.OTHER, "adjustment"), "secondary payout": (Category.OTHER, "secondary_payout"),
    "credit": (Category.OTHER, "credit"),
}
DECOMPOSED = {"order": Category.REVENUE, "refund": Category.REFUND}
EMPTY = {"", "--", "-", "—", "–"}
_SYMBOLS = re.compile(r"[$€£¥]|\b(?:EUR|USD|GBP|AUD|CAD|CHF|PLN)\b")
_MONTH_DATE = re.compile(r"^([A-Za-z]{3})[a-z]*\.? (\d{1,2}), (\d{4})$")
_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"], 1)}


def norm(header: str) -> str:
    """A header compared loosely: BOM and quotes off, lower case, en/em dash as '-', one space."""
    text = str(header or "").replace("\ufeff", "").strip().strip('"').replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", text).strip().lower()


def _decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding and encoding != "auto":
        return data.decode(encoding), encoding
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _rows(text: str, limit: int) -> list[list[str]]:
    out = []
    for row in csv.reader(io.StringIO(text)):
        out.append(row)
        if len(out) >= limit:
            break
    return out


def find_header(rows: list[list[str]]) -> int | None:
    """Index of the header row: first cell a date column, with ``Type`` and ``Net amount``."""
    for i, row in enumerate(rows[:HEAD_LINES]):
        cells = [norm(c) for c in row]
        if cells and cells[0] in DATE_COLUMNS and "type" in cells and "net amount" in cells:
            return i
    return None


def _head_rows(head: bytes) -> list[list[str]]:
    text, _ = _decode(head[: head.rfind(b"\n") + 1] if b"\n" in head else head, None)
    try:
        return _rows(text, HEAD_LINES)
    except csv.Error:
        return []


def parse_date(text: str, zone: ZoneInfo) -> datetime | None:
    """``Jan 1, 2023`` / ``Jul 9, 2023`` / ISO; a date alone is 00:00 in ``zone``, as UTC."""
    s = text.strip().strip('"')
    if s in EMPTY:
        return None
    m = _MONTH_DATE.match(s)
    if m and m.group(1).lower() in _MONTHS:
        d = datetime(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
        return datetime.combine(d.date(), time(0), tzinfo=zone).astimezone(timezone.utc)
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(s) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=zone)
    return d.astimezone(timezone.utc)


class EbayTransactionReport:
    """The format object registered with the settlements plugin."""

    name = NAME
    channel_type = "ebay"
    describe = ("eBay Transaction report (CSV from Seller Hub: Payments → Reports → Transaction report; both the "
                "'Transaction creation date' and the older 'Transaction date' layouts)")

    def sniff(self, head: bytes, name: str) -> bool:
        return find_header(_head_rows(head)) is not None

    def explain(self, head: bytes, name: str) -> FileRejected | None:
        """The Order earnings report looks alike but holds no payouts: say which report to take."""
        for row in _head_rows(head)[:HEAD_LINES]:
            cells = [norm(c) for c in row]
            if cells and cells[0] == "order creation date" and any("order earnings" in c for c in cells):
                return FileRejected(
                    "ebay_order_earnings_report",
                    "this is eBay's Order earnings report: it has no payouts and no Payout IDs, so nothing can be "
                    "checked against what eBay paid", where="its header line",
                    fix="download Payments → Reports → Transaction report in Seller Hub instead and drop that CSV")
        return None

    def parse(self, ctx) -> ParsedSettlement:
        return parse_report(ctx.path.read_bytes(), ctx, file_sha=ctx.sha256)


# -- the parse --------------------------------------------------------------------------------------
def _account(ctx, seller: str | None) -> str:
    channels = (getattr(ctx.app, "config", None) or {}).get("channels") or {}
    accounts = ctx.accounts("ebay")
    if seller:
        for name in accounts:
            username = (channels.get(name) or {}).get("seller_username")
            if username and username.strip().lower() == seller.strip().lower():
                return name
    configured = ctx.configured_channels("ebay")
    if configured and len(configured) == 1:
        return configured[0]
    if len(accounts) == 1:
        return accounts[0]
    why = "no eBay account is configured" if not accounts else \
        f"it could be any of the eBay accounts {', '.join(accounts)}"
    raise FileRejected("ebay_account_unknown",
                       f"cannot tell which eBay account this Transaction report belongs to: {why}"
                       + (f" (its Seller line names {seller!r})" if seller else ""), where="the preamble",
                       fix="set seller_username in the account's [channels.<name>] table, or [inbox.settlements] "
                           "channel = \"<account>\"")


def _zone(ctx, account: str) -> ZoneInfo:
    section = ((getattr(ctx.app, "config", None) or {}).get("channels") or {}).get(account) or {}
    name = section.get("timezone") or MARKETPLACE_ZONES.get(str(section.get("marketplace") or "").upper(), "UTC")
    return ZoneInfo(name)


class _Money:
    """Every money column turned into integers of ten-thousandths with the one number parser,
    parsing each distinct text once (a 200,000-row report has a few thousand)."""

    def __init__(self, frame: pd.DataFrame, columns: dict[str, str], first_line: int, configured: str | None):
        import numpy as np
        import pandas as pd

        self.e4: dict[str, np.ndarray] = {}
        self.present: dict[str, np.ndarray] = {}
        factorized = {}
        samples = []
        for col in columns:
            codes, uniques = pd.factorize(frame[col].to_numpy(dtype=object), sort=False)
            cleaned = [_SYMBOLS.sub("", str(u)).strip() for u in uniques]
            factorized[col] = (codes, cleaned)
            samples += [c for c in cleaned if c not in EMPTY]
        self.style = DecimalStyle.of(configured if configured in (".", ",") else None) or DecimalStyle.detect(samples)
        for col, (codes, cleaned) in factorized.items():
            values = np.zeros(len(cleaned), dtype=np.int64)
            filled = np.zeros(len(cleaned), dtype=bool)
            for k, text in enumerate(cleaned):
                if text in EMPTY:
                    continue
                try:
                    value = parse_decimal(text, self.style, AMOUNT)
                    scaled = value.scaleb(4)
                    if scaled != scaled.to_integral_value():
                        raise NumberError(text, "has more than 4 decimals")
                except NumberError as exc:
                    row = int(np.argmax(codes == k))
                    raise FileRejected("bad_amount", f"{exc}", where=f"line {first_line + row}, column "
                                       f"{quote_input(col)}", fix=FIX_DOWNLOAD) from None
                values[k], filled[k] = int(scaled), True
            self.e4[col] = values[codes] if len(codes) else np.zeros(0, dtype=np.int64)
            self.present[col] = filled[codes] if len(codes) else np.zeros(0, dtype=bool)


def parse_report(data: bytes, ctx, *, file_sha: str = "") -> ParsedSettlement:
    import numpy as np
    import pandas as pd

    settings = ctx.settings or {}
    text, encoding = _decode(data, settings.get("encoding"))
    head = _rows(text, HEAD_LINES + 1)
    hi = find_header(head)
    if hi is None:
        raise FileRejected("not_an_ebay_transaction_report", "no 'Transaction creation date' / 'Transaction date' "
                           "header with Type and Net amount in the first 50 lines", where="line 1",
                           fix=FIX_DOWNLOAD)
    preamble = [[c.strip() for c in r] for r in head[:hi] if any(c.strip() not in EMPTY for c in r)]
    seller = next((r[1] for r in preamble if len(r) >= 2 and norm(r[0]) == "seller" and r[1]), None)
    account = _account(ctx, seller)
    zone = _zone(ctx, account)
    # the header's line number: the physical lines of the preamble (a quoted cell may span lines)
    reader = csv.reader(io.StringIO(text))
    for _ in range(hi):
        next(reader)
    lines_before = reader.line_num
    header_line = lines_before + 1
    raw_columns = [c.replace("\ufeff", "") for c in head[hi]]
    by_norm: dict[str, str] = {}
    position: dict[str, int] = {}
    for i, c in enumerate(raw_columns):
        if norm(c) not in by_norm:
            by_norm[norm(c)] = c
            position[c] = i
    date_col = next(by_norm[d] for d in DATE_COLUMNS if d in by_norm)
    layout = "new" if norm(date_col) == "transaction creation date" else "old"
    warnings: list[str] = []
    fees: dict[str, str] = {}   # raw column -> subtype
    for n_, raw in by_norm.items():
        if n_ in FEE_COLUMNS:
            fees[raw] = FEE_COLUMNS[n_]
        elif "fee" in n_ and n_ not in NOT_FEES:
            fees[raw] = FeeSubtype.normalise(raw)
            warnings.append(f"unknown fee column {raw!r}: counted as marketplace fee {fees[raw]!r}")
    roles = {role: by_norm[n_] for n_, role in MONEY_COLUMNS.items() if n_ in by_norm}
    texts = {role: by_norm[n_] for n_, role in TEXT_COLUMNS.items() if n_ in by_norm}
    money_cols = {**{c: "fee" for c in fees}, **{c: r for r, c in roles.items()}}
    first_line = header_line + 1
    _check_widths(text, lines_before + 1, len(raw_columns))
    # only the columns the money needs: buyer names, addresses and titles are never even loaded
    wanted = sorted({position[c] for c in [date_col, *texts.values(), *money_cols]})
    try:
        frame = pd.read_csv(io.StringIO(text), skiprows=lines_before + 1, header=None, usecols=wanted,
                            names=list(range(len(raw_columns))), dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=True, engine="c")
    except pd.errors.ParserError as exc:
        raise FileRejected("bad_row", f"the report's rows do not fit its header: {exc}", where=f"after line "
                           f"{header_line}", fix=FIX_DOWNLOAD) from None
    frame.columns = [raw_columns[i] for i in wanted]
    n = len(frame)
    money = _Money(frame, money_cols, first_line, settings.get("decimal"))

    def col(role: str) -> np.ndarray:
        c = texts.get(role)
        if c is None:
            return np.full(n, "", dtype=object)
        values = frame[c].to_numpy(dtype=object)
        codes, uniq = pd.factorize(values, sort=False)
        cleaned = np.asarray(["" if str(u).strip() in EMPTY else str(u).strip() for u in uniq], dtype=object)
        return cleaned[codes] if n else np.zeros(0, dtype=object)

    types = col("type")
    type_norm = np.asarray([t.lower() for t in types], dtype=object) if n else types
    orders, payouts_col = col("order"), col("payout")
    legacy, pcur, tcur = col("legacy"), col("payout_currency"), col("txn_currency")
    description, items, txn_ids = col("description"), col("item"), col("txn_id")
    # dates, each distinct text once
    dcodes, duniq = pd.factorize(frame[date_col].to_numpy(dtype=object), sort=False)
    epochs_u = np.zeros(len(duniq), dtype=np.int64)
    for k, t in enumerate(duniq):
        try:
            d = parse_date(str(t), zone)
        except ValueError:
            row = int(np.argmax(dcodes == k))
            raise FileRejected("bad_date", f"{quote_input(str(t))} is not a date like 'Jan 1, 2023'",
                               where=f"line {first_line + row}, column {quote_input(date_col)}", fix=FIX_DOWNLOAD)
        epochs_u[k] = int(d.timestamp()) if d else -1
    epochs = epochs_u[dcodes] if n else np.zeros(0, dtype=np.int64)
    if "net" not in roles:
        raise FileRejected("missing_column", "the report has no 'Net amount' column", where=f"line {header_line}",
                           fix=FIX_DOWNLOAD)
    net_present = money.present[roles["net"]]
    fx = np.where((pcur != "") & (tcur != "") & (pcur != tcur), tcur, "") if n else np.zeros(0, dtype=object)

    # -- group rows: (payout id, order, type, fx currency) ---------------------------------------
    gcodes = (pd.DataFrame({"p": payouts_col, "o": orders, "t": type_norm, "x": fx})
              .groupby(["p", "o", "t", "x"], sort=False).ngroup().to_numpy(np.int64)) if n else np.zeros(0, np.int64)
    ng = int(gcodes.max()) + 1 if n else 0
    order_by = np.argsort(gcodes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(gcodes[order_by]) != 0]) if n else np.zeros(0, np.int64)

    def gsum(values: np.ndarray) -> np.ndarray:
        """Exact integer sums per group (sorted once, ``reduceat``: no float on the way)."""
        return np.add.reduceat(values[order_by], starts) if n else np.zeros(0, np.int64)

    net_rows = net_present.astype(np.int64)
    agg: dict[str, list[int]] = {}
    for c in money_cols:
        v, p = money.e4[c], money.present[c]
        roll_n = gsum((p & net_present).astype(np.int64))
        roll = gsum(v * net_rows)
        det = gsum(v * (1 - net_rows))
        agg[c] = np.where(roll_n > 0, roll, det).tolist()  # a roll-up row's value, else the detail rows'
    rows_n = gsum(np.ones(n, dtype=np.int64)).tolist()
    sorted_ep = epochs[order_by]
    first_ep = np.minimum.reduceat(np.where(sorted_ep < 0, np.iinfo(np.int64).max, sorted_ep), starts).tolist() \
        if n else []
    last_ep = np.maximum.reduceat(sorted_ep, starts).tolist() if n else []
    first_row = order_by[starts].tolist() if n else []

    # -- lines per group, as columns per payout -----------------------------------------------------
    per_payout: dict[str, _Lines] = {}
    payout_net: dict[str, int] = {}
    payout_rows_at: dict[str, int] = {}
    currency_of: dict[str, str] = {}
    source_rows: dict[str, list[SourceRow]] = {}
    vocab: dict[str, dict[tuple, list]] = {}
    unexplained = 0
    unknown_types: dict[str, int] = {}
    net_l = agg[roles["net"]]
    gross_l = agg[roles["gross"]] if "gross" in roles else None
    tax_c, charity_c = roles.get("ebay_tax"), roles.get("charity")
    tax_l = agg[tax_c] if tax_c else None
    charity_l = agg[charity_c] if charity_c else None
    fee_cols = [(c, fees[c], agg[c]) for c in fees]
    iso: dict[int, str | None] = {}

    def when(epoch: int) -> str | None:
        if epoch not in iso:
            iso[epoch] = _dt(epoch).isoformat() if 0 <= epoch < np.iinfo(np.int64).max else None
        return iso[epoch]

    for g in range(ng):
        r0 = first_row[g]
        key, order, tnorm, fxcur = payouts_col[r0], orders[r0], type_norm[r0], fx[r0]
        cur = pcur[r0] or "EUR"
        currency_of.setdefault(key, cur)
        net = net_l[g]
        lines = per_payout.get(key)
        if lines is None:
            lines = per_payout[key] = _Lines()
        ref = order or None
        alt = (legacy[r0],) if legacy[r0] and legacy[r0] != order else ()
        rows = rows_n[g]
        pf, pl = when(first_ep[g]), when(last_ep[g])
        label = types[r0] or tnorm
        add = lines.adder(ref, alt, cur, pf, pl, rows)
        if tnorm in DECOMPOSED and fxcur:
            add(Category.REVENUE.value if tnorm == "order" else Category.REFUND.value, "net_fx", net, label)
            for c, sub, values in fee_cols:
                if values[g]:
                    add(Category.MARKETPLACE_FEE.value, sub, values[g], f"{label}/{c} ({fxcur})", fxcur, True)
            if tax_l is not None and tax_l[g]:
                add(Category.WITHHELD_TAX.value, None, -tax_l[g], f"{label}/{tax_c} ({fxcur})", fxcur, True)
        elif tnorm in DECOMPOSED:
            parts = [(Category.MARKETPLACE_FEE.value, sub, values[g], c) for c, sub, values in fee_cols if values[g]]
            tax = tax_l[g] if tax_l is not None else 0
            if tax:
                parts.append((Category.WITHHELD_TAX.value, None, -tax, tax_c))
            if charity_l is not None and charity_l[g]:
                parts.append((Category.OTHER.value, "charity", charity_l[g], charity_c))
            parts.append((DECOMPOSED[tnorm].value, None, gross_l[g] if gross_l is not None else 0,
                          roles.get("gross", "Gross transaction amount")))
            rest = net - sum(p[2] for p in parts)
            if rest and tax and rest == tax:  # this file's Gross leaves the eBay-collected tax out
                parts = [p for p in parts if p[0] != Category.WITHHELD_TAX.value]
                rest = 0
            if rest:
                parts.append((Category.OTHER.value, "unexplained", rest, "Net amount"))
                unexplained += 1
            for cat, sub, v, c in parts:
                add(cat, sub, v, f"{label}/{c}")
        else:
            cat, sub = TYPES.get(tnorm, (None, None))
            if cat is None and tnorm.startswith("hold"):
                cat, sub = Category.OTHER, "hold"
            if cat is None:
                cat, sub = Category.UNCLASSIFIED, FeeSubtype.normalise(label) if label else None
                unknown_types[label] = unknown_types.get(label, 0) + rows
            if cat == Category.MARKETPLACE_FEE:
                sub = _other_fee_subtype(description[r0])
            if cat == Category.PAYOUT:
                payout_net[key] = payout_net.get(key, 0) + net
                payout_rows_at[key] = first_ep[g]
            add(cat.value, sub, net, label + (f"/{description[r0]}" if description[r0] else ""))
            if cat == Category.UNCLASSIFIED or ref is None:
                source_rows.setdefault(key, []).append(SourceRow(
                    reason="unclassified" if cat == Category.UNCLASSIFIED else "no_order", line=first_line + r0,
                    fields=(label, description[r0]), amount=_d(net), category=cat.value, order_ref=ref,
                    posted_at=_dt(first_ep[g]) if pf else None))
        v = vocab.setdefault(key, {}).setdefault((label,), [0, 0, _main_category(tnorm)])
        v[0] += rows
        v[1] += net
    if unexplained:
        warnings.append(f"{unexplained} order/refund group(s) whose Net amount is not Gross plus the fee columns: the "
                        "difference is kept as other/unexplained")
    for t, k in sorted(unknown_types.items()):
        warnings.append(f"{k} row(s) of unknown type {t!r}: kept as unclassified (in every sum)")

    # -- payouts -------------------------------------------------------------------------------------
    start, end = _period(preamble, zone)
    paid_items = _paid_items(type_norm, orders, items, txn_ids, payouts_col, net_present)
    out: list[Payout] = []
    meta = {"layout": layout, "date_column": date_col, "encoding": encoding, "rows": n, "columns": len(raw_columns),
            "decimal_sep": money.style.sep if money.style else None, "seller": seller,
            "report_period": [start.isoformat() if start else None, end.isoformat() if end else None]}
    summary = [("Layout", f"{'Transaction creation date' if layout == 'new' else 'Transaction date'} "
                f"({len(raw_columns)} columns)"), ("Encoding", encoding),
               ("Decimal separator", money.style.sep if money.style else "not decided (no amount shows it)"),
               ("Rows", n), ("Report period", f"{start.date() if start else '?'} .. {end.date() if end else '?'}")]
    for key, lines in per_payout.items():
        rows_v = [VocabularyRow(fields=f, category=c, subtype=None, rows=r, amount=_d(a))
                  for f, (r, a, c) in vocab.get(key, {}).items()]
        common = dict(channel_type="ebay", source=NAME, currency=currency_of[key], lines=lines.table(), channel=account,
                      match_channels=(account,), meta={**meta}, warnings=list(warnings), summary_lines=list(summary),
                      source_rows=source_rows.get(key, []), vocabulary=rows_v, source_columns=("type", "description"))
        if not key:
            out.append(Payout(payout_id="open", kind=PayoutKind.OPEN, status=PayoutStatus.OPEN,
                              payout_key=f"ebay:{account}:open", business_key=f"ebay-open:{account}",
                              period_start=start, period_end=end, **common))
            continue
        stated = _d(-payout_net[key]) if key in payout_net else None
        paid_at = _dt(payout_rows_at[key]) if key in payout_rows_at else None
        if stated is None:
            common["warnings"] = common["warnings"] + [f"no Payout row for payout {key} in this file: the payout "
                                                       "cannot be checked (a later report with it can)"]
        out.append(Payout(payout_id=key, kind=PayoutKind.PAYOUT, stated_total=stated, paid_at=paid_at,
                          check_rule=CheckRule.SUM_EQUALS_STATED, period_start=start, period_end=end,
                          paid_items=[(o, i) for o, i, p in paid_items if p == key], **common))
    refs = sorted({str(o) for o in orders if o})
    ctx.prefetch(order_refs=refs, channels=(account,))
    return ParsedSettlement(payouts=out, warnings=[])


_QUOTED = re.compile(r'"(?:[^"]|"")*"')


def _check_widths(text: str, skip: int, width: int) -> None:
    """Every data row has exactly the header's number of cells. Reading only some columns would
    not notice otherwise, and a title with an unquoted comma shifts every later cell of its row:
    the Net amount would be read from the wrong column."""
    bare = _QUOTED.sub("", text)  # quoted cells (commas and line breaks inside) out of the way
    for no, line in enumerate(bare.split("\n")[skip:], start=skip + 1):
        if line.strip() and line.count(",") != width - 1:
            cells = line.count(",") + 1
            raise FileRejected("bad_row", f"the row has {cells} cells where the header has {width}",
                               where=f"line {no}", fix="a cell with a comma must be quoted; " + FIX_DOWNLOAD)


class _Lines:
    """One payout's lines as columns (handed over as a ``LineTable``: no object per line)."""

    def __init__(self):
        self.cols: dict[str, list] = {k: [] for k in ("order_ref", "alt_refs", "category", "subtype", "description",
                                                      "currency", "amount_e4", "rows", "posted_first",
                                                      "posted_last", "informational")}

    def adder(self, ref, alt, currency, posted_first, posted_last, rows):
        c = self.cols

        def add(category, subtype, amount_e4, description, cur=None, informational=False):
            c["order_ref"].append(ref)
            c["alt_refs"].append(alt)
            c["category"].append(category)
            c["subtype"].append(subtype)
            c["description"].append(description)
            c["currency"].append(cur or currency)
            c["amount_e4"].append(int(amount_e4))
            c["rows"].append(rows)
            c["posted_first"].append(posted_first)
            c["posted_last"].append(posted_last)
            c["informational"].append(informational)
        return add

    def table(self) -> LineTable:
        return LineTable(len(self.cols["category"]), **self.cols)


def _d(e4: int) -> Decimal:
    d = Decimal(int(e4)).scaleb(-4)
    return d.quantize(Decimal("0.01")) if d == d.quantize(Decimal("0.01")) else d.normalize()


def _dt(epoch) -> datetime | None:
    epoch = int(epoch)
    return datetime.fromtimestamp(epoch, timezone.utc) if epoch >= 0 else None


def _other_fee_subtype(description: str) -> str:
    d = (description or "").lower()
    if "promoted" in d:
        return FeeSubtype.PROMOTED_LISTINGS
    if "subscription" in d or "store" in d:
        return FeeSubtype.SUBSCRIPTION
    if "ad fee" in d or "advert" in d:
        return FeeSubtype.AD_FEE
    return FeeSubtype.OTHER


def _main_category(tnorm: str) -> str:
    if tnorm in DECOMPOSED:
        return DECOMPOSED[tnorm].value
    cat = TYPES.get(tnorm, (Category.OTHER if tnorm.startswith("hold") else Category.UNCLASSIFIED, None))[0]
    return cat.value


def _period(preamble: list[list[str]], zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The report's start and end from its preamble lines (``Start date,Jan 1, 2026`` …)."""
    found = {}
    for row in preamble:
        if len(row) >= 2:
            label = norm(row[0])
            for word in ("start", "end"):
                if word in label:
                    try:
                        found[word] = parse_date(",".join(row[1:]).strip(), zone)
                    except ValueError:
                        pass
    return found.get("start"), found.get("end")


def _paid_items(type_norm, orders, items, txn_ids, payouts_col, net_present) -> list[tuple[str, str, str]]:
    """(order, item, payout) of every sold item: the order rows that are items (detail rows, or a
    single-item order's one row), keyed by Transaction ID, else Item ID."""
    out = set()
    for t, o, i, x, p in zip(type_norm, orders, items, txn_ids, payouts_col):
        if t == "order" and o and (x or i):
            out.add((o, x or i, p))
    return sorted(out)
