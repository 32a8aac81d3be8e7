"""The ``inbox/stock/`` handler (stock counts per SKU) and the low-stock report built from them."""
from __future__ import annotations

from marketd.sdk import FileRejected, csv_text, read_table

from .settings import StockInboxSettings

MIGRATIONS = [(1, lambda db: db["demo_stock"].create({"sku": str, "warehouse": str, "qty": int, "file_id": str},
                                                      pk=("sku", "warehouse")))]


class StockHandler:
    kind = "stock"
    completeness = "CSV: a last row cut mid-line rejects the file; use mode require_rename for ERPs"
    settings_model = StockInboxSettings

    def process(self, ctx) -> dict:
        table = read_table(ctx.path, ctx.settings)
        if not {"sku", "qty"} <= set(table.columns):
            raise FileRejected("missing_column", "the stock file needs the columns sku and qty",
                               where=f"header: {', '.join(table.columns)}", fix="export sku and qty")
        rows = []
        for line, row in table.rows():
            qty = (row.get("qty") or "").strip()
            if not qty.isdigit():
                raise FileRejected("bad_quantity", f"qty {qty!r} is not a whole number", where=f"line {line}, column qty",
                                   fix="write the count as digits, e.g. 12")
            rows.append({"sku": row["sku"].strip(), "warehouse": ctx.settings.warehouse, "qty": int(qty),
                         "file_id": ctx.file_id})
        ctx.db["demo_stock"].upsert_all(rows, pk=("sku", "warehouse"))   # inside the file's transaction
        ctx.output(f"reports/stock-{ctx.stem}-{ctx.stamp}.csv",
                   csv_text(["sku", "warehouse", "qty"], [[r["sku"], r["warehouse"], r["qty"]] for r in rows]))
        return {"rows": len(rows), "warehouse": ctx.settings.warehouse}


def low_stock(app, threshold: str = "5") -> list:
    """SKUs at or below a threshold, into outbox/reports/low-stock-<day>.csv."""
    rows = app.store.db.execute("select sku, warehouse, qty from demo_stock where qty <= ? order by sku",
                                [int(threshold)]).fetchall()
    day = app.clock.now().strftime("%Y-%m-%d")
    return [app.outbox.write(f"reports/low-stock-{day}.csv", csv_text(["sku", "warehouse", "qty"], rows),
                             policy="replace")]
