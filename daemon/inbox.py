"""The file-drop engine: which files are complete, claiming them, and the commit order.

Commit order per file (each step journaled, so ``kill -9`` anywhere is recovered on restart):

1. claim: rename ``inbox/<kind>/<name>`` to ``inbox/<kind>/.processing/<id>__<name>``, journal
   ``claimed``;
2. process in one store transaction; outputs are staged as fsynced dot-named temp files, their
   final names are checked to be free (a taken name rolls the transaction back), and the journal
   row becomes ``processed`` (with the staged list) in the same transaction;
3. publish the staged outputs (link into place, fsync folder), journal ``published``;
4. archive the input to ``.done/<YYYY-MM-DD>/``, journal ``done``.

A restart re-processes ``claimed`` rows (their temp outputs are discarded first), publishes
``processed`` ones and archives ``published`` ones; nothing is applied twice because a
``claimed`` row's store writes were rolled back with its transaction. A committed file is never
processed again: if publishing or archiving fails, only those steps are retried.

Problems with one file (unreadable, not a regular file, cannot be moved) are logged once and
never stop the worker or the start-up.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sqlite3
import stat
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import __version__
from .backoff import Backoff
from .config import inbox_settings
from .context import FileContext
from .errors import FileRejected, OutputExists, TransientError
from .outbox import ensure_dir, fsync_dir

log = logging.getLogger("marketd.inbox")

PROCESSING, DONE, ERROR, DUPLICATE = ".processing", ".done", ".error", ".duplicate"
SPECIAL_DIRS = {PROCESSING, DONE, ERROR, DUPLICATE}
_ID_PREFIX = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}__")

RETRY_BACKOFF = Backoff(base=1.0, cap=900.0)  # a file in retry_wait: 1 s, 2 s, 4 s … 15 min


def crashpoint(name: str) -> None:
    """Test hook: ``MARKETD_CRASHPOINT=<name>`` makes the daemon SIGKILL itself at that step.

    The crash-safety tests use it to kill the real process between any two commit steps.
    """
    if os.environ.get("MARKETD_CRASHPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def new_file_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Observation:
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    first_seen: float  # monotonic time the current (size, mtime, inode) was first seen


@dataclass
class Arrival:
    """How a final-named file arrived, as the watcher saw it (``require_rename`` evidence).

    ``moved``: a rename onto the name; ``linked``: created with the inode of a file the watcher
    saw under a temp name; ``created``: created without any write (native watcher only), i.e. a
    hard link. Only valid while the name still has inode ``ino``; a write event under the name
    removes it (a direct write)."""
    kind: str
    ino: int


@dataclass
class TempSeen:
    """A temp-named file's inode, remembered until that temp name is gone."""
    path: Path
    seen_at: float
    from_event: bool  # recorded by the watcher thread in event order (see InboxEngine.hint)


class Inbox:
    """One watched folder: its kind, its settings and its special sub-folders."""

    def __init__(self, root: Path, kind: str, settings: dict, handler):
        self.kind = kind
        self.dir = root / kind
        self.settings = settings
        self.handler = handler

    def sub(self, name: str) -> Path:
        return self.dir / name

    def ensure(self) -> None:
        for sub in ("", PROCESSING, DONE, ERROR, DUPLICATE):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)

    def is_temp_name(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, pat) for pat in self.settings["temp_patterns"])


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
        self.candidates: dict[Path, Observation] = {}
        self._dirs: dict[Path, Inbox] = {inbox.dir: inbox for inbox in self.inboxes.values()}
        # require_rename evidence, written by the watcher threads (hint) and the worker, under _lock
        self.temp_inodes: dict[int, TempSeen] = {}
        self.arrivals: dict[Path, Arrival] = {}
        self._reported: dict[tuple, object] = {}  # problems already logged once: key -> signature
        self._blocked: dict[Path, float] = {}  # files that could not be claimed: path -> retry at (monotonic)
        self._held: dict[str, float] = {}  # file ids whose processing hit an OS error: id -> retry at
        self._next_finish = 0.0
        self._hints: set[Path] = set()
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.processed_count = 0
        self.error_count = 0
        self.current: str | None = None
        self.rescan_requested = True

    # -- set-up and recovery -------------------------------------------------------------------
    def ensure_dirs(self) -> None:
        self.app.outbox_dir.mkdir(parents=True, exist_ok=True)
        for inbox in self.inboxes.values():
            inbox.ensure()

    def recover(self) -> dict:
        """Bring every file left mid-flight by a crash to a consistent state (before READY).

        A problem with one file (unreadable, a folder without permission) is logged and that file
        skipped; it never stops the start-up (which would make systemd restart marketd forever).
        """
        store = self.app.store
        stats = {"reprocess": 0, "published": 0, "archived": 0, "adopted": 0, "orphans": 0}
        for inbox in self.inboxes.values():
            proc = inbox.sub(PROCESSING)
            try:
                paths = sorted(proc.iterdir()) if proc.is_dir() else []
            except OSError as exc:
                log.error("recovery: cannot list %s: %s; files there are not recovered until it is readable "
                          "by marketd (%s)", proc, exc, _me())
                continue
            for path in paths:
                try:
                    st = os.lstat(path)
                    if not stat.S_ISREG(st.st_mode) or "__" not in path.name:
                        continue
                    file_id, name = path.name.split("__", 1)
                    row = store.journal_get(file_id)
                    if row is None:  # crashed between the claim rename and the journal insert
                        self._journal_claim(inbox, path, file_id, name)
                        stats["adopted"] += 1
                    elif row["state"] in ("done", "error", "duplicate"):
                        # crashed after the journal said final but before the move: finish the move
                        self._move_final(inbox, path, row["state"], file_id, name)
                except OSError as exc:
                    log.error("recovery: cannot recover %s: %s; left in place, tried again at the next start",
                              path, exc)
        for row in store.journal_in_states(["processed", "published"]):
            inbox = self.inboxes.get(row["kind"])
            if inbox is None:  # its plugin is not loaded: publish what it committed, archive later
                if row["state"] == "processed":
                    try:
                        self._publish(row)
                        stats["published"] += 1
                    except OSError as exc:
                        log.error("recovery: cannot publish the outputs of %s (%s): %s", row["name"], row["id"], exc)
                continue
            was = row["state"]
            if self._finish(inbox, row["id"]):
                stats["published" if was == "processed" else "archived"] += 1
        for row in store.journal_in_states(["claimed"]):
            stats["reprocess"] += 1  # processed by the normal loop, temps discarded first
        live_ids = {r["id"] for r in store.journal_in_states(["processed"])}
        for tmp in self.app.outbox.orphan_temps():
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

    # -- discovery -----------------------------------------------------------------------------
    def request_rescan(self) -> None:
        self.rescan_requested = True
        self.wake.set()

    def hint(self, path: str | Path, moved: bool = False, event: str | None = None, native: bool = True) -> None:
        """Called from watchdog threads: remember the path and wake the worker. Never raises.

        ``event`` is the watchdog event type (``moved`` for the destination of a move,
        ``moved_from`` for its source). Events arrive in the order the kernel saw them, so the
        require_rename evidence is kept here, on the watcher thread, even while the worker is busy
        with a long file: a temp name's inode (stat now, dropped when the temp name is deleted or
        moved away), a rename or link onto a final name, and a write under a final name (which
        cancels that evidence). ``native`` is False for the polling observer, whose "created"
        says nothing about how a file was written.
        """
        try:
            p = Path(path)
            inbox = self._dirs.get(p.parent)
            if inbox is None:  # .processing/, .done/ … or outside any inbox
                return
            if moved and event is None:
                event = "moved"
            self._note_event(inbox, p, event, native)
            with self._lock:
                self._hints.add(p)
            self.wake.set()
        except Exception:  # pragma: no cover - must never kill the observer thread
            pass

    def events_lost(self) -> None:
        """The watcher lost events (inotify queue overflow). Forget the evidence that depends on
        having seen every event (a "created without any write" final name, a link of a temp
        inode whose deletion may have gone unseen, even a move whose later writes may be lost),
        so ``require_rename`` falls back to the file's own timestamps, and rescan at once."""
        with self._lock:
            self.arrivals.clear()
            self.temp_inodes = {ino: t for ino, t in self.temp_inodes.items() if not t.from_event}
        self.request_rescan()

    def _note_event(self, inbox: Inbox, p: Path, event: str | None, native: bool) -> None:
        if event is None:
            return
        if inbox.is_temp_name(p.name):
            if event in ("deleted", "moved_from"):
                with self._lock:
                    self._drop_temp(p)
            elif event in ("created", "modified", "closed", "attrib"):
                st = _lstat(p)
                if st is not None and stat.S_ISREG(st.st_mode):
                    now = self.clock.monotonic()
                    with self._lock:
                        cur = self.temp_inodes.get(st.st_ino)
                        if cur is not None and cur.path == p and cur.from_event:
                            cur.seen_at = now
                        else:
                            self._drop_temp(p)
                            self.temp_inodes[st.st_ino] = TempSeen(p, now, True)
            return
        if event in ("deleted", "moved_from", "modified", "closed"):
            with self._lock:  # gone, or written under its final name: a direct write
                self.arrivals.pop(p, None)
        elif event in ("moved", "created"):
            st = _lstat(p)
            with self._lock:
                if st is None or not stat.S_ISREG(st.st_mode):
                    self.arrivals.pop(p, None)
                    return
                seen = self.temp_inodes.get(st.st_ino)
                if event == "moved":
                    self.arrivals[p] = Arrival("moved", st.st_ino)
                elif seen is not None and seen.from_event:
                    # the temp name still held this inode when the final name was created (its
                    # deletion would have been seen first): a link, never a reused inode
                    self.arrivals[p] = Arrival("linked", st.st_ino)
                elif native:
                    self.arrivals[p] = Arrival("created", st.st_ino)  # a write event cancels it
                else:
                    self.arrivals.pop(p, None)

    def _drop_temp(self, p: Path) -> None:
        """Forget the inode(s) remembered for temp name ``p`` (caller holds ``_lock``)."""
        for ino in [i for i, t in self.temp_inodes.items() if t.path == p]:
            del self.temp_inodes[ino]

    def scan(self) -> int:
        """The truth: list every inbox folder and consider every file there."""
        n = 0
        horizon = self.clock.monotonic() - 3600
        with self._lock:
            self.temp_inodes = {ino: t for ino, t in self.temp_inodes.items() if t.seen_at >= horizon}
        for inbox in self.inboxes.values():
            try:
                entries = list(os.scandir(inbox.dir))
            except FileNotFoundError:
                inbox.ensure()
                continue
            except OSError as exc:
                self._report_once(("dir", inbox.dir), str(exc.errno), logging.ERROR,
                                  "cannot list inbox folder %s: %s; marketd (%s) needs read and search "
                                  "permission on it", inbox.dir, exc.strerror, _me())
                continue
            self._reported.pop(("dir", inbox.dir), None)
            present = set()
            for entry in entries:
                path = Path(entry.path)
                present.add(path)
                try:
                    if entry.is_dir(follow_symlinks=False):
                        continue
                    if entry.is_file(follow_symlinks=False):
                        self._consider(inbox, path)
                        n += 1
                    elif not inbox.is_temp_name(entry.name):
                        self._not_regular(inbox, path, entry.stat(follow_symlinks=False))
                except OSError as exc:
                    self._report_once(("stat", path), str(exc.errno), logging.ERROR,
                                      "cannot examine %s/%s: %s", inbox.kind, entry.name, exc)
            if inbox.settings["mode"] == "done_file":
                self._orphan_markers(inbox, {p.name for p in present})
            for key in [k for k in self._reported if k[0] != "dir" and isinstance(k[1], Path)
                        and k[1].parent == inbox.dir and k[1] not in present]:
                del self._reported[key]  # gone: report it again if it comes back
            for path in [p for p in self._blocked if p.parent == inbox.dir and p not in present]:
                del self._blocked[path]
        return n

    def _orphan_markers(self, inbox: Inbox, names: set[str]) -> None:
        """done_file mode: a marker whose data file has not arrived within
        ``done_marker_timeout_seconds`` (default 600) of the marker's modification time is
        reported once (WARNING), and again if it changes. It is never taken or deleted."""
        suffix = inbox.settings["done_suffix"]
        timeout = float(inbox.settings.get("done_marker_timeout_seconds", 600))
        wall = time.time()
        for name in names:
            if not name.endswith(suffix) or len(name) <= len(suffix):
                continue
            data = name[:-len(suffix)]
            if data in names:
                continue
            st = _lstat(inbox.dir / name)
            if st is None or not stat.S_ISREG(st.st_mode) or wall - st.st_mtime < timeout:
                continue
            if any(r["name"] == data for r in self.app.store.journal_in_states(
                    ["claimed", "retry_wait", "processed", "published"], kind=inbox.kind)):
                continue  # its data file is being processed: the marker goes with it
            self._report_once(("marker", inbox.dir / name), (st.st_ino, st.st_mtime_ns), logging.WARNING,
                              "%s/%s is a done-file marker, but its data file %s has not arrived in %.0f s; "
                              "upload %s (the marker must be written after the data), or remove the marker",
                              inbox.kind, name, data, timeout, data)

    def _drain_hints(self) -> None:
        with self._lock:
            hints, self._hints = self._hints, set()
        for p in hints:
            inbox = self._dirs.get(p.parent)
            if inbox is not None:
                self._consider(inbox, p)

    def _forget(self, path: Path) -> None:
        """The file at ``path`` is gone (or claimed): drop everything remembered about it."""
        self.candidates.pop(path, None)
        self._blocked.pop(path, None)
        with self._lock:
            self.arrivals.pop(path, None)
            self._drop_temp(path)

    def _consider(self, inbox: Inbox, path: Path) -> None:
        name = path.name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self._forget(path)
            return
        except OSError as exc:
            self.candidates.pop(path, None)
            self._report_once(("stat", path), str(exc.errno), logging.ERROR, "cannot examine %s/%s: %s",
                              inbox.kind, name, exc)
            return
        if not stat.S_ISREG(st.st_mode):
            self._forget(path)
            if not stat.S_ISDIR(st.st_mode) and not inbox.is_temp_name(name):
                self._not_regular(inbox, path, st)
            return
        if inbox.is_temp_name(name):
            with self._lock:
                seen = self.temp_inodes.get(st.st_ino)
                if seen is None or seen.path != path:
                    self.temp_inodes[st.st_ino] = TempSeen(path, self.clock.monotonic(), False)
            return
        obs = self.candidates.get(path)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if obs is None or (obs.size, obs.mtime_ns, obs.inode) != key:
            if obs is not None and obs.inode == st.st_ino:
                with self._lock:  # written under its final name since we last looked: a direct write
                    self.arrivals.pop(path, None)
            self.candidates[path] = Observation(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
                                                self.clock.monotonic())
        else:
            obs.ctime_ns = st.st_ctime_ns

    def _arrived_by_rename(self, path: Path, obs: Observation) -> bool:
        """require_rename: did this file arrive by a rename or link after its last write?"""
        with self._lock:
            arrival = self.arrivals.get(path)
            if arrival is not None and arrival.ino != obs.inode:
                del self.arrivals[path]  # the name now holds another file
                arrival = None
            seen = self.temp_inodes.get(obs.inode)
        if arrival is not None and (arrival.kind != "created" or obs.size > 0):
            return True
        if seen is not None:
            st = _lstat(seen.path)
            if st is not None and st.st_ino == obs.inode:
                return True  # a hard link of a temp name that is still there
            with self._lock:  # the temp name is gone: its inode number may be reused, forget it
                if self.temp_inodes.get(obs.inode) is seen:
                    del self.temp_inodes[obs.inode]
        # a rename or link after the last write bumps ctime past mtime; a direct (maybe killed)
        # upload leaves them equal
        return obs.ctime_ns > obs.mtime_ns

    def ready(self) -> list[tuple[Inbox, Path, str | None]]:
        """Candidates that passed their inbox's completeness gate, oldest first."""
        now = self.clock.monotonic()
        wall = time.time()  # mtimes are set by the kernel's clock, not the injectable one
        out = []
        for path, obs in list(self.candidates.items()):
            inbox = self._dirs.get(path.parent)
            if inbox is None:
                self.candidates.pop(path, None)
                continue
            self._consider(inbox, path)
            obs = self.candidates.get(path)
            if obs is None:
                continue
            if path in self._blocked and now < self._blocked[path]:
                continue
            s = inbox.settings
            window = float(s["stability_seconds"])
            held = now - obs.first_seen
            mtime_age = wall - obs.mtime_ns / 1e9
            if mtime_age < float(s["min_age_seconds"]):
                continue
            poll = s["watch"] == "poll"
            stable = held >= window or (not poll and mtime_age >= window and held >= min(0.5, window))
            if not stable:
                continue
            mode = s["mode"]
            if mode == "done_file":
                marker = path.with_name(path.name + s["done_suffix"])
                if not marker.exists():
                    continue
            elif mode == "require_rename":
                if not self._arrived_by_rename(path, obs):
                    grace = float(s.get("direct_write_grace_seconds", 600))
                    if held >= grace:
                        out.append((inbox, path, "not_renamed"))
                    continue
            out.append((inbox, path, None))
        out.sort(key=lambda t: (self.candidates[t[1]].mtime_ns, t[1].name))
        return out

    # -- problems reported once ----------------------------------------------------------------
    def _report_once(self, key: tuple, signature, level: int, msg: str, *args) -> None:
        """Log a problem about one file or folder once, until it changes or goes away."""
        if self._reported.get(key) == signature:
            return
        self._reported[key] = signature
        log.log(level, msg, *args)

    def _not_regular(self, inbox: Inbox, path: Path, st: os.stat_result) -> None:
        what = _file_type(st.st_mode)
        self._report_once(("type", path), (st.st_ino, stat.S_IFMT(st.st_mode)), logging.ERROR,
                          "%s/%s is %s, not a regular file: marketd never reads it (only regular files "
                          "are taken from an inbox); remove it, and drop the data as a regular file",
                          inbox.kind, path.name, what)

    # -- the loop ------------------------------------------------------------------------------
    def run_once(self, limit: int | None = None) -> int:
        """Drain hints, process every ready file (up to ``limit``) and due retries.

        An operating-system error about one file (permissions, a vanished folder) is logged once
        and that file is left for later; it never stops the worker.
        """
        self._drain_hints()
        n = 0
        for inbox, path, problem in self.ready():
            if self.stopping.is_set() or (limit is not None and n >= limit):
                break
            try:
                claimed = self.claim(inbox, path)
            except OSError as exc:
                self._cannot_claim(inbox, path, exc)
                continue
            self._forget(path)
            if claimed is None or claimed["state"] != "claimed":
                n += claimed is not None
                continue
            self._guarded(claimed, lambda: self._take(inbox, claimed, problem))
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

    def _take(self, inbox: Inbox, claimed: dict, problem: str | None) -> None:
        if problem == "not_renamed":
            self._reject(inbox, claimed, FileRejected(
                "not_renamed", "this inbox takes only files uploaded under a temporary name and then "
                "renamed (mode require_rename); this file was written directly under its final name, so "
                "it may be an interrupted upload",
                fix="upload as NAME.tmp and rename to NAME when the upload is complete, or set "
                    f"[inbox.{inbox.kind}] mode = \"stable\" if people drop files here"))
        else:
            self.process(claimed["id"])

    def _guarded(self, row: dict, step) -> None:
        """Run one file's step; an OS error the file's own flow could not handle (its report
        cannot be written, its folder vanished) holds that file for a minute, logged once."""
        try:
            step()
            self._held.pop(row["id"], None)
        except OSError as exc:
            self._held[row["id"]] = self.clock.monotonic() + 60
            self._report_once(("held", row["id"]), str(exc), logging.ERROR,
                              "cannot finish %s/%s (%s): %s; it stays in .processing/ and is tried again "
                              "every minute and at the next start", row["kind"], row["name"], row["id"], exc)

    def _cannot_claim(self, inbox: Inbox, path: Path, exc: OSError) -> None:
        st = _lstat(path)
        self._blocked[path] = self.clock.monotonic() + 60
        self._report_once(("claim", path), (st.st_ino, st.st_size, st.st_mtime_ns) if st else None, logging.ERROR,
                          "cannot take %s/%s: moving it to .processing/ failed: %s. marketd (%s) needs write "
                          "permission on %s (and, if that folder has the sticky bit, must own the file). "
                          "The file is left where it is and tried again every minute",
                          inbox.kind, path.name, exc, _me(), inbox.dir)

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
                self._finish(inbox, row["id"])

    # -- claim ---------------------------------------------------------------------------------
    def claim(self, inbox: Inbox, path: Path, *, requeue: bool = False) -> dict | None:
        """Move a regular file to ``.processing/`` and journal it. None if it is gone or not a
        regular file. An unreadable file is journaled and rejected at once (``unreadable``)."""
        st = _lstat(path)
        if st is None:
            return None
        if not stat.S_ISREG(st.st_mode):
            self._not_regular(inbox, path, st)
            return None
        now = self.clock.now()
        file_id = new_file_id(now)
        name = _ID_PREFIX.sub("", path.name)
        work = inbox.sub(PROCESSING) / f"{file_id}__{name}"
        try:
            os.rename(path, work)
        except FileNotFoundError:
            if work.parent.is_dir() or not path.exists():
                return None  # gone (renamed away, or another claimer)
            inbox.ensure()  # someone removed .processing/
            os.rename(path, work)
        try:
            fsync_dir(work.parent)
        except OSError as exc:  # the rename happened; journal it whatever the fsync says
            log.warning("fsync of %s failed after claiming %s: %s", work.parent, name, exc)
        crashpoint("after_claim_rename")
        return self._journal_claim(inbox, work, file_id, name, requeue=requeue)

    def _journal_claim(self, inbox: Inbox, work: Path, file_id: str, name: str, requeue: bool = False) -> dict:
        claimed_at = self.clock.now()
        try:
            claimed_at = datetime.strptime(file_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
        except ValueError:
            pass
        problem = None
        try:
            size, digest = fingerprint(work)
        except NotRegularFile as exc:
            problem, size, digest = exc, exc.size, None
        except OSError as exc:
            problem, digest = exc, None
            st = _lstat(work)
            size = st.st_size if st else 0
        row = {
            "id": file_id, "kind": inbox.kind, "name": name, "sha256": digest, "size": size,
            "state": "claimed", "claimed_at": claimed_at.isoformat(), "work_path": str(work),
            "requeue": 1 if requeue else 0,
        }
        self.app.store.journal_insert(row)
        if problem is not None:
            self._reject(inbox, row, _unusable(inbox, work, name, problem), level=logging.ERROR)
            return self.app.store.journal_get(file_id)
        log.info("claimed %s/%s as %s (%d bytes)", inbox.kind, name, file_id, size)
        return row

    # -- process -------------------------------------------------------------------------------
    def process(self, file_id: str) -> dict:
        store = self.app.store
        row = store.journal_get(file_id)
        inbox = self.inboxes[row["kind"]]
        work = Path(row["work_path"])
        self.current = f"{row['kind']}/{row['name']}"
        committed = False
        ctx = None
        try:
            if not work.exists():
                log.error("claimed file %s is missing from %s; marking error", file_id, work)
                store.journal_update(file_id, state="error", error={"reason": "missing", "message": "claimed file vanished"},
                                     finished_at=self.clock.now().isoformat())
                return store.journal_get(file_id)
            if row["attempts"]:  # an earlier attempt may have died with outputs half staged
                self._discard_temps(file_id)
            ctx = self._context(inbox, row)
            settings = inbox.settings
            first = None if row["requeue"] else store.first_applied(inbox.kind, row["sha256"])
            if first is not None:
                self._duplicate(inbox, row, ctx, first)
            else:
                if row["size"] == 0:
                    raise FileRejected("empty_file", "the file is empty (0 bytes)",
                                       fix="check the export on the sending side and drop the file again")
                if row["size"] > float(settings["max_file_mb"]) * 1024 * 1024:
                    raise FileRejected(
                        "too_large", f"the file is {row['size'] / 1048576:.0f} MiB, over this inbox's limit of "
                        f"{settings['max_file_mb']} MiB", fix=f"split the file, or raise [inbox.{inbox.kind}] max_file_mb")
                store.journal_update(file_id, attempts=(row["attempts"] or 0) + 1)
                crashpoint("before_process")
                with store.transaction():
                    summary = inbox.handler.process(ctx)
                    # the output names must be free before the commit: a conflict rolls the file back
                    self.app.outbox.check_free(o.final for o in ctx.outputs)
                    store.journal_update(file_id, state="processed", summary=summary or {},
                                         outputs=[o.as_json() for o in ctx.outputs])
                    crashpoint("before_commit")
            committed = True
            crashpoint("after_commit")
        except FileRejected as exc:
            self._discard_temps(file_id, ctx)
            self._reject(inbox, row, exc)
        except (TransientError, OSError) as exc:
            self._discard_temps(file_id, ctx)
            self._retry_or_give_up(inbox, row, exc)
        except sqlite3.OperationalError as exc:
            # The database was busy (a job committed between this transaction's first read and
            # its first write: SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out), full or
            # failing: not the file's fault, so retried like any temporary failure. Other
            # OperationalErrors (no such table/column) are the plugin's bug.
            self._discard_temps(file_id, ctx)
            if is_transient_db_error(exc):
                self._retry_or_give_up(inbox, row, TransientError(f"database: {exc}"))
            else:
                self._plugin_error(inbox, row, file_id, exc)
        except OutputExists as exc:
            self._discard_temps(file_id, ctx)
            self._reject(inbox, row, FileRejected(
                "output_exists", str(exc),
                fix=f"move the existing output away (it was not overwritten), then `marketd requeue {file_id}`; "
                    "or set [daemon] output_conflict = \"rename\" to publish name-1.ext instead"))
        except Exception as exc:
            self._discard_temps(file_id, ctx)
            self._plugin_error(inbox, row, file_id, exc)
        finally:
            if not committed:
                self.current = None
        if committed:  # applied: from here on only publishing and archiving, never a re-run
            try:
                self._finish(inbox, file_id)
            finally:
                self.current = None
        final = store.journal_get(file_id)
        if final["state"] in ("done", "error", "duplicate"):
            self.app.emit("file_processed", record=final)
        return final

    def _plugin_error(self, inbox: Inbox, row: dict, file_id: str, exc: BaseException) -> None:
        """A handler raised something other than FileRejected/TransientError: a bug, never the
        file's fault. The report says so (the exception's text, which may quote the file, stays in
        the log with the traceback); ``marketd status`` counts these files."""
        plugin = self.app.plugins.plugin_name_of(inbox.handler)
        log.error("plugin %s raised on %s: %s\n%s", plugin, row["name"], exc, traceback.format_exc())
        self._reject(inbox, row, FileRejected(
            f"plugin_error:{plugin}", f"the {plugin} plugin failed on this file with an internal error "
            f"({type(exc).__name__}): a bug in marketd or the plugin, not a problem to correct in the file",
            fix="report it with the traceback from the daemon log (it follows the line 'plugin "
                f"{plugin} raised on {row['name']}'); once fixed, `marketd requeue {file_id}`"))

    def _finish(self, inbox: Inbox, file_id: str) -> bool:
        """Publish the committed file's outputs and archive it. An OS error here (the outbox not
        writable, a full disk) keeps the journal state and the staged temps: the changes are
        already applied, so the file is never processed again, only finished later."""
        store = self.app.store
        row = store.journal_get(file_id)
        try:
            if row["state"] == "processed":
                self._publish(row)
                crashpoint("after_publish")
                row = store.journal_get(file_id)
            if row["state"] == "published":
                self._archive(inbox, row)
        except OSError as exc:
            self._report_once(("finish", file_id), str(exc), logging.ERROR,
                              "%s/%s (%s) is applied, but publishing its outputs or archiving it failed: %s; "
                              "retrying every 30 s and at the next start", row["kind"], row["name"], file_id, exc)
            return False
        self._reported.pop(("finish", file_id), None)
        row = store.journal_get(file_id)
        if row["duplicate_of"]:
            log.info("duplicate %s/%s (%s) of %s: not applied again", inbox.kind, row["name"], file_id,
                     row["duplicate_of"])
        else:
            self.processed_count += 1
            log.info("done %s/%s (%s): %s", inbox.kind, row["name"], file_id,
                     _short(json.loads(row["summary"]) if row["summary"] else None))
        return True

    def _context(self, inbox: Inbox, row: dict) -> FileContext:
        return FileContext(
            app=self.app, kind=inbox.kind, settings=inbox.settings, path=Path(row["work_path"]),
            name=row["name"], file_id=row["id"], sha256=row["sha256"], size=row["size"],
            claimed_at=datetime.fromisoformat(row["claimed_at"]), log=logging.getLogger(f"marketd.{inbox.kind}"),
        )

    def _discard_temps(self, file_id: str, ctx: FileContext | None = None) -> None:
        """Delete this file's staged outputs: those ``ctx`` staged (every temp is listed there
        before it is opened), or, without a context, whatever a search of the outbox finds."""
        if ctx is not None:
            for staged in ctx.outputs:
                staged.tmp.unlink(missing_ok=True)
            return
        for tmp in self.app.outbox.root.rglob(f".*.{file_id}.tmp"):
            tmp.unlink(missing_ok=True)

    def _publish(self, row: dict) -> None:
        outbox = self.app.outbox
        outputs = json.loads(row["outputs"] or "[]")
        folders: set[Path] = set()
        for out in outputs:
            tmp, final = Path(out["tmp"]), Path(out["final"])
            try:
                published = outbox.publish(tmp, final, sync=False)
            except OutputExists:
                # The name was free when the transaction committed and was taken since (someone
                # else wrote it). The file's changes are applied, so rejecting it now would be a
                # lie: publish next to it and say so.
                published = outbox.publish(tmp, final, policy="rename", sync=False)
                log.error("output %s appeared after %s (%s) was applied; nothing was overwritten, this "
                          "output is published as %s", final, row["name"], row["id"], published.name)
            out["published"] = str(published)
            folders.add(published.parent)
            crashpoint("mid_publish")
        for folder in sorted(folders):  # once per folder, before the journal says "published"
            fsync_dir(folder)
        markers = [outbox.write_done_marker(Path(out["published"]), sync=False)
                   for out in outputs if outbox.wants_done_marker(Path(out["published"]))]
        for folder in sorted({m.parent for m in markers}):  # markers only after their data is durable
            fsync_dir(folder)
        self.app.store.journal_update(row["id"], state="published", outputs=outputs)

    def _archive(self, inbox: Inbox, row: dict) -> None:
        work = Path(row["work_path"])
        state = "duplicate" if row.get("duplicate_of") else "done"
        self._move_final(inbox, work, state, row["id"], row["name"])

    def _move_final(self, inbox: Inbox, work: Path, state: str, file_id: str, name: str, day: str | None = None) -> Path:
        day = day or self.clock.now().strftime("%Y-%m-%d")
        base = {"done": DONE, "duplicate": DUPLICATE, "error": ERROR}[state]
        dest_dir = inbox.sub(base) / day if state != "error" else inbox.sub(ERROR)
        ensure_dir(dest_dir)
        dest = dest_dir / f"{file_id}__{name}"
        if work.exists():
            os.rename(work, dest)
            fsync_dir(dest_dir)
            crashpoint("after_archive_move")
        if inbox.settings["mode"] == "done_file":
            marker = inbox.dir / (name + inbox.settings["done_suffix"])
            if marker.exists():
                os.rename(marker, dest_dir / f"{file_id}__{marker.name}")
                fsync_dir(dest_dir)
        self.app.store.journal_update(file_id, state=state, final_path=str(dest),
                                      finished_at=self.clock.now().isoformat())
        return dest

    def _duplicate(self, inbox: Inbox, row: dict, ctx: FileContext, first: dict) -> None:
        store = self.app.store
        with store.transaction():
            if hasattr(inbox.handler, "on_duplicate"):
                inbox.handler.on_duplicate(ctx, first)
            else:
                ctx.output(f"reports/{inbox.kind}-{ctx.stem}-{ctx.stamp}.duplicate.txt", (
                    f"{row['name']} was not applied: the same content (sha256 {row['sha256']}) was already "
                    f"processed as {first['name']} (id {first['id']}, {first['finished_at'] or first['claimed_at']}).\n"
                    f"To apply it again on purpose: marketd requeue {row['id']}\n"))
            self.app.outbox.check_free(o.final for o in ctx.outputs)
            store.journal_update(row["id"], state="processed", duplicate_of=first["id"],
                                 summary={"duplicate_of": first["id"]}, outputs=[o.as_json() for o in ctx.outputs])

    # -- failures ------------------------------------------------------------------------------
    def _reject(self, inbox: Inbox, row: dict, exc: FileRejected, level: int = logging.WARNING) -> None:
        store = self.app.store
        work = Path(row["work_path"])
        plugin = self.app.plugins.plugin_name_of(inbox.handler)
        now = self.clock.now()
        fresh = store.journal_get(row["id"]) or row  # ``row`` may predate this attempt's count
        error = {"reason": exc.reason, "message": exc.message, "where": exc.where, "fix": exc.fix,
                 "plugin": plugin, "plugin_version": self.app.plugins.version_of(plugin),
                 "marketd_version": __version__, "attempts": (fresh.get("attempts") or 0),
                 "sha256": row["sha256"], "claimed_at": row["claimed_at"], "failed_at": now.isoformat()}
        err_dir = inbox.sub(ERROR)
        ensure_dir(err_dir)
        base = f"{row['id']}__{row['name']}"
        _write_small(err_dir / f"{base}.error.txt", error_text(inbox, row, error))
        _write_small(err_dir / f"{base}.error.json", json.dumps(error, indent=2))
        store.journal_update(row["id"], error=error)
        self._move_final(inbox, work, "error", row["id"], row["name"])
        self.error_count += 1
        log.log(level, "rejected %s/%s (%s): [%s] %s%s", inbox.kind, row["name"], row["id"], exc.reason,
                exc.message, f" at {exc.where}" if exc.where else "")

    def _retry_or_give_up(self, inbox: Inbox, row: dict, exc: Exception) -> None:
        row = self.app.store.journal_get(row["id"])
        attempts = row["attempts"] or 1
        if attempts >= int(inbox.settings["max_attempts"]):
            self._reject(inbox, row, FileRejected(
                "gave_up", f"gave up after {attempts} attempts; last error: {type(exc).__name__}: {exc}",
                fix=f"check the service named in the error, then `marketd requeue {row['id']}`"))
            return
        delay = RETRY_BACKOFF.delay(attempts)
        nxt = self.clock.now() + timedelta(seconds=delay)
        self.app.store.journal_update(row["id"], state="retry_wait", next_attempt_at=nxt.isoformat(),
                                      error={"reason": "transient", "message": f"{type(exc).__name__}: {exc}"})
        log.warning("temporary failure on %s/%s (attempt %d), retrying in %.0fs: %s", inbox.kind, row["name"],
                    attempts, delay, exc)

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
        elsewhere is copied in and left where it is; a file already in its inbox folder is
        claimed by rename like a dropped file, so no later start takes it again."""
        inbox = self.inboxes[kind]
        inbox.ensure()
        if source.resolve().parent == inbox.dir.resolve():
            claimed = self.claim(inbox, source)
            if claimed is None:
                raise FileNotFoundError(f"{source} is gone or not a regular file")
            return claimed if claimed["state"] != "claimed" else self.process(claimed["id"])
        staging = inbox.dir / f".{source.name}.{secrets.token_hex(4)}.tmp"
        shutil.copyfile(source, staging)
        now = self.clock.now()
        file_id = new_file_id(now)
        final = inbox.sub(PROCESSING) / f"{file_id}__{source.name}"
        os.rename(staging, final)
        claimed = self._journal_claim(inbox, final, file_id, source.name)
        if claimed["state"] != "claimed":
            return claimed
        return self.process(file_id)

    def status(self) -> dict:
        waiting = {}
        for kind, inbox in self.inboxes.items():
            try:
                waiting[kind] = sum(1 for e in os.scandir(inbox.dir)
                                    if e.is_file(follow_symlinks=False) and not inbox.is_temp_name(e.name))
            except OSError:
                waiting[kind] = 0
        return {"waiting": waiting, "states": self.app.store.counts_by_state(), "current": self.current}


# SQLite primary result codes that mean "try again later", not "this file is bad":
# BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL.
_TRANSIENT_SQLITE = {5, 6, 7, 10, 13, 14, 15}
_TRANSIENT_SQLITE_TEXT = ("database is locked", "database table is locked", "disk i/o error",
                          "database or disk is full", "unable to open database")


def is_transient_db_error(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _TRANSIENT_SQLITE
    return any(t in str(exc).lower() for t in _TRANSIENT_SQLITE_TEXT)


def _write_small(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def error_text(inbox: Inbox, row: dict, error: dict) -> str:
    lines = [
        f"marketd could not process {row['name']} (inbox: {inbox.kind})",
        "",
        f"What:   {error['message']}",
        f"Reason: {error['reason']}",
    ]
    if error.get("where"):
        lines.append(f"Where:  {error['where']}")
    if error.get("fix"):
        lines.append(f"Fix:    {error['fix']}")
    lines += [
        "",
        f"File id:  {row['id']}",
        f"Received: {row['claimed_at']}",
        f"Size:     {row['size']} bytes, sha256 {row['sha256'] or 'unknown (the file could not be read)'}",
        f"Handler:  {error['plugin']} {error.get('plugin_version') or ''} (marketd {error['marketd_version']})",
        "",
        "The file itself is next to this report. Nothing from it was applied.",
        f"To retry: fix the file and drop it into inbox/{inbox.kind}/ again, or run `marketd requeue {row['id']}`.",
    ]
    return "\n".join(lines) + "\n"


class NotRegularFile(OSError):
    """The claimed path is not a regular file (a FIFO, socket or device swapped in)."""

    def __init__(self, path: Path, mode: int, size: int):
        super().__init__(f"{path} is {_file_type(mode)}, not a regular file")
        self.mode = mode
        self.size = size


def fingerprint(path: Path) -> tuple[int, str]:
    """Size and sha256 of a claimed file, read without ever blocking on a FIFO or following a
    symlink; raises :class:`NotRegularFile` for anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, st.st_mode, st.st_size)
        os.set_blocking(fd, True)
        h = hashlib.sha256()
        size = 0
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
            size += len(chunk)
        return size, h.hexdigest()
    finally:
        os.close(fd)


def _unusable(inbox: Inbox, work: Path, name: str, exc: OSError) -> FileRejected:
    """The report for a claimed file marketd cannot read at all."""
    if isinstance(exc, NotRegularFile):
        return FileRejected(
            "not_a_regular_file", f"{name} is {_file_type(exc.mode)}, not a regular file; marketd reads only "
            "regular files", fix=f"drop the data as a regular file into inbox/{inbox.kind}/")
    st = _lstat(work)
    owner = f"owned by {_user(st.st_uid)} with mode {stat.filemode(st.st_mode)}" if st else "of unknown owner"
    if isinstance(exc, PermissionError):
        return FileRejected(
            "unreadable", f"marketd cannot read this file: {exc.strerror}. It is {owner}; marketd runs as {_me()}",
            fix="make the files dropped here readable by the marketd user, usually through its group: an SFTP "
                "upload keeps the sender's permission bits, so export the file group-readable or `chmod 660` the "
                "temp file before the rename (docs/operations.md, \"Permissions the upload needs\"). Then make "
                f"this file readable (`chmod g+r` or `chown`) and move it back into inbox/{inbox.kind}/")
    return FileRejected(
        "unreadable", f"marketd could not read this file: {exc.strerror or exc} (errno {exc.errno}). It is {owner}",
        fix="check the disk or network mount the inbox is on (the daemon log has the error), then move the file "
            f"back into inbox/{inbox.kind}/ to try again")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _file_type(mode: int) -> str:
    for test, what in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return what
    return "not a regular file"


def _user(uid: int) -> str:
    try:
        import pwd
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def _me() -> str:
    return f"user {_user(os.geteuid())}"


def _short(summary) -> str:
    text = json.dumps(summary, default=str, ensure_ascii=False) if summary else "{}"
    return text if len(text) < 300 else text[:297] + "..."
