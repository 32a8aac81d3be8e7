"""Injectable time: production uses the wall clock; tests and fakes share a manual one.

Everything that waits (rate limits, backoff, schedules) asks a clock instead of ``time`` so a
benchmark can run a day of rate-limited traffic in seconds without busy-waiting.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo


class Clock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
    """A clock that only moves when told to (``advance``) or when someone sleeps on it.

    ``sleep`` advances time instantly and records the total slept, so tests can prove that a
    client waited (and for how long) rather than spinning.
    """

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.slept = 0.0
        self.sleeps = 0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.sleeps += 1
            self.advance(seconds)


SYSTEM_CLOCK = Clock()


def shown_time(value: datetime | str | float | int | None, tz: tzinfo | str | None = None) -> str:
    """A moment as an operator reads it: the instance's time zone, to the second, offset included.

    Stored times are UTC ISO strings (some with microseconds) and a few are epoch seconds; printed
    as they are, one screen mixed ``+00:00`` and ``+01:00`` and showed ``.041955``. Every command
    that prints a time goes through here so they all read alike. ``None``/``""`` print as ``-``;
    a value that is not a time is printed unchanged rather than hidden.
    """
    if value is None or value == "":
        return "-"
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:  # stored naive times are UTC (the store writes UTC only)
        moment = moment.replace(tzinfo=timezone.utc)
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return moment.astimezone(zone).isoformat(sep=" ", timespec="seconds")
