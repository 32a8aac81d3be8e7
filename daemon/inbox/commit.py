"""Processing one claimed file: the handler's work and the journal commit in one transaction.

1. Checks before the handler: a rejection the gate decided at the claim (``not_renamed``,
   journaled with it, so it survives a crash); same content as a file already applied in this inbox →
   duplicate (``.duplicate/``, a report says which); empty → ``empty_file``; over
   ``max_file_mb`` → ``too_large``.
2. ``attempts + 1`` is journaled, then one store transaction holds the handler's writes, the
   check that every staged output name is still free, and the journal's ``processed`` row with
   the staged list. Either all of it commits or none of it. The transaction takes the write lock
   (``BEGIN IMMEDIATE``) at the handler's first use of the store (``Store.file_transaction``):
   network calls made before that do not hold up the scheduled jobs.
3. Errors: ``FileRejected`` → ``.error/`` (never retried); ``TransientError``, ``OSError``, a busy
   or failing database → ``retry_wait`` with backoff; a taken output name → ``output_exists``;
   anything else → ``plugin_error:<plugin>``, for this file only. Staged temps are discarded.
4. After the commit only publishing and archiving remain (:mod:`.publish`).

The door: :func:`process`.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from pathlib import Path

from ..context import FileContext
from ..errors import FileRejected, OutputExists, TransientError
from .crash import crashpoint
from .layout import Inbox
from .publish import discard_temps, finish
from .reports import plugin_error, reject
from .retry import is_transient_db_error, retry_or_give_up

log = logging.getLogger("marketd.inbox")


def context_for(engine, inbox: Inbox, row: dict) -> FileContext:
    return FileContext(
        app=engine.app, kind=inbox.kind, settings=inbox.settings, path=Path(row["work_path"]),
        name=row["name"], file_id=row["id"], sha256=row["sha256"], size=row["size"],
        claimed_at=datetime.fromisoformat(row["claimed_at"]), log=logging.getLogger(f"marketd.{inbox.kind}"),
    )


def pending_verdict(row: dict) -> str | None:
    """The gate's decision journaled with the claim (``not_renamed``), if any."""
    try:
        err = json.loads(row["error"]) if row.get("error") else None
    except ValueError:
        return None
    return err.get("reason") if isinstance(err, dict) and err.get("pending") else None


def process(engine, file_id: str) -> dict:
    """Run a claimed (or retry-due) file through its handler and commit; returns the final row."""
    app = engine.app
    store = app.store
    row = store.journal_get(file_id)
    inbox = engine.inboxes[row["kind"]]
    work = Path(row["work_path"])
    committed = False
    ctx = None
    with engine.in_hand(f"{row['kind']}/{row['name']}", file_id):
        try:
            if not work.exists():
                log.error("claimed file %s is missing from %s; marking error", file_id, work)
                store.journal_update(file_id, state="error", error={"reason": "missing",
                                                                    "message": "claimed file vanished"},
                                     finished_at=engine.clock.now().isoformat())
                return store.journal_get(file_id)
            pending = pending_verdict(row)
            if pending == "not_renamed":
                raise FileRejected(
                    "not_renamed", "this inbox takes only files uploaded under a temporary name and then "
                    "renamed (mode require_rename); this file was written directly under its final name, so "
                    "it may be an interrupted upload",
                    fix="upload as NAME.tmp and rename to NAME when the upload is complete, or set "
                        f"[inbox.{inbox.kind}] mode = \"stable\" if people drop files here")
            if row["attempts"]:  # an earlier attempt may have died with outputs half staged
                discard_temps(app, file_id)
            ctx = context_for(engine, inbox, row)
            settings = inbox.settings
            first = None if row["requeue"] else store.first_applied(inbox.kind, row["sha256"])
            if first is not None:
                _duplicate(engine, inbox, row, ctx, first)
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
                with store.file_transaction():
                    summary = inbox.handler.process(ctx)
                    # the output names must be free before the commit: a conflict rolls the file back
                    app.outbox.check_free(o.final for o in ctx.outputs)
                    store.journal_update(file_id, state="processed", summary=summary or {},
                                         outputs=[o.as_json() for o in ctx.outputs])
                    crashpoint("before_commit")
            committed = True
            crashpoint("after_commit")
        except Exception as exc:  # noqa: BLE001 - every failure of one file is classified below
            discard_temps(app, file_id, ctx)
            _failed(engine, inbox, row, exc)
        if committed:  # applied: from here on only publishing and archiving, never a re-run
            finish(engine, inbox, file_id)
    final = store.journal_get(file_id)
    if final["state"] in ("done", "error", "duplicate"):
        app.emit("file_processed", record=final)
    return final


def _failed(engine, inbox: Inbox, row: dict, exc: Exception) -> None:
    """What a failure means for the file (its staged temps are already discarded)."""
    if isinstance(exc, FileRejected):
        reject(engine, inbox, row, exc)
    elif isinstance(exc, (TransientError, OSError)):
        retry_or_give_up(engine, inbox, row, exc)
    elif isinstance(exc, sqlite3.OperationalError):
        # The database was busy past the busy timeout, full, failing or read-only: not the file's
        # fault, so retried like any temporary failure. Other OperationalErrors (no such
        # table/column) are the plugin's bug.
        if is_transient_db_error(exc):
            retry_or_give_up(engine, inbox, row, TransientError(f"database: {exc}"))
        else:
            plugin_error(engine, inbox, row, exc)
    elif isinstance(exc, OutputExists):
        reject(engine, inbox, row, FileRejected(
            "output_exists", str(exc),
            fix=f"move the existing output away (it was not overwritten), then `marketd requeue {row['id']}`; "
                "or set [daemon] output_conflict = \"rename\" to publish name-1.ext instead"))
    else:
        plugin_error(engine, inbox, row, exc)


def _duplicate(engine, inbox: Inbox, row: dict, ctx: FileContext, first: dict) -> None:
    store = engine.app.store
    with store.file_transaction():
        if hasattr(inbox.handler, "on_duplicate"):
            inbox.handler.on_duplicate(ctx, first)
        else:
            ctx.output(f"reports/{inbox.kind}-{ctx.stem}-{ctx.stamp}.duplicate.txt", (
                f"{row['name']} was not applied: the same content (sha256 {row['sha256']}) was already "
                f"processed as {first['name']} (id {first['id']}, {first['finished_at'] or first['claimed_at']}).\n"
                f"To apply it again on purpose: marketd requeue {row['id']}\n"))
        engine.app.outbox.check_free(o.final for o in ctx.outputs)
        store.journal_update(row["id"], state="processed", duplicate_of=first["id"],
                             summary={"duplicate_of": first["id"]}, outputs=[o.as_json() for o in ctx.outputs])
