"""Returns (``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``, tab-separated; or the same saved from
Seller Central), read by column name in chunks, and the return rate per SKU and reason.

Return rate = returned units requested in the window ÷ units sold in the window (order lines of
the account in the store). A SKU with at least ``min_units`` sold whose rate exceeds
``rate_threshold`` (or a reason whose rate exceeds its own ``reason_thresholds`` entry) raises a
medium alert; a later file where it is back under resolves it. Rates are ``Decimal``.
"""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from marketd.sdk import csv_text

from . import alerts
from .tables import EMPTY, DateOrder, boolean, parse_date

SOURCE = "returns"
SYNONYMS = {
    "order_id": ("Order ID", "Bestellnummer"),
    "sku": ("Merchant SKU", "SKU", "Seller SKU", "Händler-SKU"),
    "asin": ("ASIN",),
    "reason": ("Return Reason", "Return reason code", "Rückgabegrund"),
    "quantity": ("Return quantity", "Quantity", "Rückgabemenge", "Menge"),
    "requested": ("Return request date", "Rücksendeanforderungsdatum", "Datum der Rücksendeanforderung"),
    "status": ("Return request status", "Status"),
    "rma": ("Amazon RMA ID", "RMA ID", "Amazon-RMA-ID"),
    "in_policy": ("In policy",),
}
CSV_HEADER = ["sku", "reason", "returned_units", "sold_units", "rate", "threshold", "alert"]


def parse(table, cols: dict):
    """Yield one record per return row (dates in the file's order, Y/N read, empty = lone space)."""
    order = DateOrder()
    if "requested" in cols:
        order.learn(v for vals in table.column_values(table.columns.index(cols["requested"])) for v in vals)
    order.finish()
    names = {k: table.columns.index(c) for k, c in cols.items()}
    known = set(names.values())
    extras = [p for p in range(len(table.columns)) if p not in known]
    dates: dict[str, str] = {}  # a report has few distinct dates: each is parsed once
    empty = sorted(EMPTY)
    blank = sorted(EMPTY | {" ", "  "})
    for chunk in table.chunks():
        frame = chunk.frame
        # cleaned column-wise (vectorised strip, the empty markers blanked), then read row by row
        clean = {k: frame[pos].str.strip().replace(empty, "").tolist() for k, pos in names.items()}
        # extra columns are only kept, not read: blanks (a lone space) dropped without a strip per cell
        extra_data = {table.columns[p]: frame[p].replace(blank, "").tolist() for p in extras}
        qtys = clean.get("quantity")
        reqs = clean.get("requested")
        for i, line in enumerate(chunk.lines.tolist()):
            try:
                qty = int(qtys[i] or "1") if qtys is not None else 1
            except ValueError:
                qty = 1
            day = ""
            if reqs is not None and reqs[i]:
                day = dates.get(reqs[i])
                if day is None:
                    d = parse_date(reqs[i], order)
                    day = dates[reqs[i]] = d.isoformat() if d else ""
            get = {k: v[i] for k, v in clean.items()}
            yield {"line": line, "order_id": get.get("order_id", ""), "sku": get.get("sku", ""),
                   "asin": get.get("asin", ""), "reason": get.get("reason", ""), "quantity": qty,
                   "requested": day, "status": get.get("status", ""), "rma": get.get("rma", ""),
                   "in_policy": boolean(get.get("in_policy")),
                   "extra": {k: v[i] for k, v in extra_data.items() if v[i]}}


def _sold(db, account: str, since: str) -> dict[str, int]:
    if not db["orders"].exists():
        return {}
    out: dict[str, int] = {}
    sql = ("select json_extract(j.value, '$.sku') s, sum(coalesce(json_extract(j.value, '$.quantity'), 1)) q "
           "from orders, json_each(orders.items) j where orders.purchased_at >= ?"
           + (" and orders.channel = ?" if account else "") + " group by s")
    for s, q in db.execute(sql, [since, account] if account else [since]):
        if s:
            out[s] = int(q or 0)
    return out


def ingest(ctx, table, cols: dict, account: str) -> dict:
    settings = ctx.settings["returns"]
    db = ctx.db
    now = ctx.app.clock.now()
    n = 0
    batch = []
    for rec in parse(table, cols):
        n += 1
        batch.append({"account": account, "order_id": rec["order_id"], "sku": rec["sku"], "rma": rec["rma"],
                      "asin": rec["asin"], "requested": rec["requested"], "quantity": rec["quantity"],
                      "reason": rec["reason"], "status": rec["status"],
                      "raw": json.dumps(rec["extra"], sort_keys=True, ensure_ascii=False) if rec["extra"] else "",
                      "source": ctx.name})
        if len(batch) >= 5000:
            db["health_returns"].upsert_all(batch, pk=("account", "order_id", "sku", "rma"))
            batch = []
    if batch:
        db["health_returns"].upsert_all(batch, pk=("account", "order_id", "sku", "rma"))
    since = (now - timedelta(days=settings.window_days)).date().isoformat()
    sold = _sold(db, account, since)
    threshold = Decimal(settings.rate_threshold)
    reasons = {k: Decimal(v) for k, v in settings.reason_thresholds.items()}
    present: set[str] = set()
    rows = []
    per_sku: dict[str, int] = {}
    per_reason: dict[tuple[str, str], int] = {}
    for r in db.query("select sku, reason, sum(quantity) q from health_returns where account = ? and requested >= ? "
                      "group by sku, reason", [account, since]):
        per_sku[r["sku"]] = per_sku.get(r["sku"], 0) + int(r["q"] or 0)
        per_reason[(r["sku"], r["reason"])] = int(r["q"] or 0)
    for sku, q in sorted(per_sku.items()):
        units = sold.get(sku, 0)
        rate = (Decimal(q) / Decimal(units)).quantize(Decimal("0.0001")) if units else None
        hit = rate is not None and units >= settings.min_units and rate > threshold
        rows.append([sku, "", q, units, rate if rate is not None else "", threshold, "yes" if hit else ""])
        if hit:
            key = alerts.key_of(SOURCE, account, sku)
            present.add(key)
            alerts.raise_alert(db, key=key, severity="medium", source=SOURCE, account=account, sku=sku,
                               now=now.isoformat(), title=f"return rate of {sku} is {rate:.1%} ({q} of {units} units "
                               f"in {settings.window_days} days; threshold {threshold:.0%})",
                               detail={"returned": q, "sold": units, "rate": str(rate)})
    for (sku, reason), q in sorted(per_reason.items()):
        if reason not in reasons:
            continue
        units = sold.get(sku, 0)
        rate = (Decimal(q) / Decimal(units)).quantize(Decimal("0.0001")) if units else None
        hit = rate is not None and units >= settings.min_units and rate > reasons[reason]
        rows.append([sku, reason, q, units, rate if rate is not None else "", reasons[reason], "yes" if hit else ""])
        if hit:
            key = alerts.key_of(SOURCE, account, sku, reason)
            present.add(key)
            alerts.raise_alert(db, key=key, severity="medium", source=SOURCE, account=account, sku=sku,
                               now=now.isoformat(), title=f"{sku}: {rate:.1%} returned for {reason}",
                               detail={"returned": q, "sold": units, "rate": str(rate), "reason": reason})
    resolved = alerts.resolve_absent(db, source=SOURCE, account=account, present=present, now=now.isoformat())
    ctx.output(f"health/{account or '_'}/returns-rates-{ctx.stamp}.csv", csv_text(CSV_HEADER, rows))
    return {"returns": n, "skus": len(per_sku), "alerts": len(present), "resolved": resolved}
