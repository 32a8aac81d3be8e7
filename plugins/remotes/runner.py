"""One run for one remote: local recovery, the outbox sweep, then (only if there is work) one
session with the remote for pushes, unfinished archive steps and due pulls.

Runs on a scheduler thread (job ``remote-<name>``) or in the CLI (``marketd remotes pull``);
an ``flock`` per remote makes the two never overlap, in one process or across processes, so a
file is never downloaded twice at the same time. A remote that cannot be reached is retried
with backoff (5 s doubling to 15 min), and only when there is something to do.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from marketd.sdk import TransientError

from . import pull as pull_mod
from . import push as push_mod
from . import sftp as sftp_mod
from .commit import Committer
from .ledger import Ledger, iso
from .settings import remotes_of

log = logging.getLogger("marketd.remotes")


@dataclass
class Report:
    remote: str
    pulled: int = 0
    pulled_bytes: int = 0
    pushed: int = 0
    pushed_bytes: int = 0
    queued: int = 0
    waiting: int = 0
    changed: int = 0
    blocked: int = 0
    skipped: str | None = None  # why nothing was tried: busy, idle, backing off, disabled
    error: str | None = None  # the remote as a whole failed (connect, host key, connection lost)
    errors: list[str] = field(default_factory=list)  # single files that failed

    def summary(self) -> str:
        if self.skipped:
            return f"remote {self.remote}: {self.skipped}"
        parts = [f"pulled {self.pulled}", f"pushed {self.pushed}"]
        if self.waiting:
            parts.append(f"{self.waiting} not complete yet")
        if self.blocked:
            parts.append(f"{self.blocked} waiting for their inbox name")
        text = f"remote {self.remote}: " + ", ".join(parts)
        if self.error:
            text += f"; FAILED: {self.error}"
        if self.errors:
            text += f"; {len(self.errors)} file(s) failed: " + "; ".join(self.errors[:3])
        return text


class RemoteLock:
    """``<state_dir>/remotes/<name>.lock``: one run per remote at a time, across processes."""

    def __init__(self, state_dir: str | Path, name: str):
        self.path = Path(state_dir) / "remotes" / f"{name}.lock"
        self.fd: int | None = None

    def acquire(self, wait: float = 0.0) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.1)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Pool:
    """Up to ``max_connections`` sessions, each running ``parallel_files`` transfers at once."""

    def __init__(self, remote, secret):
        self.remote = remote
        self.secret = secret
        self.sessions: list = []
        self.dead: set[int] = set()
        self.lost: Exception | None = None

    def alive(self) -> list:
        return [s for s in self.sessions if id(s) not in self.dead]

    async def _add(self) -> None:
        self.sessions.append(await sftp_mod.connect(self.remote, self.secret))

    async def first(self):
        if not self.alive():
            await self._add()
        return self.alive()[0]

    async def grow(self, want: int) -> None:
        want = max(1, min(want, self.remote.max_connections))
        if not self.alive():
            await self._add()
        extra = want - len(self.alive())
        if extra > 0:
            results = await asyncio.gather(*(sftp_mod.connect(self.remote, self.secret) for _ in range(extra)),
                                           return_exceptions=True)
            for r in results:
                if isinstance(r, Exception):  # the server may cap sessions per user: use what we have
                    log.warning("remote %s: an extra connection failed (%s); going on with %d",
                                self.remote.name, sftp_mod.describe(r), len(self.alive()))
                else:
                    self.sessions.append(r)

    async def map(self, items: list, fn) -> None:
        """``await fn(session, item)`` for every item; a session whose connection drops stops
        taking items (the others go on); if every session is lost, the loss is raised."""
        if not items:
            return
        await self.grow(math.ceil(len(items) / self.remote.parallel_files))
        queue = deque(items)

        async def worker(session) -> None:
            while queue and id(session) not in self.dead:
                item = queue.popleft()
                try:
                    await fn(session, item)
                except sftp_mod.RemoteUnavailable as exc:
                    self.dead.add(id(session))
                    self.lost = exc
                    await session.close()

        await asyncio.gather(*(worker(s) for s in self.alive() for _ in range(self.remote.parallel_files)))
        if self.lost is not None and not self.alive():
            raise self.lost

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)


@dataclass
class Plan:
    pushes: list
    landed: bool
    mappings: list


def plan(app, remote, ledger: Ledger, *, force: bool, pulls: bool, pushes: bool) -> Plan:
    now = app.clock.now()
    due_pushes = ledger.due_pushes(remote.name, now, force=force) if pushes else []
    landed = pulls and any(force or not r["next_attempt_at"] or r["next_attempt_at"] <= iso(now)
                           for r in ledger.pulls_in(remote.name, ["landed"]))
    mappings = [p for p in remote.pull if force or pull_mod.due(app, remote, ledger, p, now)] if pulls else []
    return Plan(due_pushes, landed, mappings)


def run(app, name: str, *, force: bool = False, wait_lock: float = 0.0, pulls: bool = True,
        pushes: bool = True) -> Report:
    """One run for remote ``name``; ``force`` (the CLI) ignores schedules and backoff."""
    remote = remotes_of(app)[name]
    report = Report(name)
    if not remote.enabled and not force:
        report.skipped = "disabled (enabled = false)"
        return report
    lock = RemoteLock(app.config["daemon"]["state_dir"], name)
    if not lock.acquire(wait_lock):
        report.skipped = "busy: another run for this remote is in progress (the daemon's job or a CLI command)"
        return report
    try:
        ledger = Ledger.of(app)
        pull_mod.recover(app, remote, ledger)
        report.queued = push_mod.sweep(app, remote, ledger) if pushes else 0
        work = plan(app, remote, ledger, force=force, pulls=pulls, pushes=pushes)
        if not (work.pushes or work.landed or work.mappings):
            report.skipped = "idle: nothing to send, no pull due"
            return report
        state = ledger.state(name)
        now = app.clock.now()
        if not force and state.get("next_connect_at") and state["next_connect_at"] > iso(now):
            report.skipped = f"backing off after an error until {state['next_connect_at']}: {state.get('last_error')}"
            return report
        try:
            asyncio.run(_session(app, remote, ledger, work, report, force))
        except (sftp_mod.RemoteUnavailable, sftp_mod.RemoteRefused, TransientError) as exc:
            report.error = str(exc)
        except Exception as exc:  # a bug must not leave the remote looking healthy
            log.exception("remote %s: run failed", name)
            report.error = sftp_mod.describe(exc)
        if report.error:
            log.error("%s", report.error if report.error.startswith("remote ") else f"remote {name}: {report.error}")
        ledger.remote_ran(name, app.clock.now(), report.error)
        return report
    finally:
        lock.release()


async def _session(app, remote, ledger: Ledger, work: Plan, report: Report, force: bool) -> None:
    pool = Pool(remote, app.secret)
    committer = Committer(ledger)
    try:
        pusher = push_mod.Pusher(app, remote, ledger, report, committer)
        await pool.map(work.pushes, pusher.deliver)
        puller = pull_mod.Puller(app, remote, ledger, pool, report, committer)
        if work.landed:
            await puller.finish_landed(force)
        for pull in work.mappings:
            try:
                await puller.run_mapping(pull, force)
            except (sftp_mod.RemoteUnavailable, sftp_mod.RemoteRefused):
                ledger.pull_ran(remote.name, pull.key, app.clock.now(), ok=False)
                raise
            except Exception as exc:
                ledger.pull_ran(remote.name, pull.key, app.clock.now(), ok=False)
                error = f"pull from {pull.remote_dir}: {sftp_mod.describe(exc)}"
                report.errors.append(error)
                log.error("remote %s: %s", remote.name, error)
    finally:
        await pool.close()
        committer.close()


def job(app, since: datetime | None, *, remote: str) -> dict:
    """The ``remote-<name>`` job body; fails (so ``marketd jobs`` shows it) when something did."""
    report = run(app, remote)
    if report.error or report.errors:
        raise TransientError(report.summary())
    return {"pulled": report.pulled, "pushed": report.pushed}
