"""watchdog observers, treated as hints and supervised.

Every event type (created, modified, closed, moved — both ends, attrib) tells the engine
"look at this path again"; the engine's periodic rescan is what guarantees nothing is missed.
A plain ``FileSystemEventHandler`` is used on purpose: watchdog 7's pattern handler drops a
temp→final rename when the temp name matches an ignore pattern.

The event type is passed along too: ``require_rename`` needs to know, in the order the kernel saw
it, whether a final name was renamed or linked in (moved, or created without any write) or
written directly (modified/closed), and which inodes temp names held, even while the worker is
busy with another file. Events from the polling observer are marked non-native: its "created"
only means "appeared between two listings".
"""
from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import weakref

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

log = logging.getLogger("marketd.watch")


class _OverflowListener(logging.Handler):
    """watchdog 7.1 logs a warning when the kernel's inotify queue overflows, and sends no
    event to handlers (research §0.4): events were lost, so the engine must rescan and stop
    trusting the event-order evidence it keeps for ``require_rename``. This handler on
    watchdog's inotify loggers is the only signal there is."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.watchers: "weakref.WeakSet[Watcher]" = weakref.WeakSet()
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if "overflow" not in record.getMessage().lower():
                return
            with self._guard:
                watchers = list(self.watchers)
            for w in watchers:
                w.on_overflow()
        except Exception:  # pragma: no cover - never break watchdog's thread
            pass


_OVERFLOW = _OverflowListener()
_OVERFLOW_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")


def _listen_for_overflow(watcher: "Watcher") -> None:
    with _OVERFLOW._guard:
        _OVERFLOW.watchers.add(watcher)
    for name in _OVERFLOW_LOGGERS:
        lg = logging.getLogger(name)
        if _OVERFLOW not in lg.handlers:
            lg.addHandler(_OVERFLOW)
        if not lg.isEnabledFor(logging.WARNING):  # someone silenced watchdog: keep the warning coming
            lg.setLevel(logging.WARNING)


class HintHandler(FileSystemEventHandler):
    def __init__(self, engine, native: bool = True):
        self.engine = engine
        self.native = native

    def on_any_event(self, event):
        try:
            if event.is_directory:
                return
            if event.event_type == "moved":
                self.engine.hint(os.fsdecode(event.src_path), event="moved_from", native=self.native)
                self.engine.hint(os.fsdecode(event.dest_path), event="moved", native=self.native)
            else:
                self.engine.hint(os.fsdecode(event.src_path), event=event.event_type, native=self.native)
        except Exception:  # pragma: no cover - an exception here would kill the dispatch thread
            pass


class Watcher:
    """One observer per inbox (native or polling), rebuilt when it dies or its folder goes."""

    def __init__(self, engine):
        self.engine = engine
        self.observers: dict[str, object] = {}
        self.inodes: dict[str, int] = {}
        self.failures = 0
        self.forced_poll: set[str] = set()

    def start(self) -> None:
        _listen_for_overflow(self)
        for kind in self.engine.inboxes:
            self._start_one(kind)

    def on_overflow(self) -> None:
        """Called from watchdog's thread after the kernel dropped events: rescan everything."""
        log.warning("the kernel's inotify event queue overflowed (fs.inotify.max_queued_events); events were "
                    "lost: rescanning every inbox")
        self.engine.events_lost()

    def _start_one(self, kind: str) -> None:
        inbox = self.engine.inboxes[kind]
        inbox.ensure()
        poll = inbox.settings["watch"] == "poll" or kind in self.forced_poll
        obs = PollingObserver(timeout=max(1.0, float(inbox.settings.get("poll_seconds", 2)))) if poll else Observer()
        try:
            obs.schedule(HintHandler(self.engine, native=not poll), str(inbox.dir), recursive=False)
            obs.start()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE) and not poll:
                log.error("inotify limit reached watching %s (%s): falling back to polling; raise "
                          "fs.inotify.max_user_watches / max_user_instances", inbox.dir, exc)
                self.forced_poll.add(kind)
                return self._start_one(kind)
            raise
        self.observers[kind] = obs
        self.inodes[kind] = os.stat(inbox.dir).st_ino

    def _stop_one(self, kind: str) -> None:
        obs = self.observers.pop(kind, None)
        if obs is not None:
            try:
                obs.stop()
                obs.join(timeout=2)
            except Exception:
                pass

    def healthy(self, kind: str) -> bool:
        obs = self.observers.get(kind)
        if obs is None or not obs.is_alive():
            return False
        if any(not e.is_alive() for e in getattr(obs, "emitters", ())):
            return False
        try:
            st = os.stat(self.engine.inboxes[kind].dir)
        except OSError:  # gone, or no longer searchable: rebuilding says why
            return False
        # a file put where the folder was may get the deleted folder's inode number at once: the
        # number alone would call it the same folder while the watch is on a deleted one
        return stat.S_ISDIR(st.st_mode) and st.st_ino == self.inodes.get(kind)

    def supervise(self) -> bool:
        """Check every observer; rebuild broken ones. False when recovery keeps failing."""
        ok = True
        for kind in list(self.engine.inboxes):
            if self.healthy(kind):
                continue
            log.warning("watcher for inbox %s is not healthy (thread dead or folder replaced): rebuilding", kind)
            self._stop_one(kind)
            try:
                self._start_one(kind)
                self.engine.wake.set()
                self.engine.request_rescan()
            except Exception as exc:
                log.error("could not rebuild the watcher for %s: %s", kind, exc)
                self.failures += 1
                ok = False
        if ok:
            self.failures = 0
        return self.failures < 2

    def stop(self) -> None:
        with _OVERFLOW._guard:
            _OVERFLOW.watchers.discard(self)
        for kind in list(self.observers):
            self._stop_one(kind)
