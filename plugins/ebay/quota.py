"""eBay's daily call limits, counted on our side so the limit is never hit blind.

eBay limits calls per application and day for each API resource — Fulfillment's ``order``
resources 100,000 a day (research api-contracts §2.2) — and answers 429 ``errorId 2001`` beyond
it until the day ends at midnight Pacific time [unverified reset time, configurable]. The count is
kept per (day, resource) in the store through ``load``/``save`` so a restart does not start from
zero; a request that would go over raises :class:`RateLimited` before anything is sent, with the
seconds until the next quota day, and the job simply continues at a later run.
"""
from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from marketd.sdk import RateLimited

DEFAULT_QUOTAS = {"order": 100_000, "inventory": 2_000_000}   # Inventory: research api-contracts §2.2
RESOURCE_OF_PATH = (("/sell/fulfillment/", "order"), ("/sell/finances/", "finances"), ("/sell/inventory/", "inventory"),
                    ("/commerce/taxonomy/", "taxonomy"))


def resource_of(path: str) -> str | None:
    """The quota resource a request path counts against (None: not counted, e.g. OAuth)."""
    for prefix, resource in RESOURCE_OF_PATH:
        if prefix in path:
            return resource
    return None


class DailyQuota:
    def __init__(self, limits: dict[str, int], clock, *, timezone: str = "America/Los_Angeles",
                 load: Callable[[str, str], int] | None = None, save: Callable[[str, str, int], None] | None = None,
                 account: str = ""):
        self.limits = dict(limits)
        self.clock = clock
        self.tz = ZoneInfo(timezone)
        self.load = load or (lambda day, resource: 0)
        self.save = save or (lambda day, resource, used: None)
        self.account = account
        self._lock = threading.Lock()
        self._used: dict[tuple[str, str], int] = {}

    def day(self) -> str:
        return self.clock.now().astimezone(self.tz).date().isoformat()

    def seconds_to_reset(self) -> float:
        now = self.clock.now().astimezone(self.tz)
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=self.tz)
        return max(1.0, (midnight - now).total_seconds())

    def used(self, resource: str) -> int:
        day = self.day()
        with self._lock:
            key = (day, resource)
            if key not in self._used:
                self._used[key] = int(self.load(day, resource) or 0)
            return self._used[key]

    def take(self, resource: str | None) -> None:
        """Count one request against ``resource``; RateLimited (nothing sent) when the day's limit is reached."""
        if resource is None:
            return
        limit = self.limits.get(resource)
        day = self.day()
        used = self.used(resource)
        with self._lock:
            if limit is not None and used >= limit:
                wait = self.seconds_to_reset()
                raise RateLimited(f"eBay {self.account}: the daily call limit for {resource} resources ({limit}) is "
                                  f"used up; it resets at midnight {self.tz.key} (in {wait / 3600:.1f} h)", wait)
            self._used[(day, resource)] = used + 1
            self._used = {k: v for k, v in self._used.items() if k[0] == day}
        self.save(day, resource, used + 1)
