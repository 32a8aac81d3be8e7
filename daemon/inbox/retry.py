"""Temporary failures: what counts as one, and when to try again.

An unreachable API, a full disk, an I/O error or a busy, failing or read-only state database is
not the file's fault: the file waits in ``retry_wait`` and is tried again after 1 s, 2 s, 4 s …
(at most 15 min apart), up to ``max_attempts``; then it is rejected as ``gave_up`` with the last
error. The worker itself backs off the same way when the database fails outside any one file
(:class:`DbPause`), so a locked or read-only database never kills it.

The door: :func:`is_transient_db_error`, :func:`delay_for`, :func:`retry_or_give_up`,
:class:`DbPause`.
"""
from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

from ..backoff import Backoff
from ..errors import FileRejected
from .layout import Inbox
from .reports import reject

log = logging.getLogger("marketd.inbox")

# SQLite primary result codes that mean "try again later", not "this file is bad":
# BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
_TRANSIENT_SQLITE = {5, 6, 7, 8, 10, 13, 14, 15}
_TRANSIENT_SQLITE_TEXT = ("database is locked", "database table is locked", "disk i/o error",
                          "database or disk is full", "unable to open database", "readonly database")
MAX_DELAY = 900.0


def is_transient_db_error(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _TRANSIENT_SQLITE
    return any(t in str(exc).lower() for t in _TRANSIENT_SQLITE_TEXT)


def delay_for(attempt: int, cap: float = MAX_DELAY) -> float:
    """1 s, 2 s, 4 s … for attempt 1, 2, 3 …, at most ``cap`` (the one :class:`marketd.backoff.Backoff`)."""
    return Backoff(base=1.0, cap=cap).delay(attempt)


def retry_or_give_up(engine, inbox: Inbox, row: dict, exc: Exception) -> None:
    store = engine.app.store
    row = store.journal_get(row["id"])
    attempts = row["attempts"] or 1
    if attempts >= int(inbox.settings["max_attempts"]):
        reject(engine, inbox, row, FileRejected(
            "gave_up", f"gave up after {attempts} attempts; last error: {type(exc).__name__}: {exc}",
            fix=f"check the service named in the error, then `marketd requeue {row['id']}`"))
        return
    delay = delay_for(attempts)
    nxt = engine.clock.now() + timedelta(seconds=delay)
    store.journal_update(row["id"], state="retry_wait", next_attempt_at=nxt.isoformat(),
                         error={"reason": "transient", "message": f"{type(exc).__name__}: {exc}"})
    log.warning("temporary failure on %s/%s (attempt %d), retrying in %.0fs: %s", inbox.kind, row["name"],
                attempts, delay, exc)


class DbPause:
    """The worker's pause after a database failure outside any one file's handling (the claim's
    journal row, the journal queries of the loop): 1 s, 2 s … at most ``cap``, reset by the
    first round that works. The failure is logged once per distinct message."""

    def __init__(self, clock, cap: float = 60.0):
        self.clock = clock
        self.cap = cap
        self.failures = 0
        self.until = 0.0
        self.last: str | None = None

    def waiting(self) -> bool:
        return self.clock.monotonic() < self.until

    def failed(self, exc: BaseException, doing: str) -> float:
        self.failures += 1
        delay = delay_for(self.failures, self.cap)
        self.until = self.clock.monotonic() + delay
        text = f"{type(exc).__name__}: {exc}"
        if text != self.last:
            self.last = text
            hint = ""
            if "readonly" in str(exc).lower() or "read-only" in str(exc).lower():
                hint = " (the state database or its folder is read-only for marketd: check permissions and mounts)"
            log.error("the state database failed while %s: %s%s; the inbox worker pauses and tries again "
                      "(1 s, 2 s … up to %.0f s apart); no file is lost", doing, text, hint, self.cap)
        return delay

    def succeeded(self) -> None:
        if self.failures:
            log.info("the state database works again; the inbox worker continues")
        self.failures = 0
        self.until = 0.0
        self.last = None
