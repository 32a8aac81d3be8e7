"""Built-in plugin: retention of archived inputs (``.done/``, ``.duplicate/``, ``.error/``)."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from marketd.config import inbox_settings
from marketd.hookspecs import hookimpl
from marketd.models import JobSpec

log = logging.getLogger("marketd.housekeeping")


def prune(app, since=None) -> int:
    """Delete archive day folders and error files older than each inbox's retention.

    Never touches ``.processing/`` or today's folder.
    """
    removed = 0
    now = time.time()
    today = app.clock.now().strftime("%Y-%m-%d")
    for inbox_dir in sorted(p for p in Path(app.inbox_dir).iterdir() if p.is_dir()):
        s = inbox_settings(app.config, inbox_dir.name)
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
            for f in err.iterdir():
                if f.is_file() and now - f.stat().st_mtime > float(s["retention_error_days"]) * 86400:
                    f.unlink()
                    removed += 1
    if removed:
        log.info("retention: removed %d archived items", removed)
    return removed


@hookimpl
def register_jobs(register):
    register(JobSpec("retention", prune, trigger="cron", cron={"hour": 3, "minute": 30},
                     description="prune .done/.error archives past their retention"))
