"""After the commit: publish a file's staged outputs, then archive the input.

Both steps are idempotent and journaled (``processed`` → ``published`` → ``done``), so a crash
or an OS error (the outbox not writable, a full disk) between them only repeats them; the file's
changes are already committed and it is never processed again. Folder fsyncs come before the
journal says "published", and an output's done-file marker only after its data is durable.

The door: :func:`finish` (publish + archive one committed file), :func:`publish_outputs`,
:func:`move_final` (the input to ``.done/``, ``.duplicate/`` or ``.error/``),
:func:`discard_temps`.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .. import outbox as outbox_mod
from ..errors import OutputExists
from .crash import crashpoint
from .layout import Inbox, work_name

log = logging.getLogger("marketd.inbox")


def publish_outputs(engine, row: dict) -> None:
    outbox = engine.app.outbox
    outputs = json.loads(row["outputs"] or "[]")
    folders: set[Path] = set()
    for out in outputs:
        tmp, final = Path(out["tmp"]), Path(out["final"])
        try:
            published = outbox.publish(tmp, final, sync=False)
        except OutputExists:
            # The name was free when the transaction committed and was taken since (someone
            # else wrote it). The file's changes are applied, so rejecting it now would be a
            # lie: publish next to it and say so.
            published = outbox.publish(tmp, final, policy="rename", sync=False)
            log.error("output %s appeared after %s (%s) was applied; nothing was overwritten, this "
                      "output is published as %s", final, row["name"], row["id"], published.name)
        out["published"] = str(published)
        folders.add(published.parent)
        crashpoint("mid_publish")
    for folder in sorted(folders):  # once per folder, before the journal says "published"
        outbox_mod.fsync_dir(folder)
    markers = [outbox.write_done_marker(Path(out["published"]), sync=False)
               for out in outputs if outbox.wants_done_marker(Path(out["published"]))]
    for folder in sorted({m.parent for m in markers}):  # markers only after their data is durable
        outbox_mod.fsync_dir(folder)
    engine.app.store.journal_update(row["id"], state="published", outputs=outputs)


def move_final(engine, inbox: Inbox, work: Path, state: str, file_id: str, name: str,
               day: str | None = None) -> Path:
    """Move the input (and its done-file marker) to its final folder and journal ``state``."""
    day = day or engine.clock.now().strftime("%Y-%m-%d")
    dest_dir = inbox.final_dir(state, day)
    outbox_mod.ensure_dir(dest_dir)
    dest = dest_dir / work_name(file_id, name)
    if work.exists():
        os.rename(work, dest)
        outbox_mod.fsync_dir(dest_dir)
        crashpoint("after_archive_move")
    if inbox.settings["mode"] == "done_file":
        marker = inbox.dir / (name + inbox.settings["done_suffix"])
        if marker.exists():
            os.rename(marker, dest_dir / work_name(file_id, marker.name))
            outbox_mod.fsync_dir(dest_dir)
    engine.app.store.journal_update(file_id, state=state, final_path=str(dest),
                                    finished_at=engine.clock.now().isoformat())
    return dest


def archive(engine, inbox: Inbox, row: dict) -> None:
    state = "duplicate" if row.get("duplicate_of") else "done"
    move_final(engine, inbox, Path(row["work_path"]), state, row["id"], row["name"])


def finish(engine, inbox: Inbox, file_id: str) -> bool:
    """Publish the committed file's outputs and archive it. An OS error here (the outbox not
    writable, a full disk) keeps the journal state and the staged temps: the changes are
    already applied, so the file is never processed again, only finished later."""
    store = engine.app.store
    row = store.journal_get(file_id)
    try:
        if row["state"] == "processed":
            publish_outputs(engine, row)
            crashpoint("after_publish")
            row = store.journal_get(file_id)
        if row["state"] == "published":
            archive(engine, inbox, row)
    except OSError as exc:
        engine.problems.report(("finish", file_id), str(exc), logging.ERROR,
                               "%s/%s (%s) is applied, but publishing its outputs or archiving it failed: %s; "
                               "retrying every 30 s and at the next start", row["kind"], row["name"], file_id, exc)
        return False
    engine.problems.clear(("finish", file_id))
    row = store.journal_get(file_id)
    if row["duplicate_of"]:
        log.info("duplicate %s/%s (%s) of %s: not applied again", inbox.kind, row["name"], file_id,
                 row["duplicate_of"])
    else:
        engine.processed_count += 1
        summary = json.loads(row["summary"]) if row["summary"] else None
        log.info("done %s/%s (%s)%s: %s", inbox.kind, row["name"], file_id, outcome_note(summary), _short(summary))
    return True


def discard_temps(app, file_id: str, ctx=None) -> None:
    """Delete this file's staged outputs: those ``ctx`` staged (every temp is listed there
    before it is opened), or, without a context, whatever a search of the outbox finds."""
    if ctx is not None:
        for staged in ctx.outputs:
            staged.tmp.unlink(missing_ok=True)
        return
    for tmp in app.outbox.root.rglob(f".*.{file_id}.tmp"):
        tmp.unlink(missing_ok=True)


def line_counts(summary) -> tuple[int, int] | None:
    """``(rejected, total)`` lines of a handler summary, by the convention every handler follows:
    ``rejected`` is the number of lines (rows, records) refused, and ``lines`` (or ``rows``) the
    number considered. None when the summary does not say."""
    if not isinstance(summary, dict):
        return None
    rejected = summary.get("rejected")
    total = summary.get("lines", summary.get("rows"))
    if isinstance(rejected, bool) or not isinstance(rejected, int) or rejected <= 0:
        return None
    if isinstance(total, bool) or not isinstance(total, int) or total < rejected:
        return rejected, rejected
    return rejected, total


def outcome(state: str, summary) -> str:
    """``done``, ``done_some_rejected`` or ``done_all_rejected`` (see :func:`line_counts`); any
    other state as it is. ``marketd status`` shows a file whose every line was refused apart
    from one that was applied."""
    counts = line_counts(summary) if state == "done" else None
    if counts is None:
        return state
    rejected, total = counts
    return "done_all_rejected" if rejected >= total else "done_some_rejected"


def outcome_note(summary) -> str:
    counts = line_counts(summary)
    if counts is None:
        return ""
    rejected, total = counts
    return f" (all {total} lines rejected)" if rejected >= total else f" ({rejected} of {total} lines rejected)"


def _short(summary) -> str:
    text = json.dumps(summary, default=str, ensure_ascii=False) if summary else "{}"
    return text if len(text) < 300 else text[:297] + "..."
