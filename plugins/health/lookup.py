"""Linking what Amazon names by ASIN to our SKU and brand, from what the store already knows:
order lines (``orders.items`` carry sku and asin), the catalog's ``products`` and the content
plugin's ``content_products`` (read only when those plugins made the tables)."""
from __future__ import annotations


def _has(db, table: str) -> bool:
    return db.execute("select 1 from sqlite_master where type = 'table' and name = ?", [table]).fetchone() is not None


class Lookup:
    def __init__(self, db, account: str = ""):
        self.db = db
        self.account = account
        self._asin: dict[str, str] | None = None
        self._brand: dict[str, str] = {}

    def sku_for_asin(self, asin: str) -> str:
        if not asin:
            return ""
        if self._asin is None:
            self._asin = {}
            if _has(self.db, "orders"):
                sql = ("select json_extract(j.value, '$.asin') a, json_extract(j.value, '$.sku') s from orders, "
                       "json_each(orders.items) j where orders.items like '%asin%'"
                       + (" and orders.channel = ?" if self.account else ""))
                for a, s in self.db.execute(sql, [self.account] if self.account else []):
                    if a and s:
                        self._asin.setdefault(a, s)
        return self._asin.get(asin, "")

    def brand_of(self, sku: str) -> str:
        if not sku:
            return ""
        if sku not in self._brand:
            brand = ""
            for table in ("products", "content_products"):
                if _has(self.db, table):
                    r = self.db.execute(f"select brand from {table} where sku = ?", [sku]).fetchone()
                    if r and r[0]:
                        brand = r[0]
                        break
            self._brand[sku] = brand
        return self._brand[sku]
