"""Moving a store built by the Amazon plugin's settlement tables (before the settlements plugin)
into the unified ones; runs once, inside migration ``settlements:1``, only when those tables
exist.

- every ``settlements`` row → a ``payouts`` row (``amazon:<id>``, source ``amazon-flat-<layout>``,
  status ``ok``/``inconsistent``, totals mapped ``fees→marketplace_fee``,
  ``promotions→promotion``, ``refunds→refund``, the rest 1:1);
- every ``settlement_orders`` row → a ``payout_refs`` row and one ``payout_lines`` row per
  non-zero category (subtype NULL, description ``migrated``);
- the account-level money the old per-order table left out (rows without an order-id) → one
  reference without order per settlement, with per category the exact difference between the
  settlement's total and the sum of its orders;
- ``settlement_paid_lines`` → ``payout_paid_items``; MCF matches → ``order_aliases``.

The old tables are renamed ``_legacy_amazon_settlements``, ``_legacy_amazon_settlement_orders``
and ``_legacy_amazon_settlement_paid_lines`` (kept one release for a person to compare; they
are dropped in the next). Business keys are untouched, so dropping an old file again is still a
duplicate.
"""
from __future__ import annotations

import json
from decimal import Decimal

from marketd.sdk.settlements import CATEGORIES, e4_text, to_e4

from .schema import MONEY

OLD_TO_NEW = {"revenue": "revenue", "fees": "marketplace_fee", "promotions": "promotion",
              "withheld_tax": "withheld_tax", "refunds": "refund", "other": "other", "unclassified": "unclassified"}
RENAMES = {"settlements": "_legacy_amazon_settlements", "settlement_orders": "_legacy_amazon_settlement_orders",
           "settlement_paid_lines": "_legacy_amazon_settlement_paid_lines"}


def _d(text) -> Decimal:
    return Decimal(text) if text not in (None, "") else Decimal(0)


def _scale(*texts) -> int:
    scale = 2
    for t in texts:
        if t and "." in str(t):
            scale = max(scale, len(str(t).split(".", 1)[1]))
    return min(scale, 4)


def migrate_amazon_settlements(db) -> int:
    """Returns how many settlements were moved (0 when the store has none)."""
    tables = set(db.table_names())
    if "settlements" not in tables or "settlement_orders" not in tables:
        return 0
    conn = db.conn
    old_cols = [r[1] for r in conn.execute("pragma table_info(settlements)")]
    moved = 0
    for row in conn.execute("select * from settlements order by settlement_id").fetchall():
        s = dict(zip(old_cols, row))
        moved += 1
        _move(conn, s, "settlement_paid_lines" in tables)
    for old, new in RENAMES.items():
        if old in tables:
            conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
    return moved


def _move(conn, s: dict, has_paid: bool) -> None:
    sid = s["settlement_id"]
    scale = _scale(s.get("total_amount"), s.get("computed_total"))
    orders = [dict(zip([d[0] for d in cur.description], r)) for cur in
              [conn.execute("select * from settlement_orders where settlement_id = ? order by order_ref", [sid])]
              for r in cur.fetchall()]
    totals = {new: to_e4(_d(s.get(old))) for old, new in OLD_TO_NEW.items()}
    money = {c: totals.get(c, 0) for c in CATEGORIES}
    stated, computed = to_e4(_d(s.get("total_amount"))), to_e4(_d(s.get("computed_total")))
    values = {"stated_total": stated, "computed_total": computed, "difference": computed - stated, **money,
              "net": sum(v for c, v in money.items() if c not in ("payout", "transfer"))}
    channel = s.get("channel") or None
    meta = {k: s.get(k) for k in ("layout", "columns", "encoding", "decimal_sep", "rows", "amount_rows")}
    try:
        meta["date_formats"] = json.loads(s.get("date_formats") or "{}")
    except ValueError:
        pass
    meta["migrated_from"] = "amazon_settlements"
    firsts = [o["posted_first"] for o in orders if o.get("posted_first")]
    lasts = [o["posted_last"] for o in orders if o.get("posted_last")]
    row = {
        "payout_key": f"amazon:{sid}", "business_key": f"amazon-settlement:{sid}", "channel_type": "amazon",
        "channel": channel if channel and "," not in channel else None, "match_channels": channel,
        "match_merchant_refs": 1, "payout_id": sid, "kind": "settlement",
        "source": f"amazon-flat-{s.get('layout') or 'v2'}",
        "status": "ok" if s.get("status") == "ok" else "inconsistent", "check_rule": "sum_equals_stated",
        "currency": s.get("currency"), "period_start": s.get("start_date"), "period_end": s.get("end_date"),
        "paid_at": s.get("deposit_date"), "orders": s.get("orders"), "matched": s.get("matched"),
        "unmatched": s.get("unmatched"), "other_refs": s.get("fba_shipment_refs"),
        "no_order_rows": s.get("no_order_rows"), "unclassified_rows": s.get("unclassified_rows"), "scale": scale,
        "posted_min": min(firsts) if firsts else None, "posted_max": max(lasts) if lasts else None,
        "meta": json.dumps(meta, default=str), "warnings": s.get("warnings") or "[]", "file_id": s.get("file_id"),
        "file_name": s.get("file_name"), "file_sha256": s.get("file_sha256"), "ingested_at": s.get("ingested_at"),
    }
    for name in MONEY:
        row[name] = e4_text(values[name], scale)
        row[f"{name}_e4"] = values[name]
    names = list(row)
    pid = conn.execute(f"insert into payouts ({', '.join(names)}) values ({','.join('?' * len(names))})",
                       [row[k] for k in names]).lastrowid
    refs, lines = [], []
    residual = dict(totals)
    for ref_no, o in enumerate(orders):
        refs.append((pid, ref_no, o["order_ref"], o.get("merchant_order_id"), o.get("order_key"), o.get("channel"),
                     o.get("match") or "none", o.get("marketplace"), o.get("rows"), o.get("posted_first"),
                     o.get("posted_last")))
        for old, new in OLD_TO_NEW.items():
            v = to_e4(_d(o.get(old)))
            residual[new] -= v
            if v:
                lines.append((pid, ref_no, len(lines), new, "migrated", o.get("currency") or s.get("currency"), v,
                              None))
    if any(residual.values()) or (s.get("no_order_rows") or 0):
        ref_no = len(orders)
        refs.append((pid, ref_no, None, None, None, None, "no_order", None, s.get("no_order_rows"), None, None))
        for new, v in residual.items():
            if v:
                lines.append((pid, ref_no, len(lines), new, "migrated: account-level (no order-id)", s.get("currency"),
                              v, None))
    conn.executemany("insert into payout_refs (pid, ref_no, order_ref, merchant_ref, order_key, channel, match, "
                     "marketplace, rows, posted_first, posted_last) values (?,?,?,?,?,?,?,?,?,?,?)", refs)
    conn.executemany("insert into payout_lines (pid, ref_no, line_no, category, description, currency, "
                     "amount_e4, rows) values (?,?,?,?,?,?,?,?)", lines)
    conn.execute("update payouts set lines = ? where pid = ?", [len(lines), pid])
    if has_paid:
        conn.execute("insert or ignore into payout_paid_items (channel_type, order_ref, item, pid) "
                     "select 'amazon', order_ref, sku, ? from settlement_paid_lines where settlement_id = ?", [pid, sid])
    conn.execute("insert or ignore into order_aliases (alias, order_key, kind) select order_ref, order_key, "
                 "'payout_ref' from settlement_orders where settlement_id = ? and match = 'merchant_order_id' "
                 "and order_key is not null", [sid])
