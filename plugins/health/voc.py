"""Voice of the Customer: the CX Health export dropped into ``inbox/health/`` (CSV/XLSX).

Amazon offers no API for it (research content-and-health §4.1), and its column layout is not
published, so columns are found by DE/EN synonyms and, failing that, the rating column by its
values. Every ASIN rated Poor / Very poor (Schlecht / Sehr schlecht) is listed with its NCX rate,
top reason and comment, linked to our SKU and brand, and alerted (Very poor: high, Poor: medium;
a later export rating it better resolves it). An unknown rating label is reported, never fatal.
"""
from __future__ import annotations

import json

from marketd.sdk import csv_text

from . import alerts
from .lookup import Lookup
from .tables import norm, value

SOURCE = "voc"
SYNONYMS = {
    "asin": ("ASIN",),
    "sku": ("SKU", "Seller SKU", "Merchant SKU", "Händler-SKU", "Haendler SKU"),
    "title": ("Product name", "Item name", "Title", "Produktname", "Artikelname", "Titel"),
    "cx_health": ("CX Health", "Customer Experience Health", "Offer health", "Kundenerfahrung", "CX-Zustand",
                  "Zustand", "CX-Status"),
    "ncx_rate": ("NCX rate", "NCX-Rate", "NCX Rate (%)"),
    "ncx_orders": ("NCX orders", "NCX-Bestellungen"),
    "orders": ("Total orders", "Orders", "Bestellungen gesamt", "Bestellungen"),
    "top_reason": ("Top NCX reason", "Top return reason", "Return reason", "Hauptgrund", "Häufigster Rückgabegrund"),
    "comment": ("Customer comment", "Comments", "Kundenkommentar", "Kommentare"),
}
LABELS = {
    "excellent": "excellent", "ausgezeichnet": "excellent", "hervorragend": "excellent",
    "good": "good", "gut": "good",
    "fair": "fair", "akzeptabel": "fair", "angemessen": "fair", "mittelmäßig": "fair", "mittel": "fair",
    "poor": "poor", "schlecht": "poor",
    "very poor": "very_poor", "sehr schlecht": "very_poor",
    "insufficient feedback": "insufficient", "unzureichendes feedback": "insufficient",
}
SEVERITY = {"very_poor": "high", "poor": "medium"}
CSV_HEADER = ["asin", "sku", "brand", "title", "rating", "rating_label", "ncx_rate", "ncx_orders", "orders",
              "top_reason", "comment"]


def labels(extra: dict | None = None) -> dict[str, str]:
    return {**LABELS, **{norm(k): v for k, v in (extra or {}).items()}}


def rating_of(text, table: dict) -> str | None:
    return table.get(norm(value(text)))


def looks_like_voc(table, cols: dict) -> bool:
    """A table with an ASIN column and a rating column (by name, or found by its values)."""
    if "cx_health" in cols:
        return True
    col = _rating_column_by_values(table, cols, LABELS)
    if col:
        cols["cx_health"] = col
        return True
    return False


def _rating_column_by_values(table, cols: dict, table_labels: dict) -> str | None:
    used = set(cols.values())
    sample: dict[str, list] = {c: [] for c in table.columns if c not in used}
    for _line, row in table.rows():
        for c in sample:
            if len(sample[c]) < 200:
                sample[c].append(row.get(c))
        if all(len(v) >= 200 for v in sample.values()):
            break
    best, score = None, 0.0
    for c, vals in sample.items():
        vals = [v for v in vals if value(v)]
        if not vals:
            continue
        hit = sum(1 for v in vals if rating_of(v, table_labels)) / len(vals)
        if hit > score:
            best, score = c, hit
    return best if score >= 0.6 else None


def ingest(ctx, table, cols: dict, account: str) -> dict:
    table_labels = labels(ctx.settings.get("voc_labels"))
    db = ctx.db
    now = ctx.app.clock.now().isoformat()
    look = Lookup(db, account)
    present: set[str] = set()
    rows_out, unknown, n = [], set(), 0
    for line, row in table.rows():
        asin = value(row.get(cols["asin"]))
        if not asin:
            continue
        n += 1
        label = value(row.get(cols["cx_health"]))
        rating = rating_of(label, table_labels)
        if label and rating is None:
            unknown.add(label[:40])
        get = {k: value(row.get(c)) for k, c in cols.items()}
        sku = get.get("sku") or look.sku_for_asin(asin)
        brand = look.brand_of(sku)
        extra = {k: v for k, v in row.items() if k not in cols.values() and value(v)}
        rec = {"account": account, "asin": asin, "sku": sku, "brand": brand, "title": get.get("title", ""),
               "rating": rating or "", "rating_label": label, "ncx_rate": get.get("ncx_rate", ""),
               "ncx_orders": get.get("ncx_orders", ""), "orders": get.get("orders", ""),
               "top_reason": get.get("top_reason", ""), "comment": get.get("comment", ""),
               "raw": json.dumps(extra, sort_keys=True, ensure_ascii=False), "source": ctx.name, "seen_at": now}
        db["health_voc"].upsert(rec, pk=("account", "asin"))
        if rating in SEVERITY:
            key = alerts.key_of(SOURCE, account, asin)
            present.add(key)
            alerts.raise_alert(db, key=key, severity=SEVERITY[rating], source=SOURCE, account=account, asin=asin,
                               sku=sku, brand=brand, now=now,
                               title=f"VoC: {asin}{' (' + sku + ')' if sku else ''} rated {label}"
                                     + (f", NCX {rec['ncx_rate']}" if rec["ncx_rate"] else "")
                                     + (f", top reason: {rec['top_reason'][:60]}" if rec["top_reason"] else ""),
                               detail={k: rec[k] for k in ("ncx_rate", "top_reason", "comment", "title")})
            rows_out.append([rec[h] for h in CSV_HEADER])
    resolved = alerts.resolve_absent(db, source=SOURCE, account=account, present=present, now=now)
    rows_out.sort(key=lambda r: (r[4] != "very_poor", r[0]))
    ctx.output(f"health/{account or '_'}/voc-poor-{ctx.stamp}.csv", csv_text(CSV_HEADER, rows_out), private=True)  # buyer comments
    return {"asins": n, "poor": len(rows_out), "resolved": resolved, "unknown_labels": sorted(unknown),
            "rating_column": cols["cx_health"]}
