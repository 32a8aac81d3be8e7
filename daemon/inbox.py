"""The file-drop engine: which files are complete, claiming them, and the commit order.

Commit order per file (each step journaled, so ``kill -9`` anywhere is recovered on restart):

1. claim: rename ``inbox/<kind>/<name>`` to ``inbox/<kind>/.processing/<id>__<name>``, journal
   ``claimed``;
2. process in one store transaction; outputs are staged as fsynced dot-named temp files and
   the journal row becomes ``processed`` (with the staged list) in the same transaction;
3. publish the staged outputs (link into place, fsync folder), journal ``published``;
4. archive the input to ``.done/<YYYY-MM-DD>/``, journal ``done``.

A restart re-processes ``claimed`` rows (their temp outputs are discarded first), publishes
``processed`` ones and archives ``published`` ones; nothing is applied twice because a
``claimed`` row's store writes were rolled back with its transaction.
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
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import __version__
from .config import inbox_settings
from .context import FileContext
from .errors import FileRejected, OutputExists, TransientError
from .outbox import fsync_dir

log = logging.getLogger("marketd.inbox")

PROCESSING, DONE, ERROR, DUPLICATE = ".processing", ".done", ".error", ".duplicate"
SPECIAL_DIRS = {PROCESSING, DONE, ERROR, DUPLICATE}
_ID_PREFIX = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}__")


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
    renamed: bool = False  # arrived by rename/link (seen as a move, or inode seen under a temp name)


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
        self.temp_inodes: dict[int, float] = {}
        self.moved_in: set[Path] = set()
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
        """Bring every file left mid-flight by a crash to a consistent state (before READY)."""
        store = self.app.store
        stats = {"reprocess": 0, "published": 0, "archived": 0, "adopted": 0, "orphans": 0}
        for inbox in self.inboxes.values():
            proc = inbox.sub(PROCESSING)
            if not proc.is_dir():
                continue
            for path in sorted(proc.iterdir()):
                if not path.is_file() or "__" not in path.name:
                    continue
                file_id, name = path.name.split("__", 1)
                row = store.journal_get(file_id)
                if row is None:  # crashed between the claim rename and the journal insert
                    self._journal_claim(inbox, path, file_id, name)
                    stats["adopted"] += 1
                elif row["state"] in ("done", "error", "duplicate"):
                    # crashed after the journal said final but before the move: finish the move
                    self._move_final(inbox, path, row["state"], file_id, name)
        for row in store.journal_in_states(["processed"]):
            inbox = self.inboxes.get(row["kind"])
            self._publish(row)
            stats["published"] += 1
            if inbox:
                self._archive(inbox, store.journal_get(row["id"]))
        for row in store.journal_in_states(["published"]):
            inbox = self.inboxes.get(row["kind"])
            if inbox:
                self._archive(inbox, row)
                stats["archived"] += 1
        for row in store.journal_in_states(["claimed"]):
            stats["reprocess"] += 1  # processed by the normal loop, temps discarded first
        live_ids = {r["id"] for r in store.journal_in_states(["processed"])}
        for tmp in self.app.outbox.orphan_temps():
            parts = tmp.name.rsplit(".", 2)
            if len(parts) != 3 or parts[1] not in live_ids:
                tmp.unlink(missing_ok=True)
                stats["orphans"] += 1
        if any(stats.values()):
            log.info("recovery: %s", stats)
        return stats

    # -- discovery -----------------------------------------------------------------------------
    def request_rescan(self) -> None:
        self.rescan_requested = True
        self.wake.set()

    def hint(self, path: str | Path, moved: bool = False) -> None:
        """Called from watchdog threads: remember the path and wake the worker. Never raises."""
        try:
            p = Path(path)
            with self._lock:
                self._hints.add(p)
                if moved:
                    self.moved_in.add(p)
            self.wake.set()
        except Exception:  # pragma: no cover - must never kill the observer thread
            pass

    def scan(self) -> int:
        """The truth: list every inbox folder and consider every file there."""
        n = 0
        horizon = self.clock.monotonic() - 3600
        self.temp_inodes = {ino: t for ino, t in self.temp_inodes.items() if t >= horizon}
        for inbox in self.inboxes.values():
            try:
                entries = list(os.scandir(inbox.dir))
            except FileNotFoundError:
                inbox.ensure()
                continue
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    self._consider(inbox, Path(entry.path))
                    n += 1
        return n

    def _drain_hints(self) -> None:
        with self._lock:
            hints, self._hints = self._hints, set()
        for p in hints:
            inbox = self.inboxes.get(p.parent.name) if p.parent.parent == self.app.inbox_dir else None
            if inbox is not None:
                self._consider(inbox, p)

    def _consider(self, inbox: Inbox, path: Path) -> None:
        name = path.name
        try:
            st = path.stat()
        except FileNotFoundError:
            self.candidates.pop(path, None)
            return
        if inbox.is_temp_name(name):
            self.temp_inodes[st.st_ino] = self.clock.monotonic()
            return
        obs = self.candidates.get(path)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if obs is None or (obs.size, obs.mtime_ns, obs.inode) != key:
            renamed = (st.st_ino in self.temp_inodes) or (path in self.moved_in) or (obs is not None and obs.renamed)
            self.candidates[path] = Observation(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
                                                self.clock.monotonic(), renamed)
        else:
            obs.ctime_ns = st.st_ctime_ns

    def ready(self) -> list[tuple[Inbox, Path]]:
        """Candidates that passed their inbox's completeness gate, oldest first."""
        now = self.clock.monotonic()
        wall = time.time()  # mtimes are set by the kernel's clock, not the injectable one
        out = []
        for path, obs in list(self.candidates.items()):
            inbox = self.inboxes.get(path.parent.name)
            if inbox is None:
                self.candidates.pop(path, None)
                continue
            self._consider(inbox, path)
            obs = self.candidates.get(path)
            if obs is None:
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
                # A rename or link after the last write bumps ctime past mtime; a direct (maybe
                # killed) upload leaves them equal. Such files wait, then go to .error.
                if not (obs.renamed or obs.ctime_ns > obs.mtime_ns):
                    grace = float(s.get("direct_write_grace_seconds", 600))
                    if held >= grace:
                        out.append((inbox, path, "not_renamed"))
                    continue
            out.append((inbox, path, None))
        out.sort(key=lambda t: (self.candidates[t[1]].mtime_ns, t[1].name))
        return out

    # -- the loop ------------------------------------------------------------------------------
    def run_once(self, limit: int | None = None) -> int:
        """Drain hints, process every ready file (up to ``limit``) and due retries."""
        self._drain_hints()
        n = 0
        for inbox, path, problem in self.ready():
            if self.stopping.is_set() or (limit is not None and n >= limit):
                break
            self.candidates.pop(path, None)
            self.moved_in.discard(path)
            claimed = self.claim(inbox, path)
            if claimed is None:
                continue
            if problem == "not_renamed":
                self._reject(inbox, claimed, FileRejected(
                    "not_renamed", "this inbox takes only files uploaded under a temporary name and then "
                    "renamed (mode require_rename); this file was written directly under its final name, so "
                    "it may be an interrupted upload",
                    fix="upload as NAME.tmp and rename to NAME when the upload is complete, or set "
                        f"[inbox.{inbox.kind}] mode = \"stable\" if people drop files here"))
            else:
                self.process(claimed["id"])
            n += 1
        n += self._retry_due()
        for row in self.app.store.journal_in_states(["claimed"]):
            if self.stopping.is_set():
                break
            if row["kind"] in self.inboxes:
                self.process(row["id"])
                n += 1
        return n

    def _retry_due(self) -> int:
        n = 0
        now = self.clock.now().isoformat()
        for row in self.app.store.journal_in_states(["retry_wait"]):
            if self.stopping.is_set():
                break
            if (row["next_attempt_at"] or "") <= now:
                self.process(row["id"])
                n += 1
        return n

    # -- claim ---------------------------------------------------------------------------------
    def claim(self, inbox: Inbox, path: Path, *, requeue: bool = False) -> dict | None:
        now = self.clock.now()
        file_id = new_file_id(now)
        name = _ID_PREFIX.sub("", path.name)
        work = inbox.sub(PROCESSING) / f"{file_id}__{name}"
        try:
            os.rename(path, work)
        except FileNotFoundError:
            return None  # gone (renamed away, or another claimer)
        fsync_dir(work.parent)
        crashpoint("after_claim_rename")
        return self._journal_claim(inbox, work, file_id, name, requeue=requeue)

    def _journal_claim(self, inbox: Inbox, work: Path, file_id: str, name: str, requeue: bool = False) -> dict:
        st = work.stat()
        claimed_at = self.clock.now()
        try:
            claimed_at = datetime.strptime(file_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
        except ValueError:
            pass
        row = {
            "id": file_id, "kind": inbox.kind, "name": name, "sha256": sha256_of(work), "size": st.st_size,
            "state": "claimed", "claimed_at": claimed_at.isoformat(), "work_path": str(work),
            "requeue": 1 if requeue else 0,
        }
        self.app.store.journal_insert(row)
        log.info("claimed %s/%s as %s (%d bytes)", inbox.kind, name, file_id, st.st_size)
        return row

    # -- process -------------------------------------------------------------------------------
    def process(self, file_id: str) -> dict:
        store = self.app.store
        row = store.journal_get(file_id)
        inbox = self.inboxes[row["kind"]]
        work = Path(row["work_path"])
        self.current = f"{row['kind']}/{row['name']}"
        try:
            if not work.exists():
                log.error("claimed file %s is missing from %s; marking error", file_id, work)
                store.journal_update(file_id, state="error", error={"reason": "missing", "message": "claimed file vanished"},
                                     finished_at=self.clock.now().isoformat())
                return store.journal_get(file_id)
            self._discard_temps(file_id)
            ctx = self._context(inbox, row)
            settings = inbox.settings
            if not row["requeue"]:
                first = store.first_applied(inbox.kind, row["sha256"])
                if first is not None:
                    return self._duplicate(inbox, row, ctx, first)
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
                store.journal_update(file_id, state="processed", summary=summary or {},
                                     outputs=[o.as_json() for o in ctx.outputs])
                crashpoint("before_commit")
            crashpoint("after_commit")
            self._publish(store.journal_get(file_id))
            crashpoint("after_publish")
            self._archive(inbox, store.journal_get(file_id))
            self.processed_count += 1
            log.info("done %s/%s (%s): %s", inbox.kind, row["name"], file_id, _short(summary))
        except FileRejected as exc:
            self._discard_temps(file_id)
            self._reject(inbox, row, exc)
        except (TransientError, OSError) as exc:
            self._discard_temps(file_id)
            self._retry_or_give_up(inbox, row, exc)
        except OutputExists as exc:
            self._discard_temps(file_id)
            self._reject(inbox, row, FileRejected("output_exists", str(exc)))
        except Exception as exc:
            self._discard_temps(file_id)
            plugin = self.app.plugins.plugin_name_of(inbox.handler)
            log.error("plugin %s raised on %s: %s\n%s", plugin, row["name"], exc, traceback.format_exc())
            self._reject(inbox, row, FileRejected(
                f"plugin_error:{plugin}", f"the {plugin} plugin failed on this file: {type(exc).__name__}: {exc}",
                fix="this is a bug or a case the plugin does not handle; the traceback is in the daemon log. "
                    f"Once fixed, requeue with `marketd requeue {file_id}`"))
        finally:
            self.current = None
        final = store.journal_get(file_id)
        if final["state"] in ("done", "error", "duplicate"):
            self.app.emit("file_processed", record=final)
        return final

    def _context(self, inbox: Inbox, row: dict) -> FileContext:
        return FileContext(
            app=self.app, kind=inbox.kind, settings=inbox.settings, path=Path(row["work_path"]),
            name=row["name"], file_id=row["id"], sha256=row["sha256"], size=row["size"],
            claimed_at=datetime.fromisoformat(row["claimed_at"]), log=logging.getLogger(f"marketd.{inbox.kind}"),
        )

    def _discard_temps(self, file_id: str) -> None:
        for tmp in self.app.outbox.root.rglob(f".*.{file_id}.tmp"):
            tmp.unlink(missing_ok=True)

    def _publish(self, row: dict) -> None:
        outputs = json.loads(row["outputs"] or "[]")
        for out in outputs:
            out["published"] = str(self.app.outbox.publish(Path(out["tmp"]), Path(out["final"])))
            crashpoint("mid_publish")
        self.app.store.journal_update(row["id"], state="published", outputs=outputs)

    def _archive(self, inbox: Inbox, row: dict) -> None:
        work = Path(row["work_path"])
        state = "duplicate" if row.get("duplicate_of") else "done"
        self._move_final(inbox, work, state, row["id"], row["name"])

    def _move_final(self, inbox: Inbox, work: Path, state: str, file_id: str, name: str, day: str | None = None) -> Path:
        day = day or self.clock.now().strftime("%Y-%m-%d")
        base = {"done": DONE, "duplicate": DUPLICATE, "error": ERROR}[state]
        dest_dir = inbox.sub(base) / day if state != "error" else inbox.sub(ERROR)
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / f"{file_id}__{name}"
        if work.exists():
            os.rename(work, dest)
            fsync_dir(dest_dir)
            crashpoint("after_archive_move")
        if inbox.settings["mode"] == "done_file":
            marker = inbox.dir / (name + inbox.settings["done_suffix"])
            if marker.exists():
                os.rename(marker, dest_dir / f"{file_id}__{marker.name}")
        self.app.store.journal_update(file_id, state=state, final_path=str(dest),
                                      finished_at=self.clock.now().isoformat())
        return dest

    def _duplicate(self, inbox: Inbox, row: dict, ctx: FileContext, first: dict) -> dict:
        store = self.app.store
        with store.transaction():
            if hasattr(inbox.handler, "on_duplicate"):
                inbox.handler.on_duplicate(ctx, first)
            else:
                ctx.output(f"reports/{inbox.kind}-{ctx.stem}-{ctx.stamp}.duplicate.txt", (
                    f"{row['name']} was not applied: the same content (sha256 {row['sha256']}) was already "
                    f"processed as {first['name']} (id {first['id']}, {first['finished_at']}).\n"
                    f"To apply it again on purpose: marketd requeue {row['id']}\n"))
            store.journal_update(row["id"], state="processed", duplicate_of=first["id"],
                                 summary={"duplicate_of": first["id"]}, outputs=[o.as_json() for o in ctx.outputs])
        self._publish(store.journal_get(row["id"]))
        self._move_final(inbox, Path(row["work_path"]), "duplicate", row["id"], row["name"])
        log.info("duplicate %s/%s (%s) of %s: not applied again", inbox.kind, row["name"], row["id"], first["id"])
        return store.journal_get(row["id"])

    # -- failures ------------------------------------------------------------------------------
    def _reject(self, inbox: Inbox, row: dict, exc: FileRejected) -> None:
        store = self.app.store
        work = Path(row["work_path"])
        plugin = self.app.plugins.plugin_name_of(inbox.handler)
        now = self.clock.now()
        error = {"reason": exc.reason, "message": exc.message, "where": exc.where, "fix": exc.fix,
                 "plugin": plugin, "plugin_version": self.app.plugins.version_of(plugin),
                 "marketd_version": __version__, "attempts": (row.get("attempts") or 0),
                 "sha256": row["sha256"], "claimed_at": row["claimed_at"], "failed_at": now.isoformat()}
        err_dir = inbox.sub(ERROR)
        err_dir.mkdir(parents=True, exist_ok=True)
        base = f"{row['id']}__{row['name']}"
        _write_small(err_dir / f"{base}.error.txt", error_text(inbox, row, error))
        _write_small(err_dir / f"{base}.error.json", json.dumps(error, indent=2))
        store.journal_update(row["id"], error=error)
        self._move_final(inbox, work, "error", row["id"], row["name"])
        self.error_count += 1
        log.warning("rejected %s/%s (%s): [%s] %s%s", inbox.kind, row["name"], row["id"], exc.reason, exc.message,
                    f" at {exc.where}" if exc.where else "")

    def _retry_or_give_up(self, inbox: Inbox, row: dict, exc: Exception) -> None:
        row = self.app.store.journal_get(row["id"])
        attempts = row["attempts"] or 1
        if attempts >= int(inbox.settings["max_attempts"]):
            self._reject(inbox, row, FileRejected(
                "gave_up", f"gave up after {attempts} attempts; last error: {type(exc).__name__}: {exc}",
                fix=f"check the service named in the error, then `marketd requeue {row['id']}`"))
            return
        delay = min(900.0, 2.0 ** (attempts - 1))
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
        return self.process(claimed["id"])

    def adopt(self, kind: str, source: Path) -> dict:
        """One-shot processing of a file outside the inbox (``marketd process``): same code path."""
        inbox = self.inboxes[kind]
        inbox.ensure()
        staging = inbox.dir / f".{source.name}.{secrets.token_hex(4)}.tmp"
        shutil.copyfile(source, staging)
        now = self.clock.now()
        file_id = new_file_id(now)
        final = inbox.sub(PROCESSING) / f"{file_id}__{source.name}"
        os.rename(staging, final)
        self._journal_claim(inbox, final, file_id, source.name)
        return self.process(file_id)

    def status(self) -> dict:
        waiting = {}
        for kind, inbox in self.inboxes.items():
            try:
                waiting[kind] = sum(1 for e in os.scandir(inbox.dir) if e.is_file() and not inbox.is_temp_name(e.name))
            except FileNotFoundError:
                waiting[kind] = 0
        return {"waiting": waiting, "states": self.app.store.counts_by_state(), "current": self.current}


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
        f"Size:     {row['size']} bytes, sha256 {row['sha256']}",
        f"Handler:  {error['plugin']} {error.get('plugin_version') or ''} (marketd {error['marketd_version']})",
        "",
        "The file itself is next to this report. Nothing from it was applied.",
        f"To retry: fix the file and drop it into inbox/{inbox.kind}/ again, or run `marketd requeue {row['id']}`.",
    ]
    return "\n".join(lines) + "\n"


def _short(summary) -> str:
    text = json.dumps(summary, default=str) if summary else "{}"
    return text if len(text) < 300 else text[:297] + "..."
