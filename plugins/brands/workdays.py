"""Working days of a brand: Monday to Friday minus its country's/state's public holidays (the
``holidays`` package) and its company closing days, counted with numpy's business-day functions.

Why the brand's calendar and not the platform's: the "about 10 working days" to go live are the
integrator's promise to the brand (seeds 000), so the brand's holidays are the ones it expects
to be skipped. The activation day is day 0 (the convention that makes the issue's example,
2024-12-18 in North Rhine-Westphalia → 2025-01-06, true).
"""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import numpy as np

WEEKMASK = "1111100"


@lru_cache(maxsize=256)
def _public(country: str, subdivision: str | None, years: tuple[int, ...]) -> tuple[date, ...]:
    import holidays

    return tuple(sorted(holidays.country_holidays(country, subdiv=subdivision, years=years)))


def non_working(country: str, subdivision: str | None, closing_days, first_year: int, last_year: int) -> np.ndarray:
    """Public holidays of those years plus closing days, as ``datetime64[D]`` for numpy."""
    days = set(_public(country, subdivision, tuple(range(first_year, last_year + 1))))
    days.update(closing_days or ())
    return np.array(sorted(days), dtype="datetime64[D]")


class Calendar:
    """One brand's working days; ``due``/``late_days`` are what the go-live tracker asks."""

    def __init__(self, country: str, subdivision: str | None = None, closing_days=(), tz=None):
        self.country, self.subdivision = country, subdivision
        self.closing_days = tuple(closing_days)
        self.tz = tz

    @classmethod
    def of(cls, brand) -> "Calendar":
        return cls(brand.country, brand.subdivision, brand.closing_days, brand.tz)

    def _hol(self, start: date, end: date) -> np.ndarray:
        return non_working(self.country, self.subdivision, self.closing_days, min(start.year, end.year) - 1,
                           max(start.year, end.year) + 1)

    def local_date(self, moment: datetime) -> date:
        """The brand-local calendar day of an aware time (23:30Z is the next day in Berlin)."""
        if moment.tzinfo is None:
            raise ValueError(f"{moment!r} has no time zone")
        return moment.astimezone(self.tz).date() if self.tz else moment.date()

    def due(self, activated: date, working_days: int) -> date:
        """``working_days`` after ``activated`` (day 0; a non-working start rolls to the next working day)."""
        years_ahead = 1 + working_days // 200
        hol = non_working(self.country, self.subdivision, self.closing_days, activated.year,
                          activated.year + years_ahead)
        d = np.busday_offset(np.datetime64(activated, "D"), working_days, roll="forward", weekmask=WEEKMASK,
                             holidays=hol)
        return d.astype(date)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in [start, end) (negative when end is before start)."""
        return int(np.busday_count(np.datetime64(start, "D"), np.datetime64(end, "D"), weekmask=WEEKMASK,
                                   holidays=self._hol(start, end)))

    def is_working_day(self, day: date) -> bool:
        return bool(np.is_busday(np.datetime64(day, "D"), weekmask=WEEKMASK, holidays=self._hol(day, day)))
