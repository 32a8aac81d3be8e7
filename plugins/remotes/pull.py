"""Pull: complete files from a remote folder into a local inbox, each exactly once.

The order of steps for one file (``MARKETD_CRASHPOINT`` names in brackets; a ``kill -9`` there is
what the tests do). Every ledger write is durable before the step after it:

1. a listing finds a complete file (the pull's ``completeness`` rule);
2. it streams into ``inbox/<kind>/.marketd-pull-<remote>-<token>.part`` (a dot-name: the inbox
   never takes it), hashed on the way, stamped with the sender's mtime, fsynced; the open file is
   stat-ed after the read, and a file that changed meanwhile is dropped and taken later
   [``remote_pull_downloaded``];
3. row ``fetched`` with the sha256 and the temp name [``remote_pull_fetched``];
4. hard link to the final name (never over an existing file) [``remote_pull_linked``], unlink the
   temp name, and for a ``done_file`` inbox its marker; fsync the folder [``remote_pull_landed``]:
   the inbox sees a complete file arrive by a link, as a ``require_rename`` inbox demands;
5. on the remote: move to the archive folder, delete, or keep [``remote_pull_archived``];
6. row ``done``.

Recovery, at the start of every run, uses only the ledger and the disk: a temp file that no
``fetched`` row names is a download cut short and is deleted (redone from the remote); a
``fetched`` row whose temp has one link is linked now; one with two links (linked, not yet
unlinked — also after the inbox has claimed it, since its claim is a rename, which keeps the
inode) is only unlinked; one without a temp has landed. A file landed in an earlier run has its
remote copy re-hashed before it is archived or deleted, so a same-named newer upload is never
archived unseen. A download that fails leaves a ``downloading`` row that only carries its backoff.
"""
from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path

from marketd.sdk import crashpoint, inbox_settings_for

from . import commit
from . import sftp as sftp_mod
from .ledger import Ledger, iso
from .settings import PULL_TEMP_PREFIX, Pull

log = logging.getLogger("marketd.remotes")


def inbox_folder(app, kind: str) -> Path:
    return Path(app.inbox_dir) / kind


def new_temp(app, remote: str, kind: str) -> Path:
    return inbox_folder(app, kind) / f"{PULL_TEMP_PREFIX}{remote}-{secrets.token_hex(6)}.part"


def _inbox_mode(app, kind: str) -> tuple[str, str]:
    s = inbox_settings_for(app, kind)
    return s.get("mode", "stable"), s.get("done_suffix", ".done")


# -- local steps (no network) -------------------------------------------------------------------
def recover(app, remote, ledger: Ledger) -> None:
    """Finish or undo what a crash (or a failed run) left locally. Never touches the remote."""
    name = remote.name
    fetched = {row["temp"]: row for row in ledger.pulls_in(name, ["fetched"])}
    prefix = f"{PULL_TEMP_PREFIX}{name}-"
    for kind in {p.inbox for p in remote.pull} | {r["inbox"] for r in fetched.values()}:
        folder = inbox_folder(app, kind)
        try:
            names = [e.name for e in os.scandir(folder) if e.name.startswith(prefix)]
        except FileNotFoundError:
            continue
        for n in names:
            if n not in fetched:
                (folder / n).unlink(missing_ok=True)  # a download a crash or an error cut short
    for row in fetched.values():
        if link_into_inbox(app, ledger, row):
            commit.fsync_dir(inbox_folder(app, row["inbox"]))
            ledger.update_pull(row["id"], state="landed", landed_at=iso(app.clock.now()), last_error=None,
                               next_attempt_at=None, attempts=0)


def link_into_inbox(app, ledger: Ledger, row: dict) -> bool:
    """Step 4 for a ``fetched`` row, idempotent; the caller fsyncs the folder. False while the
    final name is taken (the row then says so)."""
    folder = inbox_folder(app, row["inbox"])
    tmp = folder / row["temp"]
    final = folder / row["name"]
    try:
        st = os.lstat(tmp)
    except FileNotFoundError:
        st = None  # linked and unlinked before a crash
    if st is not None and st.st_nlink < 2:
        try:
            os.link(tmp, final)
        except FileExistsError:
            ledger.update_pull(row["id"], last_error=f"inbox/{row['inbox']}/{row['name']} is still there (not taken "
                                                     "yet): this download waits beside it")
            return False
        crashpoint("remote_pull_linked")
    if st is not None:
        os.unlink(tmp)  # two links: linked before a crash (a claim by the inbox keeps the inode)
    mode, suffix = _inbox_mode(app, row["inbox"])
    if mode == "done_file" and final.exists():
        # the inbox takes the data only with its marker: no marker means it has not been taken
        fd = os.open(str(final.with_name(final.name + suffix)), os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    return True


# -- remote steps -------------------------------------------------------------------------------
def due(app, remote, ledger: Ledger, pull: Pull, now: datetime) -> bool:
    last = ledger.pull_run(remote.name, pull.key).get("last_run_at")
    return not last or datetime.fromisoformat(last) + timedelta(seconds=pull.seconds) <= now + timedelta(seconds=0.5)


class Puller:
    """The remote half of a pull run, on one event loop; ``pool`` hands out sessions."""

    def __init__(self, app, remote, ledger: Ledger, pool, report, committer):
        self.app, self.remote, self.ledger, self.pool, self.report = app, remote, ledger, pool, report
        self.commit = committer
        self.name = remote.name
        self._archives_ready: set[str] = set()

    def now(self) -> datetime:
        return self.app.clock.now()

    def _pull_of(self, row: dict) -> Pull | None:
        return next((p for p in self.remote.pull if p.key == row["mapping"]), None)

    async def finish_landed(self, force: bool) -> None:
        """Step 6–7 for rows landed in an earlier run (a crash, or a refused archive/delete)."""
        now = iso(self.now())
        rows = [r for r in self.ledger.pulls_in(self.name, ["landed"])
                if force or not r["next_attempt_at"] or r["next_attempt_at"] <= now]
        await self.pool.map(rows, lambda s, r: self.remote_action(s, r, verify=True))

    async def run_mapping(self, pull: Pull, force: bool) -> None:
        session = await self.pool.first()
        entries = await session.list_files(pull.remote_dir)
        candidates, waiting = self._select(pull, entries, force)
        if waiting and pull.completeness == "stable" and len(candidates) < pull.max_files:
            # not yet seen unchanged for stable_seconds: look once more, then take what held still
            wait = max(0.0, min(pull.stable_seconds, 120.0) - self._youngest_wait(pull, waiting))
            await asyncio.sleep(wait)
            entries = await session.list_files(pull.remote_dir)
            candidates, waiting = self._select(pull, entries, force)
        candidates = candidates[: pull.max_files]
        self.report.waiting += len(waiting)
        await self.pool.map(candidates, lambda s, item: self.fetch(s, pull, *item))
        self.ledger.pull_ran(self.name, pull.key, self.now(), ok=True)

    def _youngest_wait(self, pull: Pull, waiting: list) -> float:
        """Seconds the most recently changed waiting file has already been observed unchanged."""
        now = self.now()
        return min((now - datetime.fromisoformat(first)).total_seconds() for _, _, _, first in waiting)

    def _select(self, pull: Pull, entries: dict, force: bool) -> tuple[list, list]:
        """(complete files to fetch, files still waiting for the stable rule), oldest first."""
        paths = {posixpath.join(pull.remote_dir, n): v for n, v in entries.items()}
        first_seen = self.ledger.observe(self.name, paths, pull.remote_dir, self.now())
        # a `downloading` row whose file is gone or changed since will never be finished
        for row in self.ledger.pulls_in(self.name, ["downloading"]):
            if row["mapping"] == pull.key and paths.get(row["path"]) != (row["size"], row["mtime"]):
                self.ledger.delete_pull(row["id"])
        now = self.now()
        ready, waiting = [], []
        for name, (size, mtime) in sorted(entries.items(), key=lambda kv: (kv[1][1], kv[0])):
            if not pull.wants(name):
                continue
            path = posixpath.join(pull.remote_dir, name)
            row = self.ledger.open_pull(self.name, path, size, mtime)
            if row is not None and row["state"] != "downloading":
                continue  # in the inbox already; its remote step is finish_landed's
            if not force and row is not None and row["next_attempt_at"] and row["next_attempt_at"] > iso(now):
                continue  # backing off after a failed download
            if pull.after == "keep" and self.ledger.kept_pull(self.name, path, size, mtime):
                continue
            if pull.completeness == "done_file" and name + pull.done_suffix not in entries:
                continue
            if pull.completeness == "stable":
                held = (now - datetime.fromisoformat(first_seen[path])).total_seconds()
                if held < pull.stable_seconds:
                    waiting.append((name, size, mtime, first_seen[path]))
                    continue
            ready.append((name, size, mtime))
        return ready, waiting

    async def fetch(self, session, pull: Pull, name: str, size: int, mtime: int) -> None:
        """Steps 1–7 for one remote file; a failure of this file alone is recorded, not raised."""
        path = posixpath.join(pull.remote_dir, name)
        try:
            await self._fetch(session, pull, name, size, mtime, path)
        except sftp_mod.RemoteUnavailable:
            raise
        except Exception as exc:
            error = sftp_mod.describe(exc)
            self.report.errors.append(f"{path}: {error}")
            log.error("remote %s: cannot pull %s: %s; the remote file is untouched, retried with backoff",
                      self.name, path, error)

    async def _fetch(self, session, pull: Pull, name: str, size: int, mtime: int, path: str) -> None:
        tmp = new_temp(self.app, self.name, pull.inbox)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            got, sha, after = await session.download(path, fd, size)
            # the sender's time, as `sftp -p` keeps it; never in the future (the inbox's age checks)
            stamp = min(mtime, int(time.time())) * 1_000_000_000
            os.utime(fd, ns=(stamp, stamp))
            await self.commit.fsync(fd)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, Exception):
                self.ledger.download_failed(self.name, pull.key, path, size, mtime, pull.inbox, name,
                                            f"download: {sftp_mod.describe(exc)}", self.now())
            raise
        finally:
            os.close(fd)
        if got != size or (after.size, int(after.mtime or 0)) != (size, mtime):
            tmp.unlink(missing_ok=True)
            self.ledger.forget_seen(self.name, path)  # the stable rule starts over
            log.info("remote %s: %s changed while it was downloaded (listed %d bytes, read %d): dropped, "
                     "taken again once it is complete", self.name, path, size, got)
            self.report.changed += 1
            return
        crashpoint("remote_pull_downloaded")
        now = self.now()
        pull_id = await self.commit(lambda db: Ledger.record_pull(
            db, self.name, pull.key, path, size, mtime, pull.inbox, name, now, "fetched", sha256=sha, temp=tmp.name,
            last_error=None, next_attempt_at=None))
        crashpoint("remote_pull_fetched")
        row = {"id": pull_id, "inbox": pull.inbox, "name": name, "temp": tmp.name, "path": path, "size": size,
               "mtime": mtime, "sha256": sha, "mapping": pull.key}
        if not link_into_inbox(self.app, self.ledger, row):
            self.report.blocked += 1
            return
        await self.commit(dirs=[tmp.parent])  # the name is durable before the remote forgets the file
        crashpoint("remote_pull_landed")
        self.report.pulled += 1
        self.report.pulled_bytes += size
        log.info("remote %s: pulled %s into inbox/%s/%s (%d bytes, sha256 %s…)", self.name, path, pull.inbox,
                 name, size, sha[:12])
        await self.remote_action(session, row, verify=False, landed_at=iso(now))

    async def remote_action(self, session, row: dict, verify: bool, landed_at: str | None = None) -> None:
        """Step 6–7: archive, delete or keep the remote original of a landed file."""
        pull = self._pull_of(row)
        action = pull.after if pull else "keep"
        path = row["path"]
        note = None
        st = await session.stat(path)
        if st is None:
            note = "already gone from the remote"
        elif (st.size, int(st.mtime or 0)) != (row["size"], row["mtime"]):
            note = "replaced on the remote since it was pulled: the new file is pulled as a new one"
        elif verify and action != "keep":
            _, sha = await session.hash_of(path, row["size"])
            if sha != row["sha256"]:
                note = "replaced on the remote by other content of the same size and time: pulled as a new one"
        if note is None:
            try:
                note = await self._act(session, pull, action, path)
            except Exception as exc:
                if isinstance(exc, sftp_mod.RemoteUnavailable):
                    raise
                error = f"{action}: {sftp_mod.describe(exc)}"
                if landed_at:
                    self.ledger.update_pull(row["id"], state="landed", landed_at=landed_at)
                self.ledger.pull_failed(row["id"], error, self.now())
                self.report.errors.append(f"{path}: {error}")
                log.error("remote %s: %s is safely in inbox/%s, but the remote %s failed: %s; retried with "
                          "backoff (`marketd remotes` shows it)", self.name, path, row["inbox"], action,
                          sftp_mod.describe(exc))
                return
            crashpoint("remote_pull_archived")
        done = {"state": "done", "action": action, "note": note, "done_at": iso(self.now()), "last_error": None,
                "next_attempt_at": None, **({"landed_at": landed_at} if landed_at else {})}
        cols = ", ".join(f"{k} = ?" for k in done)
        await self.commit(lambda db: db.execute(f"update pulls set {cols} where id = ?", (*done.values(), row["id"])))

    async def _act(self, session, pull: Pull, action: str, path: str) -> str:
        marker = path + pull.done_suffix if pull and pull.completeness == "done_file" else None
        if action == "keep":
            return "kept on the remote"
        if action == "delete":
            await session.remove(path)
            if marker and await session.stat(marker) is not None:
                await session.remove(marker)
            return "deleted on the remote"
        archive = pull.archive_path
        if archive not in self._archives_ready:
            await session.ensure_dir(archive)
            self._archives_ready.add(archive)
        target = await self._archive_one(session, path, archive)
        if marker and await session.stat(marker) is not None:
            await self._archive_one(session, marker, archive)
        return f"archived as {target}"

    async def _archive_one(self, session, path: str, archive: str) -> str:
        name = posixpath.basename(path)
        target = posixpath.join(archive, name)
        try:
            await session.rename(path, target)
            return target
        except Exception as exc:
            if isinstance(exc, sftp_mod.RemoteUnavailable) or await session.stat(target) is None:
                raise
        stem, dot, ext = name.partition(".")
        stamp = self.now().strftime("%Y%m%dT%H%M%S")
        target = posixpath.join(archive, f"{stem}-{stamp}{dot}{ext}")  # an earlier file of the same name
        await session.rename(path, target)
        return target
