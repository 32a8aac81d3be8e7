"""The settlements section of ``marketd status``: payouts by check status, the latest payout per
channel type, and references still waiting for their order."""
from __future__ import annotations


def status_lines(app) -> dict[str, list[str]] | None:
    db = app.store.db
    if "payouts" not in db.table_names():
        return None
    by_status = dict(db.execute("select status, count(*) from payouts group by status").fetchall())
    if not by_status:
        return {"settlements": ["no payouts yet"]}
    total = sum(by_status.values())
    lines = [f"{total} payout(s): " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))]
    for ct, pid, status, paid in db.execute(
            "select channel_type, payout_id, status, coalesce(paid_at, period_end, ingested_at) from payouts p "
            "where pid = (select pid from payouts q where q.channel_type = p.channel_type "
            "order by coalesce(q.paid_at, q.period_end, q.ingested_at) desc, q.pid desc limit 1) order by channel_type"):
        lines.append(f"latest {ct}: {pid} ({status}, {(paid or '')[:10]})")
    waiting = db.execute("select count(*) from payout_refs where order_key is null and match = 'none'").fetchone()[0]
    if waiting:
        lines.append(f"{waiting} order reference(s) wait for their order (attached when the order is imported)")
    ambiguous = db.execute("select count(*) from payout_refs where match = 'ambiguous'").fetchone()[0]
    if ambiguous:
        lines.append(f"{ambiguous} order reference(s) are stored under more than one account and were not matched "
                     "(the payout's warnings name them)")
    bad = by_status.get("inconsistent", 0)
    if bad:
        lines.append(f"{bad} inconsistent payout(s): `marketd settlements --status inconsistent`")
    return {"settlements": lines}
