"""The aging list: shipped orders of a channel type that no payout mentions yet, purchased between
``unsettled_max_days`` and ``unsettled_days`` days ago, oldest first.

Which statuses count as "should have been paid by now" is the format's (``unsettled_statuses``:
MALL invoices only delivered orders); by default ``SHIPPED`` and ``DELIVERED``. The keys are
read in a thread while the file is parsed (:class:`Aging`); the rows of the ones the file did
not settle are read after its payouts are stored.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .threads import ReadInThread, store_path

UTC = timezone.utc
DEFAULT_STATUSES = ("SHIPPED", "DELIVERED")


def _sql(now: datetime, days: float, channel_type: str, statuses, max_days) -> tuple[str, list]:
    statuses = [s.upper() for s in (statuses or DEFAULT_STATUSES)]
    sql = (f"from orders o where o.channel_type = ? and upper(o.status) in ({','.join('?' * len(statuses))}) "
           "and o.purchased_at < ? " + ("and o.purchased_at >= ? " if max_days else "")
           + "and not exists (select 1 from payout_refs r where r.order_key = o.key)")
    params = [channel_type, *statuses, (now - timedelta(days=float(days))).astimezone(UTC).isoformat()]
    if max_days:
        params.append((now - timedelta(days=float(max_days))).astimezone(UTC).isoformat())
    return sql, params


def unsettled_keys(conn, now, days, channel_type, statuses=None, max_days=180) -> list[list[str]]:
    """``[[key, channel], ...]`` as one JSON text from SQLite (a thread running it does not
    compete for the GIL row by row)."""
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    if "orders" not in tables or "payout_refs" not in tables:
        return []
    sql, params = _sql(now, days, channel_type, statuses, max_days)
    (text,) = conn.execute(f"select json_group_array(json_array(o.key, o.channel)) {sql}", params).fetchone()
    return json.loads(text)


def unsettled_orders(conn, now, days, channel_type, statuses=None, max_days=180, keys=None,
                     limit: int | None = None) -> list[dict]:
    if keys is not None and not keys:
        return []
    sql, params = _sql(now, days, channel_type, statuses, max_days)
    if keys is not None:
        sql += " and o.key in (select value from json_each(?))"
        params.append(json.dumps(list(keys)))
    sql = ("select o.key as order_key, o.channel, o.order_id, o.merchant_order_id, o.status, o.purchased_at, "
           f"o.updated_at, o.currency, o.total {sql} order by o.purchased_at, o.key")
    if limit:
        sql += f" limit {int(limit)}"
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    out = []
    for row in cur:
        r = dict(zip(names, row))
        try:
            r["age_days"] = (now - datetime.fromisoformat(r["purchased_at"])).days
        except (TypeError, ValueError):
            r["age_days"] = None
        out.append(r)
    return out


class Aging(ReadInThread):
    """The aging list's keys in a thread, then the rows of those the file did not settle."""

    def __init__(self, app, now, days: float, max_days: float | None, channel_type: str, statuses=None):
        self.app, self.now, self.days, self.max_days = app, now, days, max_days
        self.channel_type, self.statuses = channel_type, statuses
        db = app.store.db
        super().__init__(store_path(db), lambda conn: unsettled_keys(conn, now, days, channel_type, statuses,
                                                                     max_days), "settlement-aging",
                         fallback=db.conn)

    def result(self, settled: set, channels: set | None) -> list[dict]:
        """The list without the orders this file's payouts gave money to (``settled`` keys),
        restricted to ``channels`` when the payouts name their accounts."""
        pairs = self.join() or []
        keys = [k for k, ch in pairs if k not in settled and (not channels or ch in channels)]
        return unsettled_orders(self.app.store.db.conn, self.now, self.days, self.channel_type, self.statuses,
                                self.max_days, keys=keys)
