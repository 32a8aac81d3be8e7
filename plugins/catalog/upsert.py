"""The catalog's store side in bulk: what each SKU held before, which stored products carry a
row's EAN under another SKU, and the upsert — a few statements per chunk, never one per row.
Everything runs on the connection of the file's transaction, so a rejected file leaves nothing.
"""
from __future__ import annotations

import json
import sqlite3
from itertools import chain

import numpy as np

FIELDS = ("ean", "title", "brand", "price", "currency", "stock", "attributes")
_COLUMNS = ("sku", "ean", "title", "brand", "price", "currency", "stock", "attributes", "updated_at", "source_file")
_ROW = f"({', '.join('?' * len(_COLUMNS))})"
_ON_CONFLICT = " on conflict(sku) do update set " + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
# Rows per INSERT: one statement of many rows costs SQLite and the sqlite3 module much less per
# row than one execution per row (executemany), within SQLite's limit on parameters per statement.
BATCH_ROWS = 1000


def _upsert_sql(rows: int) -> str:
    return f"insert into products ({', '.join(_COLUMNS)}) values " + ", ".join([_ROW] * rows) + _ON_CONFLICT


class ProductStore:
    def __init__(self, db):
        self.conn = db.conn

    def existing(self, skus: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """For the SKUs that are stored: their positions in ``skus`` (ascending) and, per field,
        the stored value as the text it compares by (``str()`` of what the row holds, NULL as
        ``"None"``), one index probe per SKU."""
        cols = ", ".join(f"ifnull(cast(p.{f} as text), 'None')" if f == "stock" else f"ifnull(p.{f}, 'None')"
                         for f in FIELDS)
        rows = self.conn.execute(f"select j.key, {cols} from json_each(?) j cross join products p on p.sku = j.value",
                                 [json.dumps(skus)]).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), {}
        columns = list(zip(*rows))
        at = np.asarray(columns[0], dtype=np.int64)
        order = np.argsort(at, kind="stable")
        return at[order], {f: np.asarray(c, dtype=object)[order] for f, c in zip(FIELDS, columns[1:])}

    def ean_owners(self, eans: list[str], skus: list[str]) -> list[tuple[int, str, str]]:
        """``(index, ean, stored_sku)`` for each row ``index`` whose EAN a stored product has under
        another SKU (the SQL only looks EANs up; comparing SKUs in Python keeps it one index probe
        per row)."""
        if not eans:
            return []
        cur = self.conn.execute("select j.key, p.ean, p.sku from json_each(?) j cross join products p on p.ean = j.value",
                                [json.dumps(eans)])
        return [(k, ean, sku) for k, ean, sku in cur.fetchall() if sku != skus[k]]

    def empty(self) -> bool:
        return self.conn.execute("select not exists (select 1 from products)").fetchone()[0] == 1

    def upsert(self, columns: dict[str, list], updated_at: str, source_file: str) -> None:
        """Insert or replace the products given column by column (``sku`` … ``attributes``)."""
        n = len(columns["sku"])
        if not n:
            return
        cols = [columns[c] for c in _COLUMNS[:-2]] + [[updated_at] * n, [source_file] * n]
        per = max(1, min(BATCH_ROWS, self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(_COLUMNS)))
        full = n - n % per
        if full:
            sql = _upsert_sql(per)
            for lo in range(0, full, per):
                self.conn.execute(sql, list(chain.from_iterable(zip(*(c[lo:lo + per] for c in cols)))))
        if full < n:
            self.conn.executemany(_upsert_sql(1), zip(*(c[full:] for c in cols)))
