"""Retention: delete archived inputs once they are older than their inbox's retention.

``.done/`` and ``.duplicate/`` day folders after ``retention_done_days``, every file of one
rejected input in ``.error/`` (input, reports, done-file marker) after ``retention_error_days``,
each inbox's own ``[inbox.<kind>]`` values over ``[inbox.defaults]``. ``.processing/`` and today's
day folder are never touched. What "archived" and "when" mean is :func:`layout.archived`'s.

The doors: :func:`prune` (the housekeeping plugin's daily ``retention`` job calls it) and
:func:`expire` (the privacy plugin's purge: archives of inboxes that hold buyer data go after
the buyer-data retention, when that is shorter than the inbox's own).
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from ..config import inbox_settings
from .layout import archived

log = logging.getLogger("marketd.housekeeping")


def prune(app, now: float | None = None) -> int:
    """Delete what is past retention under every inbox folder; returns how many items went
    (day folders and files)."""
    now = time.time() if now is None else now
    today = app.clock.now().strftime("%Y-%m-%d")
    removed = 0
    root = Path(app.inbox_dir)
    if not root.is_dir():
        return 0
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        s = inbox_settings(app.config, kind_dir.name)
        keep = {"done": float(s["retention_done_days"]), "duplicate": float(s["retention_done_days"]),
                "error": float(s["retention_error_days"])}
        for item in archived(kind_dir):
            if item.day == today or now - item.archived_at <= keep[item.state] * 86400:
                continue
            for path in item.paths:
                if item.is_folder:
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.info("retention: removed %d archived items", removed)
    return removed


def expire(app, kinds, days: float, now: float | None = None) -> list[str]:
    """Delete the archived items of inboxes ``kinds`` older than ``days`` (today's day folder and
    ``.processing/`` are never touched); returns them relative to the inbox folder."""
    now = time.time() if now is None else now
    today = app.clock.now().strftime("%Y-%m-%d")
    root = Path(app.inbox_dir)
    removed: list[str] = []
    for kind in sorted(set(kinds)):
        kind_dir = root / kind
        if not kind_dir.is_dir():
            continue
        for item in archived(kind_dir):
            if item.day == today or now - item.archived_at <= float(days) * 86400:
                continue
            for path in item.paths:
                if item.is_folder:
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                removed.append(str(path.relative_to(root)))
    if removed:
        log.info("retention: removed %d archived items holding buyer data", len(removed))
    return removed
