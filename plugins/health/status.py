"""The ``health`` section of ``marketd status`` (read from the store: the daemon may not run)."""
from __future__ import annotations

from marketd.sdk import mail

from .alerts import SEVERITIES


def section(app) -> dict | None:
    db = app.store.db
    if not db["health_alerts"].exists():
        return None
    lines = []
    counts = dict(db.execute("select severity, count(*) from health_alerts where state != 'resolved' "
                             "group by severity").fetchall())
    total = sum(counts.values())
    lines.append(f"{total} open alert(s)" + (": " + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts.get(s))
                                              if total else ""))
    for r in db.query("select account, marketplace, status, max(seen_at) seen from health_metrics "
                      "where metric = 'orderDefectRate' group by account, marketplace order by account"):
        lines.append(f"{r['account'] or '-'} {r['marketplace']}: order defect rate last seen {r['seen'][:16]}")
    for r in db.query("select account, kind, state, max(coalesce(finished_at, requested_at)) at from health_requests "
                      "group by account, kind order by account, kind"):
        lines.append(f"{r['account']}: {r['kind']} report {r['state']} ({(r['at'] or '')[:16]})")
    overdue = db.execute("select count(*) from health_cases where status = 'open' and deadline < ?",
                         [app.clock.now().isoformat()]).fetchone()[0]
    open_cases = db.execute("select count(*) from health_cases where status = 'open'").fetchone()[0]
    if open_cases:
        lines.append(f"{open_cases} open case(s)/request(s), {overdue} overdue")
    dead = db.execute("select count(*) from health_deliveries where state = 'dead'").fetchone()[0]
    pending = db.execute("select count(*) from health_deliveries where state = 'pending'").fetchone()[0]
    if dead or pending:
        lines.append(f"alert deliveries: {pending} pending, {dead} dead (gave up)")
    from datetime import timedelta

    from . import drift

    n_drift, paths = drift.recent(db, (app.clock.now() - timedelta(days=7)).isoformat())
    if n_drift:
        top, times = paths.most_common(1)[0]
        lines.append(f"schema drift: {n_drift} deviation(s) from Amazon's documented shapes in 7 days "
                     f"(most often {top}, {times}x); counted, nothing refused")
    mails = mail.counts(db, "health")
    waiting = sum(n for st, n in mails.items() if st != "sent")
    if waiting:
        lines.append("alert mails: " + ", ".join(f"{n} {st}" for st, n in mails.items() if st != "sent"))
    return {"health": lines}
