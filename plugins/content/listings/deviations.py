"""The deviations report: every pulled listing that has supplied content, checked with
:mod:`.audit`, one row per deviation, per brand and platform — the form a brand forwards to the
platform (what the platform shows, what it should show).

Written to ``outbox/reports/listings/<brand>/<platform>/deviations-<YYYYMMDD>.csv`` (and ``.xlsx``),
sorted by severity then SKU; ``listing_deviations`` keeps when each was first seen, and a
deviation no longer found is closed (``open = 0``).
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from decimal import Decimal, InvalidOperation

from marketd.sdk import XlsxWorkbook, inbox_settings_for, safe_cell, write_csv

from ..records import Product
from . import audit
from .remote_images import RemoteImages, compare, supplied_images

COLUMNS = ["brand", "platform", "marketplace", "sku", "remote_id", "field", "severity", "state", "platform_shows",
           "should_show", "rule", "message_de", "message_en", "first_seen", "listing_url"]
SEV = {"ERROR": 0, "WARNING": 1, "INFO": 2}


def _dec(v) -> Decimal | None:
    if v in (None, ""):
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def _key_tokens(p: Product, locale: str) -> list[str]:
    out = []
    for name in ("color",) + (("size",) if p.parent else ()):
        v = p.get(name, locale)
        if v:
            out.append(v)
    kw = p.get("title_keywords", locale) or p.get("product_type_keyword", locale)
    if kw:
        out += [k.strip() for k in kw.split("|") if k.strip()][:3]
    return out


def audit_platform(app, name: str, ps, lsettings, now: datetime, *, skus: set[str] | None = None,
                   images: RemoteImages | None = None) -> list[dict]:
    """The deviations of platform ``name`` (only ``skus`` when given). ``images`` fetches the
    platforms' main images (no database write lock is held meanwhile)."""
    db = app.store.db
    locale = ps.locales[0]
    expected_kind = lsettings.expected_first_image.get(name) or ps.first_image or (
        "packshot" if ps.type == "amazon" else "any")
    catalog = {}
    if db["products"].exists():
        catalog = {r["sku"]: r for r in db.query("select sku, price, currency from products")}
    kinds: dict[str, dict[str, str]] = {}
    for r in db.query("select sku, ref, kind from content_images where kind is not null and kind != ''"):
        kinds.setdefault(r["sku"], {})[r["ref"]] = r["kind"]
    supplied = supplied_images(db)
    rows = []
    for r in db.query("select r.*, p.model, c.record, c.brand from remote_listings r "
                      "join content_payloads p on p.sku = r.sku and p.platform = r.platform "
                      "join content_products c on c.sku = r.sku where r.platform = ? and r.present = 1 order by r.sku",
                      [name]):
        if skus is not None and r["sku"] not in skus:
            continue
        prod = Product.from_json(json.loads(r["record"]))
        shows = set(json.loads(r["shows"] or "null") or ["title", "category", "price", "main_image", "issues"])
        devs = []
        if "category" in shows:
            devs += audit.check_category(r["model"].rsplit("/", 1)[-1], r["category"] or "")
        if "title" in shows:
            devs += audit.check_title(prod.get("title", locale), r["title"] or "", brand=prod.brand,
                                      key_tokens=_key_tokens(prod, locale), threshold=lsettings.title_similarity)
        if not prod.is_parent and "price" in shows:
            cat = catalog.get(r["sku"]) or {}
            expected = _dec(cat.get("price")) if cat else _dec(prod.common.get("price"))
            devs += audit.check_price(expected, _dec(r["price"]), r["currency"] or cat.get("currency") or "",
                                      lsettings.price_tolerance)
        if "main_image" in shows:
            remote = r["main_image_url"] or ""
            seen = None
            facts = images.facts(remote) if images is not None and remote and prod.images else None
            if facts is not None and facts.get("ok"):
                ours = supplied.get(r["sku"], [])
                seen = compare(facts, ours, images.settings.images, lsettings.image_match_distance)
                if seen["position"] != 1:  # not the first image: is it another of ours? (fetched only now)
                    seen = compare(facts, images.supplied(prod.images, ours), images.settings.images,
                                   lsettings.image_match_distance)
            devs += audit.check_image(list(prod.images), kinds.get(r["sku"], {}), remote, expected_kind, seen)
        devs += audit.check_issues(json.loads(r["issues"] or "[]"), now)
        for d in devs:
            rows.append({**d, "brand": r["brand"] or "", "platform": name, "marketplace": ps.marketplace,
                         "sku": r["sku"], "remote_id": r["remote_id"] or "", "listing_url": r["url"] or ""})
    return rows


def record(app, name: str, rows: list[dict], now: str, skus: set[str] | None = None) -> None:
    """Upsert the deviations found; close the open ones no longer found (among ``skus`` only,
    when the audit looked at only those)."""
    with app.store.transaction() as tx:
        old = {(r["sku"], r["rule"], r["field"]): r for r in tx.query(
            "select * from listing_deviations where platform = ?", [name]) if skus is None or r["sku"] in skus}
        found = set()
        for d in rows:
            key = (d["sku"], d["rule"], d["field"])
            found.add(key)
            prev = old.get(key)
            first = prev["first_seen"] if prev and prev["open"] else now
            d["first_seen"] = first
            tx["listing_deviations"].upsert({"platform": name, "sku": d["sku"], "field": d["field"], "rule": d["rule"],
                                             "severity": d["severity"], "state": d["state"],
                                             "platform_shows": d["platform_shows"], "should_show": d["should_show"],
                                             "message_en": d["message_en"], "message_de": d["message_de"],
                                             "first_seen": first, "last_seen": now, "open": 1},
                                            pk=("platform", "sku", "rule", "field"))
        for key, prev in old.items():
            if key not in found and prev["open"]:
                tx.execute("update listing_deviations set open = 0, last_seen = ? where platform = ? and sku = ? "
                           "and rule = ? and field = ?", [now, name, *key])


def _atomic(path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_reports(app, name: str, rows: list[dict], now: datetime, xlsx: bool = True, stem: str = "") -> list[str]:
    out = []
    by_brand: dict[str, list[dict]] = {}
    for d in rows:
        by_brand.setdefault(d["brand"] or "unbranded", []).append(d)
    for brand, items in sorted(by_brand.items()):
        items.sort(key=lambda d: (SEV.get(d["severity"], 9), d["sku"], d["field"], d["rule"]))
        folder = app.outbox_dir / "reports" / "listings" / brand / name
        folder.mkdir(parents=True, exist_ok=True)
        base = stem or f"deviations-{now:%Y%m%d}"
        path = folder / f"{base}.csv"

        def csv_write(fh):
            import io

            buf = io.StringIO()
            write_csv(buf, COLUMNS, items)
            fh.write(buf.getvalue().encode("utf-8"))
        _atomic(path, csv_write)
        out.append(str(path.relative_to(app.outbox_dir)))
        if xlsx:
            def xlsx_write(fh):
                wb = XlsxWorkbook(fh)
                sh = wb.sheet("Deviations")
                sh.header(COLUMNS)
                for d in items:
                    sh.append([safe_cell(d.get(c, "")) for c in COLUMNS])
                wb.close()
            _atomic(folder / f"{base}.xlsx", xlsx_write)
    return out


def run_audit(app, *, platforms: set[str] | None = None, skus: set[str] | None = None) -> dict:
    """Audit every pulled listing (or only ``skus``: a notification named them). A scoped audit
    writes ``deviations-<YYYYMMDD>T<HHMMSS>-skus.csv`` with those SKUs' rows, so the day's full
    report stays whole."""
    settings = inbox_settings_for(app, "content")
    now = app.clock.now()
    out = {}
    images = RemoteImages(app, settings)
    try:
        for name, ps in sorted(settings.platforms.items()):
            if platforms and name not in platforms:
                continue
            if not app.store.db["remote_listings"].exists():
                break
            rows = audit_platform(app, name, ps, settings.listings, now, skus=skus, images=images)
            record(app, name, rows, now.isoformat(), skus)
            reports = write_reports(app, name, rows, now, xlsx=settings.xlsx,
                                    stem=f"deviations-{now:%Y%m%dT%H%M%S}-skus" if skus is not None else "")
            out[name] = {"deviations": len(rows), "errors": sum(d["severity"] == "ERROR" for d in rows),
                         "skus": len({d["sku"] for d in rows}), "reports": reports}
    finally:
        images.close()
    return out
