"""Catalog files: validate rows, upsert products, report accepted/changed/rejected per row.

A catalog has no trailer or row count, so a file cut exactly at a row boundary looks complete:
the CSV reader rejects a row cut in the middle, and the docs tell ERPs to use the
``require_rename`` inbox mode (upload as ``.tmp``, rename when done).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from itertools import islice

from marketd.sdk import FileRejected, guess_decimal_separator, read_table, write_csv

from .settings import CatalogSettings
from .validate import REQUIRED

REPORT_HEADER = ["line", "sku", "result", "column", "reason"]
BATCH = 2000
FIELDS = ("ean", "title", "brand", "price", "currency", "stock", "attributes")


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


class CatalogHandler:
    kind = "catalog"
    completeness = ("CSV rows are checked for a cut-off last row; a file cut at a row boundary cannot be "
                    "detected, so ERPs must use mode require_rename or done_file")
    settings_model = CatalogSettings

    def _mapping(self, columns: list[str], settings: dict) -> dict[str, str]:
        """Map file column -> our field; ERP names come from [inbox.catalog.columns]."""
        custom = {_norm(k): v for k, v in (settings.get("columns") or {}).items()}
        mapping = {}
        for col in columns:
            n = _norm(col)
            if n in custom:
                mapping[col] = custom[n]
            elif n in REQUIRED:
                mapping[col] = n
        return mapping

    def process(self, ctx) -> dict:
        from .validate import check_row

        table = read_table(ctx.path, ctx.settings)
        mapping = self._mapping(table.columns, ctx.settings)
        present = set(mapping.values())
        defaults = ctx.settings.defaults
        required = ctx.settings.required_columns or list(REQUIRED)
        missing = [c for c in required if c not in present and c not in defaults]
        if missing:
            hint = ", ".join(repr(c) for c in table.columns[:12])
            raise FileRejected(
                "missing_column", f"required column(s) {', '.join(missing)} not found in the header",
                where=f"line 1 (header has: {hint})",
                fix="rename the column in the export, or map your ERP's name in the config, e.g. "
                    "[inbox.catalog.columns] Artikelnummer = \"sku\"")
        extra_cols = [c for c in table.columns if c not in mapping]
        rows = table.rows()
        head = list(islice(rows, 1000))
        dec = ctx.settings.get("decimal", "auto")
        if dec in (None, "", "auto"):
            dec = guess_decimal_separator(r.get(c, "") for _, r in head for c, f in mapping.items() if f == "price")
        counts = {"rows": 0, "new": 0, "changed": 0, "unchanged": 0, "rejected": 0}
        seen: dict[str, int] = {}
        now = datetime.now(timezone.utc).isoformat()
        products = ctx.db["products"]
        relpath = f"reports/catalog-{ctx.stem}-{ctx.stamp}.csv"
        with ctx.open_output(relpath) as report:
            report_rows = []

            def flush(batch):
                if batch:
                    apply(batch)
                report_rows.sort(key=lambda r: (r[0], r[2] != "rejected"))
                _write_rows(report, report_rows)

            def apply(batch):
                skus = [p["sku"] for _, p in batch]
                existing = {r["sku"]: r for r in ctx.db.query(
                    f"select * from products where sku in ({','.join('?' * len(skus))})", skus)}
                upserts = []
                for line, p in batch:
                    old = existing.get(p["sku"])
                    if old is None:
                        counts["new"] += 1
                        report_rows.append([line, p["sku"], "new", "", ""])
                    else:
                        changed = [f for f in FIELDS if str(old.get(f)) != str(p.get(f))]
                        if not changed:
                            counts["unchanged"] += 1
                            report_rows.append([line, p["sku"], "unchanged", "", ""])
                            continue
                        counts["changed"] += 1
                        report_rows.append([line, p["sku"], "changed", ";".join(changed), ""])
                    upserts.append({**p, "updated_at": now, "source_file": ctx.file_id})
                if upserts:
                    products.upsert_all(upserts, pk="sku")

            write_csv(report, REPORT_HEADER, [])
            batch = []
            for line, raw in _chain(head, rows):
                counts["rows"] += 1
                row = {field: raw.get(col, "") for col, field in mapping.items()}
                for k, v in defaults.items():
                    if not row.get(k):
                        row[k] = str(v)
                product, problems = check_row(row, dec)
                sku = product["sku"]
                if sku and sku in seen and not problems:
                    problems.append(("sku", f"SKU {sku!r} appears twice in this file (first on line {seen[sku]}); "
                                            "the first occurrence was kept"))
                if problems:
                    counts["rejected"] += 1
                    for col, reason in problems:
                        report_rows.append([line, sku, "rejected", col, reason])
                    continue
                seen[sku] = line
                product["attributes"] = json.dumps({c: raw.get(c, "") for c in extra_cols}, ensure_ascii=False,
                                                   sort_keys=True) if extra_cols else None
                batch.append((line, product))
                if len(batch) >= BATCH:
                    flush(batch)
                    batch = []
            flush(batch)
            report.write("\r\n")
            _write_rows(report, [["", "", "summary", "", f"{counts['rows']} rows: {counts['new']} new, "
                                  f"{counts['changed']} changed, {counts['unchanged']} unchanged, "
                                  f"{counts['rejected']} rejected"]])
        if counts["rows"] == 0:
            raise FileRejected("no_rows", "the file has a header but no product rows",
                               fix="check the export; an empty catalog is not applied")
        if counts["rejected"] == counts["rows"]:
            raise FileRejected("all_rows_rejected",
                               f"all {counts['rows']} rows were rejected; e.g. line {_first_rejected(report_rows)}",
                               where="see the reasons per row in the next try's report or fix the first rows",
                               fix="check the delimiter, the decimal separator and the column mapping")
        counts.update(encoding=table.encoding, delimiter=table.delimiter, decimal=dec, report=relpath,
                      extra_columns=extra_cols)
        return counts

    def on_duplicate(self, ctx, first: dict) -> None:
        with ctx.open_output(f"reports/catalog-{ctx.stem}-{ctx.stamp}.csv") as report:
            write_csv(report, REPORT_HEADER, [["", "", "duplicate", "",
                                               f"not applied: the same file was already applied as {first['name']} "
                                               f"(id {first['id']}) at {first['finished_at']}"]])


def _chain(head, rest):
    yield from head
    yield from rest


def _write_rows(report, rows):
    if rows:
        from marketd.sdk import safe_cell
        import csv

        w = csv.writer(report, lineterminator="\r\n")
        w.writerows([[safe_cell(v) for v in r] for r in rows])
        rows.clear()


def _first_rejected(rows) -> str:
    for r in rows:
        if r[2] == "rejected":
            return f"{r[0]}: {r[3]}: {r[4]}"
    return "?"
