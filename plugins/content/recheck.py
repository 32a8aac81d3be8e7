"""Checking stored content again without its file: after a data model changed (only the SKUs
mapped to it) or after queued images arrived (only the SKUs showing them).

The products come from ``content_products`` (the parsed, inherited records of each SKU's latest
file); images the zip brought are found again through ``content_images`` (reference → sha256)
and the image cache's facts. The run is a normal run (:func:`runs.execute`) with the other SKUs'
issues carried over, so the brand's latest run stays complete and its diff shows exactly what
the change did.
"""
from __future__ import annotations

import json
import re

from marketd.sdk import inbox_settings_for

from . import runs
from .image_fetch import ImageSource
from .parties import load_parties
from .records import Product
from .registry import Registry, instance_path, models_root


def stored_products(db, brand: str | None = None) -> dict[str, Product]:
    sql, args = "select sku, brand, record from content_products", []
    if brand is not None:
        sql += " where brand = ?"
        args.append(brand)
    out = {}
    for r in db.query(sql, args):
        out[r["sku"]] = Product.from_json(json.loads(r["record"]))
    return out


def brands(db) -> list[str]:
    return [r["brand"] for r in db.query("select distinct brand from content_products order by brand")]


def recheck(app, brand: str, skus: set[str], reason: str, *, label: str = "", transport=None) -> dict | None:
    """A run for ``brand`` re-checking ``skus``; None when none of them is stored."""
    settings = inbox_settings_for(app, "content")
    db = app.store.db
    products = stored_products(db, brand)
    skus = {s for s in skus if s in products}
    if not skus:
        return None
    known = {r["ref"]: r["sha256"] for r in db.query(
        "select ref, sha256 from content_images where sku in (select sku from content_products where brand = ?) "
        "and sha256 != ''", [brand])}
    images_dir = instance_path(app, settings.images_dir) if settings.images_dir else None
    source = ImageSource(app, settings.images, images_dir=images_dir, transport=transport, known=known)
    try:
        for sku in sorted(skus):  # downloads before the write transaction
            p = products[sku]
            if p.images:
                source.facts(p.images[0])
        registry = Registry(models_root(app, settings), settings)
        latest = runs.latest_run(db, brand)
        stamp = app.clock.now().strftime("%Y%m%dT%H%M%SZ")
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", label or reason).strip("._")[:60]
        folder = re.sub(r"[^A-Za-z0-9._-]+", "_", brand).strip("._") or "unbranded"
        inp = runs.RunInput(brand=brand, products=products, source=latest["source"] if latest else reason,
                            source_sha256=latest["source_sha256"] if latest else "", reason=reason,
                            skus=skus, report_dir=f"reports/content/{folder}/{stamp}-{slug}",
                            extra_meta=[("re-checked SKUs", len(skus))])

        staged: list[tuple[str, bytes]] = []
        with app.store.transaction() as tx:
            summary = runs.execute(app, tx, settings, registry, inp, lambda rel, data: staged.append((rel, data)),
                                   images=source, parties=load_parties(tx))
        for rel, data in staged:  # after the commit: a rolled-back run leaves no report behind
            app.outbox.write(rel, data)
        return summary
    finally:
        source.close()
