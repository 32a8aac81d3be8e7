"""The completeness gate: which dropped files are complete and may be claimed, and why the others wait.

Events from the watcher are hints (:meth:`Gate.hint`), the scan is the truth (:meth:`Gate.scan`);
both only put paths on the candidate list. :meth:`Gate.ready` then applies each inbox's rules:

- every mode: the file is stable, its ``(size, mtime, inode)`` unchanged for ``stability_seconds``
  (with the native watcher a file whose mtime is already older than that is taken after 0.5 s),
  and at least ``min_age_seconds`` old;
- ``stable``: a file that looks cut (:func:`unterminated_tail`: the last line has no line break, or
  it ends in NUL bytes) waits a *second* window, in case it is still growing; after that the
  handler judges the content (a cut row is rejected as ``truncated``). A handler may replace the
  check with its own ``suspect(path)``, or switch it off with ``suspect = None``;
- ``done_file``: its ``<name><done_suffix>`` marker exists;
- ``require_rename``: it arrived by a rename or a link (evidence below), or it was already there
  when marketd started (:meth:`scan` with ``startup=True``): a rename made while marketd was down
  leaves no trace an event could show, and an ERP's quick write-then-rename leaves ctime == mtime,
  so such a file is taken once stable, and the log says so. A file written directly under its
  final name waits (logged once, with how to upload instead) and goes to ``.error/`` as
  ``not_renamed`` after ``direct_write_grace_seconds``.

How a file arrived (``require_rename``) is :mod:`.evidence`'s business.

The door: :meth:`hint`, :meth:`events_lost`, :meth:`scan`, :meth:`ready`, :meth:`forget`,
:meth:`block`, and :attr:`waiting` (why each file waits, for ``marketd status``).
"""
from __future__ import annotations

import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .evidence import RenameEvidence
from .layout import Inbox
from .problems import Problems, file_type, lstat_or_none, me

log = logging.getLogger("marketd.inbox")

NOT_RENAMED = "not_renamed"
_UNKNOWN = object()
# Containers whose last bytes are binary by design (XLSX/ZIP, XLS/OLE, PDF, gzip): never "cut lines".
_BINARY_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x1f\x8b")


def unterminated_tail(path: Path) -> str | None:
    """Why a text file may still be incomplete, judged from its last bytes, or None.

    A format without a trailer cannot tell a finished file from one whose writer paused: a last
    line without a line break may be the middle of a row, and trailing NUL bytes are space an
    uploader reserved and has not filled yet. UTF-16 text (a BOM) is judged by its last code unit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None  # the claim reports an unreadable file properly
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return None
        head = os.pread(fd, 8, 0)
        tail = os.pread(fd, min(st.st_size, 4096), max(0, st.st_size - 4096))
    except OSError:
        return None
    finally:
        os.close(fd)
    if head.startswith(_BINARY_MAGIC):
        return None
    if head.startswith(b"\xff\xfe"):
        ends = tail[-2:] in (b"\n\x00", b"\r\x00")
    elif head.startswith(b"\xfe\xff"):
        ends = tail[-2:] in (b"\x00\n", b"\x00\r")
    else:
        if tail.endswith(b"\x00"):
            return "the file ends with NUL bytes (space an upload reserved and has not filled yet?)"
        ends = tail[-1:] in (b"\n", b"\r")
    return None if ends else "the last line has no line break"


@dataclass
class Observation:
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    first_seen: float  # monotonic time the current (size, mtime, inode) was first seen
    suspect: object = _UNKNOWN  # cached unterminated_tail() verdict for this (size, mtime, inode)
    rename_deadline: float | None = None  # wall time it becomes not_renamed (require_rename)


@dataclass
class Wait:
    """Why a dropped file is not taken yet (shown by ``marketd status``)."""
    code: str  # too_new | settling | second_window | done_file | rename | startup | blocked
    text: str
    until: float | None = None  # wall time something happens (a not_renamed rejection), if known

    def as_json(self) -> dict:
        return {"reason": self.code, "text": self.text, "until": self.until}


@dataclass
class Blocked:
    until: float  # monotonic
    text: str


@dataclass
class Gate:
    inboxes: dict[str, Inbox]
    clock: object
    problems: Problems
    busy_names: Callable[[str], set]  # names of a kind's files being processed (done-file markers)
    candidates: dict[Path, Observation] = field(default_factory=dict)
    preexisting: dict[Path, int] = field(default_factory=dict)  # path -> inode, found by the start-up scan
    blocked: dict[Path, Blocked] = field(default_factory=dict)
    waiting: dict[Path, Wait] = field(default_factory=dict)

    def __post_init__(self):
        self._dirs: dict[Path, Inbox] = {inbox.dir: inbox for inbox in self.inboxes.values()}
        self._hints: set[Path] = set()
        self._lock = threading.Lock()  # guards _hints (watcher threads add, the worker drains)
        self.evidence = RenameEvidence(self.clock)

    # -- events (watcher threads) ----------------------------------------------------------------
    def hint(self, path: str | Path, moved: bool = False, event: str | None = None, native: bool = True) -> bool:
        """Remember the path for the worker; True if it is in an inbox folder. Never raises.

        ``event`` is the watchdog event type (``moved`` for the destination of a move,
        ``moved_from`` for its source). ``native`` is False for the polling observer, whose
        "created" says nothing about how a file was written.
        """
        try:
            p = Path(path)
            inbox = self._dirs.get(p.parent)
            if inbox is None:  # .processing/, .done/ … or outside any inbox
                return False
            if moved and event is None:
                event = "moved"
            if event is not None:
                self.evidence.note_event(p, inbox.is_temp_name(p.name), event, native)
            with self._lock:
                self._hints.add(p)
            return True
        except Exception:  # pragma: no cover - must never kill the observer thread
            return False

    def events_lost(self) -> None:
        """The watcher lost events (inotify queue overflow): see :meth:`RenameEvidence.events_lost`."""
        self.evidence.events_lost()

    # -- listing (worker) --------------------------------------------------------------------------
    def scan(self, startup: bool = False) -> int:
        """The truth: list every inbox folder and consider every file there.

        ``startup``: this is the daemon's first look; final-named files found now (and not seen
        being written by the watcher) count as complete for ``require_rename`` once stable.
        """
        n = 0
        self.evidence.expire(self.clock.monotonic() - 3600)
        for inbox in self.inboxes.values():
            try:
                entries = list(os.scandir(inbox.dir))
            except FileNotFoundError:
                inbox.ensure()
                continue
            except OSError as exc:
                self.problems.report(("dir", inbox.dir), str(exc.errno), logging.ERROR,
                                     "cannot list inbox folder %s: %s; marketd (%s) needs read and search "
                                     "permission on it", inbox.dir, exc.strerror, me())
                continue
            self.problems.clear(("dir", inbox.dir))
            present = set()
            for entry in entries:
                path = Path(entry.path)
                present.add(path)
                try:
                    if entry.is_dir(follow_symlinks=False):
                        continue
                    if entry.is_file(follow_symlinks=False):
                        self.consider(inbox, path)
                        n += 1
                        if startup and path in self.candidates and not self.evidence.written_directly(path):
                            self.preexisting[path] = self.candidates[path].inode
                    elif not inbox.is_temp_name(entry.name):
                        self.not_regular(inbox, path, entry.stat(follow_symlinks=False))
                except OSError as exc:
                    self.problems.report(("stat", path), str(exc.errno), logging.ERROR,
                                         "cannot examine %s/%s: %s", inbox.kind, entry.name, exc)
            if inbox.settings["mode"] == "done_file":
                self._orphan_markers(inbox, {p.name for p in present})
            self.problems.forget_gone(inbox.dir, present)
            for path in [p for p in self.blocked if p.parent == inbox.dir and p not in present]:
                del self.blocked[path]
        return n

    def _orphan_markers(self, inbox: Inbox, names: set[str]) -> None:
        """done_file mode: a marker whose data file has not arrived within
        ``done_marker_timeout_seconds`` of the marker's modification time is reported once
        (WARNING), and again if it changes. It is never taken or deleted."""
        suffix = inbox.settings["done_suffix"]
        timeout = float(inbox.settings.get("done_marker_timeout_seconds", 600))
        wall = time.time()
        for name in names:
            if not name.endswith(suffix) or len(name) <= len(suffix):
                continue
            data = name[:-len(suffix)]
            if data in names:
                continue
            st = lstat_or_none(inbox.dir / name)
            if st is None or not stat.S_ISREG(st.st_mode) or wall - st.st_mtime < timeout:
                continue
            try:
                if data in self.busy_names(inbox.kind):
                    continue  # its data file is being processed: the marker goes with it
            except Exception:  # the journal is unavailable: judge again at the next scan
                continue
            self.problems.report(("marker", inbox.dir / name), (st.st_ino, st.st_mtime_ns), logging.WARNING,
                                 "%s/%s is a done-file marker, but its data file %s has not arrived in %.0f s; "
                                 "upload %s (the marker must be written after the data), or remove the marker",
                                 inbox.kind, name, data, timeout, data)

    def drain_hints(self) -> None:
        with self._lock:
            hints, self._hints = self._hints, set()
        for p in hints:
            inbox = self._dirs.get(p.parent)
            if inbox is not None:
                self.consider(inbox, p)

    @property
    def pending_hints(self) -> set[Path]:
        with self._lock:
            return set(self._hints)

    def forget(self, path: Path) -> None:
        """The file at ``path`` is gone (or claimed): drop everything remembered about it."""
        self.candidates.pop(path, None)
        self.blocked.pop(path, None)
        self.preexisting.pop(path, None)
        self.waiting.pop(path, None)
        self.evidence.forget(path)

    def block(self, path: Path, seconds: float, text: str) -> None:
        """The claim of ``path`` failed: leave it alone for ``seconds`` (it is logged once)."""
        self.blocked[path] = Blocked(self.clock.monotonic() + seconds, text)

    def consider(self, inbox: Inbox, path: Path) -> None:
        name = path.name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.forget(path)
            return
        except OSError as exc:
            self.candidates.pop(path, None)
            self.problems.report(("stat", path), str(exc.errno), logging.ERROR, "cannot examine %s/%s: %s",
                                 inbox.kind, name, exc)
            return
        if not stat.S_ISREG(st.st_mode):
            self.forget(path)
            if not stat.S_ISDIR(st.st_mode) and not inbox.is_temp_name(name):
                self.not_regular(inbox, path, st)
            return
        if inbox.is_temp_name(name):
            self.evidence.note_temp(path, st.st_ino)
            return
        obs = self.candidates.get(path)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if obs is None or (obs.size, obs.mtime_ns, obs.inode) != key:
            if obs is not None:
                # written under its final name since we last looked (a direct write), or another
                # file under the name: nothing from before (the start-up rule included) holds
                self.preexisting.pop(path, None)
                if obs.inode == st.st_ino:
                    self.evidence.overwritten(path)
            self.candidates[path] = Observation(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
                                                self.clock.monotonic())
        else:
            obs.ctime_ns = st.st_ctime_ns

    def not_regular(self, inbox: Inbox, path: Path, st: os.stat_result) -> None:
        self.problems.report(("type", path), (st.st_ino, stat.S_IFMT(st.st_mode)), logging.ERROR,
                             "%s/%s is %s, not a regular file: marketd never reads it (only regular files "
                             "are taken from an inbox); remove it, and drop the data as a regular file",
                             inbox.kind, path.name, file_type(st.st_mode))

    # -- the rules ---------------------------------------------------------------------------------
    def _arrived_by_rename(self, path: Path, obs: Observation) -> str | None:
        """How this file is known to have arrived by a rename or link after its last write
        (``event``, ``temp link``, ``timestamps``), or ``startup`` for a file the start-up scan
        found, or None."""
        how = self.evidence.arrived_by_rename(path, obs.inode, obs.size, obs.ctime_ns, obs.mtime_ns)
        if how is None and self.preexisting.get(path) == obs.inode:
            return "startup"
        return how

    def _suspect(self, inbox: Inbox, path: Path, obs: Observation) -> str | None:
        if obs.suspect is _UNKNOWN:
            check = getattr(inbox.handler, "suspect", unterminated_tail)
            try:
                obs.suspect = check(path) if check is not None else None
            except Exception as exc:  # a handler's check must not stop the gate
                log.error("%s: the suspect() check raised on %s: %s", inbox.kind, path.name, exc)
                obs.suspect = None
        return obs.suspect

    def ready(self) -> list[tuple[Inbox, Path, str | None]]:
        """Candidates that passed their inbox's completeness gate, oldest first; the others get
        their reason in :attr:`waiting`. The third element is ``not_renamed`` for a
        ``require_rename`` file whose grace ran out (claimed to be rejected)."""
        now = self.clock.monotonic()
        wall = time.time()  # mtimes are set by the kernel's clock, not the injectable one
        out = []
        waiting: dict[Path, Wait] = {}
        for path, obs in list(self.candidates.items()):
            inbox = self._dirs.get(path.parent)
            if inbox is None:
                self.candidates.pop(path, None)
                continue
            self.consider(inbox, path)
            obs = self.candidates.get(path)
            if obs is None:
                continue
            blocked = self.blocked.get(path)
            if blocked is not None and now < blocked.until:
                waiting[path] = Wait("blocked", blocked.text)
                continue
            verdict = self._judge(inbox, path, obs, now, wall)
            if isinstance(verdict, Wait):
                waiting[path] = verdict
            else:
                out.append((inbox, path, verdict))
        self.waiting = waiting
        out.sort(key=lambda t: (self.candidates[t[1]].mtime_ns, t[1].name))
        return out

    def _judge(self, inbox: Inbox, path: Path, obs: Observation, now: float, wall: float):
        s = inbox.settings
        window = float(s["stability_seconds"])
        held = now - obs.first_seen
        mtime_age = wall - obs.mtime_ns / 1e9
        min_age = float(s["min_age_seconds"])
        if mtime_age < min_age:
            return Wait("too_new", f"newer than min_age_seconds ({min_age:g} s)")
        poll = s["watch"] == "poll"

        def settled(span: float) -> bool:
            return held >= span or (not poll and mtime_age >= span and held >= min(0.5, span))

        if not settled(window):
            return Wait("settling", f"settling: taken once unchanged for {window:g} s (stability_seconds)")
        mode = s["mode"]
        name = path.name
        if mode == "stable":
            why = self._suspect(inbox, path, obs)
            if why and not settled(2 * window):
                self.problems.report(("suspect", path), (obs.size, obs.mtime_ns, obs.inode), logging.INFO,
                                     "%s/%s: %s; waiting a second stability window (%g s) in case it is still "
                                     "being written", inbox.kind, name, why, window)
                return Wait("second_window", f"{why}: waiting a second stability window ({window:g} s) in case "
                                             "it is still being written")
        elif mode == "done_file":
            marker = name + s["done_suffix"]
            if not (inbox.dir / marker).exists():
                return Wait("done_file", f"waiting for its done file {marker} (mode done_file: write it after "
                                         "the data is complete)")
        elif mode == "require_rename":
            how = self._arrived_by_rename(path, obs)
            if how is None:
                grace = float(s.get("direct_write_grace_seconds", 600))
                if held >= grace:
                    return NOT_RENAMED
                if obs.rename_deadline is None:
                    obs.rename_deadline = wall + grace - held
                self.problems.report(("rename", path), obs.inode, logging.WARNING,
                                     "%s/%s is waiting for a rename: inbox %s takes only files uploaded under a "
                                     "temporary name and then renamed (mode require_rename). Upload it as %s.tmp "
                                     "and rename it to %s when complete; if nothing renames it, it goes to "
                                     ".error/ as not_renamed in %.0f s", inbox.kind, name, inbox.kind, name, name,
                                     grace - held)
                return Wait("rename", f"waiting for a rename: it was written under its final name; upload it as "
                                      f"{name}.tmp and rename it to {name} when complete (mode require_rename), "
                                      "or it goes to .error/ as not_renamed", obs.rename_deadline)
            if how == "startup":
                self.problems.report(("startup", path), obs.inode, logging.INFO,
                                     "%s/%s was already in the inbox when marketd started: how it arrived cannot "
                                     "be told (a rename made while marketd was down looks like a direct write), "
                                     "so it is taken as complete now that it has been stable for %g s",
                                     inbox.kind, name, window)
        return None

    def waiting_in(self, kinds: Iterable[str] | None = None) -> list[dict]:
        """``[{kind, name, reason, text, until}]`` for every file the last :meth:`ready` held back."""
        out = []
        for path, wait in sorted(self.waiting.items()):
            inbox = self._dirs.get(path.parent)
            if inbox is None or (kinds is not None and inbox.kind not in kinds):
                continue
            out.append({"kind": inbox.kind, "name": path.name, **wait.as_json()})
        return out
