"""GPSR at risk: every SKU Amazon could suspend for missing responsible-person, manufacturer or
safety data, per account and EU marketplace.

The check itself belongs to the content plugin (``content_issues`` with rules ``gpsr.*`` from
each brand's latest completeness run); this view adds what Amazon says about live listings: open
listing-issue alerts from notifications. Plugins never import each other, so only the tables
are read, and only when the content plugin made them.
"""
from __future__ import annotations

from marketd.sdk import csv_text

from . import alerts

HEADER = ["sku", "brand", "platform", "locale", "rule", "attribute", "severity", "message"]


def at_risk(db) -> list[list]:
    if not db["content_issues"].exists() or not db["content_runs"].exists():
        return []
    sql = ("select i.sku, r.brand, i.platform, i.locale, i.rule, i.attribute, i.severity, i.message_en "
           "from content_issues i join content_runs r on r.id = i.run_id "
           "join (select brand, max(id) id from content_runs group by brand) m on m.id = r.id "
           "where i.rule like 'gpsr.%' and i.severity in ('ERROR', 'error') order by i.sku, i.platform, i.rule")
    return [list(r) for r in db.execute(sql)]


def write_view(app, account: str = "") -> dict:
    db = app.store.db
    rows = at_risk(db)
    day = app.clock.now().date().isoformat()
    path = app.outbox.write(f"health/{account or '_'}/gpsr-at-risk-{day}.csv", csv_text(HEADER, rows),
                            policy="replace")
    skus = sorted({r[0] for r in rows})
    now = app.clock.now().isoformat()
    key = alerts.key_of("gpsr", account)
    with app.store.transaction() as tx:
        if skus:
            blocked = tx.execute("select count(*) from health_alerts where source = 'notif' and state != 'resolved' "
                                 "and sku in (%s) and severity = 'high'" % ",".join("?" * len(skus)), skus).fetchone()[0]
            alerts.raise_alert(tx, key=key, severity="high" if blocked else "medium", source="gpsr", account=account,
                               now=now, title=f"GPSR: {len(skus)} SKU(s) miss responsible person, manufacturer or "
                                              f"safety data" + (f"; {blocked} already blocked or hidden" if blocked else ""),
                               detail={"skus": skus[:50], "file": path.name})
        else:
            alerts.resolve(tx, key, now)
    return {"skus": len(skus), "file": path.name}
