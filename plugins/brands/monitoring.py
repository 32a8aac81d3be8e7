"""The Go Live Monitoring report (seeds 000: every Tuesday and Thursday).

Per platform: live / pending / overdue; newly live since the previous report; overdue SKUs with
their working days late; pending SKUs by due date; platforms where activation is blocked. "Since
the previous report" is taken from that report's stored cut-off, not from the wall clock, so a
skipped Tuesday does not lose the SKUs that went live meanwhile.

The period key is the brand-local day: a second run that day finds the stored report and neither
rebuilds nor mails it again.
"""
from __future__ import annotations

import html
import io
import json
from datetime import date, datetime

from marketd.sdk import XlsxWorkbook, csv_text, safe_cell

from . import checklist, golive, mailq
from .contacts import recipients

COLUMNS = ["sku", "platform", "status", "activated", "due", "live", "working_days_late", "working_days_taken"]


def _row(s: golive.SkuStatus) -> list:
    return [s.sku, s.platform, s.status, s.activated.isoformat(), s.due.isoformat(),
            s.live.isoformat() if s.live else "", s.days_late if s.status != "pending" else "",
            s.days_taken if s.days_taken is not None else ""]


def build(db, brand_id: str, brand, today: date, since: str | None, cutoff: str, app=None) -> dict:
    """Everything the report says, as plain data (the files and the mail are made from it)."""
    rows = golive.statuses(db, brand_id, brand, today)
    items = checklist.rows(db, brand_id, brand, today, app)
    newly = [r for r in rows if r.live_at and (since is None or r.live_at > since) and r.live_at <= cutoff]
    blocked = []
    for p in brand.platforms:
        ok, missing = checklist.platform_ready(items, p)
        if not ok:
            blocked.append({"platform": p, "missing": ", ".join(missing)})
    return {
        "brand": brand_id, "name": brand.name, "date": today.isoformat(), "since": since, "cutoff": cutoff,
        "summary": golive.summary(rows, brand.platforms),
        "newly_live": newly,
        "overdue": sorted((r for r in rows if r.status == "overdue"), key=lambda r: (-r.days_late, r.platform, r.sku)),
        "pending": sorted((r for r in rows if r.status == "pending"), key=lambda r: (r.due, r.platform, r.sku)),
        "all": rows,
        "blocked": blocked,
    }


SUMMARY_COLS = ["platform", "activated", "live", "pending", "overdue", "live_pct", "median_days_to_live"]


def xlsx_bytes(data: dict, created: datetime) -> bytes:
    buf = io.BytesIO()
    wb = XlsxWorkbook(buf, created=created)
    about = wb.sheet("About")
    about.append(["brand", safe_cell(data["name"])])
    about.append(["report", "Go Live Monitoring"])
    about.append(["date", data["date"]])
    about.append(["newly live since", data["since"] or "first report"])
    s = wb.sheet("Summary")
    s.header(SUMMARY_COLS)
    for r in data["summary"]:
        s.append([r[c] for c in SUMMARY_COLS])
    for title, key in (("Newly live", "newly_live"), ("Overdue", "overdue"), ("Pending", "pending")):
        sh = wb.sheet(title)
        sh.header(COLUMNS)
        for r in data[key]:
            sh.append([safe_cell(v) if isinstance(v, str) else v for v in _row(r)])
    b = wb.sheet("Blocked")
    b.header(["platform", "missing before activation"])
    for r in data["blocked"]:
        b.append([r["platform"], r["missing"]])
    wb.close()
    return buf.getvalue()


def csv_bytes(data: dict) -> bytes:
    return ("\ufeff" + csv_text(COLUMNS, [_row(r) for r in data["all"]])).encode("utf-8")


def mail_body(data: dict) -> tuple[str, str]:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in SUMMARY_COLS)
    body = "".join("<tr>" + "".join(f"<td>{e(str(r[c] if r[c] is not None else ''))}</td>" for c in SUMMARY_COLS)
                   + "</tr>" for r in data["summary"])
    over = "".join(f"<li>{e(r.sku)} on {e(r.platform)}: due {r.due}, {r.days_late} working day(s) late</li>"
                   for r in data["overdue"][:50])
    page = (f"<html><body><h2>Go Live Monitoring: {e(data['name'])}, {data['date']}</h2>"
            f"<table border='1' cellpadding='4'><tr>{head}</tr>{body}</table>"
            f"<p>Newly live since the last report: {len(data['newly_live'])}</p>"
            f"<h3>Overdue ({len(data['overdue'])})</h3><ul>{over}</ul>"
            "<p>The attached workbook lists every SKU.</p></body></html>")
    text = "\n".join([f"Go Live Monitoring: {data['name']}, {data['date']}", ""]
                     + [f"{r['platform']}: {r['live']} live, {r['pending']} pending, {r['overdue']} overdue of "
                        f"{r['activated']} activated" for r in data["summary"]]
                     + [f"Newly live since the last report: {len(data['newly_live'])}", "",
                        "The attached workbook lists every SKU."])
    return page, text


def previous_cutoff(db, brand_id: str) -> str | None:
    r = db.execute("select cutoff from brand_reports where brand=? and kind='golive' order by period desc limit 1",
                   [brand_id]).fetchone()
    return r[0] if r else None


def run(app, brand_id: str, brand, today: date, *, send: bool = True) -> dict | None:
    """Build, publish and queue the report for ``today`` once; None when it already exists."""
    period = today.isoformat()
    db = app.store.db
    if db.execute("select 1 from brand_reports where brand=? and kind='golive' and period=?",
                  [brand_id, period]).fetchone():
        return None
    now = app.clock.now()
    cutoff = now.isoformat()
    data = build(db, brand_id, brand, today, previous_cutoff(db, brand_id), cutoff, app)
    stem = f"golive-{brand_id}-{period}"
    xbytes, cbytes = xlsx_bytes(data, now), csv_bytes(data)
    base = f"brands/{brand_id}/golive/{period}"
    paths = [app.outbox.write(f"{base}/{stem}.xlsx", xbytes, policy="replace"),
             app.outbox.write(f"{base}/{stem}.csv", cbytes, policy="replace")]
    page, text = mail_body(data)
    with app.store.transaction() as tx:
        if tx.execute("select 1 from brand_reports where brand=? and kind='golive' and period=?",
                      [brand_id, period]).fetchone():
            return None
        tx.execute("insert into brand_reports (brand, kind, period, cutoff, generated_at, outputs) values (?,?,?,?,?,?)",
                   [brand_id, "golive", period, cutoff, cutoff, json.dumps([str(p) for p in paths])])
        queued = 0
        if send and brand.mail:
            queued = mailq.enqueue(app, tx, kind="golive", brand=brand_id, period=period,
                                   recipients=recipients(tx, brand_id, ("golive", "reports")),
                                   subject=f"Go Live Monitoring {brand.name} {period}", html=page, text=text,
                                   attachments=[(f"{stem}.xlsx", xbytes,
                                                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")])
    return {"period": period, "outputs": [str(p) for p in paths], "queued": queued,
            "summary": data["summary"], "overdue": len(data["overdue"]), "newly_live": len(data["newly_live"])}
