"""The long-running daemon: lock, recovery, watchers, worker, scheduler, systemd protocol.

The main thread only supervises (signals, observer health, ``WATCHDOG=1``); one worker thread
processes files so a long file never delays the watchdog ping, and the scheduler has its own
threads. ``READY=1`` is sent only after recovery and the start-up scan, so systemd (and the
end-to-end tests) know that every file already waiting has been seen.

The ping means "making progress", not only "alive": it stops while an inbox cannot be watched,
when the worker thread died, and when one file has been in hand longer than
``[daemon] max_file_seconds`` (a handler stuck on it); systemd then restarts marketd, and the
next start rejects that file as ``too_slow`` instead of hanging on it again.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import config as config_mod
from .errors import AlreadyRunning
from .inbox import InboxEngine
from .sdnotify import notify, watchdog_interval

if TYPE_CHECKING:
    from .scheduler import JobRunner
    from .watch import Watcher

log = logging.getLogger("marketd")


class InstanceLock:
    """One daemon per state directory: an ``flock`` on ``<state>/marketd.lock``."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "marketd.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
        from .outbox import ensure_dir

        ensure_dir(self.path.parent)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(f"another marketd (pid {pid or '?'}) is running on {self.path.parent}")
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def holder(self) -> str | None:
        """The pid holding the lock, or None when no daemon runs (used by `marketd status`)."""
        if not self.path.exists():
            return None
        fd = os.open(str(self.path), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        except BlockingIOError:
            return os.read(fd, 32).decode(errors="replace").strip() or "?"
        finally:
            os.close(fd)


class Daemon:
    def __init__(self, app):
        self.app = app
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.lock = InstanceLock(app.state_dir)
        self.engine: InboxEngine | None = None
        self.worker: threading.Thread | None = None
        self.worker_error: BaseException | None = None
        self._stuck_on: str | None = None  # file id the supervisor gave up on (max_file_seconds)

    def _signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._request_stop("SIGTERM"))
        signal.signal(signal.SIGINT, lambda *_: self._request_stop("SIGINT"))
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())

    def _request_stop(self, why: str) -> None:
        log.info("%s received: finishing the file in hand, then stopping", why)
        self.stop.set()
        if self.engine:
            self.engine.stopping.set()
            self.engine.wake.set()

    def _work(self) -> None:
        engine = self.engine
        d = self.app.config["daemon"]
        rescan_every = float(d["rescan_seconds"])
        batch = int(d["batch_size"])
        last_scan = time.monotonic()
        try:
            while not self.stop.is_set():
                engine.wake.wait(timeout=0.25)
                engine.wake.clear()
                if engine.rescan_requested or time.monotonic() - last_scan >= rescan_every:
                    engine.rescan_requested = False
                    engine.scan()
                    last_scan = time.monotonic()
                while engine.run_once(limit=batch) and not self.stop.is_set():
                    engine.publish_waiting()
                engine.publish_waiting()
        except BaseException as exc:  # the supervisor sees a dead worker and stops the watchdog ping
            self.worker_error = exc
            log.exception("inbox worker died")

    def _reload_config(self) -> None:
        """SIGHUP: the ``[inbox.*]`` settings of a config that loads are applied all together;
        one that does not load changes nothing (the running settings stay, an ERROR says why)."""
        notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")
        path = self.app.config.get("_path")
        try:
            fresh = self.app.check_config(config_mod.load(path)) if path else self.app.config
            settings = {kind: config_mod.inbox_settings(fresh, kind) for kind in self.engine.inboxes}
        except Exception as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
        else:
            for kind, inbox in self.engine.inboxes.items():
                inbox.settings = settings[kind]
            self.app.config["inbox"] = fresh["inbox"]
            log.info("configuration reloaded from %s (inbox settings)", path)
        self.engine.request_rescan()
        notify("READY=1")

    def run(self) -> int:
        self.lock.acquire()
        try:
            return self._run()
        finally:
            self.lock.release()

    def _run(self) -> int:
        # the scheduler (APScheduler) and the watchers (watchdog) only here: one-shot commands
        # take InstanceLock from this module and must not pay for them
        from .scheduler import JobRunner
        from .watch import Watcher

        app = self.app
        self._signals()
        app.store.check_writable()  # a read-only database: one line now, not a dead worker later
        engine = self.engine = InboxEngine(app)
        engine.ensure_dirs()
        engine.recover()
        watcher = Watcher(engine)
        watcher.start()  # before the start-up scan: a file renamed in meanwhile has its events
        engine.scan(startup=True)
        jobs = JobRunner(app)
        jobs.start()
        self.worker = threading.Thread(target=self._work, name="inbox-worker", daemon=True)
        self.worker.start()
        notify("READY=1", f"STATUS=watching {len(engine.inboxes)} inboxes", f"MAINPID={os.getpid()}")
        log.info("marketd ready: inboxes %s under %s, outbox %s, %d jobs", ", ".join(engine.inboxes) or "none",
                 app.inbox_dir, app.outbox_dir, len(jobs.specs))
        ping_every = watchdog_interval()
        supervise_every = float(app.config["daemon"]["supervise_seconds"])
        last_ping = 0.0
        try:
            while not self.stop.wait(timeout=min(supervise_every, ping_every or supervise_every)):
                if self.reload.is_set():
                    self.reload.clear()
                    self._reload_config()
                watchers_ok = watcher.supervise()
                worker_ok = self.worker.is_alive()
                progress_ok = self._progressing(engine, bool(ping_every))
                if ping_every and watchers_ok and worker_ok and progress_ok \
                        and time.monotonic() - last_ping >= ping_every * 0.9:
                    st = engine.status()
                    waiting = sum(st["waiting"].values())
                    notify("WATCHDOG=1", f"STATUS={waiting} waiting, {engine.processed_count} processed, "
                                         f"{engine.error_count} errors")
                    last_ping = time.monotonic()
                if not worker_ok:
                    log.error("inbox worker is dead: not pinging the watchdog so systemd restarts marketd")
                    if not ping_every:
                        return 1
        finally:
            notify("STOPPING=1")
            engine.stopping.set()
            engine.wake.set()
            engine.waiting_note.clear()
            self._shutdown(engine, watcher, jobs)
        return 0

    def _progressing(self, engine: InboxEngine, pinging: bool) -> bool:
        """False while one file has been in hand longer than ``[daemon] max_file_seconds``.

        Said once per file (ERROR, naming it), with a note in the state folder so the next start
        rejects the file as ``too_slow``; if the file finishes after all, the note goes and the
        pings resume."""
        limit = float(self.app.config["daemon"].get("max_file_seconds", 3600))
        stuck = engine.in_hand.held_longer_than(limit)
        noted = self._stuck_on
        if stuck is None:
            if noted is not None:
                held = engine.in_hand.current()
                if held is None or held.file_id != noted:
                    log.info("the worker let go of %s after all; the watchdog is fed again", noted)
                    engine.stuck_note.clear()
                    self._stuck_on = None
            return True
        held, age = stuck
        if noted != held.file_id:
            self._stuck_on = held.file_id
            engine.stuck_note.write(held, age, limit)
            log.error("the inbox worker has been on %s (%s) for %.0f s, longer than [daemon] max_file_seconds "
                      "(%.0f s): it looks stuck. %s; at the next start this file goes to .error/ as too_slow "
                      "(raise max_file_seconds if files this large are normal)", held.what, held.file_id, age, limit,
                      "Not pinging the systemd watchdog, so systemd restarts marketd" if pinging else
                      "Without a systemd watchdog nothing restarts marketd: restart it by hand")
        return False

    def _shutdown(self, engine: InboxEngine, watcher: Watcher, jobs: JobRunner) -> None:
        """Stop within ``[daemon] stop_timeout_seconds`` (default 100: the units' TimeoutStopSec
        is 120). The file in hand and running jobs get that long to finish; whatever is still
        running then is abandoned like a ``kill -9``: the process exits at once, without
        closing the store under a thread that is still writing, so the file's transaction
        never commits, it stays claimed and is processed again at the next start."""
        budget = float(self.app.config["daemon"].get("stop_timeout_seconds", 100))
        deadline = time.monotonic() + budget
        stopper = threading.Thread(target=jobs.shutdown, name="scheduler-shutdown", daemon=True)
        stopper.start()  # in parallel with the worker finishing its file
        self.worker.join(timeout=max(0.0, deadline - time.monotonic()))
        watcher.stop()
        stopper.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.worker.is_alive() or stopper.is_alive():
            busy = [f"file {engine.current}" if self.worker.is_alive() else None,
                    "a scheduled job" if stopper.is_alive() else None]
            log.error("still busy with %s after %.0f s (stop_timeout_seconds): abandoning it as a kill -9 "
                      "would; a file's changes are not committed, it stays claimed and is processed again at "
                      "the next start",
                      " and ".join(b for b in busy if b), budget)
            logging.shutdown()  # flush the log before leaving
            os._exit(0)
        self.app.close()
        log.info("marketd stopped")
