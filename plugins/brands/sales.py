"""A brand's order lines and stock, read from the core ``orders`` and the catalog's ``products``
through ``brand_skus``. Shared by the data links, the weekly reports and the dashboard, so every
output counts a sale the same way: by the order's purchase time in the brand's local calendar,
cancelled orders apart, line gross = the line's total (or unit price × quantity), Decimal.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

CANCELLED = ("CANCELLED",)
RETURNED = ("RETURNED", "REFUNDED")


@dataclass(frozen=True)
class Line:
    day: date              # brand-local purchase day
    platform: str          # the channel account (orders.channel)
    order_key: str
    sku: str
    title: str
    units: int
    gross: Decimal
    currency: str
    status: str


def utc_bounds(first: date, last: date, tz) -> tuple[str, str]:
    """[first 00:00 local, last+1 00:00 local) as the store's UTC ISO text."""
    a = datetime.combine(first, time(0), tz).astimezone(timezone.utc).isoformat()
    b = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(timezone.utc).isoformat()
    return a, b


def _dec(text) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


_SELECT = ("select {brand}o.key, o.channel, o.purchased_at, coalesce(o.status, ''), o.currency, "
           "json_extract(j.value, '$.sku'), json_extract(j.value, '$.title'), json_extract(j.value, '$.quantity'), "
           "json_extract(j.value, '$.total'), json_extract(j.value, '$.unit_price'), "
           "json_extract(j.value, '$.currency') from orders o cross join json_each(o.items) j cross join brand_skus b "
           "on b.sku = json_extract(j.value, '$.sku') where {where}o.purchased_at >= ? and o.purchased_at < ? and "
           "json_valid(o.items) order by o.purchased_at, o.key, j.key")


# CROSS JOIN keeps SQLite's join order: orders in the time range (purchased_at index) first, then
# each line's SKU looked up in brand_skus by key. Left to the planner, the brand filter made it
# start from brand_skus and re-read the orders for every SKU (40 s instead of 0.3 s for one brand).


class Prefetch:
    """Every brand's order lines of a window, read in one pass over the orders (a job that builds
    200 brands' files reads the orders once, not 200 times); ``lines`` takes it as ``pre``."""

    def __init__(self, db, lo_utc: str, hi_utc: str):
        self.lo, self.hi = lo_utc, hi_utc
        self.rows: dict[str, list] = {}
        if "orders" in db.table_names():
            for r in db.execute(_SELECT.format(brand="b.brand, ", where=""), [lo_utc, hi_utc]):
                self.rows.setdefault(r[0], []).append(r[1:])

    def covers(self, lo: str, hi: str) -> bool:
        return self.lo <= lo and hi <= self.hi


def lines(db, brand_id: str, first: date, last: date, tz, pre: Prefetch | None = None) -> list[Line]:
    """Every order line of the brand purchased in [first, last] (local days), in a stable order."""
    lo, hi = utc_bounds(first, last, tz)
    if pre is not None and pre.covers(lo, hi):
        cur = [r for r in pre.rows.get(brand_id, ()) if lo <= r[2] < hi]
    elif "orders" not in db.table_names():
        return []
    else:
        cur = db.execute(_SELECT.format(brand="", where="b.brand = ? and "), [brand_id, lo, hi])
    out = []
    for key, channel, at, status, ocur, sku, title, qty, total, unit, icur in cur:
        units = int(qty or 0)
        gross = _dec(total)
        if gross is None:
            u = _dec(unit)
            gross = (u * units) if u is not None else Decimal("0")
        day = datetime.fromisoformat(at).astimezone(tz).date()
        out.append(Line(day, channel, key, sku, title or "", units, gross, icur or ocur or "", status))
    return out


def stock(db, brand_id: str) -> list[tuple[str, str, int]]:
    """(sku, title, quantity) of the brand's catalog SKUs; the catalog has one stock per SKU."""
    if "products" not in db.table_names():
        return []
    return [(s, t or "", int(q or 0)) for s, t, q in db.execute(
        "select p.sku, p.title, p.stock from products p join brand_skus b on b.sku = p.sku where b.brand = ? "
        "order by p.sku", [brand_id])]


def daily_units(ls: list[Line]) -> dict[str, int]:
    """Units sold per SKU (cancelled orders excluded)."""
    out: dict[str, int] = defaultdict(int)
    for ln in ls:
        if ln.status not in CANCELLED:
            out[ln.sku] += ln.units
    return out


def cover_days(available: int, units_28d: int) -> Decimal | None:
    """Days the stock lasts at the last 28 days' mean daily sales; None without sales."""
    if units_28d <= 0:
        return None
    return (Decimal(available) * 28 / Decimal(units_28d)).quantize(Decimal("0.1"))


def money(d: Decimal) -> str:
    return format(d.quantize(Decimal("0.01")), "f")
