"""Per-payout outputs for the ERP: the per-order CSV, the lines CSV, the aging list, and the
duplicate note (docs/plugins/settlements.md, "Reports").

Every text cell goes through ``safe_cell`` (formula injection: ids from a file are untrusted).
Amounts are plain point-decimal text. They hold order ids and amounts, never buyer names.
"""
from __future__ import annotations

import csv
import itertools
import re

from marketd.sdk import safe_cell
from marketd.sdk.settlements import CATEGORIES

from .frame import CAT_INDEX, Frame, fmt_e4

ORDER_COLUMNS = ["payout_key", "channel_type", "channel", "payout_id", "order_ref", "merchant_ref", "order_key",
                 "match", "currency", *CATEGORIES, "net", "rows", "posted_first", "posted_last"]
LINE_COLUMNS = ["order_ref", "category", "subtype", "description", "currency", "amount", "rows"]
UNSETTLED_COLUMNS = ["order_key", "channel", "order_id", "merchant_order_id", "status", "purchased_at", "age_days",
                     "currency", "total"]
# ``[inbox.settlements] report_names = "legacy"``: Amazon's reports as they were before the
# settlements plugin (names settlement-<id>.*, these columns), for ERPs that poll them.
LEGACY_CATEGORIES = {"revenue": "revenue", "fees": "marketplace_fee", "promotions": "promotion",
                     "withheld_tax": "withheld_tax", "refunds": "refund", "other": "other",
                     "unclassified": "unclassified"}
LEGACY_ORDER_COLUMNS = ["settlement_id", "order_id", "merchant_order_id", "order_key", "channel", "match",
                        "marketplace", "currency", *LEGACY_CATEGORIES, "net", "rows", "posted_first", "posted_last"]
NET_CATEGORIES = [c for c in CATEGORIES if c not in ("payout", "transfer")]

_SPECIAL = re.compile(r'[,"\r\n]')
_GUARD = frozenset("=+-@\t\r")
_GUARD_START = re.compile(r"\x00[=+\-@\t\r]")  # a literal first: the regex engine scans for it fast


def guard_all(values) -> list[str]:
    """``safe_cell`` over a column of texts (None → ""), calling it only when some cell starts
    with a formula character (one regex over the joined column tells)."""
    values = ["" if v is None else v if isinstance(v, str) else str(v) for v in values]
    if _GUARD_START.search("\x00" + "\x00".join(values)) is None:
        return values
    return [safe_cell(v) if v and v[0] in _GUARD else v for v in values]


def guard_one(value, n: int) -> list[str]:
    """A column of ``n`` times the same text, guarded once."""
    return guard_all([value]) * n


def guard_map(values) -> list[str]:
    """``guard_all`` for a long column of few distinct texts (categories, subtypes, currencies):
    each distinct value guarded once."""
    if not isinstance(values, list):
        values = list(values)
    distinct = list(set(values))
    if len(distinct) == 1:
        return guard_one(distinct[0], len(values))
    guarded = guard_all(distinct)
    if guarded == distinct and None not in distinct and all(isinstance(v, str) for v in distinct):
        return values  # nothing to guard, nothing to convert
    m = dict(zip(distinct, guarded))
    return [m[v] for v in values]


def needs_quoting(*texts_lists) -> bool:
    return any(_SPECIAL.search("\x00".join(t)) is not None for t in texts_lists)


def write_rows(fh, header: list[str], columns: list[list[str]], text_columns: int,
               quoting: bool | None = None) -> int:
    """Columns of texts as CSV rows (CRLF). When no cell of the first ``text_columns`` columns
    needs quoting (``quoting``, when the caller knows, e.g. from the distinct values), a row is a
    plain join (what csv.writer would write, much faster)."""
    w = csv.writer(fh, lineterminator="\r\n")
    w.writerow(header)
    n = len(columns[0]) if columns else 0
    if quoting is None:
        quoting = needs_quoting(*columns[:text_columns])
    if not quoting:
        rows = zip(*columns)
        while True:
            chunk = [",".join(row) for row in itertools.islice(rows, 50_000)]
            if not chunk:
                break
            fh.write("\r\n".join(chunk) + "\r\n")
    else:
        w.writerows(zip(*columns))
    return n


def per_ref(frame: Frame) -> tuple[list[int], list[list[str]], list[str]]:
    """(reference indexes in report order, category text columns, net texts): one row per order
    reference, the account-level reference last."""
    amounts = frame.ref_amounts()
    sel = list(range(len(frame.refs)))
    cols = [fmt_e4(amounts[:, CAT_INDEX[c]], frame.scale) for c in CATEGORIES]
    net = amounts[:, [CAT_INDEX[c] for c in NET_CATEGORIES]].sum(axis=1) if len(sel) else amounts.sum(axis=1)
    return sel, cols, fmt_e4(net, frame.scale)


def write_orders_csv(fh, frame: Frame) -> int:
    """One row per order reference of the payout (matched or not), then the account-level row,
    so the ``net`` column adds up to the payout's net."""
    p = frame.payout
    sel, cols, net = per_ref(frame)
    n = len(sel)
    match = ["no_order" if frame.refs[i] is None else frame.match[i] for i in sel]
    columns = [
        guard_one(p.key(), n), guard_one(p.channel_type, n), guard_one(p.channel, n),
        guard_one(p.payout_id, n), guard_all(frame.refs), guard_all(frame.merchant_refs),
        guard_all(frame.order_keys), match, guard_map(_ref_currency(frame)), *cols, net,
        [str(x) for x in frame.ref_rows.tolist()], [x or "" for x in frame.ref_first], [x or "" for x in frame.ref_last]]
    return write_rows(fh, ORDER_COLUMNS, columns, 9)


def _ref_currency(frame: Frame) -> list[str]:
    if "currency" in frame.constant:
        return [frame.constant["currency"]] * len(frame.refs)
    first: dict[int, str] = {}
    for k, c in zip(frame.ref_no.tolist(), frame.currencies):
        first.setdefault(k, c)
    return [first.get(k, frame.payout.currency) for k in range(len(frame.refs))]


def write_legacy_orders_csv(fh, frame: Frame) -> int:
    """Amazon's per-order CSV with its old columns (``report_names = "legacy"``)."""
    p = frame.payout
    amounts = frame.ref_amounts()
    n = len(frame.refs)
    cols = [fmt_e4(amounts[:, CAT_INDEX[new]], frame.scale) for new in LEGACY_CATEGORIES.values()]
    net = fmt_e4(amounts[:, [CAT_INDEX[c] for c in NET_CATEGORIES]].sum(axis=1), frame.scale)
    match = ["no_order" if frame.refs[i] is None else frame.match[i] for i in range(n)]
    columns = [guard_one(p.payout_id, n), guard_all(frame.refs), guard_all(frame.merchant_refs),
               guard_all(frame.order_keys), guard_map(frame.channels), match, guard_map(frame.marketplaces),
               guard_map(_ref_currency(frame)), *cols, net, [str(x) for x in frame.ref_rows.tolist()],
               [x or "" for x in frame.ref_first], [x or "" for x in frame.ref_last]]
    return write_rows(fh, LEGACY_ORDER_COLUMNS, columns, 8)


def write_lines_csv(fh, frame: Frame) -> int:
    """Every payout line (the fee-subtype detail): ``order_ref, category, subtype, description,
    currency, amount, rows``; informational lines are marked in ``category`` (``… (info)``).
    Texts are guarded per reference and per distinct value (a reference has several lines)."""
    ref_texts = guard_all(frame.refs)
    refs = [ref_texts[k] for k in frame.ref_no.tolist()]
    cats = frame.categories
    if frame.informational.any():
        cats = [f"{c} (info)" if i else c for c, i in zip(cats, frame.informational.tolist())]
    columns = [refs, guard_map(cats), guard_map(frame.subtypes), guard_map(frame.descriptions),
               guard_map(frame.currencies), frame.amount_texts(), [str(x) for x in frame.rows.tolist()]]
    quoting = needs_quoting(ref_texts, *(list(set(c)) for c in columns[1:5]))
    return write_rows(fh, LINE_COLUMNS, columns, 5, quoting=quoting)


def write_unsettled_csv(fh, rows: list[dict]) -> int:
    w = csv.writer(fh, lineterminator="\r\n")
    w.writerow(UNSETTLED_COLUMNS)
    for r in rows:
        w.writerow([_safe(r.get(c)) for c in UNSETTLED_COLUMNS])
    return len(rows)


def _safe(v):
    return safe_cell(v) if isinstance(v, str) else ("" if v is None else v)


def duplicate_text(what: str, name: str, first: dict | None, stored: dict | None, same_content: bool,
                   sha256: str, forget_id: str) -> str:
    """Why a payout in a file was not applied again, and how to apply this copy on purpose."""
    lines = [f"{name}: {what} was already applied; it was NOT counted again."]
    if first:
        lines.append(f"First applied from: {first.get('name', '?')} (file id {first.get('id', '?')}, "
                     f"{first.get('finished_at') or first.get('claimed_at') or '?'})")
    elif stored:
        lines.append(f"First applied from: {stored.get('file_name') or '?'} (file id "
                     f"{stored.get('file_id') or '?'}, {stored.get('ingested_at') or '?'})")
    if stored:
        lines.append(f"Stored result: payout {stored.get('stated_total') or '-'} {stored.get('currency') or ''}, "
                     f"status {stored.get('status')}, difference {stored.get('difference') or '-'}")
    if same_content:
        lines.append("This copy has the same content as the applied one.")
    elif stored and stored.get("status") != "ok":
        lines.append(f"This copy's content differs (sha256 {sha256}) but does not add up to the payout either, so "
                     "the first copy stays applied. To apply this one instead: "
                     f"`marketd settlements forget {forget_id}`, then drop this file again.")
    else:
        lines.append(f"This copy's content differs (sha256 {sha256}: another download or encoding of the same "
                     "payout); the applied copy added up to the payout, so it stays. To apply this one instead: "
                     f"`marketd settlements forget {forget_id}`, then drop this file again.")
    return "\n".join(lines) + "\n"
