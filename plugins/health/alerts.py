"""One alert store for every health source: raise while a condition holds, resolve when it clears.

An alert is identified by its *key* (source, account, marketplace and what it is about), never
by its text, so the same condition seen in every daily report is one alert whose ``occurrences``
grow, and nothing is sent again. What the operator must hear about is written as an event in
the same transaction as the alert (``health_events``): a new alert, a resolved alert raised
again, or an open alert whose severity went up. The delivery job routes events (immediately for
the configured severities, else into the daily digest), so an alert committed is never lost on
its way out, even when the daemon dies right after.
"""
from __future__ import annotations

import json

SEVERITIES = ("critical", "high", "medium", "low", "info")
RANK = {s: i for i, s in enumerate(SEVERITIES)}


def key_of(*parts) -> str:
    return "|".join(str(p if p is not None else "") for p in parts)


def raise_alert(db, *, key: str, severity: str, source: str, title: str, now: str, account: str = "",
                marketplace: str = "", sku: str = "", asin: str = "", brand: str = "", detail=None) -> str:
    """Record the alert; returns ``new``, ``reopened``, ``escalated`` or ``seen``."""
    if severity not in RANK:
        raise ValueError(f"unknown severity {severity!r}")
    text = json.dumps(detail or {}, sort_keys=True, default=str)
    rows = list(db.query("select id, state, severity, occurrences from health_alerts where key = ?", [key]))
    if not rows:
        # plain SQL, not sqlite_utils' insert: a storm of notifications raises thousands per file
        alert_id = db.execute(
            "insert into health_alerts (key, severity, source, account, brand, marketplace, sku, asin, title, detail, "
            "state, first_seen, last_seen, occurrences) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, 1)",
            [key, severity, source, account, brand, marketplace, sku, asin, title, text, now, now]).lastrowid
        _event(db, alert_id, "new", severity, now)
        return "new"
    row = rows[0]
    what = "seen"
    if row["state"] == "resolved":
        what = "reopened"
    elif RANK[severity] < RANK.get(row["severity"], 9):
        what = "escalated"
    db.execute("update health_alerts set severity = ?, title = ?, detail = ?, last_seen = ?, "
               "occurrences = occurrences + 1, state = case when state = 'resolved' then 'open' else state end, "
               "resolved_at = case when state = 'resolved' then null else resolved_at end, "
               "brand = coalesce(nullif(?, ''), brand), sku = coalesce(nullif(?, ''), sku) where id = ?",
               [severity, title, text, now, brand, sku, row["id"]])
    if what != "seen":
        _event(db, row["id"], what, severity, now)
    return what


def _event(db, alert_id: int, what: str, severity: str, now: str) -> None:
    db.execute("insert into health_events (alert_id, what, severity, created_at, routed) values (?, ?, ?, ?, 0)",
               [alert_id, what, severity, now])


def resolve(db, key: str, now: str) -> bool:
    cur = db.execute("update health_alerts set state = 'resolved', resolved_at = ? where key = ? and state != "
                     "'resolved'", [now, key])
    return cur.rowcount > 0


def resolve_absent(db, *, source: str, account: str, present: set[str], now: str, prefix: str = "") -> int:
    """Resolve the open alerts of ``source``/``account`` (keys starting with ``prefix``) that the
    latest complete look no longer raised: a cleared metric closes its alert."""
    n = 0
    for r in list(db.query("select key from health_alerts where source = ? and account = ? and state != 'resolved'",
                           [source, account])):
        if r["key"] not in present and r["key"].startswith(prefix):
            n += resolve(db, r["key"], now)
    return n


def open_alerts(db, *, severity: str | None = None, brand: str | None = None, marketplace: str | None = None,
                older_than: str | None = None) -> list[dict]:
    sql, args = "select * from health_alerts where state != 'resolved'", []
    if severity:
        sql += " and severity = ?"
        args.append(severity)
    if brand:
        sql += " and brand = ?"
        args.append(brand)
    if marketplace:
        sql += " and marketplace = ?"
        args.append(marketplace)
    if older_than:
        sql += " and first_seen <= ?"
        args.append(older_than)
    rows = [dict(r) for r in db.query(sql, args)]
    rows.sort(key=lambda r: (RANK.get(r["severity"], 9), r["first_seen"], r["id"]))
    return rows
