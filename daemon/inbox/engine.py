"""The inbox engine: one worker's loop over every inbox, and the operator's actions.

It wires the rooms together: the :mod:`.gate` says which files are complete, :mod:`.claim` takes
them, :mod:`.commit` runs their handler, :mod:`.publish` publishes and archives, :mod:`.reports`
rejects, :mod:`.retry` paces temporary failures, :mod:`.recovery` repairs a crash at start-up.
Files are handled one at a time, oldest first.

Problems with one file (unreadable, not a regular file, cannot be moved) are logged once and
never stop the worker or the start-up; a failing state database pauses the worker with backoff
(:class:`.retry.DbPause`) instead of killing it.
"""
from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
from pathlib import Path

from ..config import inbox_settings
from ..outbox import copy_file
from . import claim as claim_mod
from . import commit, publish, recovery
from .gate import Gate
from .inhand import InHand, StuckNote
from .layout import Inbox, new_file_id
from .problems import Problems, lstat_or_none, me
from .retry import DbPause
from .waiting import WaitingNote

log = logging.getLogger("marketd.inbox")


class InboxEngine:
    """Finds complete files in every inbox and runs them through their handler, one at a time."""

    def __init__(self, app):
        self.app = app
        self.clock = app.clock
        self.handlers = app.inbox_handlers()
        self.inboxes: dict[str, Inbox] = {}
        for kind, handler in sorted(self.handlers.items()):
            self.inboxes[kind] = Inbox(app.inbox_dir, kind, inbox_settings(app.config, kind), handler)
        for kind in app.config.get("inbox", {}):
            if kind != "defaults" and kind not in self.handlers:
                log.warning("[inbox.%s] is configured but no loaded plugin handles it (see `marketd plugins`)", kind)
        self.problems = Problems()
        self.gate = Gate(self.inboxes, self.clock, self.problems, self._busy_names)
        self.in_hand = InHand(self.clock)
        self.stuck_note = StuckNote(app.state_dir)
        self.waiting_note = WaitingNote(app.state_dir)
        self.db_backoff = DbPause(self.clock)
        self.adopt_pending = False  # a claim's journal insert failed: its file waits in .processing/
        self.unjournaled: dict[Path, str | None] = {}  # such files -> the gate's verdict on them
        self._held: dict[str, float] = {}  # file ids whose processing hit an OS error: id -> retry at
        self._next_finish = 0.0
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.processed_count = 0
        self.error_count = 0
        self.rescan_requested = True

    # -- what other threads read -----------------------------------------------------------------
    @property
    def current(self) -> str | None:
        held = self.in_hand.current()
        return held.what if held else None

    # -- set-up and recovery -------------------------------------------------------------------
    def ensure_dirs(self) -> None:
        from ..outbox import ensure_dir

        ensure_dir(self.app.outbox_dir)
        for inbox in self.inboxes.values():
            inbox.ensure()

    def recover(self) -> dict:
        """Bring every file left mid-flight by a crash to a consistent state (before READY)."""
        return recovery.recover(self)

    # -- discovery (the gate) ---------------------------------------------------------------------
    def request_rescan(self) -> None:
        self.rescan_requested = True
        self.wake.set()

    def hint(self, path: str | Path, moved: bool = False, event: str | None = None, native: bool = True) -> None:
        """Called from watchdog threads: remember the path and wake the worker. Never raises."""
        if self.gate.hint(path, moved=moved, event=event, native=native):
            self.wake.set()

    def events_lost(self) -> None:
        """The watcher lost events: drop the event-order evidence and rescan at once."""
        self.gate.events_lost()
        self.request_rescan()

    def scan(self, startup: bool = False) -> int:
        """List every inbox (``startup``: the daemon's first look, see :meth:`Gate.scan`)."""
        return self.gate.scan(startup=startup)

    def ready(self):
        return self.gate.ready()

    def _busy_names(self, kind: str) -> set:
        return {r["name"] for r in self.app.store.journal_in_states(
            ["claimed", "retry_wait", "processed", "published"], kind=kind)}

    # -- the loop ------------------------------------------------------------------------------
    def run_once(self, limit: int | None = None) -> int:
        """Drain hints, process every ready file (up to ``limit``) and due retries.

        An operating-system error about one file (permissions, a vanished folder) is logged once
        and that file is left for later. A database error (locked past the busy timeout,
        read-only, failing) pauses the worker with backoff; it never stops it.
        """
        if self.db_backoff.waiting():
            return 0
        try:
            n = self._round(limit)
        except sqlite3.Error as exc:
            self.db_backoff.failed(exc, "the inbox worker used it")
            return 0
        self.db_backoff.succeeded()
        return n

    def _round(self, limit: int | None) -> int:
        if self.adopt_pending:
            self.adopt_pending = False
            try:
                recovery.adopt_unjournaled(self)
            except BaseException:
                self.adopt_pending = True
                raise
        self.gate.drain_hints()
        n = 0
        for inbox, path, problem in self.gate.ready():
            if self.stopping.is_set() or (limit is not None and n >= limit):
                break
            try:
                claimed = self.claim(inbox, path, verdict=problem)
            except OSError as exc:
                self._cannot_claim(inbox, path, exc)
                continue
            except claim_mod.ClaimNotJournaled as exc:
                self.gate.forget(path)
                self.unjournaled[exc.work] = exc.verdict  # adopted with it once the database works
                self.adopt_pending = True
                raise exc.__cause__
            self.gate.forget(path)
            if claimed is None or claimed["state"] != "claimed":
                n += claimed is not None
                continue
            self._guarded(claimed, lambda: self.process(claimed["id"]))
            n += 1
        n += self._retry_due()
        now = self.clock.monotonic()
        for row in self.app.store.journal_in_states(["claimed"]):
            if self.stopping.is_set():
                break
            if row["kind"] in self.inboxes and self._held.get(row["id"], 0) <= now:
                self._guarded(row, lambda row=row: self.process(row["id"]))
                n += 1
        if now >= self._next_finish:
            self._next_finish = now + 30
            self._finish_pending()
        return n

    def _guarded(self, row: dict, step) -> None:
        """Run one file's step; an OS error the file's own flow could not handle (its report
        cannot be written, its folder vanished) holds that file for a minute, logged once."""
        try:
            step()
            self._held.pop(row["id"], None)
        except OSError as exc:
            self._held[row["id"]] = self.clock.monotonic() + 60
            self.problems.report(("held", row["id"]), str(exc), logging.ERROR,
                                 "cannot finish %s/%s (%s): %s; it stays in .processing/ and is tried again "
                                 "every minute and at the next start", row["kind"], row["name"], row["id"], exc)

    def _cannot_claim(self, inbox: Inbox, path: Path, exc: OSError) -> None:
        st = lstat_or_none(path)
        self.gate.block(path, 60, f"cannot be moved into .processing/: {exc.strerror or exc}; tried again "
                                  "every minute")
        self.problems.report(("claim", path), (st.st_ino, st.st_size, st.st_mtime_ns) if st else None,
                             logging.ERROR,
                             "cannot take %s/%s: moving it to .processing/ failed: %s. marketd (%s) needs write "
                             "permission on %s (and, if that folder has the sticky bit, must own the file). "
                             "The file is left where it is and tried again every minute",
                             inbox.kind, path.name, exc, me(), inbox.dir)

    def _retry_due(self) -> int:
        n = 0
        now = self.clock.now().isoformat()
        for row in self.app.store.journal_in_states(["retry_wait"]):
            if self.stopping.is_set():
                break
            if (row["next_attempt_at"] or "") <= now and self._held.get(row["id"], 0) <= self.clock.monotonic():
                self._guarded(row, lambda row=row: self.process(row["id"]))
                n += 1
        return n

    def _finish_pending(self) -> None:
        """Publish/archive files whose changes are committed but whose outputs or archive move
        failed earlier (a full disk, a permission problem); they are never processed again."""
        for row in self.app.store.journal_in_states(["processed", "published"]):
            if self.stopping.is_set():
                return
            inbox = self.inboxes.get(row["kind"])
            if inbox is not None:
                publish.finish(self, inbox, row["id"])

    # -- one file ----------------------------------------------------------------------------------
    def claim(self, inbox: Inbox, path: Path, *, requeue: bool = False, verdict: str | None = None) -> dict | None:
        return claim_mod.claim(self, inbox, path, requeue=requeue, verdict=verdict)

    def process(self, file_id: str) -> dict:
        return commit.process(self, file_id)

    # -- status ------------------------------------------------------------------------------------
    def publish_waiting(self) -> None:
        """Tell ``marketd status`` (another process) why each dropped file waits."""
        self.waiting_note.update(self.gate.waiting_in())

    def status(self) -> dict:
        waiting = {}
        for kind, inbox in self.inboxes.items():
            try:
                waiting[kind] = sum(1 for e in os.scandir(inbox.dir)
                                    if e.is_file(follow_symlinks=False) and not inbox.is_temp_name(e.name))
            except OSError:
                waiting[kind] = 0
        return {"waiting": waiting, "states": self.app.store.counts_by_state(), "current": self.current}

    # -- operator actions ----------------------------------------------------------------------
    def requeue(self, file_id: str) -> dict:
        """Process a finished (error/duplicate/done) file again, bypassing the content dedupe."""
        row = self.app.store.journal_get(file_id)
        if row is None:
            raise KeyError(f"no file with id {file_id}")
        if row["state"] not in ("error", "duplicate", "done"):
            raise ValueError(f"file {file_id} is {row['state']}, not finished")
        inbox = self.inboxes[row["kind"]]
        src = Path(row["final_path"])
        claimed = self.claim(inbox, src, requeue=True)
        if claimed is None:
            raise FileNotFoundError(f"{src} is no longer there")
        if claimed["state"] != "claimed":  # unreadable: rejected again, with its report
            return claimed
        return self.process(claimed["id"])

    def adopt(self, kind: str, source: Path) -> dict:
        """One-shot processing of a file (``marketd process``): same code path. A file from
        elsewhere is copied in (keeping its owner/group permission bits) and left where it is; a
        file already in its inbox folder is claimed by rename like a dropped file, so no later
        start takes it again."""
        inbox = self.inboxes[kind]
        inbox.ensure()
        if source.resolve().parent == inbox.dir.resolve():
            claimed = self.claim(inbox, source)
            if claimed is None:
                raise FileNotFoundError(f"{source} is gone or not a regular file")
            return claimed if claimed["state"] != "claimed" else self.process(claimed["id"])
        staging = inbox.dir / f".{source.name}.{secrets.token_hex(4)}.tmp"
        copy_file(source, staging)
        file_id = new_file_id(self.clock.now())
        final = inbox.work_path(file_id, source.name)
        os.rename(staging, final)
        claimed = claim_mod.journal_claim(self, inbox, final, file_id, source.name)
        if claimed["state"] != "claimed":
            return claimed
        return self.process(file_id)
