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


class Matcher:
    """The brands' rules as lookups: SKU prefixes by length, catalog brand names folded.

    Why not test every brand's prefixes per SKU: with 200 brands and a million SKUs that was
    200 million ``startswith`` calls per refresh, and every brands job refreshes first. A
    lookup per distinct prefix length gives the same answer (every brand whose rule matches)."""

    def __init__(self, brands: dict):
        self.order = {bid: i for i, bid in enumerate(brands)}
        self.prefixes: dict[int, dict[str, list[str]]] = {}
        self.names: dict[str, list[str]] = {}
        for bid, b in brands.items():
            if b.catalog_brand:
                self.names.setdefault(b.catalog_brand.casefold(), []).append(bid)
            for p in dict.fromkeys(b.sku_prefixes):
                self.prefixes.setdefault(len(p), {}).setdefault(p, []).append(bid)
        self.lengths = sorted(self.prefixes)

    def __call__(self, sku: str, catalog_brand: str | None) -> list[str]:
        hits = []
        if catalog_brand and self.names:
            hits += self.names.get(catalog_brand.strip().casefold(), ())
        for n in self.lengths:
            if len(sku) >= n:
                hits += self.prefixes[n].get(sku[:n], ())
        if len(hits) > 1:
            hits = sorted(set(hits), key=self.order.__getitem__)
        return hits


def match(brands: dict, sku: str, catalog_brand: str | None) -> list[str]:
    return Matcher(brands)(sku, catalog_brand)


def refresh(db, brands: dict) -> int:
    """Bring ``brand_skus`` up to date (only changed rows are written); raises ConfigError when
    two brands claim one SKU."""
    rows = {}
    matcher = Matcher(brands)
    for sku, cat in _known_skus(db).items():
        hits = matcher(sku, cat)
        if len(hits) > 1:
            raise ConfigError(f"SKU {sku!r} matches brands {hits[0]!r} and {hits[1]!r}: make their sku_prefixes / "
                              "catalog_brand exclusive")
        if hits:
            rows[sku] = (hits[0], "catalog" if cat and brands[hits[0]].catalog_brand else "prefix")
    old = {sku: (brand, source) for sku, brand, source in db.execute("select sku, brand, source from brand_skus")}
    gone = [(sku,) for sku in old.keys() - rows.keys()]
    changed = [(sku, *v) for sku, v in rows.items() if old.get(sku) != v]
    if gone:
        db.conn.executemany("delete from brand_skus where sku = ?", gone)
    if changed:
        db.conn.executemany("insert or replace into brand_skus (sku, brand, source) values (?,?,?)", changed)
    return len(rows)


def brand_for(db, brands: dict, sku: str) -> str | None:
    """One SKU's brand, for handlers that meet SKUs before any refresh (activation files)."""
    cat = None
    if "products" in db.table_names():
        r = db.execute("select brand from products where sku=?", [sku]).fetchone()
        cat = r[0] if r else None
    hits = match(brands, sku, cat)
    return hits[0] if len(hits) == 1 else None
