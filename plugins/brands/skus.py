"""Which SKU belongs to which brand, materialised in ``brand_skus``.

Every per-brand query (sales, stock, go-live, statement) joins this one table, so the rule
("prefix ACM-" or "catalog brand column = Acme") is applied once, and a SKU two brands claim is
an error naming both instead of sales counted twice.
"""
from __future__ import annotations

from marketd.sdk import ConfigError


def _known_skus(db) -> dict[str, str | None]:
    """SKU -> catalog brand (None when not in the catalog) for every SKU marketd has seen."""
    out: dict[str, str | None] = {}
    names = set(db.table_names())
    if "orders" in names:
        for (sku,) in db.execute("select distinct json_extract(j.value, '$.sku') from orders, json_each(orders.items) j "
                                 "where json_valid(orders.items)"):
            if sku:
                out[str(sku)] = None
    if "golive" in names:
        for (sku,) in db.execute("select distinct sku from golive"):
            out.setdefault(sku, None)
    if "products" in names:
        for sku, brand in db.execute("select sku, brand from products"):
            out[sku] = brand
    return out


def match(brands: dict, sku: str, catalog_brand: str | None) -> list[str]:
    hits = []
    for bid, b in brands.items():
        if b.catalog_brand and catalog_brand and catalog_brand.strip().casefold() == b.catalog_brand.casefold():
            hits.append(bid)
        elif any(sku.startswith(p) for p in b.sku_prefixes):
            hits.append(bid)
    return hits


def refresh(db, brands: dict) -> int:
    """Rebuild ``brand_skus``; raises ConfigError when two brands claim one SKU."""
    rows = []
    for sku, cat in _known_skus(db).items():
        hits = match(brands, sku, cat)
        if len(hits) > 1:
            raise ConfigError(f"SKU {sku!r} matches brands {hits[0]!r} and {hits[1]!r}: make their sku_prefixes / "
                              "catalog_brand exclusive")
        if hits:
            rows.append((sku, hits[0], "catalog" if cat and brands[hits[0]].catalog_brand else "prefix"))
    db.execute("delete from brand_skus")
    db.conn.executemany("insert into brand_skus (sku, brand, source) values (?,?,?)", rows)
    return len(rows)


def brand_for(db, brands: dict, sku: str) -> str | None:
    """One SKU's brand, for handlers that meet SKUs before any refresh (activation files)."""
    cat = None
    if "products" in db.table_names():
        r = db.execute("select brand from products where sku=?", [sku]).fetchone()
        cat = r[0] if r else None
    hits = match(brands, sku, cat)
    return hits[0] if len(hits) == 1 else None
