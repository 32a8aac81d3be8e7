"""The catalog's store side in bulk: what each SKU held before, which stored products carry a
row's EAN under another SKU, and the upsert — a few statements per chunk, never one per row.
Everything runs on the connection of the file's transaction, so a rejected file leaves nothing.
"""
from __future__ import annotations

import json

import pandas as pd

FIELDS = ("ean", "title", "brand", "price", "currency", "stock", "attributes")
_COLUMNS = ("sku", "ean", "title", "brand", "price", "currency", "stock", "attributes", "updated_at", "source_file")
_UPSERT = (f"insert into products ({', '.join(_COLUMNS)}) values ({', '.join('?' * len(_COLUMNS))}) "
           "on conflict(sku) do update set " + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:]))


class ProductStore:
    def __init__(self, db):
        self.conn = db.conn

    def existing(self, skus: list[str]) -> pd.DataFrame:
        """Stored values as the text they compare by (``str()`` of what the row holds), by SKU."""
        cols = ", ".join(f"cast({f} as text)" if f == "stock" else f for f in FIELDS)
        cur = self.conn.execute(f"select sku, {cols} from products where sku in (select value from json_each(?))",
                                [json.dumps(skus)])
        old = pd.DataFrame(cur.fetchall(), columns=["sku", *FIELDS], dtype=object)
        for f in FIELDS:
            old[f] = old[f].where(old[f].notna(), "None")
        return old.set_index("sku")

    def ean_owners(self, eans: list[str], skus: list[str]) -> list[tuple[int, str, str]]:
        """``(index, ean, stored_sku)`` for each row ``index`` whose EAN a stored product has under
        another SKU (the SQL only looks EANs up; comparing SKUs in Python keeps it one index probe
        per row)."""
        if not eans:
            return []
        cur = self.conn.execute("select j.key, p.ean, p.sku from json_each(?) j join products p on p.ean = j.value",
                                [json.dumps(eans)])
        return [(k, ean, sku) for k, ean, sku in cur.fetchall() if sku != skus[k]]

    def empty(self) -> bool:
        return self.conn.execute("select not exists (select 1 from products)").fetchone()[0] == 1

    def upsert(self, rows: list[tuple]) -> None:
        if rows:
            self.conn.executemany(_UPSERT, rows)
