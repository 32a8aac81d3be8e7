"""What each remote is doing, from the ledger alone (works whether the daemon runs or not)."""
from __future__ import annotations

from .ledger import PUSH_OPEN, Ledger
from .settings import remotes_of


def overview(app) -> list[dict]:
    remotes = remotes_of(app)
    if not remotes:
        return []
    ledger = Ledger.of(app)
    out = []
    for name, remote in remotes.items():
        st = ledger.state(name)
        open_marks = ",".join("?" * len(PUSH_OPEN))
        pushes = ledger.one(
            f"select sum(state in ({open_marks})) pending, sum(state in ({open_marks}) and last_error is not null) "
            "failing, sum(state = 'done') delivered, max(done_at) last_delivered from pushes where remote = ?",
            (*PUSH_OPEN, *PUSH_OPEN, name)) or {}
        pulls = ledger.one(
            "select sum(state in ('landed', 'done')) pulled, max(landed_at) last_pulled, "
            "sum(state in ('downloading', 'fetched') and last_error is not null) failing, "
            "sum(state = 'landed') unarchived, sum(state = 'fetched') blocked from pulls where remote = ?",
            (name,)) or {}
        problems = ledger.query(
            "select 'push' what, local_path item, last_error, attempts, next_attempt_at from pushes "
            f"where remote = ? and state in ({open_marks}) and last_error is not null "
            "union all select 'pull', path, last_error, attempts, next_attempt_at from pulls "
            "where remote = ? and state in ('downloading', 'fetched', 'landed') and last_error is not null "
            "order by next_attempt_at limit 20", (name, *PUSH_OPEN, name))
        out.append({
            "remote": name, "address": remote.address, "enabled": remote.enabled,
            "last_ok": st.get("last_ok_at"), "last_run": st.get("last_run_at"),
            "last_error": st.get("last_error") if st.get("failures") else None,
            "last_error_at": st.get("last_error_at"), "next_try": st.get("next_connect_at"),
            "push_pending": pushes.get("pending") or 0, "push_failing": pushes.get("failing") or 0,
            "pushed": pushes.get("delivered") or 0, "last_pushed": pushes.get("last_delivered"),
            "pulled": pulls.get("pulled") or 0, "last_pulled": pulls.get("last_pulled"),
            "pull_failing": pulls.get("failing") or 0, "unarchived": pulls.get("unarchived") or 0,
            "waiting_for_inbox": pulls.get("blocked") or 0,
            "mappings": [{"pull": p.key, **{k: v for k, v in ledger.pull_run(name, p.key).items()
                                            if k in ("last_run_at", "last_ok_at")}} for p in remote.pull]
                        + [{"push": p.key} for p in remote.push],
            "problems": problems,
        })
    return out


def lines(app) -> list[str]:
    """One line per remote for ``marketd status``, plus one per failing file (at most 5)."""
    out = []
    for r in overview(app):
        head = f"{r['remote']} ({r['address']}{'' if r['enabled'] else ', disabled'}): last ok {r['last_ok'] or '-'}"
        if r["last_error"]:
            head += f", FAILING since {r['last_error_at']}: {r['last_error']} (next try {r['next_try'] or 'now'})"
        out.append(head)
        out.append(f"  push: {r['push_pending']} pending ({r['push_failing']} failed, retrying), {r['pushed']} delivered,"
                   f" last {r['last_pushed'] or '-'}")
        out.append(f"  pull: {r['pulled']} pulled, last {r['last_pulled'] or '-'}; {r['pull_failing']} failed, "
                   f"{r['unarchived']} in the inbox but not yet archived on the remote"
                   + (f", {r['waiting_for_inbox']} waiting for their inbox name" if r["waiting_for_inbox"] else ""))
        for p in r["problems"][:5]:
            out.append(f"  {p['what']} {p['item']}: {p['last_error']} (attempt {p['attempts']}, next {p['next_attempt_at']})")
    return out
