"""The MALL section of ``marketd status``: per account, the order sync (off, last run, error),
orders waiting for the partner's confirmation (MALL cancels them after a while), and today's use
of the configured daily quotas. Read from the store only: the daemon may not be running."""
from __future__ import annotations


def status_lines(app) -> dict[str, list[str]] | None:
    from .jobs import mall_accounts

    accounts = mall_accounts(app)
    if not accounts:
        return None
    db = app.store.db
    tables = set(db.table_names())
    lines = []
    for name, ch in sorted(accounts.items()):
        s = ch.settings
        sync = {}
        if "mall_order_sync" in tables:
            sync = next(iter(db.query("select * from mall_order_sync where channel = ?", [name])), {})
        if not s.orders_sync:
            head = f"{name}: orders_sync off"
        elif not sync:
            head = f"{name}: orders not synced yet"
        else:
            head = f"{name}: last sync {str(sync['last_run_at'])[:16]}, {sync['orders_seen']} open order(s) listed"
            if sync.get("last_error"):
                head += f"; stopped: {sync['last_error'][:160]}"
        waiting = db.execute(
            "select count(*) from orders where channel = ? and json_extract(raw, '$.status') = 'open' and "
            "not json_extract(raw, '$.confirmed')", [name]).fetchone()[0]
        if waiting:
            head += (f"; {waiting} order(s) wait for confirmation ("
                     + ("auto_confirm at the next sync" if s.auto_confirm else "`marketd mall confirm`") + ")")
        lines.append(head)
        quotas = {"orders": s.daily_quota_orders, "other": s.daily_quota_other}
        if "mall_quota" in tables and any(quotas.values()):
            day = app.clock.now().astimezone(ch.tz).date().isoformat()
            used = dict(db.execute("select grp, used from mall_quota where channel = ? and day = ?",
                                   [name, day]).fetchall())
            lines.append(f"{name}: MALL quota today " + ", ".join(
                f"{g} {used.get(g, 0)}/{q}" for g, q in quotas.items() if q))
        if s.invoices_fetch and "mall_finance_docs" in tables:
            n, last = db.execute("select count(*), max(fetched_at) from mall_finance_docs where channel = ?",
                                 [name]).fetchone()
            lines.append(f"{name}: {n} MALL invoice/offset document(s) fetched" + (f", last {last[:16]}" if last else ""))
    return {"mall": lines}
