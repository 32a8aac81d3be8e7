"""The three data links of a brand (seeds 000: refreshed daily with the previous day's sales and
stock, no login): ``sales-daily.csv``, ``stock.csv``, ``sales-history.csv``.

CSV as Excel's and Google Sheets' "from web" imports read it: UTF-8 with a BOM, comma, decimal
point, ISO dates, CRLF, text cells made formula-safe (numbers are never touched). No buyer data:
order lines are summed per day × platform × SKU.

A refresh never shows a reader half a file: each file is written under a content-addressed name
(``<link>.<sha12>.csv``, temp name, fsync, rename), then ``manifest.json`` is replaced
atomically. A request reads the manifest once and streams the file it names, so its ETag always
matches its bytes; old files are removed a while later (an open file stays readable on Linux).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time as _time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from marketd.sdk import csv_text

from . import sales

LINKS = ("sales-daily.csv", "stock.csv", "sales-history.csv")
DAILY = ["date", "platform", "sku", "title", "orders", "units", "gross", "currency", "cancelled_units"]
STOCK = ["as_of", "sku", "title", "location", "quantity_available", "units_28d", "cover_days"]
HISTORY = ["date", "platform", "sku", "units", "gross", "currency"]
KEEP_OLD_SECONDS = 900
HISTORY_DAYS = 400


def folder(app, brand_id: str) -> Path:
    return app.state_dir / "links" / brand_id


def _bom(text: str) -> bytes:
    return ("\ufeff" + text).encode("utf-8")


def daily_rows(ls: list[sales.Line], day: date) -> list[list]:
    agg: dict = defaultdict(lambda: {"orders": set(), "units": 0, "gross": Decimal(0), "cancelled": 0, "title": ""})
    for ln in ls:
        if ln.day != day:
            continue
        a = agg[(ln.platform, ln.sku, ln.currency)]
        a["title"] = a["title"] or ln.title
        if ln.status in sales.CANCELLED:
            a["cancelled"] += ln.units
            continue
        a["orders"].add(ln.order_key)
        a["units"] += ln.units
        a["gross"] += ln.gross
    return [[day.isoformat(), p, s, a["title"], len(a["orders"]), a["units"], sales.money(a["gross"]),
             c, a["cancelled"]] for (p, s, c), a in sorted(agg.items())]


def history_rows(ls: list[sales.Line]) -> list[list]:
    agg: dict = defaultdict(lambda: [0, Decimal(0)])
    for ln in ls:
        if ln.status in sales.CANCELLED:
            continue
        a = agg[(ln.day, ln.platform, ln.sku, ln.currency)]
        a[0] += ln.units
        a[1] += ln.gross
    return [[d.isoformat(), p, s, u, sales.money(g), c] for (d, p, s, c), (u, g) in sorted(agg.items()) if u]


def stock_rows(db, brand_id: str, brand, ls28: list[sales.Line], as_of: date) -> list[list]:
    """One row per SKU × location; a platform's stock is covered by that platform's sales, a
    warehouse's by all of them."""
    units = sales.daily_units(ls28)
    per_platform = sales.units_by_platform(ls28)
    out = []
    for sku, title, location, qty, on_platform in sales.stock(db, brand_id, brand.stock_locations):
        sold = per_platform.get((sku, location), 0) if on_platform else units.get(sku, 0)
        cover = sales.cover_days(qty, sold)
        out.append([as_of.isoformat(), sku, title, location, qty, sold, "" if cover is None else format(cover, "f")])
    return out


def contents(db, brand_id: str, brand, day: date, pre=None) -> dict[str, bytes]:
    """The three files for ``day`` (the previous local day at refresh time)."""
    hist = sales.lines(db, brand_id, day - timedelta(days=HISTORY_DAYS), day, brand.tz, pre)
    last28 = [ln for ln in hist if ln.day > day - timedelta(days=28)]
    return {
        "sales-daily.csv": _bom(csv_text(DAILY, daily_rows(hist, day))),
        "stock.csv": _bom(csv_text(STOCK, stock_rows(db, brand_id, brand, last28, day))),
        "sales-history.csv": _bom(csv_text(HISTORY, history_rows(hist))),
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def publish(base: Path, files: dict[str, bytes], for_date: str, now_iso: str) -> dict:
    """Write the files under content names, then swap the manifest in one rename."""
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    manifest = {"for_date": for_date, "built_at": now_iso, "files": {}}
    for link, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        name = f"{link[:-4]}.{digest[:12]}.csv"
        if not (base / name).exists():
            _write_atomic(base / name, data)
        manifest["files"][link] = {"file": name, "etag": digest, "bytes": len(data),
                                   "rows": data.count(b"\r\n") - 1}
    _write_atomic(base / "manifest.json", json.dumps(manifest, sort_keys=True).encode())
    fd = os.open(base, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _prune(base, {f["file"] for f in manifest["files"].values()})
    return manifest


def _prune(base: Path, keep: set[str]) -> None:
    cutoff = _time.time() - KEEP_OLD_SECONDS
    for p in base.glob("*.csv"):
        if p.name not in keep and p.stat().st_mtime < cutoff:
            p.unlink(missing_ok=True)


def build(app, brand_id: str, brand, day: date, pre=None) -> dict:
    return publish(folder(app, brand_id), contents(app.store.db, brand_id, brand, day, pre), day.isoformat(),
                   app.clock.now().isoformat())


def prefetch(app, day: date):
    """One read of the orders for every brand's history window ending on ``day`` (any time zone)."""
    from datetime import datetime, time, timezone

    lo = datetime.combine(day - timedelta(days=HISTORY_DAYS + 1), time(0), timezone.utc).isoformat()
    hi = datetime.combine(day + timedelta(days=2), time(0), timezone.utc).isoformat()
    return sales.Prefetch(app.store.db, lo, hi)


def read_manifest(base: Path) -> dict | None:
    try:
        return json.loads((base / "manifest.json").read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def built_for(app, brand_id: str) -> str | None:
    m = read_manifest(folder(app, brand_id))
    return m["for_date"] if m else None


# -- tokens: shown once, stored as a hash -------------------------------------------------------------
def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rotate(app, brand_id: str) -> str:
    """Revoke the brand's tokens and issue a new one (one transaction); returns the token."""
    token = secrets.token_urlsafe(32)
    now = app.clock.now().isoformat()
    with app.store.transaction() as db:
        db.execute("update link_tokens set revoked_at=? where brand=? and revoked_at is null", [now, brand_id])
        db.execute("insert into link_tokens (token_sha256, brand, created_at) values (?,?,?)",
                   [token_hash(token), brand_id, now])
    return token


def brand_for_token(db, token: str) -> str | None:
    if not token or len(token) > 100:
        return None
    r = db.execute("select brand from link_tokens where token_sha256=? and revoked_at is null",
                   [token_hash(token)]).fetchone()
    return r[0] if r else None
