"""Why each dropped file waits, told to ``marketd status`` (which runs in another process).

The gate's reasons live in the daemon's memory. The worker writes them to
``<state_dir>/inbox-waiting.json`` whenever they change (not on every pass: the texts are
static, times are absolute), and removes the file when the daemon stops; ``marketd status``
reads it only while a daemon holds the instance lock.

The door: :class:`WaitingNote` (``update``, ``read``, ``clear``).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from ..outbox import write_small

log = logging.getLogger("marketd.inbox")


class WaitingNote:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "inbox-waiting.json"
        self._last: list | None = None
        self._failed = False

    def update(self, files: list[dict]) -> None:
        if files == self._last:
            return
        try:
            write_small(self.path, json.dumps({"updated_at": datetime.now(timezone.utc).isoformat(),
                                               "files": files}, indent=1))
            self._last = files
            self._failed = False
        except OSError as exc:  # status loses detail; the daemon goes on
            if not self._failed:
                log.warning("cannot write %s (marketd status shows no reasons for waiting files): %s", self.path, exc)
            self._failed = True

    def read(self) -> list[dict] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("files", [])
        except (OSError, ValueError, AttributeError):
            return None

    def clear(self) -> None:
        self._last = None
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
