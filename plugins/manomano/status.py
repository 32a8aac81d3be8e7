"""The *manomano* section of ``marketd status``: orders waiting for a person's decision, and a
payout file that is overdue.

ManoMano has no settlement API, so nothing tells marketd that money was paid out except the
payout detail a person downloads and drops into ``inbox/settlements/``. For each account with
``orders_sync``, when the newest payout applied for it (or, with none yet, its first order) is
older than ``payout_overdue_days``, the section says so and where to get the file. Read from
the store only: the command runs beside the daemon or without it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from .accounting import CHANNEL_TYPE


def _newest_payout(db, account: str) -> datetime | None:
    """The latest payout date applied for ``account`` (a payout of no known account counts for all)."""
    if "payouts" not in db.table_names():
        return None
    row = db.execute("select max(coalesce(paid_at, period_end)) from payouts where channel_type = ? and "
                     "(channel = ? or channel is null or channel = '')", [CHANNEL_TYPE, account]).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def _first_order(db, account: str) -> datetime | None:
    if "orders" not in db.table_names():
        return None
    row = db.execute("select min(purchased_at) from orders where channel = ?", [account]).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def status_lines(app) -> dict[str, list[str]] | None:
    from .orders import manomano_accounts

    accounts = manomano_accounts(app)
    if not accounts:
        return None
    db, now = app.store.db, app.clock.now()
    lines: list[str] = []
    for name, ch in sorted(accounts.items()):
        waiting = ch.pending_orders()
        if waiting:
            oldest = min((r["purchased_at"] for r in waiting if r.get("purchased_at")), default=None)
            lines.append(f"{name}: {len(waiting)} order(s) wait for acceptance"
                         + (f" (oldest from {oldest[:16].replace('T', ' ')} UTC)" if oldest else "")
                         + ("; accept = auto tries again at the next sync" if ch.accept_mode == "auto"
                            else "; `marketd manomano pending`, then `marketd manomano accept REF...`"))
        if not ch.orders_sync:
            continue
        last = _newest_payout(db, name)
        since = last or _first_order(db, name)
        if since is None:
            continue
        days = ch.settings.payout_overdue_days
        if now - since > timedelta(days=days):
            lines.append(f"{name}: no payout file since {since.date().isoformat()} (more than {days:g} days); ManoMano "
                         "has no settlement API: download 'Detail versement' (and 'CA Manomano') from Toolbox > "
                         "Administrative > Accounting documents and drop them into inbox/settlements/")
        elif last is not None:
            lines.append(f"{name}: last payout file paid on {last.date().isoformat()}")
    return {"manomano": lines} if lines else None
