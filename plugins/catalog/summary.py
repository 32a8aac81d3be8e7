"""The daily catalog summary: what the store holds, and what came in since the last run."""
from __future__ import annotations

from marketd.sdk import csv_text


def catalog_summary(app, since):
    db = app.store.db
    total = db.execute("select count(*) from products").fetchone()[0]
    out_of_stock = db.execute("select count(*) from products where stock = 0").fetchone()[0]
    by_brand = db.execute(
        "select brand, count(*), sum(stock = 0) from products group by brand order by brand").fetchall()
    since_iso = since.isoformat() if since else ""
    files = db.execute(
        "select state, count(*) from files where kind = 'catalog' and finished_at > ? group by state",
        [since_iso]).fetchall()
    rows = [["total", "", total, out_of_stock]]
    rows += [["brand", b or "", n, z or 0] for b, n, z in by_brand]
    rows += [["files_since_last_summary", s, n, ""] for s, n in files]
    day = app.clock.now().strftime("%Y-%m-%d")
    app.outbox.write(f"reports/catalog-summary-{day}.csv", csv_text(["scope", "name", "products", "out_of_stock"], rows),
                     policy="replace")
