"""The file in hand: what the worker is busy with and since when, so a stuck worker is noticed.

A worker thread that is alive but stuck (a handler looping on one file, a read from a hung
network mount) looks healthy to a liveness check, and the systemd watchdog would be fed for
ever while every inbox waits. So the worker says which file it holds (:class:`InHand`), and the
supervisor stops the ``WATCHDOG=1`` pings once one file has been in hand longer than
``[daemon] max_file_seconds``. It also leaves a note in the state folder (:class:`StuckNote`):
the next start rejects that file as ``too_slow`` instead of hanging on it again.

The door: :class:`InHand` (``with engine.in_hand(desc, file_id)``, ``current()``),
:class:`StuckNote`.
"""
from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..outbox import write_small

log = logging.getLogger("marketd.inbox")


@dataclass(frozen=True)
class Held:
    what: str  # "<kind>/<name>"
    file_id: str
    since: float  # monotonic


class InHand:
    """Written by the worker thread, read by the supervisor: one immutable value, swapped whole."""

    def __init__(self, clock):
        self.clock = clock
        self._held: Held | None = None

    @contextlib.contextmanager
    def __call__(self, what: str, file_id: str):
        outer = self._held
        if outer is None or outer.file_id != file_id:
            self._held = Held(what, file_id, self.clock.monotonic())
        try:
            yield
        finally:
            self._held = outer

    def current(self) -> Held | None:
        return self._held

    def held_longer_than(self, seconds: float) -> tuple[Held, float] | None:
        held = self._held
        if held is None:
            return None
        age = self.clock.monotonic() - held.since
        return (held, age) if age > seconds else None


class StuckNote:
    """``<state_dir>/stuck.json``: the file the supervisor gave up on (id, name, limit)."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "stuck.json"

    def write(self, held: Held, age: float, limit: float) -> None:
        try:
            write_small(self.path, json.dumps({
                "id": held.file_id, "file": held.what, "seconds": round(age), "limit": limit,
                "at": datetime.now(timezone.utc).isoformat()}))
        except OSError as exc:
            log.error("cannot write %s: %s", self.path, exc)

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def clear(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.error("cannot remove %s: %s", self.path, exc)
