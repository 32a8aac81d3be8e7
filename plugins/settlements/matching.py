"""Payout references to stored orders (docs/plugins/settlements.md, "Matching").

In order, stopping at the first hit, per distinct order reference of a payout:

1. ``orders.key = "<account>:<ref>"`` for each account of the payout's scope (its
   ``match_channels``; else the configured accounts of its channel type; else those found in
   the store): the orders' primary key, one query per account;
2. ``orders.order_id = ref`` among the orders of that scope (keys written otherwise, renamed
   accounts);
3. ``order_aliases.alias`` = the reference or one of its ``alt_refs`` (eBay legacy ids, MALL
   purchase ids …), among the orders of that scope;
4. only when the payout says so (``match_merchant_refs``: Amazon MCF), the reference's
   ``merchant_ref`` as ``merchant_order_id`` or ``order_id`` of an order of *any* channel (the
   seller's own shop order the marketplace fulfilled).

References that are not orders (``ref_kind``, e.g. Amazon's ``fba_shipment`` ids) and
account-level money are never matched. A reference without a stored order keeps
``order_key`` NULL (``match = 'none'``) and is attached later (:func:`rematch_pending`): when
``order_imported`` announces the order, or when the next payout is applied. Every query sends
the references as one JSON array (``json_each``): no host-parameter limit, no per-id round trip.
(``json_each(?) j cross join …``: the array stays the outer loop, one index probe per reference,
whatever else the query constrains; see ``apply.PAID_BEFORE_SQL``).
"""
from __future__ import annotations

import json

from .threads import ReadInThread, store_path


def scope(app, db, channel_type: str, match_channels) -> tuple[list[str], str, list]:
    """(accounts to try through the primary key, SQL condition on ``o`` for the other steps,
    its parameters)."""
    if match_channels:
        names = list(match_channels)
        return names, f" and o.channel in ({','.join('?' * len(names))})", names
    configured = [n for n, s in ((app.config or {}).get("channels") or {}).items()
                  if (s or {}).get("type") == channel_type] if app is not None else []
    names = list(configured)
    if not names and "orders" in db.table_names():
        names = [r[0] for r in db.conn.execute("select distinct channel from orders where channel_type = ?",
                                               [channel_type])]
    return names, " and o.channel_type = ?", [channel_type]


def find_by_key(conn, refs: list[str], names: list[str]) -> dict[str, str]:
    """{ref: account} for the references stored as ``<account>:<ref>``, the first account in
    ``names`` order winning; one query per account returning one JSON text."""
    found: dict[str, str] = {}
    todo = list(refs)
    for name in names:
        if not todo:
            break
        (text,) = conn.execute(
            "select json_group_array(j.value) from json_each(?) j "
            "where exists (select 1 from orders o where o.key = ? || j.value)",
            [json.dumps(todo), f"{name}:"]).fetchone()
        hits = json.loads(text)
        for ref in hits:
            found[ref] = name
        if hits:
            todo = [r for r in todo if r not in found]
    return found


class KeyLookup(ReadInThread):
    """:func:`find_by_key` in a thread while the format adds up amounts (a payout never writes
    orders, so the committed orders are all there is)."""

    def __init__(self, db, refs: list[str], names: list[str]):
        self.refs, self.names = list(refs), list(names)
        wanted = bool(self.refs and self.names and "orders" in db.table_names())
        super().__init__(store_path(db) if wanted else None, lambda conn: find_by_key(conn, self.refs, self.names),
                         "settlement-match", fallback=db.conn if wanted else None)

    def join(self) -> dict[str, str]:
        return super().join() or {}


def match_frame(db, frame, names: list[str], cond: str, cparams: list, by_key: dict | None = None) -> None:
    """Fill ``frame.order_keys``/``channels``/``match`` (and ``ambiguous``) from the store."""
    R = len(frame.refs)
    keys: list = [None] * R
    chans: list = [None] * R
    match = ["none" if k is None else k for k in frame.ref_kinds]
    frame.order_keys, frame.channels, frame.match, frame.ambiguous = keys, chans, match, 0
    frame._counts = None  # the counts depend on the matches
    if "orders" not in db.table_names():
        return
    index = {r: i for i, r in enumerate(frame.refs) if frame.ref_kinds[i] is None}
    if not index:
        return
    conn = db.conn
    if by_key is None:
        by_key = find_by_key(conn, list(index), names)
    for ref, name in by_key.items():
        i = index.get(ref)
        if i is not None:
            keys[i], chans[i], match[i] = f"{name}:{ref}", name, "order_id"
    multi: set = set()

    def take(rows, how: str, by_ref: dict[str, list[int]]) -> set:
        found = set()
        for value, key, chan in rows:
            for i in by_ref.get(value, ()):
                if keys[i] is None:
                    keys[i], chans[i], match[i] = key, chan, how
                elif keys[i] != key and match[i] == how:
                    multi.add(frame.refs[i])
            found.add(value)
        return found

    todo = {r: [i] for r, i in index.items() if keys[i] is None}
    if todo:
        take(conn.execute("select j.value, o.key, o.channel from json_each(?) j cross join orders o on o.order_id = j.value"
                          f" where 1{cond} order by j.value, o.key", [json.dumps(sorted(todo)), *cparams]),
             "order_id", todo)
    aliases: dict[str, list[int]] = {}
    for r, i in index.items():
        if keys[i] is None:
            for a in (r, *frame.alt_refs[i]):
                aliases.setdefault(a, []).append(i)
    if aliases and "order_aliases" in db.table_names():
        take(conn.execute("select j.value, o.key, o.channel from json_each(?) j cross join order_aliases a on a.alias = "
                          f"j.value join orders o on o.key = a.order_key where 1{cond} order by j.value, o.key",
                          [json.dumps(sorted(aliases)), *cparams]), "alias", aliases)
    if frame.payout.match_merchant_refs:
        pending: dict[str, list[int]] = {}
        for r, i in index.items():
            if keys[i] is None and frame.merchant_refs[i]:
                pending.setdefault(frame.merchant_refs[i], []).append(i)
        for column in ("merchant_order_id", "order_id"):
            if not pending:
                break
            found = take(conn.execute(f"select j.value, o.key, o.channel from json_each(?) j cross join orders o on "
                                      f"o.{column} = j.value order by j.value, o.key", [json.dumps(sorted(pending))]),
                         "merchant_order_id", pending)
            pending = {m: v for m, v in pending.items() if m not in found}
    frame.ambiguous = len(multi)


PENDING = "r.order_key is null and r.match = 'none'"
SCOPE = ("o.channel_type = p.channel_type and (coalesce(p.match_channels, '') = '' or "
         "instr(',' || p.match_channels || ',', ',' || o.channel || ',') > 0)")


def rematch_pending(db, *, order_refs: list[str] | None = None, merchant_refs: list[str] | None = None,
                    exclude_pids=(), keys_out: set | None = None) -> int:
    """Attach references of earlier payouts that had no stored order to orders that arrived since
    (steps 2–4 above, within each payout's scope). ``order_refs`` narrows to those references
    (and skips step 4), ``merchant_refs`` to step 4 for those merchant references (the
    ``order_imported`` event calls once with each); ``exclude_pids`` skips payouts whose
    lookups just ran.
    Returns how many references were attached."""
    tables = set(db.table_names())
    if "payout_refs" not in tables or "orders" not in tables:
        return 0
    conn = db.conn
    base_where, base = PENDING, []
    if exclude_pids:
        base_where += f" and r.pid not in ({','.join('?' * len(exclude_pids))})"
        base = list(exclude_pids)
    queries = []
    if merchant_refs is None:
        extra, params = "", list(base)
        if order_refs:
            extra = " and r.order_ref in (select value from json_each(?))"
            params.append(json.dumps(list(order_refs)))
        queries.append(("select r.pid, r.ref_no, o.key, o.channel, 'order_id' from payout_refs r "
                        "join payouts p on p.pid = r.pid join orders o on o.order_id = r.order_ref "
                        f"where {base_where}{extra} and {SCOPE} order by r.pid, r.ref_no, o.key", params))
        if "order_aliases" in tables:
            queries.append(("select r.pid, r.ref_no, o.key, o.channel, 'alias' from payout_refs r "
                            "join payouts p on p.pid = r.pid join order_aliases a on a.alias = r.order_ref "
                            f"join orders o on o.key = a.order_key where {base_where}{extra} and {SCOPE} "
                            "order by r.pid, r.ref_no, o.key", params))
    if order_refs is None:
        extra, params = "", list(base)
        if merchant_refs:
            extra = " and r.merchant_ref in (select value from json_each(?))"
            params.append(json.dumps(list(merchant_refs)))
        for column in ("merchant_order_id", "order_id"):
            queries.append((
                "select r.pid, r.ref_no, o.key, o.channel, 'merchant_order_id' from payout_refs r "
                f"join payouts p on p.pid = r.pid join orders o on o.{column} = r.merchant_ref where {base_where} "
                f"and p.match_merchant_refs = 1 and r.merchant_ref is not null and r.merchant_ref != ''{extra} "
                "order by r.pid, r.ref_no, o.key", params))
    done: set = set()
    keys: set = set()
    merchant_hits = []
    for sql, params in queries:
        for pid, ref_no, key, chan, how in list(conn.execute(sql, params)):
            if (pid, ref_no) in done:
                continue
            done.add((pid, ref_no))
            keys.add(key)
            conn.execute("update payout_refs set order_key = ?, channel = ?, match = ? where pid = ? and ref_no = ?",
                         [key, chan, how, pid, ref_no])
            if how == "merchant_order_id":
                merchant_hits.append((pid, ref_no, key))
    for pid, ref_no, key in merchant_hits:
        conn.execute("insert or ignore into order_aliases (alias, order_key, kind) select order_ref, ?, 'payout_ref' "
                     "from payout_refs where pid = ? and ref_no = ? and order_ref is not null", [key, pid, ref_no])
    if keys_out is not None:
        keys_out |= keys
    for pid in sorted({p for p, _ in done}):
        refresh_counts(conn, pid)
    return len(done)


def refresh_counts(conn, pid: int) -> None:
    conn.execute(
        "update payouts set unmatched = (select count(*) from payout_refs where pid = ?1 and match = 'none'), "
        "matched = (select count(*) from payout_refs where pid = ?1 and order_key is not null) where pid = ?1", [pid])
