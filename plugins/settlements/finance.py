"""What the payouts moved for an order, from the ``order_finance`` view (the ``order_finance`` hook,
``marketd orders list --finance`` / ``orders show``).

Sums are exact: SQLite adds integers of ten-thousandths, Python turns them into Decimal text at
the payouts' scale. ``fee_pct`` = −marketplace_fee / revenue × 100, ``ROUND_HALF_EVEN`` to 0.01,
only when revenue > 0. Currencies are never added together: an order paid in two currencies has
two totals.
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal

from marketd.sdk.settlements import CATEGORIES, e4_text

from .schema import order_finance_select

# ``--json`` of ``orders show`` before the settlements plugin used these names (Amazon only);
# kept beside the new ones for one release.
OLD_NAMES = {"fees": "marketplace_fee", "refunds": "refund", "promotions": "promotion"}


def fee_pct(revenue_e4: int, fee_e4: int) -> str | None:
    if revenue_e4 <= 0:
        return None
    pct = (Decimal(-fee_e4) * 100 / Decimal(revenue_e4)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return format(pct, "f")


def _scale(db) -> int:
    row = db.execute("select max(scale) from payouts").fetchone() if "payouts" in db.table_names() else None
    return int(row[0]) if row and row[0] is not None else 2


def totals(db, order_keys: list[str]) -> dict[str, list[dict]]:
    """{order_key: [per-currency totals]} for the keys with money in some payout."""
    if not order_keys or "payout_refs" not in db.table_names():
        return {}
    scale = _scale(db)
    out: dict[str, list[dict]] = {}
    cur = db.conn.execute(f"select * from ({order_finance_select(keys_json=True)}) order by order_key, currency",
                          [json.dumps(list(order_keys))])
    names = [d[0] for d in cur.description]
    for row in cur:
        r = dict(zip(names, row))
        t = {"currency": r["currency"]}
        for c in CATEGORIES:
            t[c] = e4_text(r[f"{c}_e4"] or 0, scale)
        t["net"] = e4_text(r["net_e4"] or 0, scale)
        t["fee_pct"] = fee_pct(r["revenue_e4"] or 0, r["marketplace_fee_e4"] or 0)
        t["payouts"] = r["payouts"]
        t["first_posted"], t["last_posted"] = r["first_posted"], r["last_posted"]
        for old, new in OLD_NAMES.items():
            t[old] = t[new]
        out.setdefault(r["order_key"], []).append(t)
    return out


def details(db, order_key: str) -> dict:
    """Fees per subtype and what each payout moved for one order."""
    return details_many(db, [order_key]).get(order_key) or {"fees": [], "payouts": []}


def details_many(db, order_keys: list[str]) -> dict[str, dict]:
    """:func:`details` for many orders, three queries in all (not three per order: a caller
    asking for a whole window's orders, such as the brands' weekly job, asks for ~100,000)."""
    out: dict[str, dict] = {}
    if not order_keys:
        return out
    scale = _scale(db)
    keys = json.dumps(list(order_keys))
    for k, c, s, cur, v, n in db.conn.execute(
            "select r.order_key, l.category, l.subtype, l.currency, sum(l.amount_e4), count(*) from json_each(?) j "
            "join payout_refs r on r.order_key = j.value join payout_lines l on l.pid = r.pid and l.ref_no = r.ref_no "
            "where l.informational = 0 and l.superseded = 0 and l.category in ('marketplace_fee', 'shipping_label') "
            "group by r.order_key, l.category, l.subtype, l.currency order by r.order_key, l.category, l.subtype", [keys]):
        out.setdefault(k, {"fees": [], "payouts": []})["fees"].append(
            {"category": c, "subtype": s, "currency": cur, "amount": e4_text(v or 0, scale), "lines": n})
    cur = db.conn.execute(
        "select r.order_key, r.pid, r.ref_no, p.payout_key, p.payout_id, p.channel_type, p.source, p.status, p.paid_at, "
        "p.period_end, r.order_ref, r.match, l.currency, " + ", ".join(
            f"sum(case when l.category = '{c}' then l.amount_e4 else 0 end) as {c}_e4" for c in CATEGORIES)
        + ", sum(case when l.category not in ('payout', 'transfer') then l.amount_e4 else 0 end) as net_e4 "
        "from json_each(?) j join payout_refs r on r.order_key = j.value join payouts p on p.pid = r.pid "
        "join payout_lines l on l.pid = r.pid and l.ref_no = r.ref_no where l.informational = 0 and l.superseded = 0 "
        "group by r.order_key, r.pid, r.ref_no, l.currency "
        "order by r.order_key, coalesce(p.paid_at, p.period_end), p.payout_id", [keys])
    names = [d[0] for d in cur.description]
    at = {}
    for row in cur:
        r = dict(zip(names, row))
        item = {k: r[k] for k in ("payout_key", "payout_id", "channel_type", "source", "status", "paid_at",
                                  "order_ref", "match", "currency")}
        for c in CATEGORIES:
            item[c] = e4_text(r[f"{c}_e4"] or 0, scale)
        item["net"] = e4_text(r["net_e4"] or 0, scale)
        item["fees"] = []
        out.setdefault(r["order_key"], {"fees": [], "payouts": []})["payouts"].append(item)
        at[(r["order_key"], r["pid"], r["ref_no"], r["currency"])] = item
    # the same per-subtype split for each payout: a statement that counts a payout in the month
    # it was paid needs the fee types of that payout, not of the order's whole life
    for k, pid, ref_no, c, s, cur_, v in db.conn.execute(
            "select r.order_key, r.pid, r.ref_no, l.category, l.subtype, l.currency, sum(l.amount_e4) from json_each(?) j "
            "join payout_refs r on r.order_key = j.value join payout_lines l on l.pid = r.pid and l.ref_no = r.ref_no "
            "where l.informational = 0 and l.superseded = 0 and l.category in ('marketplace_fee', 'shipping_label') "
            "group by r.order_key, r.pid, r.ref_no, l.currency, l.category, l.subtype "
            "order by r.order_key, l.category, l.subtype", [keys]):
        item = at.get((k, pid, ref_no, cur_))
        if item is not None:
            item["fees"].append({"category": c, "subtype": s, "amount": e4_text(v or 0, scale)})
    return out


def unmatched(db, ref: str) -> list[dict]:
    """Payout money for a reference no stored order has (yet)."""
    if "payout_refs" not in db.table_names():
        return []
    scale = _scale(db)
    out = []
    for payout_key, payout_id, cur, net in db.conn.execute(
            "select p.payout_key, p.payout_id, l.currency, sum(case when l.category not in ('payout', 'transfer') "
            "then l.amount_e4 else 0 end) from payout_refs r join payouts p on p.pid = r.pid join payout_lines l on "
            "l.pid = r.pid and l.ref_no = r.ref_no where r.order_key is null and (r.order_ref = ? or "
            "r.merchant_ref = ?) and l.informational = 0 and l.superseded = 0 group by r.pid, r.ref_no, l.currency "
            "order by p.payout_id", [ref, ref]):
        out.append({"payout_key": payout_key, "payout_id": payout_id, "order_ref": ref, "currency": cur,
                    "net": e4_text(net or 0, scale)})
    return out


def order_finance(db, order_keys, refs=()) -> dict:
    """The ``order_finance`` hook's answer: ``{order_key: {"totals", "fees", "payouts"}}`` for
    keys with money, plus ``"unmatched": {ref: [...]}`` for ``refs`` with waiting money."""
    keys = list(dict.fromkeys(order_keys or ()))
    found = totals(db, keys)
    more = details_many(db, [k for k in keys if k in found])
    out: dict = {}
    for k in keys:
        if k in found:
            out[k] = {"totals": found[k], **(more.get(k) or {"fees": [], "payouts": []})}
    waiting = {r: unmatched(db, r) for r in refs or ()}
    waiting = {r: v for r, v in waiting.items() if v}
    if waiting:
        out["unmatched"] = waiting
    return out
