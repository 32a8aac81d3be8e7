"""The claim: take a complete file out of the uploader's hands and record it.

``rename(inbox/<kind>/<name> → .processing/<id>__<name>)`` on the same file system is atomic:
from then on the uploader may reuse the name, and no other claimer can take the file. The claim
is then journaled (``claimed``, with size and sha256) before anything else happens; a crash
between the rename and the journal row is repaired at the next start (recovery adopts files in
``.processing/`` without a row). A file marketd cannot read at all is journaled and rejected
at once (``unreadable``, ``not_a_regular_file``); it never stops the worker.

The door: :func:`claim`, :func:`journal_claim` (also used by recovery and ``marketd process``),
:func:`fingerprint`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import stat
from datetime import datetime, timezone
from pathlib import Path

from ..errors import FileRejected
from ..outbox import fsync_dir, strip_others
from .crash import crashpoint
from .layout import Inbox, new_file_id, strip_id
from .problems import file_type, lstat_or_none, me, user
from .reports import reject

log = logging.getLogger("marketd.inbox")


class ClaimNotJournaled(Exception):
    """The file is in ``.processing/`` but its journal row could not be written (the database
    failed, ``__cause__``); the engine adopts it later with what the gate decided (``verdict``)."""

    def __init__(self, work: Path, verdict: str | None):
        super().__init__(f"{work} claimed, journal row not written")
        self.work = work
        self.verdict = verdict


class NotRegularFile(OSError):
    """The claimed path is not a regular file (a FIFO, socket or device swapped in)."""

    def __init__(self, path: Path, mode: int, size: int):
        super().__init__(f"{path} is {file_type(mode)}, not a regular file")
        self.mode = mode
        self.size = size


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def claim(engine, inbox: Inbox, path: Path, *, requeue: bool = False, verdict: str | None = None) -> dict | None:
    """Move a regular file to ``.processing/`` and journal it. None if it is gone or not a
    regular file. An unreadable file is journaled and rejected at once (``unreadable``).

    ``verdict``: the gate already decided to reject the file (``not_renamed``); it is journaled
    with the claim, so a crash or a failing database between the claim and the rejection can
    never turn it into an applied file (:func:`marketd.inbox.commit.process` rejects it).

    An OS error of the rename propagates (the caller leaves the file and tries later); when the
    journal insert fails, :class:`ClaimNotJournaled` says so, with the file already in
    ``.processing/``: :func:`marketd.inbox.recovery.adopt_unjournaled` picks it up.
    """
    st = lstat_or_none(path)
    if st is None:
        return None
    if not stat.S_ISREG(st.st_mode):
        engine.gate.not_regular(inbox, path, st)
        return None
    file_id = new_file_id(engine.clock.now())
    name = strip_id(path.name)
    work = inbox.work_path(file_id, name)
    try:
        os.rename(path, work)
    except FileNotFoundError:
        if work.parent.is_dir() or not path.exists():
            return None  # gone (renamed away, or another claimer)
        inbox.ensure()  # someone removed .processing/
        os.rename(path, work)
    strip_others(work, st)
    try:
        fsync_dir(work.parent)
    except OSError as exc:  # the rename happened; journal it whatever the fsync says
        log.warning("fsync of %s failed after claiming %s: %s", work.parent, name, exc)
    crashpoint("after_claim_rename")
    try:
        return journal_claim(engine, inbox, work, file_id, name, requeue=requeue, verdict=verdict)
    except sqlite3.Error as exc:
        if engine.app.store.journal_get(file_id) is not None:
            raise  # the row is there (a later step failed): the normal loop goes on with it
        raise ClaimNotJournaled(work, verdict) from exc


def journal_claim(engine, inbox: Inbox, work: Path, file_id: str, name: str, requeue: bool = False,
                  verdict: str | None = None) -> dict:
    """Record a file already in ``.processing/`` as ``claimed`` (hashing it), or reject it at
    once if it cannot be read. Returns the journal row."""
    claimed_at = engine.clock.now()
    try:
        claimed_at = datetime.strptime(file_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    problem = None
    with engine.in_hand(f"{inbox.kind}/{name}", file_id):  # hashing a file on a hung mount blocks
        try:
            size, digest = fingerprint(work)
        except NotRegularFile as exc:
            problem, size, digest = exc, exc.size, None
        except OSError as exc:
            problem, digest = exc, None
            st = lstat_or_none(work)
            size = st.st_size if st else 0
    row = {
        "id": file_id, "kind": inbox.kind, "name": name, "sha256": digest, "size": size,
        "state": "claimed", "claimed_at": claimed_at.isoformat(), "work_path": str(work),
        "requeue": 1 if requeue else 0,
    }
    if verdict:
        row["error"] = json.dumps({"reason": verdict, "pending": True})
    engine.app.store.journal_insert(row)
    if problem is not None:
        reject(engine, inbox, row, unusable(inbox, work, name, problem), level=logging.ERROR)
        return engine.app.store.journal_get(file_id)
    log.info("claimed %s/%s as %s (%d bytes)", inbox.kind, name, file_id, size)
    return row


def unusable(inbox: Inbox, work: Path, name: str, exc: OSError) -> FileRejected:
    """The report for a claimed file marketd cannot read at all."""
    if isinstance(exc, NotRegularFile):
        return FileRejected(
            "not_a_regular_file", f"{name} is {file_type(exc.mode)}, not a regular file; marketd reads only "
            "regular files", fix=f"drop the data as a regular file into inbox/{inbox.kind}/")
    st = lstat_or_none(work)
    owner = f"owned by {user(st.st_uid)} with mode {stat.filemode(st.st_mode)}" if st else "of unknown owner"
    if isinstance(exc, PermissionError):
        return FileRejected(
            "unreadable", f"marketd cannot read this file: {exc.strerror}. It is {owner}; marketd runs as {me()}",
            fix="make the files dropped here readable by the marketd user, usually through its group: an SFTP "
                "upload keeps the sender's permission bits, so export the file group-readable or `chmod 660` the "
                "temp file before the rename (docs/operations.md, \"Permissions the upload needs\"). Then make "
                f"this file readable (`chmod g+r` or `chown`) and move it back into inbox/{inbox.kind}/")
    return FileRejected(
        "unreadable", f"marketd could not read this file: {exc.strerror or exc} (errno {exc.errno}). It is {owner}",
        fix="check the disk or network mount the inbox is on (the daemon log has the error), then move the file "
            f"back into inbox/{inbox.kind}/ to try again")
