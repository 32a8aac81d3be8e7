"""The monthly cross-channel fees report: ``outbox/reports/fees-<YYYY-MM>.csv|.xlsx`` and
``fees-<YYYY-MM>-subtypes.csv`` (docs/plugins/settlements.md, "Fees report").

One row per (month, channel type, account, currency): orders, revenue, marketplace fees, fee %
of revenue, shipping labels, refunds, withheld tax, net. The month of a line is the month (UTC)
it was *posted* in — the accounting view: a refund or a fee posted in November belongs to
November even if the order was bought in October, so a closed month never changes when later
payouts arrive (the purchase-month view would rewrite it). Currencies are never added together.
Invoices, credit notes and settlements count; offsets (MALL's cash netting) and open money do not.

Built by the ``fees-report`` job on the 1st of each month for the months since its last run
(catch-up after downtime), and on demand: ``marketd report fees [--set month=YYYY-MM]``.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal

from marketd.sdk import MarketdError, XlsxWorkbook, csv_text, safe_cell
from marketd.sdk.settlements import e4_text

from .finance import fee_pct

COLUMNS = ["month", "channel_type", "channel", "currency", "orders", "revenue", "marketplace_fee", "fee_pct",
           "shipping_label", "refund", "withheld_tax", "net"]
SUBTYPE_COLUMNS = ["month", "channel_type", "channel", "currency", "subtype", "amount", "lines"]
CATS = ("revenue", "marketplace_fee", "shipping_label", "refund", "withheld_tax")
ORDER_MATCHES = ("order_id", "alias", "merchant_order_id", "none", "ambiguous")
EXCLUDED_KINDS = ("offset", "open")


def previous_month(now: datetime) -> str:
    y, m = now.year, now.month - 1
    if m == 0:
        y, m = y - 1, 12
    return f"{y:04d}-{m:02d}"


def _bounds(month: str) -> tuple[str, str]:
    y, m = int(month[:4]), int(month[5:7])
    start = datetime(y, m, 1, tzinfo=timezone.utc)
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=timezone.utc)
    return start.isoformat(), end.isoformat()


def _check_month(month: str) -> str:
    try:
        datetime.strptime(month, "%Y-%m")
    except (TypeError, ValueError):
        raise MarketdError(f"month {month!r}: write YYYY-MM, e.g. --set month=2026-10") from None
    return month


POSTED = "coalesce(l.posted_first, r.posted_first, p.paid_at, p.period_end)"


def month_rows(db, month: str) -> tuple[list[dict], list[dict]]:
    """(rows per channel and currency, fee subtypes) of one month."""
    if "payouts" not in db.table_names():
        return [], []
    start, end = _bounds(_check_month(month))
    scale = db.execute("select max(scale) from payouts").fetchone()[0] or 2
    kinds = ",".join(f"'{k}'" for k in EXCLUDED_KINDS)
    base = (f"from payouts p join payout_refs r on r.pid = p.pid join payout_lines l on l.pid = r.pid and "
            f"l.ref_no = r.ref_no where coalesce(p.posted_min, p.paid_at, p.period_end) < ?2 and "
            f"coalesce(p.posted_max, p.paid_at, p.period_end) >= ?1 and coalesce(p.kind, '') not in ({kinds}) "
            f"and l.informational = 0 and l.superseded = 0 and {POSTED} >= ?1 and {POSTED} < ?2")
    cats = ", ".join(f"sum(case when l.category = '{c}' then l.amount_e4 else 0 end)" for c in CATS)
    matches = ",".join(f"'{m}'" for m in ORDER_MATCHES)
    rows = []
    for ct, ch, cur, orders, *sums, net in db.execute(
            f"select p.channel_type, coalesce(r.channel, p.channel, ''), l.currency, count(distinct case when "
            f"r.order_ref is not null and r.match in ({matches}) then r.order_ref end), {cats}, "
            f"sum(case when l.category not in ('payout', 'transfer') then l.amount_e4 else 0 end) {base} "
            "group by 1, 2, 3 order by 1, 2, 3", [start, end]):
        money = dict(zip(CATS, (int(s or 0) for s in sums)))
        rows.append({"month": month, "channel_type": ct, "channel": ch, "currency": cur, "orders": orders,
                     **{c: e4_text(v, scale) for c, v in money.items()},
                     "fee_pct": fee_pct(money["revenue"], money["marketplace_fee"]) or "",
                     "net": e4_text(int(net or 0), scale)})
    subtypes = [{"month": month, "channel_type": ct, "channel": ch, "currency": cur, "subtype": sub or "",
                 "amount": e4_text(int(v or 0), scale), "lines": n}
                for ct, ch, cur, sub, v, n in db.execute(
                    f"select p.channel_type, coalesce(r.channel, p.channel, ''), l.currency, l.subtype, "
                    f"sum(l.amount_e4), count(*) {base} and l.category = 'marketplace_fee' group by 1, 2, 3, 4 "
                    "order by 1, 2, 3, 4", [start, end])]
    return rows, subtypes


def write_month(app, month: str) -> list:
    """Write the month's three files (replacing an earlier build of the same month)."""
    rows, subtypes = month_rows(app.store.db, month)
    out = [
        app.outbox.write(f"reports/fees-{month}.csv",
                         csv_text(COLUMNS, [[r[c] for c in COLUMNS] for r in rows]), policy="replace"),
        app.outbox.write(f"reports/fees-{month}-subtypes.csv",
                         csv_text(SUBTYPE_COLUMNS, [[r[c] for c in SUBTYPE_COLUMNS] for r in subtypes]),
                         policy="replace"),
        app.outbox.write(f"reports/fees-{month}.xlsx", _xlsx(month, rows, subtypes), policy="replace"),
    ]
    return out


def _xlsx(month: str, rows: list[dict], subtypes: list[dict]) -> bytes:
    """The same rows, plus one column per fee subtype seen that month."""
    buf = io.BytesIO()
    wb = XlsxWorkbook(buf)
    names = sorted({s["subtype"] for s in subtypes})
    per = {(s["channel_type"], s["channel"], s["currency"], s["subtype"]): s["amount"] for s in subtypes}
    ws = wb.sheet("Fees")
    ws.header(COLUMNS + [f"fee: {n or 'unspecified'}" for n in names])
    for r in rows:
        values = []
        for c in COLUMNS:
            v = r[c]
            values.append(Decimal(v) if c in CATS + ("net", "fee_pct") and v not in ("", None) else safe_cell(str(v))
                          if isinstance(v, str) else v)
        values += [Decimal(per[(r["channel_type"], r["channel"], r["currency"], n)])
                   if (r["channel_type"], r["channel"], r["currency"], n) in per else "" for n in names]
        ws.append(values)
    ws.append([])
    ws.append([f"Month {month} (UTC) by the date each amount was posted; currencies are never added together; "
               "fee_pct = -marketplace_fee / revenue x 100."])
    wb.close()
    return buf.getvalue()


def fees_report(app, month: str | None = None) -> list:
    """Fees per channel and month (fee % of revenue): reports/fees-<YYYY-MM>.csv|.xlsx; month=YYYY-MM, default the last one."""
    return write_month(app, _check_month(month) if month else previous_month(app.clock.now()))


def months_between(since: datetime | None, now: datetime) -> list[str]:
    """The closed months to (re)write: from the month of the last run to the previous month."""
    last = previous_month(now)
    if since is None:
        return [last]
    y, m = since.year, since.month
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out or [last]


def fees_job(app, since) -> dict:
    """Job body (``fees-report``): the months since the last successful run, up to last month."""
    months = months_between(since, app.clock.now())
    for month in months:
        write_month(app, month)
    return {"months": months}
