"""Issue 14 "Measured": notifications ingested from files, and a 1,000,000-row returns report parsed.

Run: python bench/bench_health.py [--files 100] [--per-file 1000] [--rows 1000000] [--runs 1]

Notifications: ``--files`` JSON Lines files of ``--per-file`` notifications each (a realistic mix:
listing status and issue changes for 2,000 SKUs, product type changes, account status changes,
each with its own NotificationId) are taken through the real inbox engine in-process
(``process_file``: claim, parse, dedupe, alerts, commit, archive). Reported: notifications/s and
files/s; then the *same* notifications again in files with other bytes (the order reversed, so
they are not file duplicates): every one is a notification duplicate, and the rate of that pass
is the dedupe cost.

Returns: a tab-separated returns report with Amazon's 32 columns and ``--rows`` rows is parsed by
marketd's reader (``read_table`` + ``returns.parse``: every record built, dates in the file's
order, Y/N, lone spaces) — the figure — against the floor ``pandas.read_csv(sep="\\t",
dtype=str, keep_default_na=False)`` of the same file, in the same process, median of ``--runs``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _common import median, workdir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def notification(i: int, rng: random.Random) -> dict:
    kind = rng.random()
    sku = f"SKU-{rng.randrange(2000):05d}"
    if kind < 0.5:
        t, p = "LISTINGS_ITEM_STATUS_CHANGE", {"SellerId": "S1", "MarketplaceId": "A1PA6795UKMFR9", "Asin": "B0" + sku[-8:].rjust(8, "0"),
                                               "Sku": sku, "Status": rng.choice([["BUYABLE", "DISCOVERABLE"], ["DISCOVERABLE"]])}
    elif kind < 0.85:
        t, p = "LISTINGS_ITEM_ISSUES_CHANGE", {"SellerId": "S1", "MarketplaceId": "A1PA6795UKMFR9", "Sku": sku,
                                               "Severities": rng.choice([["NONE"], ["ERROR"], ["WARNING"]]),
                                               "EnforcementActions": rng.choice([[], ["SEARCH_SUPPRESSED"]])}
    elif kind < 0.99:
        t, p = "ITEM_PRODUCT_TYPE_CHANGE", {"MarketplaceId": "A1PA6795UKMFR9", "Asin": f"B0{rng.randrange(10**8):08d}",
                                            "PreviousProductType": "LUGGAGE", "CurrentProductType": "BAG"}
    else:
        t, p = "ACCOUNT_STATUS_CHANGED", {"accountStatusChangeNotification": {
            "previousAccountStatus": "NORMAL", "currentAccountStatus": rng.choice(["AT_RISK", "NORMAL"])}}
    return {"NotificationVersion": "1.0", "NotificationType": t, "PayloadVersion": "1.0",
            "EventTime": "2026-11-29T10:00:00Z", "Payload": p,
            "NotificationMetadata": {"ApplicationId": "a", "SubscriptionId": "s", "PublishTime": "2026-11-29T10:00:01Z",
                                     "NotificationId": f"bench-{i:08d}"}}


def bench_notifications(files: int, per_file: int) -> list[str]:
    import marketd.plugins.health as health_plugin
    from marketd.sdk.testing import make_app, process_file

    root = workdir("health-notif")
    app = make_app(root, {"health": health_plugin}, channels={})
    src = root / "src"
    src.mkdir()
    rng = random.Random(14)
    batches = []
    for f in range(files):
        docs = [notification(f * per_file + k, rng) for k in range(per_file)]
        batches.append(docs)
    out = []
    for label, reverse in (("first pass (all new)", False), ("same notifications again (all duplicates)", True)):
        paths = []
        for f, docs in enumerate(batches):
            p = src / f"{'b' if reverse else 'a'}-{f:05d}.jsonl.json"
            p.write_text("\n".join(json.dumps(d) for d in (reversed(docs) if reverse else docs)) + "\n")
            paths.append(p)
        t0 = time.perf_counter()
        news = dups = 0
        for p in paths:
            row = process_file(app, "notifications", p)
            assert row["state"] == "done", row
            news += row["summary"]["new"]
            dups += row["summary"]["duplicates"]
        dt = time.perf_counter() - t0
        n = files * per_file
        out.append(f"  {label}: {n:,} notifications in {files} files, {dt:.1f}s -> {n / dt:,.0f} notifications/s, "
                   f"{files / dt:.1f} files/s (new {news:,}, duplicates {dups:,})")
    alerts = app.store.db.execute("select count(*) from health_alerts").fetchone()[0]
    out.append(f"  alerts in the store: {alerts:,} (distinct keys; nothing raised twice by the second pass)")
    app.close()
    return out


def write_returns(path: Path, rows: int) -> None:
    from marketd.plugins.amazon.fake_health import RETURNS_COLUMNS

    rng = random.Random(3)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    reasons = ["AMZ-PG-WJ-TOO-SMALL", "DEFECTIVE", "NOT_AS_DESCRIBED", "UNWANTED_ITEM", "DAMAGED_BY_CARRIER"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\t".join(RETURNS_COLUMNS) + "\n")
        for i in range(rows):
            d = start + timedelta(minutes=i % 80000)
            rec = [f"302-{i:07d}-{i % 9973:07d}", (d - timedelta(days=5)).strftime("%d-%b-%Y"), d.strftime("%d-%b-%Y"),
                   "Approved", f"D{i:09d}RRMA", " ", "AmazonPrePaidLabel", "4.50", "EUR", "DHL", " ", "Customer", "N",
                   rng.choice("YN"), f"B0{i % 50000:08d}", f"SKU-{i % 50000:05d}", "Koffer Hartschale 55 cm", "1",
                   rng.choice(reasons), "Y", "C-Returns", "StandardRefund", " ", " ", "29.90", "1", " ", " ", " ", " ",
                   " ", "29.90"]
            fh.write("\t".join(rec) + "\n")


def bench_returns(rows: int, runs: int) -> list[str]:
    import pandas as pd

    from marketd.plugins.health import returns
    from marketd.plugins.health.tables import match_columns
    from marketd.sdk import read_table

    root = workdir("health-returns")
    path = root / "returns.tsv"
    write_returns(path, rows)
    size = path.stat().st_size
    ours, floor = [], []
    n = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        table = read_table(path, {})
        cols = match_columns(table.columns, returns.SYNONYMS)
        n = sum(1 for _ in returns.parse(table, cols))
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        floor.append(time.perf_counter() - t0)
        assert len(df) == n == rows
    o, f = median(ours), median(floor)
    return [f"  returns report {rows:,} rows, {size / 1e6:.0f} MB, 32 columns, median of {runs}:",
            f"  marketd read_table + returns.parse (every record) {o:.2f}s",
            f"  floor pandas.read_csv(sep='\\t', dtype=str) {f:.2f}s",
            f"  ratio {o / f:.2f}"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--per-file", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    print(f"notifications from files ({a.files} x {a.per_file}), in-process through the inbox engine:")
    print("\n".join(bench_notifications(a.files, a.per_file)))
    print("returns parse:")
    print("\n".join(bench_returns(a.rows, a.runs)))


if __name__ == "__main__":
    main()
