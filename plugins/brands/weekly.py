"""The weekly data package (seeds 000: one dashboard and six reports, by e-mail): built for an ISO
week in the brand's calendar, always written to ``outbox/brands/<brand>/<week>/``, mailed once
to the brand's ``reports`` contacts (period key ``weekly:<brand>:<week>``).

Reports: (1) sales by platform × SKU × week, (2) stock and stock cover, (3) go-live status,
(4) content issues from the latest completeness run, (5) returns and cancellations with the
channel's reason where one was supplied (:mod:`.reasons`), (6)
marketplace fees and payouts (settlements, through the ``order_finance`` hook).
"""
from __future__ import annotations

import html
import io
import json
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from marketd.sdk import XlsxWorkbook, safe_cell

from . import charts, finance, golive, links, mailq, pdfdoc, reasons, sales
from .contacts import recipients

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WEEKS = 12


def week_bounds(week: str) -> tuple[date, date]:
    y, w = week.split("-W")
    monday = date.fromisocalendar(int(y), int(w), 1)
    return monday, monday + timedelta(days=6)


def week_of(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def _q(d: Decimal) -> Decimal:
    """Money for a workbook: a number cell (exact to the cent below 2^53/100), never text."""
    return d.quantize(Decimal("0.01"))


def _t(v):
    return safe_cell(v) if isinstance(v, str) else v


def _book(created: datetime, about: list, tabs: list[tuple[str, list[str], list[list]]]) -> bytes:
    buf = io.BytesIO()
    wb = XlsxWorkbook(buf, created=created)
    a = wb.sheet("About")
    for row in about:
        a.append([_t(v) for v in row])
    for name, header, rows in tabs:
        s = wb.sheet(name)
        s.header(header)
        for r in rows:
            s.append([_t(v) for v in r])
    wb.close()
    return buf.getvalue()


def collect(app, bid: str, brand, week: str, pre=None, fin_pre: dict | None = None) -> dict:
    """Everything the package shows, from the store, for ``week`` and the 11 weeks before it."""
    db = app.store.db
    monday, sunday = week_bounds(week)
    first = monday - timedelta(weeks=WEEKS - 1)
    ls = sales.lines(db, bid, first, sunday, brand.tz, pre)
    weeks = [week_of(first + timedelta(weeks=i)) for i in range(WEEKS)]
    by = defaultdict(lambda: {"orders": set(), "units": 0, "gross": Decimal(0), "title": ""})
    ret = defaultdict(int)
    sold = defaultdict(int)
    for ln in ls:
        wk = week_of(ln.day)
        if ln.status in sales.CANCELLED:
            continue
        a = by[(wk, ln.platform, ln.sku, ln.currency)]
        a["orders"].add(ln.order_key)
        a["units"] += ln.units
        a["gross"] += ln.gross
        a["title"] = a["title"] or ln.title
        sold[(wk, ln.platform)] += ln.units
        if ln.status in sales.RETURNED:
            ret[(wk, ln.platform)] += ln.units
    sales_rows = [[wk, p, s, a["title"], len(a["orders"]), a["units"], _q(a["gross"]), c]
                  for (wk, p, s, c), a in sorted(by.items())]
    week_lines = [ln for ln in ls if monday <= ln.day <= sunday]
    last28 = [ln for ln in ls if sunday - timedelta(days=28) < ln.day <= sunday]
    stock_rows = []
    for r in links.stock_rows(db, bid, brand, last28, sunday):
        cover = r[6]
        flag = "out of stock" if r[4] == 0 else ("under 14 days" if cover != "" and Decimal(cover) < 14 else "")
        stock_rows.append(r[1:] + [flag])
    gl = golive.statuses(db, bid, brand, sunday)
    gone = [ln for ln in week_lines if ln.status in sales.CANCELLED + sales.RETURNED]
    why = reasons.for_lines(db, [(ln.order_key, ln.sku) for ln in gone])
    returns = [[ln.day.isoformat(), ln.platform, ln.order_key.split(":", 1)[-1], ln.sku, ln.units,
                "cancellation" if ln.status in sales.CANCELLED else "return/refund", ln.status,
                *why[(ln.order_key, ln.sku)]] for ln in gone]
    fin = finance.brand_orders(app, ls, fin_pre if pre is not None and pre.covers(*sales.utc_bounds(first, sunday, brand.tz))
                               else None)
    fees = defaultdict(lambda: {f: Decimal(0) for f in finance.FIELDS} | {k: Decimal(0) for k, _ in finance.FEE_TYPES}
                       | {"payouts": set()})
    wk_of_order = {ln.order_key: week_of(ln.day) for ln in ls}
    for row in fin.values():
        a = fees[(wk_of_order[row["order_key"]], row["platform"], row["currency"])]
        for f in (*finance.FIELDS, *(k for k, _ in finance.FEE_TYPES)):
            a[f] += row[f]
        a["payouts"].update(p for p in row["payouts"] if p)
    fee_rows = []
    for (wk, p, c), a in sorted(fees.items()):
        pct = "" if a["revenue"] <= 0 else format((-a["marketplace_fee"] * 100 / a["revenue"]).quantize(Decimal("0.01")), "f")
        fee_rows.append([wk, p, c, _q(a["revenue"]), _q(a["refund"]), _q(a["marketplace_fee"]),
                         *(_q(a[k]) for k, _ in finance.FEE_TYPES), _q(a["shipping_label"]), pct,
                         ", ".join(sorted(a["payouts"]))])
    return {"week": week, "weeks": weeks, "monday": monday, "sunday": sunday, "sales": sales_rows,
            "stock": stock_rows, "golive": gl, "returns": returns, "fees": fee_rows, "content": content_issues(db, bid),
            "sold": sold, "ret": ret, "finance_available": finance.available(app), "lines": ls}


def content_issues(db, bid: str) -> list[list]:
    """The brand's issues in the latest completeness run of each content brand (content plugin tables)."""
    if "content_issues" not in db.table_names():
        return []
    return [list(r) for r in db.execute(
        "select i.sku, i.platform, i.locale, i.attribute, i.rule, i.severity, i.message_en from content_issues i "
        "join (select brand, max(id) id from content_runs group by brand) m on m.id = i.run_id "
        "join brand_skus b on b.sku = i.sku where b.brand = ? order by i.severity, i.sku, i.platform, i.attribute",
        [bid])]


SALES_H = ["week", "platform", "sku", "title", "orders", "units", "gross", "currency"]
STOCK_H = ["sku", "title", "location", "available", "units_28d", "cover_days", "flag"]
GOLIVE_H = ["sku", "platform", "status", "activated", "due", "live", "working_days_late", "working_days_taken"]
CONTENT_H = ["sku", "platform", "locale", "attribute", "rule", "severity", "message"]
RETURNS_H = ["date", "platform", "order_id", "sku", "units", "type", "marketplace_status", "reason", "reason_source"]
REASONS_H = ["platform", "type", "reason", "lines", "units"]
FEES_H = ["week", "platform", "currency", "revenue", "refunds", "marketplace_fees", "commission_fees", "fulfilment_fees",
          "advertising_fees", "other_fees", "shipping_labels", "fee_pct_of_gross", "payouts"]


def reason_rows(returns: list[list]) -> list[list]:
    """Lines and units per platform × type × reason (``unknown`` counted like any reason)."""
    agg = defaultdict(lambda: [0, 0])
    for r in returns:
        a = agg[(r[1], r[5], r[7])]
        a[0] += 1
        a[1] += r[4]
    return [[p, t, why, n, u] for (p, t, why), (n, u) in sorted(agg.items())]


def reports(data: dict, brand, created: datetime) -> dict[str, bytes]:
    about = [["brand", brand.name], ["week", data["week"]], ["from", data["monday"].isoformat()],
             ["to", data["sunday"].isoformat()], ["time zone", brand.timezone]]
    pivot_weeks = data["weeks"]
    pv = defaultdict(lambda: defaultdict(Decimal))
    for wk, p, _s, _t2, _o, _u, g, _c in data["sales"]:
        pv[p][wk] += Decimal(g)
    pivot = [[p] + [_q(pv[p][w]) for w in pivot_weeks] for p in sorted(pv)]
    gl = [[s.sku, s.platform, s.status, s.activated.isoformat(), s.due.isoformat(),
           s.live.isoformat() if s.live else "", s.days_late if s.status != "pending" else "",
           "" if s.days_taken is None else s.days_taken] for s in data["golive"]]
    fees_about = about + ([] if data["finance_available"] else
                          [["note", "no settlements plugin loaded: fees and payouts are not available"]])
    return {
        "01-sales.xlsx": _book(created, about, [("Sales", SALES_H, data["sales"]),
                                                ("Gross by week", ["platform"] + pivot_weeks, pivot)]),
        "02-stock.xlsx": _book(created, about, [("Stock", STOCK_H, data["stock"])]),
        "03-golive.xlsx": _book(created, about, [("Go-live", GOLIVE_H, gl)]),
        "04-content.xlsx": _book(created, about, [("Content issues", CONTENT_H, data["content"])]),
        "05-returns.xlsx": _book(created, about, [("Returns and cancellations", RETURNS_H, data["returns"]),
                                                  ("By reason", REASONS_H, reason_rows(data["returns"]))]),
        "06-fees-payouts.xlsx": _book(created, fees_about, [("Fees and payouts", FEES_H, data["fees"])]),
    }


def figures(data: dict, brand, cache_dir=None) -> list[tuple[str, str, bytes]]:
    """(title, svg, png) for each chart. ``cache_dir``: matplotlib's font cache (the daemon's state
    folder: a service user may have no writable home)."""
    charts._setup(cache_dir)
    weeks = data["weeks"]
    gross = defaultdict(lambda: [0.0] * len(weeks))
    for wk, p, _s, _t2, _o, _u, g, _c in data["sales"]:
        if wk in weeks:
            gross[p][weeks.index(wk)] += float(Decimal(g))  # a chart's bar height, not money
    out = [("Gross sales per platform and week",) + charts.stacked_bars("Gross sales per platform and week", weeks,
                                                                         dict(gross), brand.currency)]
    cover = [(r[0] if r[2] == sales.WAREHOUSE else f"{r[0]} ({r[2]})", float(r[5])) for r in data["stock"] if r[5] != ""]
    cover.sort(key=lambda x: (x[1], x[0]))
    out.append(("Stock cover in days (lowest 20)",) + charts.hbars("Stock cover in days (lowest 20)",
                                                                    [c[0] for c in cover[:20]],
                                                                    [c[1] for c in cover[:20]], "days"))
    plats = brand.platforms
    st = data["golive"]
    stages = {"activated": [sum(s.platform == p for s in st) for p in plats],
              "live": [sum(s.platform == p and s.status == "live" for s in st) for p in plats],
              "overdue": [sum(s.platform == p and s.status == "overdue" for s in st) for p in plats]}
    out.append(("Go-live funnel",) + charts.funnel("Go-live funnel", plats, stages))
    rate = {p: [(100.0 * data["ret"][(w, p)] / data["sold"][(w, p)]) if data["sold"][(w, p)] else None for w in weeks]
            for p in {p for (_w, p) in data["sold"]}}
    out.append(("Return rate %",) + charts.lines("Return rate % (returned / sold units)", weeks, rate, "%"))
    fee = defaultdict(lambda: [None] * len(weeks))
    for r in data["fees"]:
        wk, p, pct = r[0], r[1], r[FEES_H.index("fee_pct_of_gross")]
        if wk in weeks and pct != "":
            fee[p][weeks.index(wk)] = float(pct)
    out.append(("Fees % of gross",) + charts.lines("Marketplace fees % of gross", weeks, dict(fee), "%"))
    return out


def kpis(data: dict) -> list[tuple[str, str]]:
    wk, prev = data["week"], data["weeks"][-2]
    g = defaultdict(Decimal)
    orders, units = set(), 0
    for r in data["sales"]:
        g[r[0]] += Decimal(r[6])
    for ln in data["lines"]:
        if week_of(ln.day) == wk and ln.status not in sales.CANCELLED:
            orders.add(ln.order_key)
            units += ln.units
    st = data["golive"]
    errors = sum(1 for r in data["content"] if r[5] == "ERROR")
    return [("Gross this week", sales.money(g[wk])), ("Gross previous week", sales.money(g[prev])),
            ("Orders", str(len(orders))), ("Units", str(units)),
            ("Live SKUs", str(sum(s.status == "live" for s in st))),
            ("Overdue SKUs", str(sum(s.status == "overdue" for s in st))), ("Open content errors", str(errors))]


def dashboard_html(brand, data: dict, figs, use_cid: bool = False) -> str:
    e = html.escape
    tiles = "".join(f"<div class='tile'><div class='k'>{e(k)}</div><div class='v'>{e(v)}</div></div>"
                    for k, v in kpis(data))
    body = []
    for i, (title, svg, _png) in enumerate(figs):
        pic = f"<img src='cid:chart{i}' alt='{e(title)}' width='700'>" if use_cid else svg
        body.append(f"<section><h3>{e(title)}</h3>{pic}</section>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{e(brand.name)} {data['week']}</title><style>"
            "body{font-family:DejaVu Sans,Arial,sans-serif;margin:16px;color:#222}"
            ".tiles{display:flex;flex-wrap:wrap;gap:8px}.tile{border:1px solid #ccc;padding:8px;min-width:120px}"
            ".k{font-size:11px;color:#666}.v{font-size:20px;font-weight:bold}section{margin-top:16px}"
            "</style></head><body>"
            f"<h1>{e(brand.name)}: week {data['week']} ({data['monday']} to {data['sunday']})</h1>"
            f"<div class='tiles'>{tiles}</div>{''.join(body)}"
            "<p>Six reports are attached as workbooks.</p></body></html>")


def dashboard_pdf(brand, data: dict, figs, created: datetime) -> bytes:
    pdf = pdfdoc.new(created, f"{brand.name} {data['week']}", orientation="L")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 8, f"{brand.name}: week {data['week']} ({data['monday']} to {data['sunday']})",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    for k, v in kpis(data):
        pdf.cell(60, 6, k)
        pdf.cell(40, 6, v, new_x="LMARGIN", new_y="NEXT")
    for title, _svg, png in figs:
        pdf.add_page()
        pdf.image(io.BytesIO(png), x=10, y=10, w=250)
    return pdfdoc.output(pdf, f"{brand.name}|{data['week']}|" + json.dumps(kpis(data)))


def prefetch(app, week: str):
    """One read of the orders for every brand's 12-week window (any time zone)."""
    from datetime import timezone

    monday, sunday = week_bounds(week)
    lo = datetime.combine(monday - timedelta(weeks=WEEKS - 1, days=1), time(0), timezone.utc).isoformat()
    hi = datetime.combine(sunday + timedelta(days=2), time(0), timezone.utc).isoformat()
    return sales.Prefetch(app.store.db, lo, hi)


def run(app, bid: str, brand, week: str, *, send: bool = True, pre=None, fin: dict | None = None) -> dict | None:
    """Build, publish and queue the week's package once; None when it was made already."""
    db = app.store.db
    if db.execute("select 1 from brand_reports where brand=? and kind='weekly' and period=?", [bid, week]).fetchone():
        return None
    data = collect(app, bid, brand, week, pre, fin)
    # the files' own dates are the end of the week (brand-local): the same data give the same bytes
    created = datetime.combine(data["sunday"], time(23, 59), brand.tz)
    files = reports(data, brand, created)
    figs = figures(data, brand, app.state_dir / "matplotlib")
    files["dashboard.html"] = dashboard_html(brand, data, figs).encode("utf-8")
    files["dashboard.pdf"] = dashboard_pdf(brand, data, figs, created)
    base = f"brands/{bid}/{week}"
    paths = [str(app.outbox.write(f"{base}/{name}", content, policy="replace")) for name, content in sorted(files.items())]
    now = app.clock.now().isoformat()
    mail_html = dashboard_html(brand, data, figs, use_cid=True)
    text = "\n".join([f"{brand.name}: week {week}", ""] + [f"{k}: {v}" for k, v in kpis(data)]
                     + ["", "The dashboard (HTML, PDF) and six reports are attached."])
    attach = [(n, files[n], XLSX) for n in sorted(files) if n.endswith(".xlsx")]
    attach += [("dashboard.pdf", files["dashboard.pdf"], "application/pdf"),
               ("dashboard.html", files["dashboard.html"], "text/html")]
    with app.store.transaction() as tx:
        if tx.execute("select 1 from brand_reports where brand=? and kind='weekly' and period=?", [bid, week]).fetchone():
            return None
        tx.execute("insert into brand_reports (brand, kind, period, cutoff, generated_at, outputs) values (?,?,?,?,?,?)",
                   [bid, "weekly", week, now, now, json.dumps(paths)])
        queued = 0
        if send and brand.mail:
            queued = mailq.enqueue(app, tx, kind="weekly", brand=bid, period=week,
                                   recipients=recipients(tx, bid, ("reports",)),
                                   subject=f"{brand.name}: weekly data package {week}", html=mail_html, text=text,
                                   attachments=attach, inline={f"chart{i}": f[2] for i, f in enumerate(figs)})
    return {"week": week, "outputs": paths, "queued": queued}
