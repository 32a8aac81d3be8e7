"""The daily digest (job ``health-digest``) and the open-alerts report (``marketd health report``).

The digest holds what happened since the previous one: new alerts, alerts still open (by
severity, with brand, marketplace and age), alerts resolved, and open cases with their deadlines.
It is written to the outbox (text, plus CSV and XLSX of the open alerts) and sent through the
same channels as alerts, once per day: a second run on the same day does nothing.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from marketd.sdk import XlsxWorkbook, csv_text, safe_cell

from . import alerts
from .delivery import JOB, _add, channels
from .fetch import job_settings
from .settings import AlertsJobSettings

HEADER = ["id", "severity", "state", "account", "marketplace", "brand", "sku", "asin", "title", "first_seen",
          "last_seen", "occurrences", "age_days"]


def _rows(app) -> list[list]:
    now = app.clock.now()
    out = []
    for a in alerts.open_alerts(app.store.db):
        age = (now - datetime.fromisoformat(a["first_seen"])).days
        out.append([a["id"], a["severity"], a["state"], a["account"], a["marketplace"], a["brand"], a["sku"], a["asin"],
                    a["title"], a["first_seen"], a["last_seen"], a["occurrences"], age])
    return out


def _xlsx(rows: list[list]) -> bytes:
    import io

    buf = io.BytesIO()
    book = XlsxWorkbook(buf)
    sheet = book.sheet("open alerts")
    sheet.header(HEADER)
    for r in rows:
        sheet.append([safe_cell(v) if isinstance(v, str) else v for v in r])
    book.close()
    return buf.getvalue()


def write_open_report(app, stem: str | None = None) -> list:
    rows = _rows(app)
    stem = stem or "open-alerts-" + app.clock.now().strftime("%Y%m%dT%H%M%SZ")
    return [app.outbox.write(f"health/{stem}.csv", csv_text(HEADER, rows), policy="replace"),
            app.outbox.write(f"health/{stem}.xlsx", _xlsx(rows), policy="replace")]


def make_digest(app) -> dict:
    now = app.clock.now()
    day = now.date().isoformat()
    db = app.store.db
    if db.execute("select 1 from health_digests where day = ?", [day]).fetchone():
        return {"digest": "already made", "day": day}
    last = db.execute("select max(created_at) from health_digests").fetchone()[0] or \
        (now - timedelta(days=1)).isoformat()
    new = [dict(r) for r in db.query(
        "select a.id, a.severity, a.title, a.account, a.marketplace, e.what from health_events e join health_alerts a "
        "on a.id = e.alert_id where e.created_at > ? order by e.id", [last])]
    opened = alerts.open_alerts(db)
    resolved = [dict(r) for r in db.query("select id, severity, title from health_alerts where state = 'resolved' and "
                                          "resolved_at > ? order by id", [last])]
    cases = [dict(r) for r in db.query("select id, kind, subject, deadline from health_cases where status = 'open' "
                                       "order by deadline")]
    by_sev: dict[str, int] = {}
    for a in opened:
        by_sev[a["severity"]] = by_sev.get(a["severity"], 0) + 1
    lines = [f"marketd health digest {day}", "",
             f"{len(new)} new since {last[:16]}, {len(opened)} open ("
             + ", ".join(f"{by_sev[s]} {s}" for s in alerts.SEVERITIES if by_sev.get(s)) + f"), {len(resolved)} resolved",
             "", "Open:"]
    for a in opened[:200]:
        age = (now - datetime.fromisoformat(a["first_seen"])).days
        lines.append(f"  #{a['id']} {a['severity']:<8} {a['account'] or '-'} {a['marketplace'] or '-'} "
                     f"{a['brand'] or '-'} {age}d  {a['title']}")
    if len(opened) > 200:
        lines.append(f"  … and {len(opened) - 200} more (`marketd health`, or the CSV beside this digest)")
    lines += ["", "Resolved:"] + [f"  #{a['id']} {a['title']}" for a in resolved[:100]]
    lines += ["", "Open cases and requests:"] + [f"  {c['id']} {c['kind']} deadline {c['deadline'][:10]}  {c['subject']}"
                                                  for c in cases]
    text = "\n".join(lines) + "\n"
    files = write_open_report(app, f"digest-{day}")
    files.append(app.outbox.write(f"health/digest-{day}.txt", text, policy="replace"))
    s = job_settings(app, JOB, AlertsJobSettings)
    counts = {"new": len(new), "open": len(opened), "resolved": len(resolved), "cases": len(cases)}
    with app.store.transaction() as tx:
        tx["health_digests"].insert({"day": day, "created_at": now.isoformat(), "counts": json.dumps(counts),
                                     "file": str(files[-1].name)})
        digest_id = tx.execute("select id from health_digests where day = ?", [day]).fetchone()[0]
        _add(tx, "digest", {"type": "digest", "day": day, "counts": counts, "text": text}, now, channels(app, s),
             digest_id=digest_id)
    return {"digest": day, **counts, "files": [p.name for p in files]}
