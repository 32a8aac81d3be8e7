"""Where an inbox keeps things on disk: the one place that knows the folder layout.

```
<inbox_dir>/<kind>/                     dropped files
  .processing/<id>__<name>              claimed
  .done/<YYYY-MM-DD>/<id>__<name>       applied
  .duplicate/<YYYY-MM-DD>/<id>__<name>  same content as an applied file
  .error/<id>__<name>[.error.txt|.error.json|<marker>]   rejected, with its reports
```

Everything else (the engine, recovery, retention, housekeeping) asks this module for paths and
for the archived items, so the layout can change in one place. The door: :class:`Inbox`,
:func:`new_file_id`, :func:`split_work_name`, :func:`final_dir`, :func:`archived` and the folder
names.
"""
from __future__ import annotations

import fnmatch
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..outbox import ensure_dir

PROCESSING, DONE, ERROR, DUPLICATE = ".processing", ".done", ".error", ".duplicate"
SPECIAL_DIRS = {PROCESSING, DONE, ERROR, DUPLICATE}
FINAL_DIRS = {"done": DONE, "duplicate": DUPLICATE, "error": ERROR}
ERROR_REPORT_SUFFIXES = (".error.txt", ".error.json")
_ID_PREFIX = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}__")


def new_file_id(now: datetime) -> str:
    """``YYYYMMDDTHHMMSS-xxxxxxxx``: time-ordered (backlogs sort by claim), unique per claim."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def strip_id(name: str) -> str:
    """A file moved back from ``.error/`` keeps its old ``<id>__`` prefix; it gets a new id."""
    return _ID_PREFIX.sub("", name)


def work_name(file_id: str, name: str) -> str:
    return f"{file_id}__{name}"


def split_work_name(filename: str) -> tuple[str, str] | None:
    """``(id, name)`` of a file in ``.processing/`` or an archive folder, None if not ours."""
    if "__" not in filename:
        return None
    file_id, name = filename.split("__", 1)
    return file_id, name


class Inbox:
    """One watched folder: its kind, its settings and its special sub-folders."""

    def __init__(self, root: Path, kind: str, settings: dict, handler):
        self.kind = kind
        self.dir = Path(root) / kind
        self.settings = settings
        self.handler = handler

    def sub(self, name: str) -> Path:
        return self.dir / name

    def ensure(self) -> None:
        for sub in ("", PROCESSING, DONE, ERROR, DUPLICATE):
            ensure_dir(self.dir / sub)

    def is_temp_name(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, pat) for pat in self.settings["temp_patterns"])

    def work_path(self, file_id: str, name: str) -> Path:
        return self.sub(PROCESSING) / work_name(file_id, name)

    def final_dir(self, state: str, day: str) -> Path:
        """Where a finished file goes: ``.done/<day>/``, ``.duplicate/<day>/``, flat ``.error/``."""
        base = self.sub(FINAL_DIRS[state])
        return base if state == "error" else base / day


@dataclass
class Archived:
    """One unit retention may delete: a day folder of ``.done/`` or ``.duplicate/``, or every
    file of one rejected input in ``.error/`` (input, reports, done-file marker)."""
    kind: str
    state: str  # done | duplicate | error
    paths: list[Path]
    day: str | None  # the day folder's name (done/duplicate), None for error groups
    archived_at: float  # epoch seconds: when it was archived (see archived())

    @property
    def is_folder(self) -> bool:
        return self.day is not None


def archived(kind_dir: Path) -> list[Archived]:
    """Everything archived under one inbox folder, with when it was archived.

    A day folder's time is its modification time (the last file moved into it). An ``.error/``
    entry's time is its report's modification time (written at the rejection), not the input's
    own, which is whenever the sender last wrote it; without a report, the latest change of any
    of its files (the move into ``.error/`` sets the input's ctime). ``.processing/`` is never
    listed: nothing in flight is archived.
    """
    kind_dir = Path(kind_dir)
    out: list[Archived] = []
    for state in ("done", "duplicate"):
        base = kind_dir / FINAL_DIRS[state]
        if not base.is_dir():
            continue
        for day in sorted(base.iterdir()):
            if day.is_dir() and not day.is_symlink():
                out.append(Archived(kind_dir.name, state, [day], day.name, day.stat().st_mtime))
    err = kind_dir / ERROR
    if err.is_dir():
        groups: dict[str, list[Path]] = {}
        for f in err.iterdir():
            if f.is_file() and not f.is_symlink():
                parts = split_work_name(f.name)
                groups.setdefault(parts[0] if parts else f.name, []).append(f)
        for _key, files in sorted(groups.items()):
            out.append(Archived(kind_dir.name, "error", sorted(files), None, _rejected_at(files)))
    return out


def _rejected_at(files: list[Path]) -> float:
    reports = [f for f in files if f.name.endswith(ERROR_REPORT_SUFFIXES)]
    if reports:
        return max(f.stat().st_mtime for f in reports)
    return max(max(st.st_mtime, st.st_ctime) for st in (os.stat(f) for f in files))
