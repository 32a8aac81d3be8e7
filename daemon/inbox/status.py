"""What ``marketd status`` says about the inboxes: plain data, JSON-ready (no JSON inside text).

- **waiting**: every dropped file not taken yet, with why (the running daemon's gate reasons,
  :mod:`.waiting`); without a running daemon, "examined when marketd starts";
- **in progress** and **retrying** (attempt, next attempt time, last error) from the journal;
- **last processed**, each with an ``outcome``: ``done``, ``done_some_rejected`` or
  ``done_all_rejected`` from the handler's summary (:func:`.publish.line_counts`), ``duplicate``,
  ``error`` with its reason.

The door: :func:`inbox_status`.
"""
from __future__ import annotations

import json
import os

from .engine import InboxEngine
from .publish import line_counts, outcome


def _loads(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def inbox_status(app, daemon_running: bool, last: int = 5) -> dict:
    engine = InboxEngine(app)
    store = app.store
    reasons = engine.waiting_note.read() if daemon_running else None
    known = {(w["kind"], w["name"]): w for w in reasons or []}
    waiting = []
    for kind, inbox in engine.inboxes.items():
        try:
            names = sorted(e.name for e in os.scandir(inbox.dir)
                           if e.is_file(follow_symlinks=False) and not inbox.is_temp_name(e.name))
        except OSError:
            names = []
        for name in names:
            w = known.get((kind, name))
            if w is None:
                w = {"reason": "not_seen" if daemon_running else "daemon_stopped",
                     "text": "not looked at yet (it is taken at the next pass)" if daemon_running
                     else "marketd is not running: examined when it starts", "until": None}
            waiting.append({"kind": kind, "name": name, **{k: w[k] for k in ("reason", "text", "until")}})
    in_progress = [{"kind": r["kind"], "name": r["name"], "id": r["id"], "state": r["state"]}
                   for r in store.journal_in_states(["claimed", "processed", "published"])]
    retrying = []
    for r in store.journal_in_states(["retry_wait"]):
        err = _loads(r["error"]) or {}
        retrying.append({"kind": r["kind"], "name": r["name"], "id": r["id"], "attempts": r["attempts"],
                         "max_attempts": int(engine.inboxes[r["kind"]].settings["max_attempts"])
                         if r["kind"] in engine.inboxes else None,
                         "next_attempt_at": r["next_attempt_at"],
                         "last_error": err.get("message") if isinstance(err, dict) else err})
    last_rows = []
    for r in store.db.query(
            "select id, kind, name, state, finished_at, error, summary from files where finished_at is not null "
            "order by finished_at desc limit ?", [last]):
        summary = _loads(r["summary"])
        error = _loads(r["error"])
        row = {"id": r["id"], "kind": r["kind"], "name": r["name"], "state": r["state"],
               "outcome": outcome(r["state"], summary), "finished_at": r["finished_at"]}
        counts = line_counts(summary) if r["state"] == "done" else None
        if counts:
            row["rejected_lines"], row["lines"] = counts
        if r["state"] == "error" and isinstance(error, dict):
            row["reason"] = error.get("reason")
            row["message"] = error.get("message")
        last_rows.append(row)
    counts_by_kind = {}
    for w in waiting:
        counts_by_kind[w["kind"]] = counts_by_kind.get(w["kind"], 0) + 1
    return {
        "waiting": {kind: counts_by_kind.get(kind, 0) for kind in engine.inboxes},
        "waiting_files": waiting,
        "in_progress": in_progress,
        "retrying": retrying,
        "totals": store.counts_by_state(),
        "last_processed": last_rows,
    }
