"""Push: outbox files to a remote folder, each delivered exactly once.

A file is queued when an inbox file's outputs are published (the ``file_processed`` event) and
by a sweep of the outbox folder at every run (the truth: it also finds outputs of jobs, and
those whose event a crash swallowed). Its identity is (path, size, mtime, inode): a file
re-published under the same name, or ``touch``-ed on purpose, is delivered again.

Steps, each committed before the next (crash points in brackets):

1. the file is written to ``temp_name`` (``NAME.tmp``) in the remote folder, created with the
   local file's permission bits; the remote size is checked [``remote_push_uploaded``]; a crash
   before step 2 means uploading it again (over the temp name);
2. row ``renaming`` [``remote_push_renaming``]; rename to ``NAME`` — never over an existing
   file unless ``conflict = "replace"`` [``remote_push_renamed``];
3. with ``done_file``: an empty ``NAME.done``, created only if absent [``remote_push_marked``];
4. row ``done``.

Steps of files in flight together are committed together (:mod:`.commit`).

After a crash in step 2 the temp name decides: still there means not renamed (rename now);
gone means renamed (the ERP may even have taken the file already), so it is never uploaded a
second time. The ERP must therefore leave ``NAME.tmp`` files alone.
"""
from __future__ import annotations

import logging
import os
import posixpath
import time
from pathlib import Path

from marketd.sdk import crashpoint

from . import sftp as sftp_mod
from .ledger import Ledger, iso

log = logging.getLogger("marketd.remotes")


def outbox_folder(app, push) -> Path:
    return Path(app.outbox_dir) / push.outbox


def _files(folder: Path, push):
    """(entry, path relative to the outbox folder) of every file to consider, sub-folders too
    when ``push.subfolders`` (dot-folders never: they hold temp files)."""
    stack = [(folder, "")]
    while stack:
        here, rel = stack.pop()
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if push.subfolders and not entry.name.startswith("."):
                    stack.append((Path(entry.path), f"{rel}{entry.name}/"))
            elif entry.is_file(follow_symlinks=False) and push.wants(entry.name):
                yield entry, rel + entry.name


def sweep(app, remote, ledger: Ledger) -> int:
    """Queue every file of each pushed outbox folder that the ledger has not seen (local only)."""
    queued = 0
    now = app.clock.now()
    for push in remote.push:
        folder = outbox_folder(app, push)
        if not folder.is_dir():
            continue
        since = ledger.mapping_since(remote.name, push.key, now, time.time_ns())
        known = ledger.known_pushes(remote.name, push.key)
        new = []
        for entry, rel in _files(folder, push):
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if (entry.path, st.st_size, st.st_mtime_ns, st.st_ino) in known:
                continue
            if push.existing == "skip" and st.st_ctime_ns < since:
                continue  # there before this push was configured
            new.append((entry.path, st.st_size, st.st_mtime_ns, st.st_ino, posixpath.join(push.remote_dir, rel)))
        queued += ledger.enqueue_pushes(remote.name, push.key, new, now)
    return queued


def enqueue_outputs(app, remotes: dict, ledger: Ledger, paths: list[str]) -> int:
    """The ``file_processed`` hint: queue just-published outputs at once (no scan, no network),
    in one commit per push (a shipments file may publish a thousand labels)."""
    now = app.clock.now()
    outbox = Path(app.outbox_dir).resolve()
    groups: dict[tuple[str, str], list] = {}
    for p in paths:
        path = Path(p)
        try:
            rel = path.resolve().relative_to(outbox)
        except ValueError:
            continue
        if len(rel.parts) < 2 or any(part.startswith(".") for part in rel.parts[1:-1]):
            continue
        st = None
        for remote in remotes.values():
            if not remote.enabled:
                continue
            for push in remote.push:
                if push.outbox != rel.parts[0] or not push.wants(path.name):
                    continue
                if len(rel.parts) > 2 and not push.subfolders:
                    continue
                try:
                    st = st or os.stat(path)
                except FileNotFoundError:
                    break
                groups.setdefault((remote.name, push.key), []).append(
                    (str(path), st.st_size, st.st_mtime_ns, st.st_ino,
                     posixpath.join(push.remote_dir, *rel.parts[1:])))
    queued = 0
    for (remote, key), files in groups.items():
        ledger.mapping_since(remote, key, now, time.time_ns())
        queued += ledger.enqueue_pushes(remote, key, files, now)
    return queued


class Pusher:
    def __init__(self, app, remote, ledger: Ledger, report, committer):
        self.app, self.remote, self.ledger, self.report = app, remote, ledger, report
        self.commit = committer
        self._folders_ready: set[str] = set()
        self.name = remote.name

    def now(self):
        return self.app.clock.now()

    def _push_of(self, row: dict):
        return next((p for p in self.remote.push if p.key == row["mapping"]), None)

    async def deliver(self, session, row: dict) -> None:
        """Steps 1–4 for one queued file, resuming from the step its row records."""
        push = self._push_of(row)
        if push is None:
            self.ledger.update_push(row["id"], state="gone", last_error="its [[push]] entry was removed from the config")
            return
        try:
            fd = os.open(row["local_path"], os.O_RDONLY)
        except FileNotFoundError:
            fd = None
        if fd is None or _identity(fd) != (row["size"], row["mtime_ns"], row["ino"]):
            if fd is not None:
                os.close(fd)
            if row["state"] == "pending":
                self.ledger.update_push(row["id"], state="gone", done_at=iso(self.now()),
                                        last_error="the local file was removed or replaced before it was sent")
                return
            fd = None  # already uploaded: finishing the rename or the marker needs no local data
        try:
            await self._deliver(session, push, row, fd)
        except Exception as exc:
            if isinstance(exc, sftp_mod.RemoteUnavailable):
                self.ledger.push_failed(row["id"], sftp_mod.describe(exc), self.now())
                raise
            error = _explain(exc, row)
            self.ledger.push_failed(row["id"], error, self.now())
            self.report.errors.append(f"{row['local_path']}: {error}")
            log.error("remote %s: cannot deliver %s to %s: %s; kept in the outbox, retried with backoff",
                      self.name, row["local_path"], row["remote_path"], error)
        finally:
            if fd is not None:
                os.close(fd)

    async def _deliver(self, session, push, row: dict, fd: int | None) -> None:
        final = row["remote_path"]
        folder, name = posixpath.split(final)
        temp = push.temp_for(name)
        temp_path = posixpath.join(folder, temp) if temp else None
        state = row["state"]
        mode = os.fstat(fd).st_mode & 0o777 if fd is not None else 0o600
        if state == "renaming":
            st = await session.stat(temp_path)
            if st is None:
                state = "marking"  # renamed before a crash: never upload it again
            elif st.size != row["size"]:
                state = "pending"
        if state == "pending" and fd is None:
            self.ledger.update_push(row["id"], state="gone", done_at=iso(self.now()),
                                    last_error="the local file was removed or replaced before it was sent")
            return
        if state == "pending":
            if folder != push.remote_dir and folder not in self._folders_ready:
                await self._make_folders(session, push.remote_dir, folder)
            target = temp_path or final
            size = await session.upload(fd, row["size"], target, mode)
            if size != row["size"]:
                raise OSError(f"the remote holds {size} bytes of {target} after the upload, not {row['size']} "
                              "(remote disk full or quota?)")
            crashpoint("remote_push_uploaded")
            if temp_path:
                await self.commit(lambda db: db.execute("update pushes set state = 'renaming' where id = ?",
                                                        (row["id"],)))
                crashpoint("remote_push_renaming")
                state = "renaming"
            else:
                state = "marking"
        if state == "renaming":
            await self._rename(session, push, temp_path, final)
            crashpoint("remote_push_renamed")
            state = "marking"
        if state == "marking" and push.done_file:
            # the ERP takes NAME only with its marker: NAME gone means the marker was there
            if await session.stat(final) is not None:
                await session.touch(final + push.done_suffix, mode)
            crashpoint("remote_push_marked")
        done_at = iso(self.now())
        await self.commit(lambda db: db.execute(
            "update pushes set state = 'done', done_at = ?, last_error = null, next_attempt_at = null where id = ?",
            (done_at, row["id"])))
        self.report.pushed += 1
        self.report.pushed_bytes += row["size"]
        log.info("remote %s: delivered %s to %s (%d bytes)", self.name, row["local_path"], final, row["size"])

    async def _make_folders(self, session, base: str, folder: str) -> None:
        """The sub-folders of a ``subfolders`` push, created below ``remote_dir`` (never above)."""
        parts = posixpath.relpath(folder, base).split("/")
        path = base
        for part in parts:
            path = posixpath.join(path, part)
            if path not in self._folders_ready:
                await session.ensure_dir(path)
                self._folders_ready.add(path)

    async def _rename(self, session, push, temp_path: str, final: str) -> None:
        overwrite = push.conflict == "replace"
        try:
            await session.rename(temp_path, final, overwrite=overwrite)
        except Exception as exc:
            if isinstance(exc, sftp_mod.RemoteUnavailable):
                raise
            if not overwrite and await session.stat(final) is not None:
                raise FileExistsError(f"{final} already exists on the remote; nothing was overwritten ({temp_path} "
                                      "is kept). Have it removed, or set conflict = \"replace\"") from None
            raise


def _identity(fd: int) -> tuple[int, int, int]:
    st = os.fstat(fd)
    return st.st_size, st.st_mtime_ns, st.st_ino


def _explain(exc: BaseException, row: dict) -> str:
    import asyncssh

    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        folder = posixpath.dirname(row["remote_path"])
        return f"{sftp_mod.describe(exc)} (does the remote folder {folder} exist?)"
    if isinstance(exc, (FileExistsError, OSError)) and not isinstance(exc, asyncssh.Error):
        return str(exc)
    return sftp_mod.describe(exc)
