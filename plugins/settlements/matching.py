"""Payout references to stored orders (docs/plugins/settlements.md, "Matching").

A payout belongs to one account. Its scope is the accounts it may belong to: its
``match_channels`` (the account the source or the inbox names); else the configured accounts of
its channel type; else those found in the store. In order, stopping at the first hit, per
distinct order reference of a payout:

1. ``orders.key = "<account>:<ref>"`` for each account of the scope: the orders' primary key,
   one query per account;
2. ``orders.order_id = ref`` among the orders of that scope's channel type (keys written
   otherwise, renamed accounts);
3. ``order_aliases.alias`` = the reference or one of its ``alt_refs`` (eBay legacy ids, MALL
   purchase ids …), among the orders of that scope;
4. only when the payout says so (``match_merchant_refs``: Amazon MCF), the reference's
   ``merchant_ref`` as ``merchant_order_id`` or ``order_id`` of an order of *any* channel (the
   seller's own shop order the marketplace fulfilled).

A step that finds the reference under more than one stored order (the same order id in two
accounts, and the payout does not say which is its own) picks none: the reference is
``ambiguous``, keeps ``order_key`` NULL and is reported with the candidates, because money
booked to the wrong account's order is worse than money shown as unmatched. A payout whose
account is known never sees another account's orders, so it is never ambiguous that way.

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


def find_by_key(conn, refs: list[str], names: list[str]) -> dict[str, list[str]]:
    """{ref: the accounts in ``names`` holding ``<account>:<ref>``} for the references found; one
    query per account returning one JSON text. Every account is asked about every reference:
    a second account holding the same id makes the reference ambiguous, not the first one's."""
    found: dict[str, list[str]] = {}
    if not refs:
        return found
    todo = json.dumps(list(refs))
    for name in names:
        (text,) = conn.execute(
            "select json_group_array(j.value) from json_each(?) j "
            "where exists (select 1 from orders o where o.key = ? || j.value)",
            [todo, f"{name}:"]).fetchone()
        for ref in json.loads(text):
            found.setdefault(ref, []).append(name)
    return found


class KeyLookup(ReadInThread):
    """:func:`find_by_key` in a thread while the format adds up amounts (a payout never writes
    orders, so the committed orders are all there is)."""

    def __init__(self, db, refs: list[str], names: list[str]):
        self.refs, self.names = list(refs), list(names)
        wanted = bool(self.refs and self.names and "orders" in db.table_names())
        super().__init__(store_path(db) if wanted else None, lambda conn: find_by_key(conn, self.refs, self.names),
                         "settlement-match", fallback=db.conn if wanted else None)

    def join(self) -> dict[str, list[str]]:
        return super().join() or {}


def match_frame(db, frame, names: list[str], cond: str, cparams: list, by_key: dict | None = None) -> None:
    """Fill ``frame.order_keys``/``channels``/``match`` (and ``ambiguous``: reference index ->
    the stored keys it could be) from the store."""
    R = len(frame.refs)
    keys: list = [None] * R
    chans: list = [None] * R
    match = ["none" if k is None else k for k in frame.ref_kinds]
    ambiguous: dict[int, list[str]] = {}
    frame.order_keys, frame.channels, frame.match, frame.ambiguous = keys, chans, match, ambiguous
    frame._counts = None  # the counts depend on the matches
    if "orders" not in db.table_names():
        return
    index = {r: i for i, r in enumerate(frame.refs) if frame.ref_kinds[i] is None}
    if not index:
        return
    conn = db.conn
    if by_key is None:
        by_key = find_by_key(conn, list(index), names)
    for ref, accounts in by_key.items():
        i = index.get(ref)
        if i is None:
            continue
        if len(accounts) == 1:
            keys[i], chans[i], match[i] = f"{accounts[0]}:{ref}", accounts[0], "order_id"
        else:
            ambiguous[i], match[i] = sorted(f"{a}:{ref}" for a in accounts), "ambiguous"

    def open_(i: int) -> bool:
        return keys[i] is None and i not in ambiguous

    def take(rows, how: str, by_ref: dict[str, list[int]]) -> set:
        """One step's answers: a reference with exactly one stored order is matched, one with
        several is ambiguous. Returns the values that found something."""
        found, candidates = set(), {}
        for value, key, chan in rows:
            for i in by_ref.get(value, ()):
                if open_(i):
                    candidates.setdefault(i, {})[key] = chan
            found.add(value)
        for i, hits in candidates.items():
            if len(hits) == 1:
                ((keys[i], chans[i]),) = hits.items()
                match[i] = how
            else:
                ambiguous[i], match[i] = sorted(hits), "ambiguous"
        return found

    todo = {r: [i] for r, i in index.items() if open_(i)}
    if todo:
        take(conn.execute("select j.value, o.key, o.channel from json_each(?) j cross join orders o on o.order_id = j.value"
                          f" where 1{cond} order by j.value, o.key", [json.dumps(sorted(todo)), *cparams]),
             "order_id", todo)
    aliases: dict[str, list[int]] = {}
    for r, i in index.items():
        if open_(i):
            for a in (r, *frame.alt_refs[i]):
                aliases.setdefault(a, []).append(i)
    if aliases and "order_aliases" in db.table_names():
        take(conn.execute("select j.value, o.key, o.channel from json_each(?) j cross join order_aliases a on a.alias = "
                          f"j.value join orders o on o.key = a.order_key where 1{cond} order by j.value, o.key",
                          [json.dumps(sorted(aliases)), *cparams]), "alias", aliases)
    if frame.payout.match_merchant_refs:
        pending: dict[str, list[int]] = {}
        for r, i in index.items():
            if open_(i) and frame.merchant_refs[i]:
                pending.setdefault(frame.merchant_refs[i], []).append(i)
        for column in ("merchant_order_id", "order_id"):
            if not pending:
                break
            found = take(conn.execute(f"select j.value, o.key, o.channel from json_each(?) j cross join orders o on "
                                      f"o.{column} = j.value order by j.value, o.key", [json.dumps(sorted(pending))]),
                         "merchant_order_id", pending)
            pending = {m: v for m, v in pending.items() if m not in found}


def ambiguity_warning(frame) -> str | None:
    """The payout's warning for its ambiguous references (what they could be, and the fix)."""
    if not frame.ambiguous:
        return None
    shown = [f"{frame.refs[i]} ({' or '.join(c)})" for i, c in sorted(frame.ambiguous.items())[:5]]
    more = f" and {len(frame.ambiguous) - 5} more" if len(frame.ambiguous) > 5 else ""
    return (f"{len(frame.ambiguous)} order reference(s) are stored under more than one order and the payout does not "
            f"say which account it belongs to, so none was picked (shown as unmatched, reason 'ambiguous'): "
            f"{'; '.join(shown)}{more}. Name the account ([inbox.settlements] channel = \"<account>\"), "
            f"then `marketd settlements forget {frame.payout.payout_id}` and drop the file again")


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
    A reference that finds several stored orders at once becomes ``ambiguous`` (none picked);
    one that finds a single order is attached to it, even if another account stores the same
    id later. Returns how many references were attached."""
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
    attached = 0
    merchant_hits = []
    for sql, params in queries:
        hits: dict[tuple, dict] = {}
        for pid, ref_no, key, chan, how in conn.execute(sql, params):
            if (pid, ref_no) not in done:
                hits.setdefault((pid, ref_no), {})[key] = (chan, how)
        for (pid, ref_no), found in hits.items():
            done.add((pid, ref_no))
            if len(found) > 1:  # as in match_frame: several stored orders, none is picked
                conn.execute("update payout_refs set match = 'ambiguous' where pid = ? and ref_no = ?", [pid, ref_no])
                continue
            ((key, (chan, how)),) = found.items()
            keys.add(key)
            attached += 1
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
    return attached


def refresh_counts(conn, pid: int) -> None:
    conn.execute(
        "update payouts set unmatched = (select count(*) from payout_refs where pid = ?1 and match in ('none', "
        "'ambiguous')), "
        "matched = (select count(*) from payout_refs where pid = ?1 and order_key is not null) where pid = ?1", [pid])
