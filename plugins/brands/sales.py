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


WAREHOUSE = "warehouse"


def _count(v) -> int | None:
    try:
        n = int(Decimal(str(v).strip()))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return n if n >= 0 else None


def stock(db, brand_id: str, locations: dict[str, str] | None = None) -> list[tuple[str, str, str, int, bool]]:
    """``(sku, title, location, quantity, on_platform)`` of the brand's SKUs, per place it is kept:

    - ``warehouse``: the catalog's ``stock`` (the integrator's warehouse);
    - each of ``locations`` (``{location: catalog column}``): that column of the catalog row,
      where it holds a whole number;
    - each platform whose listings pull reported a quantity (``remote_listings``: FBA stock on
      Amazon, the offered quantity elsewhere); ``on_platform`` is True for these rows.
    """
    tables = db.table_names()
    if "products" not in tables:
        return []
    names = sorted(locations or {})
    cols = "".join(", json_extract(p.attributes, ?)" for _ in names)
    paths = ["$." + json_key(locations[n]) for n in names]
    out = []
    for row in db.execute(f"select p.sku, p.title, p.stock{cols} from products p join brand_skus b on b.sku = p.sku "
                          "where b.brand = ? order by p.sku", [*paths, brand_id]):
        sku, title = row[0], row[1] or ""
        out.append((sku, title, WAREHOUSE, int(row[2] or 0), False))
        for n, v in zip(names, row[3:]):
            q = _count(v) if v is not None else None
            if q is not None:
                out.append((sku, title, n, q, False))
    if "remote_listings" in tables:
        titles = {r[0]: r[1] for r in out}
        for sku, platform, qty in db.execute(
                "select r.sku, r.platform, r.quantity from remote_listings r join brand_skus b on b.sku = r.sku "
                "where b.brand = ? and r.quantity is not null and coalesce(r.present, 1) = 1 "
                "order by r.sku, r.platform", [brand_id]):
            out.append((sku, titles.get(sku, ""), platform, int(qty), True))
    return sorted(out, key=lambda r: (r[0], r[4], r[2] != WAREHOUSE, r[2]))


def json_key(name: str) -> str:
    """A catalog column name as a JSON path member (quoted: columns hold spaces and dots)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def units_by_platform(ls: list[Line]) -> dict[tuple[str, str], int]:
    """Units sold per (SKU, platform), cancelled orders excluded."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for ln in ls:
        if ln.status not in CANCELLED:
            out[(ln.sku, ln.platform)] += ln.units
    return out


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
