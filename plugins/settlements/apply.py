"""Store writes of the settlements plugin: a payout in, a payout out (``forget``), the paid-items
ledger, breakdowns and the net-of-fees splits. The caller holds the transaction (the inbox
file's, or a command's) and decides duplicates before anything here runs.

Writes go by columns (``executemany`` over zipped lists; a column whose value is the same for
every row is written as an SQL literal or left to its default): binding fewer parameters per
row halves the time of the 600,000-line insert of a large Amazon settlement.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from itertools import chain

import numpy as np

from marketd.sdk.settlements import CATEGORIES, e4_text, to_e4

from .frame import Frame
from .schema import MONEY

BATCH_ROWS = 1000
# CROSS JOIN keeps the references (json_each) the outer loop, one primary-key probe each. With a
# plain JOIN SQLite may put payout_paid_items outside (its key starts with channel_type, which
# the query fixes) and scan the whole JSON array for every stored item: quadratic, so the later
# payouts of a multi-payout file (an eBay Transaction report of 200,000 rows) took minutes each.
PAID_BEFORE_SQL = (
    "select i.order_ref, i.item, p.payout_id, p.payout_key from json_each(?) j cross join payout_paid_items i "
    "on i.channel_type = ? and i.order_ref = j.value join payouts p on p.pid = i.pid "
    "where p.payout_key != ? order by i.order_ref, i.item, p.payout_id")


def _literal(value) -> str | None:
    """An SQL literal for a constant column, or None when it must be bound (odd text)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str) and value.isprintable() and len(value) < 200:
        return "'" + value.replace("'", "''") + "'"
    return None


def _insert_columns(conn, table: str, n: int, columns: list[tuple[str, object, bool]]) -> None:
    """``columns``: (name, values or the constant, is_constant). Constants become literals;
    ``None`` constants are left out (the column's default or NULL)."""
    names, exprs, bound = [], [], []
    for name, value, constant in columns:
        if constant:
            if value is None:
                continue
            lit = _literal(value)
            if lit is not None:
                names.append(name)
                exprs.append(lit)
                continue
            value = [value] * n
        names.append(name)
        exprs.append("?")
        bound.append(value)
    head = f"insert into {table} ({', '.join(names)}) values "
    row = f"({', '.join(exprs)})"
    if not n:
        return
    if not bound:
        conn.executemany(head + row, ([] for _ in range(n)))
        return
    bound = [c if isinstance(c, (list, tuple)) else list(c) for c in bound]
    # Many rows per statement: one execution of a statement of BATCH_ROWS rows costs SQLite and
    # the sqlite3 module a third less per row than executemany's execution per row (600,000
    # lines of a large Amazon settlement: ~0.6 s), within SQLite's limit on bound parameters.
    per = max(1, min(BATCH_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(bound)))
    full = n - n % per
    if full:
        sql = head + ", ".join([row] * per)
        for lo in range(0, full, per):
            conn.execute(sql, list(chain.from_iterable(zip(*(c[lo:lo + per] for c in bound)))))
    if full < n:
        conn.executemany(head + row, zip(*(c[full:] for c in bound)))


def _maybe_constant(values: list) -> tuple[object, bool]:
    """(the one value, True) when every value is the same, else (values, False)."""
    if not values:
        return None, True
    first = values[0]
    if all(v == first for v in values) if len(values) < 64 else _all_equal(values, first):
        return first, True
    return values, False


def _all_equal(values: list, first) -> bool:
    if first is None:
        return values.count(None) == len(values)  # C speed: posted times are mostly None per line
    arr = np.asarray(values, dtype=object)
    return bool((arr == first).all())


def insert_payout(db, frame: Frame, *, status: str, stated_e4: int | None, difference_e4: int | None,
                  file: dict, now: datetime) -> int:
    p = frame.payout
    totals = frame.totals_e4()
    net = frame.net_e4()
    computed = frame.computed_e4()
    counts = frame.counts()
    money = {"stated_total": stated_e4, "computed_total": computed, "difference": difference_e4, **totals, "net": net}
    firsts = [x for x in frame.ref_first if x]
    lasts = [x for x in frame.ref_last if x]
    row = {
        "payout_key": p.key(), "business_key": p.bkey(), "channel_type": p.channel_type, "channel": p.channel,
        "match_channels": ",".join(p.match_channels) if p.match_channels else None,
        "match_merchant_refs": int(bool(p.match_merchant_refs)), "payout_id": p.payout_id, "kind": p.kind,
        "source": p.source, "status": status, "check_rule": p.check_rule, "check_detail": p.check_detail,
        "currency": p.currency, "period_start": _iso(p.period_start), "period_end": _iso(p.period_end),
        "paid_at": _iso(p.paid_at), "scale": p.scale, "posted_min": min(firsts) if firsts else None,
        "posted_max": max(lasts) if lasts else None, "meta": json.dumps(p.meta, default=str),
        "warnings": json.dumps(p.warnings), "file_id": file.get("file_id"), "file_name": file.get("name"),
        "file_sha256": file.get("sha256"), "ingested_at": now.isoformat(), **counts,
    }
    for name in MONEY:
        v = money[name]
        row[name] = None if v is None else e4_text(v, p.scale)
        row[f"{name}_e4"] = v
    names = list(row)
    cur = db.conn.execute(f"insert into payouts ({', '.join(names)}) values ({','.join('?' * len(names))})",
                          [row[k] for k in names])
    return int(cur.lastrowid)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def insert_refs(db, pid: int, frame: Frame) -> None:
    R = len(frame.refs)
    alt = [json.dumps(list(a)) if a else None for a in frame.alt_refs]
    cols = [("pid", pid, True), ("ref_no", list(range(R)), False), ("order_ref", frame.refs, False)]
    for name, values in (("merchant_ref", frame.merchant_refs), ("alt_refs", alt), ("marketplace", frame.marketplaces),
                         ("order_key", frame.order_keys), ("channel", frame.channels), ("match", frame.match),
                         ("posted_first", frame.ref_first), ("posted_last", frame.ref_last)):
        value, constant = _maybe_constant(values)
        cols.append((name, value, constant))
    cols.append(("rows", frame.ref_rows.tolist(), False))
    _insert_columns(db.conn, "payout_refs", R, cols)


def insert_lines(db, pid: int, frame: Frame) -> None:
    n = len(frame.amount_e4)
    ref_no = frame.ref_no
    cols = [("pid", pid, True), ("ref_no", ref_no.tolist(), False), ("line_no", list(range(n)), False)]
    for name, values in (("category", frame.categories), ("subtype", frame.subtypes),
                         ("description", frame.descriptions), ("currency", frame.currencies), ("sku", frame.skus)):
        if name in frame.constant:
            cols.append((name, frame.constant[name], True))
        else:
            value, constant = _maybe_constant(values)
            cols.append((name, value, constant))
    cols.append(("amount_e4", frame.amount_e4.tolist(), False))
    for name, flags in (("informational", frame.informational), ("derived", frame.derived)):
        if flags.any():
            cols.append((name, flags.astype(int).tolist(), False))
    cols.append(("rows", frame.rows.tolist(), False) if not (frame.rows == 1).all() else ("rows", 1, True))
    # a line posted when its reference was (the common case) stores NULL: the reference has it
    for name in ("posted_first", "posted_last"):
        value, constant = _maybe_constant(getattr(frame, name))
        cols.append((name, value, constant))
    _insert_columns(db.conn, "payout_lines", n, cols)


def insert_paid_items(db, pid: int, channel_type: str, items) -> None:
    if items:
        db.conn.execute("insert or ignore into payout_paid_items (channel_type, order_ref, item, pid) "
                        "select ?, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ? from json_each(?) j",
                        [channel_type, pid, json.dumps(items if isinstance(items, list) else list(items))])


def record_aliases(db, frame: Frame) -> None:
    """A reference matched through the merchant's own reference names the order by another id
    (Amazon's ``S01-…`` MCF id for the shop order): remembered, so ``orders show S01-…`` and the
    next payout find the order by it."""
    pairs = [(frame.refs[i], frame.order_keys[i], "payout_ref") for i, m in enumerate(frame.match)
             if m == "merchant_order_id" and frame.refs[i] and frame.order_keys[i]]
    if pairs:
        db.conn.executemany("insert or ignore into order_aliases (alias, order_key, kind) values (?, ?, ?)", pairs)


def paid_before(conn, channel_type: str, payout_key: str, items) -> list[dict]:
    """The (reference, item) pairs of ``items`` another payout paid already: one probe per
    reference, skipped when no payout has paid items stored (a first payout)."""
    if not items:
        return []
    has = conn.execute("select 1 from sqlite_master where type = 'table' and name = 'payout_paid_items'").fetchone()
    if has is None or conn.execute("select 1 from payout_paid_items limit 1").fetchone() is None:
        return []
    wanted = set(map(tuple, items))
    refs = list(dict.fromkeys(r for r, _ in items))
    out = []
    for ref, item, other_id, other_key in conn.execute(PAID_BEFORE_SQL, [json.dumps(refs), channel_type, payout_key]):
        if (ref, item) in wanted:
            out.append({"order_ref": ref, "item": item, "other_payout": other_id, "other_key": other_key})
    return out


def forget(db, pid: int) -> int:
    """Remove a payout, its references, lines and paid items; returns how many stored orders it
    had money for. The business key is the caller's (``settlements forget`` removes it too)."""
    conn = db.conn
    n = conn.execute("select count(distinct order_key) from payout_refs where pid = ?", [pid]).fetchone()[0]
    for table in ("payout_lines", "payout_refs", "payout_paid_items"):
        conn.execute(f"delete from {table} where pid = ?", [pid])
    conn.execute("delete from payouts where pid = ?", [pid])
    return n


# -- breakdowns and net-of-fees splits -----------------------------------------------------------------
def upsert_breakdowns(db, breakdowns, file: dict, now: datetime) -> int:
    rows = []
    for b in breakdowns:
        rows.append((b.channel_type, b.channel or "", b.order_ref, b.kind, b.source_key or "",
                     *_pair(b.gross), *_pair(b.fee), *_pair(b.tax), *_pair(b.net), b.fee_subtype, b.currency,
                     file.get("file_id"), file.get("name"), now.isoformat()))
    if rows:
        db.conn.executemany(
            "insert or replace into order_breakdowns (channel_type, channel, order_ref, kind, source_key, gross, "
            "gross_e4, fee, fee_e4, tax, tax_e4, net, net_e4, fee_subtype, currency, file_id, file_name, recorded_at) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    return len(rows)


def _pair(value) -> tuple:
    return (None, None) if value is None else (format(value, "f"), to_e4(value))


NET_OF_FEES = "net_of_fees"


def split_net_lines(db, *, pids=None, order_refs=None) -> tuple[int, list[str]]:
    """Replace ``revenue/net_of_fees`` lines by ``revenue = gross`` and ``marketplace_fee = net -
    gross`` (``derived``) where an ORDER breakdown of the same order says so *exactly* (its net
    equals the line and gross + fee equals it); the original line is kept, ``superseded``.
    Returns (lines split, warnings for breakdowns that do not add up)."""
    conn = db.conn
    where, params = ["l.category = 'revenue'", "l.subtype = ?", "l.superseded = 0", "l.derived = 0"], [NET_OF_FEES]
    if pids:
        where.append(f"l.pid in ({','.join('?' * len(pids))})")
        params += list(pids)
    if order_refs:
        where.append("r.order_ref in (select value from json_each(?))")
        params.append(json.dumps(list(order_refs)))
    rows = list(conn.execute(
        "select l.pid, l.ref_no, l.line_no, l.amount_e4, l.currency, r.order_ref, p.channel_type, p.channel, p.scale, "
        "b.gross_e4, b.fee_e4, b.net_e4, b.fee_subtype from payout_lines l join payout_refs r on r.pid = l.pid and "
        "r.ref_no = l.ref_no join payouts p on p.pid = l.pid join order_breakdowns b on b.channel_type = p.channel_type "
        "and b.order_ref = r.order_ref and b.kind = 'ORDER' and (b.channel = '' or b.channel = coalesce(p.channel, '')) "
        f"and b.currency = l.currency where {' and '.join(where)} order by l.pid, l.ref_no, l.line_no", params))
    split, warnings, seen = 0, [], set()
    for pid, ref_no, line_no, amount, cur, ref, _ct, _ch, scale, gross, fee, net, subtype in rows:
        if (pid, ref_no, line_no) in seen:
            continue  # two breakdowns for one line: the first that fits wins
        if net != amount or gross is None or fee is None or gross + fee != amount:
            warnings.append(f"order {ref}: the breakdown (gross {e4_text(gross or 0, scale)}, fee "
                            f"{e4_text(fee or 0, scale)}, net {e4_text(net or 0, scale)}) does not add up to the payout "
                            f"line {e4_text(amount, scale)} {cur}: the line stays net of fees")
            continue
        seen.add((pid, ref_no, line_no))
        top = conn.execute("select max(line_no) from payout_lines where pid = ? and ref_no = ?",
                           [pid, ref_no]).fetchone()[0]
        conn.execute("update payout_lines set superseded = 1 where pid = ? and ref_no = ? and line_no = ?",
                     [pid, ref_no, line_no])
        base = conn.execute("select rows, posted_first, posted_last, sku from payout_lines where pid = ? and "
                            "ref_no = ? and line_no = ?", [pid, ref_no, line_no]).fetchone()
        for k, (category, sub, value) in enumerate((("revenue", None, gross),
                                                    ("marketplace_fee", subtype or "commission", fee)), start=1):
            conn.execute("insert into payout_lines (pid, ref_no, line_no, category, subtype, description, currency, "
                         "amount_e4, derived, rows, posted_first, posted_last, sku) values (?,?,?,?,?,?,?,?,1,?,?,?,?)",
                         [pid, ref_no, top + k, category, sub, "split of a net-of-fees line by the order's breakdown",
                          cur, value, *base])
        split += 1
    for pid in sorted({r[0] for r in rows}):
        refresh_totals(conn, pid)
    return split, warnings


def refresh_totals(conn, pid: int) -> None:
    """Recompute a payout's category totals from its lines (after a split moved money between
    categories; the payout's net and check do not change)."""
    scale = conn.execute("select scale from payouts where pid = ?", [pid]).fetchone()[0] or 2
    sums = dict(conn.execute("select category, sum(amount_e4) from payout_lines where pid = ? and informational = 0 "
                             "and superseded = 0 group by category", [pid]).fetchall())
    sets, params = [], []
    for c in CATEGORIES:
        v = int(sums.get(c) or 0)
        sets += [f"{c} = ?", f"{c}_e4 = ?"]
        params += [e4_text(v, scale), v]
    conn.execute(f"update payouts set {', '.join(sets)} where pid = ?", [*params, pid])
