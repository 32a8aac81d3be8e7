"""Built-in plugin: retention of archived inputs (``.done/``, ``.duplicate/``, ``.error/``)."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from marketd.sdk import JobSpec, hookimpl, inbox_settings_for

log = logging.getLogger("marketd.housekeeping")


def prune(app, since=None) -> int:
    """Delete archive day folders and error files older than each inbox's retention.

    Never touches ``.processing/`` or today's folder. An ``.error/`` entry's age is the age of
    its report (``<id>__<name>.error.txt``, written when the file was rejected), not the input's
    own modification time, which is whenever the sender last wrote it: a file exported a year ago
    and rejected today is kept for the whole error retention. Everything of one rejected file
    (input, ``.error.txt``, ``.error.json``, done-file marker) shares its ``<id>__`` prefix and goes
    together.
    """
    removed = 0
    now = time.time()
    today = app.clock.now().strftime("%Y-%m-%d")
    for inbox_dir in sorted(p for p in Path(app.inbox_dir).iterdir() if p.is_dir()):
        s = inbox_settings_for(app, inbox_dir.name)
        for sub, days in ((".done", s["retention_done_days"]), (".duplicate", s["retention_done_days"])):
            base = inbox_dir / sub
            if not base.is_dir():
                continue
            for day in base.iterdir():
                if day.is_dir() and day.name != today and now - day.stat().st_mtime > float(days) * 86400:
                    shutil.rmtree(day)
                    removed += 1
        err = inbox_dir / ".error"
        if err.is_dir():
            limit = float(s["retention_error_days"]) * 86400
            for files in _error_groups(err).values():
                if now - _rejected_at(files) > limit:
                    for f in files:
                        f.unlink(missing_ok=True)
                        removed += 1
    if removed:
        log.info("retention: removed %d archived items", removed)
    return removed


def _error_groups(err: Path) -> dict[str, list[Path]]:
    """The regular files in ``.error/`` grouped by their ``<id>__`` prefix (one rejected input)."""
    groups: dict[str, list[Path]] = {}
    for f in err.iterdir():
        if f.is_file() and not f.is_symlink():
            key = f.name.split("__", 1)[0] if "__" in f.name else f.name
            groups.setdefault(key, []).append(f)
    return groups


def _rejected_at(files: list[Path]) -> float:
    """When the rejection happened: its report's mtime; without a report, the latest time any
    of the files changed (mtime or ctime: the move into ``.error/`` sets the input's ctime)."""
    reports = [f for f in files if f.name.endswith((".error.txt", ".error.json"))]
    if reports:
        return max(f.stat().st_mtime for f in reports)
    return max(max(st.st_mtime, st.st_ctime) for st in (f.stat() for f in files))


@hookimpl
def register_jobs(register):
    register(JobSpec("retention", prune, trigger="cron", cron={"hour": 3, "minute": 30},
                     description="prune .done/.error archives past their retention"))
