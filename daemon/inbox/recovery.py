"""Recovery: bring every file a crash left mid-flight to a consistent state, before ``READY=1``.

By journal state: a file in ``.processing/`` without a row (killed between the claim rename and
the journal insert, or the insert failed) is adopted; ``processed`` rows are published,
``published`` rows archived; ``claimed`` rows are processed again by the normal loop (their store
writes were rolled back with their transaction, their temps are discarded first); a row already
final whose move did not happen gets its move. Orphan temp outputs are deleted. A file the
previous run gave up on as stuck (``max_file_seconds``, :mod:`.inhand`) is rejected as
``too_slow`` instead of being run into the same hang again.

A problem with one file (unreadable, a folder without permission) is logged and that file
skipped; it never stops the start-up (which would make systemd restart marketd forever).

The door: :func:`recover`, :func:`adopt_unjournaled`.
"""
from __future__ import annotations

import logging
import os
import stat

from ..errors import FileRejected
from .claim import journal_claim
from .layout import PROCESSING, split_work_name
from .problems import me
from .publish import finish, move_final, publish_outputs
from .reports import reject

log = logging.getLogger("marketd.inbox")


def adopt_unjournaled(engine) -> int:
    """Journal every file in a ``.processing/`` folder that has no journal row; finish the move
    of those whose row is final. Returns how many were adopted."""
    store = engine.app.store
    adopted = 0
    for inbox in engine.inboxes.values():
        proc = inbox.sub(PROCESSING)
        try:
            paths = sorted(proc.iterdir()) if proc.is_dir() else []
        except OSError as exc:
            log.error("recovery: cannot list %s: %s; files there are not recovered until it is readable "
                      "by marketd (%s)", proc, exc, me())
            continue
        for path in paths:
            try:
                st = os.lstat(path)
                parts = split_work_name(path.name)
                if not stat.S_ISREG(st.st_mode) or parts is None:
                    continue
                file_id, name = parts
                row = store.journal_get(file_id)
                if row is None:  # crashed (or the insert failed) between the claim rename and the journal
                    journal_claim(engine, inbox, path, file_id, name,
                                  verdict=engine.unjournaled.pop(path, None))
                    adopted += 1
                elif row["state"] in ("done", "error", "duplicate"):
                    # crashed after the journal said final but before the move: finish the move
                    move_final(engine, inbox, path, row["state"], file_id, name)
            except OSError as exc:
                log.error("recovery: cannot recover %s: %s; left in place, tried again at the next start",
                          path, exc)
    return adopted


def recover(engine) -> dict:
    store = engine.app.store
    stats = {"reprocess": 0, "published": 0, "archived": 0, "adopted": 0, "orphans": 0, "too_slow": 0}
    stats["adopted"] = adopt_unjournaled(engine)
    stats["too_slow"] = _reject_stuck(engine)
    for row in store.journal_in_states(["processed", "published"]):
        inbox = engine.inboxes.get(row["kind"])
        if inbox is None:  # its plugin is not loaded: publish what it committed, archive later
            if row["state"] == "processed":
                try:
                    publish_outputs(engine, row)
                    stats["published"] += 1
                except OSError as exc:
                    log.error("recovery: cannot publish the outputs of %s (%s): %s", row["name"], row["id"], exc)
            continue
        was = row["state"]
        if finish(engine, inbox, row["id"]):
            stats["published" if was == "processed" else "archived"] += 1
    stats["reprocess"] = len(store.journal_in_states(["claimed"]))  # processed by the loop, temps discarded first
    live_ids = {r["id"] for r in store.journal_in_states(["processed"])}
    for tmp in engine.app.outbox.orphan_temps():
        parts = tmp.name.rsplit(".", 2)
        if len(parts) != 3 or parts[1] not in live_ids:
            try:
                tmp.unlink(missing_ok=True)
                stats["orphans"] += 1
            except OSError as exc:
                log.error("recovery: cannot delete the orphan temp output %s: %s", tmp, exc)
    if any(stats.values()):
        log.info("recovery: %s", stats)
    return stats


def _reject_stuck(engine) -> int:
    """The previous run stopped pinging the watchdog because this file was in hand longer than
    ``[daemon] max_file_seconds``; systemd restarted marketd. Processing it again would hang
    again (a restart loop): it goes to ``.error/`` as ``too_slow``, with nothing applied."""
    note = engine.stuck_note.read()
    if note is None:
        return 0
    engine.stuck_note.clear()
    row = engine.app.store.journal_get(note.get("id") or "")
    if row is None or row["state"] not in ("claimed", "retry_wait"):
        return 0  # it finished after all, or was never journaled
    inbox = engine.inboxes.get(row["kind"])
    if inbox is None:
        return 0
    limit = float(note.get("limit") or 0)
    reject(engine, inbox, row, FileRejected(
        "too_slow", f"processing this file took longer than [daemon] max_file_seconds ({limit:.0f} s) and marketd "
        "was restarted to get unstuck; nothing from it was applied",
        fix=f"if the file is simply that large, raise [daemon] max_file_seconds and run `marketd requeue {row['id']}`; "
            "otherwise its handler hangs on it (the daemon log of the previous run names the file): report it "
            "with the file"), level=logging.ERROR)
    return 1
