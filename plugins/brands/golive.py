"""Go-live tracking: per SKU × platform, activated → due (N working days later) → live.

``activated_at`` is kept from the first activation; ``live_at`` from the first time a platform
showed the SKU live, and never moved back (a later suppression is a listing problem, not "not
live"). The due date is computed when asked, from the brand's calendar as configured now, so a
corrected holiday list or a per-platform override applies to SKUs already activated.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .workdays import Calendar


@dataclass
class SkuStatus:
    sku: str
    platform: str
    activated: date
    due: date
    live: date | None
    status: str            # live | pending | overdue
    days_late: int = 0     # working days past due (overdue) or past due when it went live late
    days_taken: int | None = None
    activated_at: str = ""
    live_at: str | None = None


def _aware(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return dt


def status_of(brand, cal: Calendar, sku: str, platform: str, activated_at: str, live_at: str | None,
              today: date) -> SkuStatus:
    act = cal.local_date(_aware(activated_at))
    due = cal.due(act, brand.golive_days_for(platform))
    live = cal.local_date(_aware(live_at)) if live_at else None
    if live is not None:
        taken = cal.working_days_between(act, live) if live >= act else 0
        late = max(0, cal.working_days_between(due, live))
        return SkuStatus(sku, platform, act, due, live, "live", late, taken, activated_at, live_at)
    if today > due:
        return SkuStatus(sku, platform, act, due, None, "overdue", cal.working_days_between(due, today), None,
                         activated_at, None)
    return SkuStatus(sku, platform, act, due, None, "pending", 0, None, activated_at, None)


def statuses(db, brand_id: str, brand, today: date) -> list[SkuStatus]:
    """Every activated SKU × platform of the brand, in (platform, sku) order.

    The same arithmetic as :func:`status_of`, done for all rows at once with numpy's array forms
    (one holiday array per brand, not one per SKU): a brand has 20,000 rows at 5,000 SKUs × 4."""
    import numpy as np

    from .workdays import WEEKMASK, non_working

    rows = list(db.execute("select sku, platform, activated_at, live_at from golive where brand=? "
                           "order by platform, sku", [brand_id]))
    if not rows:
        return []
    cal = Calendar.of(brand)
    act = [cal.local_date(_aware(r[2])) for r in rows]
    live = [cal.local_date(_aware(r[3])) if r[3] else None for r in rows]
    lo = min(act + [today])
    hi = max(act + [today] + [d for d in live if d])
    hol = non_working(brand.country, brand.subdivision, brand.closing_days, lo.year - 1, hi.year + 2)
    a = np.array(act, dtype="datetime64[D]")
    n = np.array([brand.golive_days_for(r[1]) for r in rows])
    due = np.busday_offset(a, n, roll="forward", weekmask=WEEKMASK, holidays=hol)
    end = np.array([d or today for d in live], dtype="datetime64[D]")
    late = np.busday_count(due, end, weekmask=WEEKMASK, holidays=hol)
    taken = np.busday_count(a, end, weekmask=WEEKMASK, holidays=hol)
    out = []
    due_days = due.astype(object)        # one conversion to datetime.date for the whole array
    for i, (sku, platform, activated_at, live_at) in enumerate(rows):
        d = due_days[i]
        if live[i] is not None:
            out.append(SkuStatus(sku, platform, act[i], d, live[i], "live", max(0, int(late[i])),
                                 int(taken[i]) if live[i] >= act[i] else 0, activated_at, live_at))
        elif today > d:
            out.append(SkuStatus(sku, platform, act[i], d, None, "overdue", int(late[i]), None, activated_at, None))
        else:
            out.append(SkuStatus(sku, platform, act[i], d, None, "pending", 0, None, activated_at, None))
    return out


def record_activation(db, brand_id: str, sku: str, platform: str, at: str, source: str) -> bool:
    """The first activation wins (idempotent); True when new."""
    cur = db.execute("insert into golive (sku, platform, brand, activated_at, activation_source) values (?,?,?,?,?) "
                     "on conflict (sku, platform) do nothing", [sku, platform, brand_id, at, source])
    return cur.rowcount == 1


def record_live(db, sku: str, platform: str, at: str, source: str) -> str:
    """``new`` (first time live), ``kept`` (already live: unchanged) or ``not_activated``."""
    row = db.execute("select live_at from golive where sku=? and platform=?", [sku, platform]).fetchone()
    if row is None:
        return "not_activated"
    if row[0]:
        return "kept"
    db.execute("update golive set live_at=?, live_source=? where sku=? and platform=?", [at, source, sku, platform])
    return "new"


def summary(rows: list[SkuStatus], platforms: list[str]) -> list[dict]:
    """Per platform: activated, live, pending, overdue, live % and median working days to live."""
    out = []
    for p in platforms:
        mine = [r for r in rows if r.platform == p]
        live = [r for r in mine if r.status == "live"]
        taken = sorted(r.days_taken for r in live if r.days_taken is not None)
        median = None
        if taken:
            mid = len(taken) // 2
            median = taken[mid] if len(taken) % 2 else (taken[mid - 1] + taken[mid]) / 2
        out.append({"platform": p, "activated": len(mine), "live": len(live),
                    "pending": sum(r.status == "pending" for r in mine),
                    "overdue": sum(r.status == "overdue" for r in mine),
                    "live_pct": round(100 * len(live) / len(mine), 1) if mine else None,
                    "median_days_to_live": median})
    return out
