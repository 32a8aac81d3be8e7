"""Settlement outputs: the per-order CSV for the ERP, the XLSX for people, the aging list.

Every text cell goes through :func:`marketd.tabular.safe_cell` (formula-injection guard: ids
from a file are untrusted). Amounts are written as plain point-decimal text in CSV and as
numbers in the workbook, which :mod:`marketd.xlsxout` streams (every row, no cap of our own).
"""
from __future__ import annotations

import csv
import itertools
import re
from datetime import datetime, timezone
from decimal import Decimal

from marketd.sdk import XLSX_MAX_ROWS, XlsxWorkbook as Workbook, safe_cell

from .reconcile import CATEGORIES, Reconciliation, STATUS_OK, iso

ORDER_COLUMNS = ["settlement_id", "order_id", "merchant_order_id", "order_key", "channel", "match", "marketplace",
                 "currency", *CATEGORIES, "net", "rows", "posted_first", "posted_last"]
UNSETTLED_COLUMNS = ["order_key", "channel", "order_id", "merchant_order_id", "status", "purchased_at", "age_days",
                     "currency", "total"]
MATCH_TEXT = {
    "order_id": "matched by order-id",
    "merchant_order_id": "matched by merchant-order-id (MCF / own reference)",
    "none": "no stored order with this order-id (yet)",
    "fba_shipment": "FBA shipment id (inbound shipment fee), not an order",
    "no_order": "no order-id (account-level amount)",
}
DEFAULT_XLSX_MAX_ROWS = XLSX_MAX_ROWS - 10  # no cap of our own: room for the header and the notes


def _safe(v):
    return safe_cell(v) if isinstance(v, str) else ("" if v is None else v)


_GUARD = frozenset("=+-@\t\r")
_SPECIAL = re.compile(r'[,"\r\n]')


_GUARD_START = re.compile(r"(?:^|\x00)[=+\-@\t\r]")


def _guard_all(values: list) -> list[str]:
    """safe_cell over a column of texts (None -> ""), calling it only when some cell starts
    with a formula character (one regex over the joined column tells)."""
    values = [v or "" for v in values]
    if _GUARD_START.search("\x00".join(values)) is None:
        return values
    return [safe_cell(v) if v and v[0] in _GUARD else v for v in values]


def write_orders_csv(fh, rec: Reconciliation) -> int:
    """One row per order-id of the settlement (matched or not), then one ``no_order`` row with the
    account-level amounts, so the CSV adds up to the payout. Returns data rows written."""
    t = rec.order_table()
    sel = t["sel"]
    sid = safe_cell(rec.parsed.settlement_id)
    cur = safe_cell(rec.parsed.currency)
    w = csv.writer(fh, lineterminator="\r\n")
    w.writerow(ORDER_COLUMNS)
    n = len(sel)
    columns = (
        [sid] * n, _guard_all([rec.refs[i] for i in sel]), _guard_all([rec.merchant_refs[i] for i in sel]),
        _guard_all([rec.order_keys[i] for i in sel]), _guard_all([rec.channels[i] for i in sel]),
        [rec.match[i] for i in sel], _guard_all([rec.marketplaces[i] for i in sel]), [cur] * n, *t["cols"],
        [str(c) for c in rec.row_counts[t["sel_arr"]].tolist()], [x or "" for x in t["firsts"]],
        [x or "" for x in t["lasts"]])
    # fast path: when no cell of the text columns holds a comma, quote or line break, a row is a
    # plain join (exactly what csv.writer would write); otherwise csv.writer does the quoting
    if _SPECIAL.search("\x00".join("\x00".join(c) for c in columns[:8])) is None:
        rows = zip(*columns)
        while True:
            chunk = [",".join(row) for row in itertools.islice(rows, 50_000)]
            if not chunk:
                break
            fh.write("\r\n".join(chunk) + "\r\n")
    else:
        w.writerows(zip(*columns))
    if "" in rec.refs:
        i = rec.refs.index("")
        amounts = [format(rec.dec(v), "f") for v in rec.amounts[i].tolist()]
        w.writerow([sid, "", "", "", "", "no_order", "", cur, *amounts,
                    format(rec.dec(int(sum(rec.amounts[i].tolist()))), "f"), int(rec.row_counts[i]),
                    iso(int(rec.posted_first[i])) or "", iso(int(rec.posted_last[i])) or ""])
        n += 1
    return n


def write_unsettled_csv(fh, rows: list[dict]) -> int:
    w = csv.writer(fh, lineterminator="\r\n")
    w.writerow(UNSETTLED_COLUMNS)
    for r in rows:
        w.writerow([_safe(r.get(c)) for c in UNSETTLED_COLUMNS])
    return len(rows)


def summary_lines(rec: Reconciliation, info: dict) -> list[tuple[str, object]]:
    p = rec.parsed
    counts = rec.counts()
    lines: list[tuple[str, object]] = [
        ("Settlement id", p.settlement_id),
        ("Period", f"{p.start.isoformat() if p.start else '?'} to {p.end.isoformat() if p.end else '?'}"),
        ("Deposit date", p.deposit.isoformat() if p.deposit else ""),
        ("Currency", p.currency),
        ("Payout (total-amount of the file)", p.total),
        ("Sum of all rows", rec.computed_total),
        ("Difference (sum - payout)", rec.difference),
        ("Payout check", "OK: the rows add up to the payout exactly" if rec.status == STATUS_OK else
         "INCONSISTENT SETTLEMENT: the rows do not add up to the payout; Amazon may have left out a line "
         "(e.g. Current Reserve Amount, Loan Repayment). Nothing was dropped; check the difference."),
        ("", ""),
    ]
    for i, c in enumerate(CATEGORIES):
        lines.append((f"Total {c.replace('_', ' ')}", rec.dec(rec.totals[i])))
    lines += [
        ("Total net", rec.computed_total),
        ("", ""),
        ("Order-ids in the file", counts["orders"]),
        ("matched to stored orders", counts["matched"]),
        ("not matched (no stored order yet)", counts["unmatched"]),
        ("FBA shipment ids (inbound fees)", counts["fba_shipment_refs"]),
        ("Rows without order-id", counts["no_order_rows"]),
        ("Unclassified rows", counts["unclassified_rows"]),
        ("", ""),
        ("File", info.get("name", "")),
        ("Layout", f"{p.layout.upper()} ({len(p.columns)} columns)"),
        ("Encoding", p.encoding),
        ("Decimal separator", p.decimal_sep),
        ("Date formats", "; ".join(f"{k}: {v}" for k, v in p.date_formats.items())),
        ("Transaction rows", p.transaction_rows),
        ("Amount rows", len(p.rows)),
    ]
    for w in rec.warnings:
        lines.append(("Warning", w))
    return lines


def write_xlsx(fh, rec: Reconciliation, info: dict, unsettled: list[dict], *, max_rows: int = DEFAULT_XLSX_MAX_ROWS,
               unsettled_days: float = 30, now: datetime | None = None) -> dict:
    """Summary, Orders, Unmatched, Unclassified and Unsettled sheets (streamed, constant memory).
    A sheet longer than ``max_rows`` (default: what a sheet holds) ends with a note; the CSVs are
    always complete."""
    wb = Workbook(fh)

    def header(ws, names):
        ws.header(names)

    def more(ws, total, shown, csv_name):
        if total > shown:
            ws.append([f"... {total - shown} more row(s) not shown here (limit xlsx_max_rows = {max_rows}); "
                       f"the complete list is in {csv_name}"])

    sid = rec.parsed.settlement_id
    csv_name = info.get("csv") or f"settlement-{sid}.csv"
    unsettled_name = info.get("unsettled_csv") or f"settlement-{sid}-unsettled.csv"
    ws = wb.sheet("Summary")
    header(ws, ["Amazon settlement reconciliation", ""])
    for k, v in summary_lines(rec, info):
        ws.append([k, _safe(v) if not isinstance(v, (Decimal, int)) else v])
    ws.append([])
    header(ws, ["transaction-type", "amount-type", "amount-description", "category", "rows", "amount"])
    for b in rec.breakdown:
        ws.append([_safe(b["transaction_type"]), _safe(b["amount_type"]), _safe(b["amount_description"]),
                   b["category"], b["rows"], rec.dec(b["units"])])

    # Orders
    ws = wb.sheet("Orders")
    t = rec.order_table()
    sel = t["sel"]
    header(ws, ORDER_COLUMNS[1:])
    cols = t["cols"]
    shown = min(len(sel), max_rows)
    counts = rec.row_counts[t["sel_arr"]].tolist() if sel else []
    for j in range(shown):
        i = sel[j]
        ws.append([safe_cell(rec.refs[i]), safe_cell(rec.merchant_refs[i]), safe_cell(rec.order_keys[i] or ""),
                   safe_cell(rec.channels[i] or ""), rec.match[i], safe_cell(rec.marketplaces[i]),
                   safe_cell(rec.parsed.currency), *(Decimal(c[j]) for c in cols), counts[j], t["firsts"][j] or "",
                   t["lasts"][j] or ""])
    more(ws, len(sel), shown, csv_name)

    # Unmatched: order-ids without stored order, FBA shipment ids, rows without order-id
    ws = wb.sheet("Unmatched")
    header(ws, ["line", "order_id", "merchant_order_id", "reason", "transaction-type", "amount-type",
                "amount-description", "amount", "category", "sku", "posted"])
    n = 0
    unmatched = [i for i in sel if rec.match[i] in ("none", "fba_shipment")]
    for i in unmatched:
        if n >= max_rows:
            break
        ws.append(["", safe_cell(rec.refs[i]), safe_cell(rec.merchant_refs[i]), MATCH_TEXT[rec.match[i]], "", "", "",
                   rec.dec(int(sum(rec.amounts[i].tolist()))), "", "", iso(int(rec.posted_last[i])) or ""])
        n += 1
    nor = rec.no_order_rows
    if len(nor):
        lines_, tts, ats, ads, units, skus, posted, cats = (
            nor["line"].tolist(), nor["transaction-type"].tolist(), nor["amount-type"].tolist(),
            nor["amount-description"].tolist(), nor["units"].tolist(), nor["sku"].tolist(), nor["posted"].tolist(),
            nor["category"].tolist())
        for j in range(len(nor)):
            if n >= max_rows:
                break
            ws.append([lines_[j], "", "", MATCH_TEXT["no_order"], safe_cell(tts[j]), safe_cell(ats[j]),
                       safe_cell(ads[j]), rec.dec(units[j]), cats[j], safe_cell(skus[j]), iso(int(posted[j])) or ""])
            n += 1
    more(ws, len(unmatched) + len(nor), n, csv_name)

    # Unclassified rows
    ws = wb.sheet("Unclassified")
    header(ws, ["line", "transaction-type", "order_id", "amount-type", "amount-description", "amount", "sku"])
    unc = rec.unclassified_rows
    shown = min(len(unc), max_rows)
    if shown:
        for line, tt, oid, at, ad, u, sku in zip(unc["line"].tolist()[:shown], unc["transaction-type"].tolist(),
                                                 unc["order-id"].tolist(), unc["amount-type"].tolist(),
                                                 unc["amount-description"].tolist(), unc["units"].tolist(),
                                                 unc["sku"].tolist()):
            ws.append([line, safe_cell(tt), safe_cell(oid), safe_cell(at), safe_cell(ad), rec.dec(u), safe_cell(sku)])
    if len(unc) > shown:
        ws.append([f"... {len(unc) - shown} more unclassified row(s) not shown (limit xlsx_max_rows = {max_rows})"])

    # Order lines another settlement paid already (real settlements never overlap)
    if rec.paid_before:
        ws = wb.sheet("Paid before")
        header(ws, ["order_id", "sku", "also paid by settlement", "order_key", "revenue in this settlement"])
        index = {r: i for i, r in enumerate(rec.refs)}
        for p in rec.paid_before[:max_rows]:
            i = index.get(p["order_ref"])
            ws.append([safe_cell(p["order_ref"]), safe_cell(p["sku"]), safe_cell(p["other_settlement"]),
                       safe_cell(rec.order_keys[i] or "") if i is not None else "",
                       rec.dec(int(rec.amounts[i][0])) if i is not None else ""])
        if len(rec.paid_before) > max_rows:
            ws.append([f"... {len(rec.paid_before) - max_rows} more line(s) not shown (limit xlsx_max_rows = "
                       f"{max_rows}): the whole settlement repeats another one"])
        ws.append([])
        ws.append(["Each row is an order line (order-id + SKU) this settlement pays revenue for that another "
                   "settlement paid already: a double payment to report to Amazon, or a copy of an applied "
                   "settlement under another id."])

    # Aging: shipped orders not settled yet
    ws = wb.sheet("Unsettled")
    header(ws, UNSETTLED_COLUMNS)
    shown = min(len(unsettled), max_rows)
    for r in unsettled[:shown]:
        ws.append([_safe(r.get(c)) if c != "total" or not r.get(c) else Decimal(r[c]) for c in UNSETTLED_COLUMNS])
    more(ws, len(unsettled), shown, unsettled_name)
    ws.append([])
    when = (now or datetime.now(timezone.utc)).date().isoformat()
    ws.append([f"Shipped orders purchased more than {unsettled_days:g} days before {when} that no settlement "
               "mentions yet (oldest first)."])
    wb.close()
    return {"orders_shown": min(len(sel), max_rows)}


def duplicate_text(sid: str, name: str, first: dict | None, settlement: dict | None, same_content: bool,
                   sha256: str) -> str:
    lines = [f"{name}: settlement {sid} was already applied; it was NOT counted again."]
    if first:
        lines.append(f"First applied from: {first.get('name', '?')} (file id {first.get('id', '?')}, "
                     f"{first.get('finished_at') or first.get('claimed_at') or '?'})")
    elif settlement:
        lines.append(f"First applied from: {settlement.get('file_name') or '?'} (file id "
                     f"{settlement.get('file_id') or '?'}, {settlement.get('ingested_at') or '?'})")
    if settlement:
        lines.append(f"Stored result: payout {settlement.get('total_amount')} {settlement.get('currency') or ''}, "
                     f"status {settlement.get('status')}, difference {settlement.get('difference')}")
    if same_content:
        lines.append("This copy has the same content as the applied one.")
    elif settlement and settlement.get("status") != "ok":
        lines.append(f"This copy's content differs (sha256 {sha256}) but does not add up to the payout either, so "
                     "the first copy stays applied. To apply this one instead: "
                     f"`marketd settlements forget {sid}`, then drop this file again.")
    else:
        lines.append(f"This copy's content differs (sha256 {sha256}: another download or encoding of the same "
                     "settlement); the applied copy added up to the payout, so it stays. To apply this one instead: "
                     f"`marketd settlements forget {sid}`, then drop this file again.")
    return "\n".join(lines) + "\n"
