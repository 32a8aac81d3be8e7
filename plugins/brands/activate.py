"""Activation: the first time a brand's SKU is sent to an approved platform (seeds 000), recorded
per SKU × platform. Until the listings push records it itself, ``marketd brands activate`` (or an
activation file in ``inbox/golive/``) does.

Only what may go live is activated: the platform approved the brand (for Amazon, with Brand
Registry), the SKU is in the catalog with stock (goods received, seeds 001), and the latest
completeness run shows no ERROR for it on that platform (content work, where it ran). What is left
out is said per SKU, so the integrator sees what still blocks it.
"""
from __future__ import annotations

from . import checklist, golive


def content_errors(db, platform: str) -> set[str]:
    if "content_issues" not in db.table_names():
        return set()
    return {s for (s,) in db.execute(
        "select distinct i.sku from content_issues i join (select brand, max(id) id from content_runs group by brand) m "
        "on m.id = i.run_id where i.platform = ? and i.severity = 'ERROR'", [platform])}


def activate(app, bid: str, brand, *, platforms=None, skus=None, dry_run: bool = False) -> dict:
    db = app.store.db
    today = app.clock.now().astimezone(brand.tz).date()
    items = checklist.rows(db, bid, brand, today, app)
    mine = {s for (s,) in db.execute("select sku from brand_skus where brand=?", [bid])}
    wanted = sorted(mine if not skus else set(skus))
    stock = dict(db.execute("select p.sku, p.stock from products p join brand_skus b on b.sku = p.sku where b.brand=?",
                            [bid])) if "products" in db.table_names() else {}
    now = app.clock.now().isoformat()
    out = {"activated": [], "already": 0, "skipped": []}
    for platform in platforms or brand.platforms:
        if platform not in brand.platforms:
            out["skipped"].append(("*", platform, f"not one of the brand's platforms ({', '.join(brand.platforms)})"))
            continue
        ok, missing = checklist.platform_ready(items, platform)
        if not ok:
            out["skipped"].append(("*", platform, "not approved yet: " + ", ".join(missing)))
            continue
        errors = content_errors(db, platform)
        with app.store.transaction() as tx:
            for sku in wanted:
                if sku not in mine:
                    out["skipped"].append((sku, platform, "not a SKU of this brand"))
                elif sku not in stock:
                    out["skipped"].append((sku, platform, "not in the catalog"))
                elif not stock[sku] or stock[sku] <= 0:
                    out["skipped"].append((sku, platform, "no stock (goods not received)"))
                elif sku in errors:
                    out["skipped"].append((sku, platform, "content has errors for this platform"))
                elif dry_run:
                    out["activated"].append((sku, platform))
                elif golive.record_activation(tx, bid, sku, platform, now, "cli"):
                    out["activated"].append((sku, platform))
                else:
                    out["already"] += 1
    return out
