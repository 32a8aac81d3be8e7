"""Rejection: the input goes to ``.error/`` with a report a person can act on.

``<id>__<name>.error.txt`` says what went wrong, where, how to fix it and that nothing was
applied; ``<id>__<name>.error.json`` carries the same for scripts (reason, message, where, fix,
plugin and versions, attempts, sha256, times). Tracebacks never go into reports, only into the
log (``plugin_error``). The door: :func:`reject`, :func:`plugin_error`, :func:`error_text`.
"""
from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

from .. import __version__
from ..errors import FileRejected
from ..outbox import ensure_dir, write_small
from .layout import ERROR, Inbox, work_name
from .publish import move_final

log = logging.getLogger("marketd.inbox")


def reject(engine, inbox: Inbox, row: dict, exc: FileRejected, level: int = logging.WARNING) -> None:
    """Write the reports, journal the error and move the input to ``.error/``."""
    app = engine.app
    store = app.store
    plugin = app.plugins.plugin_name_of(inbox.handler)
    now = engine.clock.now()
    fresh = store.journal_get(row["id"]) or row  # ``row`` may predate this attempt's count
    error = {"reason": exc.reason, "message": exc.message, "where": exc.where, "fix": exc.fix,
             "plugin": plugin, "plugin_version": app.plugins.version_of(plugin),
             "marketd_version": __version__, "attempts": (fresh.get("attempts") or 0),
             "sha256": row["sha256"], "claimed_at": row["claimed_at"], "failed_at": now.isoformat()}
    err_dir = inbox.sub(ERROR)
    ensure_dir(err_dir)
    base = work_name(row["id"], row["name"])
    write_small(err_dir / f"{base}.error.txt", error_text(inbox, row, error))
    write_small(err_dir / f"{base}.error.json", json.dumps(error, indent=2))
    store.journal_update(row["id"], error=error)
    move_final(engine, inbox, Path(row["work_path"]), "error", row["id"], row["name"])
    engine.error_count += 1
    log.log(level, "rejected %s/%s (%s): [%s] %s%s", inbox.kind, row["name"], row["id"], exc.reason,
            exc.message, f" at {exc.where}" if exc.where else "")


def plugin_error(engine, inbox: Inbox, row: dict, exc: BaseException) -> None:
    """A handler raised something other than FileRejected/TransientError: a bug, never the
    file's fault. The report says so (the exception's text, which may quote the file, stays in
    the log with the traceback); ``marketd status`` counts these files."""
    plugin = engine.app.plugins.plugin_name_of(inbox.handler)
    log.error("plugin %s raised on %s: %s\n%s", plugin, row["name"], exc, traceback.format_exc())
    reject(engine, inbox, row, FileRejected(
        f"plugin_error:{plugin}", f"the {plugin} plugin failed on this file with an internal error "
        f"({type(exc).__name__}): a bug in marketd or the plugin, not a problem to correct in the file",
        fix="report it with the traceback from the daemon log (it follows the line 'plugin "
            f"{plugin} raised on {row['name']}'); once fixed, `marketd requeue {row['id']}`"))


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
        f"Size:     {row['size']} bytes, sha256 {row['sha256'] or 'unknown (the file could not be read)'}",
        f"Handler:  {error['plugin']} {error.get('plugin_version') or ''} (marketd {error['marketd_version']})",
        "",
        "The file itself is next to this report. Nothing from it was applied.",
        f"To retry: fix the file and drop it into inbox/{inbox.kind}/ again, or run `marketd requeue {row['id']}` (with the daemon stopped).",
    ]
    return "\n".join(lines) + "\n"
