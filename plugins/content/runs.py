"""One completeness run, start to end: check, compare with the previous run, write the reports,
record everything in the store. The inbox handler (a dropped file) and the re-checks (a model
changed, images arrived) both come here, so both produce the same report.

The diff compares with the latest run of the same brand whose *input* differs (a re-run of the
same bytes compares with what came before it, so it still shows what the new input fixed); a
re-check compares with the brand's latest run. Issue identity is ``(sku, platform, locale,
attribute, rule)``. A re-check of some SKUs (a changed model) keeps the other SKUs' issues and
cells from the previous run, so every run is complete for its brand.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from . import completeness, report
from . import issues as I
from .completeness import DOC, Cell, Result, payload_json
from .push_issues import PREFIX as PUSH_PREFIX, push_issues
from .records import Product

# Issues only the file's reader can find (the stored products no longer show them): a re-check
# carries them over for the SKUs it checks again, else they would look fixed.
READER_RULES = frozenset({"content.sku.missing", "content.sku.whitespace", "content.sku.duplicate",
                          "content.locale_conflict", "content.locale.unknown", "content.unknown_column",
                          "content.text.replacement"})


@dataclass
class RunInput:
    brand: str
    products: dict[str, Product]
    source: str
    source_sha256: str
    reason: str                       # file | recheck | model_change | images
    file_id: str = ""
    file_issues: list = field(default_factory=list)   # issues of the file itself (for this brand)
    skus: set[str] | None = None      # re-check these only; the rest comes from the previous run
    report_dir: str = ""              # outbox-relative folder for the reports
    extra_meta: list = field(default_factory=list)


def load_offers(db, skus) -> dict:
    """Price/currency/stock per SKU from the catalog's ``products`` table (the catalog wins over
    offer columns in content files); {} without a catalog."""
    if not db["products"].exists():
        return {}
    out = {}
    wanted = set(skus)
    for r in db.query("select sku, price, currency, stock from products"):
        if r["sku"] in wanted:
            out[r["sku"]] = {"price": r["price"], "currency": r["currency"], "stock": r["stock"]}
    return out


def offers_for(products: dict[str, Product], catalog: dict) -> dict:
    out = {}
    for sku, p in products.items():
        o = dict(catalog.get(sku) or {})
        for k in ("price", "currency", "stock"):
            if not o.get(k) and p.common.get(k):
                o[k] = p.common[k]
        if o:
            out[sku] = o
    return out


def previous_run(db, brand: str, source_sha256: str | None, before: int | None = None) -> dict | None:
    sql = "select * from content_runs where brand = ? and finished_at is not null"
    args: list = [brand]
    if before is not None:
        sql += " and id < ?"
        args.append(before)
    if source_sha256:
        sql += " and source_sha256 != ?"
        args.append(source_sha256)
    rows = list(db.query(sql + " order by id desc limit 1", args))
    return rows[0] if rows else None


def latest_run(db, brand: str, before: int | None = None) -> dict | None:
    sql, args = "select * from content_runs where brand = ? and finished_at is not null", [brand]
    if before is not None:
        sql += " and id < ?"
        args.append(before)
    rows = list(db.query(sql + " order by id desc limit 1", args))
    return rows[0] if rows else None


def run_issues(db, run_id: int) -> list:
    return [I.Issue(r["sku"], r["platform"], r["locale"], r["attribute"], r["rule"], r["severity"], r["message_en"],
                    r["message_de"], r["value_found"], r["expected"], r["parent_sku"], bool(r["missing"]))
            for r in db.query("select * from content_issues where run_id = ?", [run_id])]


def run_cells(db, run_id: int) -> list[Cell]:
    return [Cell(r["sku"], r["parent_sku"], r["platform"], r["locale"], r["model"], r["required"],
                 json.loads(r["missing"]), r["ratio"])
            for r in db.query("select * from content_cells where run_id = ?", [run_id])]


def diff(previous: list, current: list) -> dict:
    prev = {i.key: i.severity for i in previous}
    cur = {i.key: i.severity for i in current}
    return {"new": [(k, s) for k, s in cur.items() if k not in prev],
            "still_open": [(k, s) for k, s in cur.items() if k in prev],
            "fixed": [(k, s) for k, s in prev.items() if k not in cur]}


def execute(app, db, settings, registry, inp: RunInput, write, *, images=None, parties=None) -> dict:
    """Run the check for one brand and record it; ``write(relpath, bytes)`` stages a report file.
    Returns the run's summary (counts, report folder, model stamps)."""
    now = app.clock.now().isoformat()
    catalog = load_offers(db, inp.products)
    run_id = db["content_runs"].insert({
        "brand": inp.brand, "source": inp.source, "source_sha256": inp.source_sha256, "file_id": inp.file_id,
        "reason": inp.reason, "started_at": now, "report_dir": inp.report_dir}).last_pk
    payloads = _PayloadWriter(db.conn, run_id, now)
    result: Result = completeness.check(inp.products, settings, registry, images=images, parties=parties,
                                        offers=offers_for(inp.products, catalog), skus=inp.skus,
                                        payload_sink=payloads.add)
    payloads.flush()
    issues = list(result.issues) + list(inp.file_issues) + push_issues(db, inp.products)
    cells = list(result.cells)
    base = latest_run(db, inp.brand, before=run_id)
    if inp.skus is not None and base is not None:  # a partial re-check: the rest as it was
        issues += [i for i in run_issues(db, base["id"]) if (i.sku not in inp.skus or i.rule in READER_RULES)
                   and not i.rule.startswith(PUSH_PREFIX)]  # the platforms' answers are read afresh
        cells += [c for c in run_cells(db, base["id"]) if c.sku not in inp.skus]
        models = {**json.loads(base["model_versions"] or "{}"), **result.models}
    else:
        models = result.models
    issues = I.ordered(I.dedupe(issues))
    prev = previous_run(db, inp.brand, inp.source_sha256 if inp.reason == "file" else None, before=run_id)
    changes = diff(run_issues(db, prev["id"]) if prev else [], issues)
    counts = {"skus": len({c.sku for c in cells} | (set(inp.products) if inp.skus is None else set())),
              "checked_skus": len(result.checked_skus), "cells": len(cells),
              "errors": sum(1 for i in issues if i.severity == I.ERROR),
              "warnings": sum(1 for i in issues if i.severity == I.WARNING),
              "infos": sum(1 for i in issues if i.severity == I.INFO),
              "blocked_skus": len(completeness.blocking(issues)),
              "new": len(changes["new"]), "still_open": len(changes["still_open"]), "fixed": len(changes["fixed"])}
    db["content_runs"].update(run_id, {"finished_at": app.clock.now().isoformat(),
                                       "model_versions": json.dumps(models, sort_keys=True),
                                       "counts": json.dumps(counts, sort_keys=True),
                                       "previous_run": prev["id"] if prev else None})
    _store(db, run_id, inp, issues, cells, result, now)
    header, mrows = report.matrix_rows(cells, issues)
    gaps = report.top_gaps(cells, issues)
    drows = report.diff_rows(changes)
    d = inp.report_dir.rstrip("/")
    write(f"{d}/issues.csv", report.csv_bytes(I.ISSUE_COLUMNS, [i.row() for i in issues]))
    write(f"{d}/matrix.csv", report.csv_bytes(header, mrows))
    write(f"{d}/top-gaps.csv", report.csv_bytes(report.GAP_COLUMNS, gaps))
    write(f"{d}/diff.csv", report.csv_bytes(report.DIFF_COLUMNS, drows))
    meta = {"title": f"{inp.brand} – {inp.source}",
            "header": [("brand", inp.brand), ("source", inp.source), ("sha256", inp.source_sha256),
                       ("reason", inp.reason), ("run", run_id), ("run time", now),
                       ("previous run", prev["id"] if prev else "none"), *inp.extra_meta,
                       *[(k.replace("_", " "), v) for k, v in sorted(counts.items())]],
            "models": models,
            "previous": f" (compared with run {prev['id']}, {prev['source']})" if prev else " (first run)"}
    if settings.xlsx:
        import io

        buf = io.BytesIO()
        report.write_xlsx(buf, meta, header, mrows, issues, gaps, drows)
        write(f"{d}/summary.xlsx", buf.getvalue())
    if settings.html:
        write(f"{d}/summary.html", report.write_html(meta, header, mrows, issues, gaps, drows).encode("utf-8"))
    _prune(db, inp.brand, settings.keep_runs)
    return {"run": run_id, "brand": inp.brand, "report_dir": d, "models": models, **counts}


def _store(db, run_id: int, inp: RunInput, issues: list, cells: list, result: Result, now: str) -> None:
    conn = db.conn
    conn.executemany("insert into content_issues values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     ((run_id, i.sku, i.parent_sku, i.platform, i.locale, i.attribute, i.rule, i.severity,
                       i.message_en, i.message_de, i.value_found, i.expected, int(i.missing)) for i in issues))
    conn.executemany("insert into content_cells values (?,?,?,?,?,?,?,?,?)",
                     ((run_id, c.sku, c.parent, c.platform, c.locale, c.model, c.required,
                       json.dumps(c.missing) if c.missing else "[]", c.ratio) for c in cells))
    checked = result.checked_skus

    def product_rows():  # streamed: 50,000 records' JSON never all in memory at once
        for sku in sorted(checked):
            p = inp.products[sku]
            doc = DOC.encode(p.as_json())
            yield (sku, inp.brand, p.parent, p.common.get("category", ""), doc,
                   hashlib.sha256(doc.encode()).hexdigest(), run_id, now)
    conn.executemany("insert or replace into content_products values (?,?,?,?,?,?,?,?)", product_rows())
    if result.payloads:
        w = _PayloadWriter(conn, run_id, now)
        for (sku, plat), payload in sorted(result.payloads.items()):
            w.add(sku, plat, payload)
        w.flush()
    def gpsr_rows():
        for sku, rec in sorted(result.gpsr.items()):
            text = DOC.encode(rec)
            yield (sku, inp.brand, text, hashlib.sha256(text.encode()).hexdigest(), now)
    conn.executemany("insert or replace into content_gpsr values (?,?,?,?,?)", gpsr_rows())
    conn.executemany("delete from content_images where sku = ?", ((s,) for s in sorted(checked)))
    conn.executemany("insert into content_images values (?,?,?,?,?,?,?,?,?,?,?)",
                     ((r["sku"], r["position"], r["ref"], r["sha256"], r["width"], r["height"], r["format"], r["kind"],
                       r["dhash"], r["error"], run_id) for _, rows in sorted(result.images.items()) for r in rows))
    for key, stamp in sorted(result.models.items()):
        plat, model = key.split(":", 1)
        conn.execute("insert into content_models values (?,?,?,?,?) on conflict(platform, model, stamp) do update "
                     "set last_seen = excluded.last_seen", (plat, model, stamp, now, now))


class _PayloadWriter:
    """Platform payloads into ``content_payloads`` in batches, rewritten only when their sha256
    changed (a listings push reads ``updated_at``/``sha256`` to see what to send)."""

    SQL = ("insert into content_payloads values (?,?,?,?,?,?,?) on conflict(sku, platform) do update "
           "set model = excluded.model, payload = excluded.payload, sha256 = excluded.sha256, "
           "run_id = excluded.run_id, updated_at = excluded.updated_at where content_payloads.sha256 != excluded.sha256")

    def __init__(self, conn, run_id: int, now: str, batch: int = 2000):
        self.conn, self.run_id, self.now, self.batch = conn, run_id, now, batch
        self.rows: list[tuple] = []

    def add(self, sku: str, platform: str, payload: dict) -> None:
        text = payload_json(payload)
        self.rows.append((sku, platform, payload["model"], text, hashlib.sha256(text.encode()).hexdigest(),
                          self.run_id, self.now))
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.conn.executemany(self.SQL, self.rows)
            self.rows = []


def _prune(db, brand: str, keep: int) -> None:
    ids = [r["id"] for r in db.query("select id from content_runs where brand = ? order by id desc", [brand])]
    for old in ids[keep:]:
        db.execute("delete from content_issues where run_id = ?", [old])
        db.execute("delete from content_cells where run_id = ?", [old])
        db.execute("delete from content_runs where id = ?", [old])
