"""A performance report file → metric history, alerts raised and resolved, a CSV per report."""
from __future__ import annotations

import json

from marketd.sdk import csv_text

from . import alerts, drift, performance

SOURCE = "perf"
CSV_HEADER = ["marketplace", "metric", "sub", "status", "rate", "target_condition", "target_value", "count",
              "reporting_from", "reporting_to", "beyond_target"]


def ingest(ctx, account: str) -> dict:
    rep = performance.parse(ctx.path.read_bytes())
    db = ctx.db
    now = ctx.app.clock.now().isoformat()
    for m in rep.metrics:
        db["health_metrics"].upsert({
            "account": account, "marketplace": m.marketplace, "metric": m.metric, "sub": m.sub,
            "reporting_from": m.reporting_from, "reporting_to": m.reporting_to, "status": m.status,
            "rate": str(m.rate) if m.rate is not None else None,
            "target_value": str(m.target) if m.target is not None else None, "target_condition": m.condition,
            "count": m.count, "raw": json.dumps(m.raw, sort_keys=True), "source": ctx.name, "seen_at": now},
            pk=("account", "marketplace", "metric", "sub", "reporting_to"))
    present: set[str] = set()
    counts = {"new": 0, "seen": 0, "reopened": 0, "escalated": 0}
    for f in performance.findings(rep):
        key = alerts.key_of(SOURCE, account, f.marketplace, *f.key_parts)
        present.add(key)
        what = alerts.raise_alert(db, key=key, severity=f.severity, source=SOURCE, title=f.title, now=now,
                                  account=account, marketplace=f.marketplace, detail=f.detail)
        counts[what] += 1
    resolved = alerts.resolve_absent(db, source=SOURCE, account=account, present=present, now=now)
    drifted = drift.record(db, kind="performance", account=account, source=ctx.name, found=rep.drift, now=now)
    rows = [[m.marketplace, m.metric, m.sub, m.status, m.rate, m.condition, m.target, m.count, m.reporting_from,
             m.reporting_to, {True: "yes", False: "no", None: ""}[performance.breach(m)]] for m in rep.metrics]
    out = ctx.output(f"health/{_folder(account)}/performance-{ctx.stamp}.csv", csv_text(CSV_HEADER, rows))
    return {"kind": "performance", "account": account, "statuses": dict(rep.statuses), "metrics": len(rep.metrics),
            "alerts": counts, "resolved": resolved, "unknown_values": rep.unknown, "schema_drift": drifted,
            "report": out.name}


def _folder(account: str) -> str:
    return account or "_"
