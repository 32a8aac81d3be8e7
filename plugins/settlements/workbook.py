"""The per-payout workbook for people: Summary (the payout check in words, totals, the source's
vocabulary), Orders, Fees, Unmatched, Unclassified, Paid before (only when some item was paid
twice) and Unsettled. Streamed (``XlsxWorkbook``); a sheet longer than ``max_rows`` ends with a
note pointing to the CSV, which is always complete.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from marketd.sdk import XlsxWorkbook, safe_cell
from marketd.sdk.settlements import CATEGORIES, PayoutStatus, from_e4

from .frame import CAT_INDEX, Frame
from .reports import ORDER_COLUMNS, UNSETTLED_COLUMNS, per_ref

MATCH_TEXT = {
    "order_id": "matched by order id",
    "alias": "matched by another id of the order",
    "merchant_order_id": "matched by the merchant's own reference (MCF / own reference)",
    "none": "no stored order with this id (yet)",
    "ambiguous": "stored under more than one order and the payout does not say its account; none picked",
    "fba_shipment": "FBA shipment id (inbound shipment fee), not an order",
    "no_order": "no order id (account-level amount)",
}
CHECK_TEXT = {
    PayoutStatus.OK: "OK: the lines add up to the stated payout exactly",
    PayoutStatus.INCONSISTENT: ("INCONSISTENT: the lines do not add up to the stated payout; the marketplace may "
                                "have left out a line. Nothing was dropped; check the difference."),
    PayoutStatus.UNCHECKED: "UNCHECKED: the source states no total to check the lines against",
    PayoutStatus.OPEN: "OPEN: money not paid out yet (shown, not a payout)",
}


def _safe(v):
    return safe_cell(v) if isinstance(v, str) else ("" if v is None else v)


def summary_lines(frame: Frame, check: dict, info: dict) -> list[tuple[str, object]]:
    p = frame.payout
    counts = frame.counts()
    stated, diff = check.get("stated_e4"), check.get("difference_e4")
    status = check["status"]
    text = CHECK_TEXT.get(status, status)
    if status == PayoutStatus.INCONSISTENT and p.meta.get("inconsistent_hint"):
        text += f" ({p.meta['inconsistent_hint']})"
    if p.check_detail:
        text += f" — {p.check_detail}"
    lines: list[tuple[str, object]] = [
        ("Payout", p.key()), ("Payout id", p.payout_id), ("Channel", f"{p.channel_type} {p.channel or ''}".strip()),
        ("Source", p.source), ("Kind", p.kind),
        ("Period", f"{p.period_start.isoformat() if p.period_start else '?'} to "
                   f"{p.period_end.isoformat() if p.period_end else '?'}"),
        ("Paid at", p.paid_at.isoformat() if p.paid_at else ""), ("Currency", p.currency),
        ("Stated payout", from_e4(stated, p.scale) if stated is not None else "none"),
        ("Sum of the lines", from_e4(frame.computed_e4(), p.scale)),
        ("Difference (sum - stated)", from_e4(diff, p.scale) if diff is not None else ""),
        ("Payout check", text), ("", ""),
    ]
    totals = frame.totals_e4()
    for c in CATEGORIES:
        if totals[c] or c not in ("payout", "transfer", "shipping_label"):
            lines.append((f"Total {c.replace('_', ' ')}", from_e4(totals[c], p.scale)))
    lines += [("Total net", from_e4(frame.net_e4(), p.scale)), ("", ""),
              ("Order references", counts["orders"]), ("matched to stored orders", counts["matched"]),
              ("not matched (no stored order yet)", counts["unmatched"]),
              ("other references (not orders)", counts["other_refs"]),
              ("Rows without order reference", counts["no_order_rows"]),
              ("Unclassified rows", counts["unclassified_rows"]), ("Lines", counts["lines"]), ("", ""),
              ("File", info.get("name", ""))]
    lines += list(p.summary_lines)
    for w in info.get("warnings", ()):
        lines.append(("Warning", w))
    return lines


def write_xlsx(fh, frame: Frame, check: dict, info: dict, unsettled: list[dict], paid_before: list[dict], *,
               max_rows: int, unsettled_days: float, now: datetime | None = None) -> None:
    p = frame.payout
    wb = XlsxWorkbook(fh)
    csv_name = info.get("csv", "the CSV")

    def more(ws, total, shown, name):
        if total > shown:
            ws.append([f"... {total - shown} more row(s) not shown here (limit xlsx_max_rows = {max_rows}); "
                       f"the complete list is in {name}"])

    ws = wb.sheet("Summary")
    ws.header([f"{p.channel_type} payout reconciliation", ""])
    for k, v in summary_lines(frame, check, info):
        ws.append([k, _safe(v) if not isinstance(v, (Decimal, int)) else v])
    if p.vocabulary:
        ws.append([])
        ws.header([*p.source_columns, "category", "subtype", "rows", "amount"])
        for v in p.vocabulary:
            ws.append([*(_safe(x) for x in v.fields), v.category, _safe(v.subtype or ""), v.rows, v.amount])

    ws = wb.sheet("Orders")
    ws.header([*ORDER_COLUMNS[4:], "marketplace"])
    sel, cols, net = per_ref(frame)
    ordered = [j for j in sel if frame.refs[j] is not None]  # account-level money: sheet Unmatched
    shown = min(len(ordered), max_rows)
    cur = p.currency
    for j in ordered[:shown]:
        i = sel[j]
        ws.append([safe_cell(frame.refs[i] or ""), safe_cell(frame.merchant_refs[i] or ""),
                   safe_cell(frame.order_keys[i] or ""), frame.match[i], safe_cell(cur),
                   *(Decimal(c[j]) for c in cols), Decimal(net[j]), int(frame.ref_rows[i]),
                   frame.ref_first[i] or "", frame.ref_last[i] or "", safe_cell(frame.marketplaces[i] or "")])
    more(ws, len(ordered), shown, csv_name)

    ws = wb.sheet("Fees")
    ws.header(["category", "subtype", "lines", "rows", "amount", "currency"])
    fees: dict[tuple, list] = {}
    counted = frame.counted()
    for k in (CAT_INDEX["marketplace_fee"], CAT_INDEX["shipping_label"]):
        idx = [i for i in (frame.cat_code == k).nonzero()[0].tolist() if counted[i]]
        for i in idx:
            key = (CATEGORIES[k], frame.subtypes[i] or "", frame.currencies[i])
            acc = fees.setdefault(key, [0, 0, 0])
            acc[0] += 1
            acc[1] += int(frame.rows[i])
            acc[2] += int(frame.amount_e4[i])
    for (cat, sub, c), (n, rows, e4) in sorted(fees.items()):
        ws.append([cat, _safe(sub), n, rows, from_e4(e4, p.scale), _safe(c)])

    ws = wb.sheet("Unmatched")
    ws.header(["line", "order_ref", "merchant_ref", "reason", *p.source_columns, "amount", "category", "sku", "posted"])
    n = 0
    unmatched = [i for i in sel if frame.refs[i] is not None and frame.match[i] not in
                 ("order_id", "alias", "merchant_order_id")]
    for i in unmatched:
        if n >= max_rows:
            break
        reason = MATCH_TEXT.get(frame.match[i], frame.match[i])
        if i in frame.ambiguous:
            reason += ": " + " or ".join(frame.ambiguous[i])
        ws.append(["", safe_cell(frame.refs[i]), safe_cell(frame.merchant_refs[i] or ""), safe_cell(reason),
                   *([""] * len(p.source_columns)),
                   from_e4(int(frame.ref_amounts()[i].sum()), p.scale), "", "", frame.ref_last[i] or ""])
        n += 1
    no_order = [r for r in p.source_rows if r.reason == "no_order"]
    for r in no_order:
        if n >= max_rows:
            break
        ws.append([r.line if r.line is not None else "", "", "", MATCH_TEXT["no_order"],
                   *(_safe(x) for x in r.fields), r.amount, r.category, _safe(r.sku or ""),
                   r.posted_at.isoformat() if r.posted_at else ""])
        n += 1
    more(ws, len(unmatched) + len(no_order), n, csv_name)

    ws = wb.sheet("Unclassified")
    ws.header(["line", "order_ref", *p.source_columns, "amount", "sku"])
    unc = [r for r in p.source_rows if r.reason == "unclassified"]
    for r in unc[:max_rows]:
        ws.append([r.line if r.line is not None else "", _safe(r.order_ref or ""), *(_safe(x) for x in r.fields),
                   r.amount, _safe(r.sku or "")])
    if len(unc) > max_rows:
        ws.append([f"... {len(unc) - max_rows} more unclassified row(s) not shown (limit xlsx_max_rows = {max_rows})"])

    if paid_before:
        ws = wb.sheet("Paid before")
        ws.header(["order_ref", "item", "also paid by payout", "order_key", "revenue in this payout"])
        index = {r: i for i, r in enumerate(frame.refs) if r is not None}
        amounts = frame.ref_amounts()
        for pb in paid_before[:max_rows]:
            i = index.get(pb["order_ref"])
            ws.append([safe_cell(pb["order_ref"]), safe_cell(pb["item"]), safe_cell(pb["other_payout"]),
                       safe_cell(frame.order_keys[i] or "") if i is not None else "",
                       from_e4(int(amounts[i][CAT_INDEX["revenue"]]), p.scale) if i is not None else ""])
        if len(paid_before) > max_rows:
            ws.append([f"... {len(paid_before) - max_rows} more line(s) not shown (limit xlsx_max_rows = "
                       f"{max_rows}): the whole payout repeats another one"])
        ws.append([])
        ws.append(["Each row is an order item this payout pays revenue for that another payout paid already: a "
                   "double payment to report to the marketplace, or a copy of an applied payout under another id."])

    ws = wb.sheet("Unsettled")
    ws.header(UNSETTLED_COLUMNS)
    shown = min(len(unsettled), max_rows)
    for r in unsettled[:shown]:
        ws.append([_safe(r.get(c)) if c != "total" or not r.get(c) else Decimal(r[c]) for c in UNSETTLED_COLUMNS])
    more(ws, len(unsettled), shown, info.get("unsettled_csv", "the unsettled CSV"))
    ws.append([])
    when = (now or datetime.now(timezone.utc)).date().isoformat()
    ws.append([f"Shipped orders purchased more than {unsettled_days:g} days before {when} that no payout mentions "
               "yet (oldest first)."])
    wb.close()
