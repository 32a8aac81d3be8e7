"""eBay Transaction report of 200,000 rows (issue 11): reconcile time against ``pandas.read_csv``
of the same file (the ratio), and peak RSS.

Run: python bench/bench_ebay_report.py [--rows 200000] [--out bench/results/ebay-report-DATE.txt]

The report is written by the fake eBay from its own payouts (``transaction_report_csv``: roll-up
and detail rows for multi-item orders, shipping labels, promoted-listing fees, a refund, a Payout
row per payout, buyer columns filled, ``--`` for empty cells), and its orders are in the store
(as the order sync leaves them), so matching has real work. Each measured step runs in a fresh
child process on that instance, so peak RSS (VmHWM) is the step's own:

- **baseline**: ``pandas.read_csv(path, skiprows=<preamble>)`` — pandas' own type inference;
- **reconcile**: ``marketd process`` of the file through the settlements inbox: dispatch, the
  ``ebay-transaction-report`` parse (every amount through the one number parser, each distinct
  text once), the payout checks, matching, the store writes and the per-payout reports;
- the same with ``xlsx = false`` (CSV reports only): one workbook per payout is most of the rest.

The figure is reconcile / baseline (median of ``--repeat`` runs each); the floor is 1.0 (nothing
can reconcile a file faster than reading it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ACCOUNT = "ebay-it"


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(root: Path, rows_wanted: int) -> tuple[Path, int, int]:
    """An instance with the orders in its store and the report file; (file, rows, payouts)."""
    import marketd.plugins.ebay as ebay_plugin
    import marketd.plugins.settlements as settlements
    from marketd.clock import FakeClock
    from marketd.plugins.ebay.fake import EbayFake
    from marketd.sdk.testing import make_app

    clock = FakeClock()
    fake = EbayFake(clock, seed=5)
    per_order = 2.6  # rows per order on average in the fake's report (roll-ups, labels, fees)
    n_orders = int(rows_wanted / per_order)
    orders = fake.populate(n_orders, days=30)
    for o in orders:
        fake.touch(o["orderId"], at=clock.now() - timedelta(hours=1), orderFulfillmentStatus="FULFILLED")
    ids = [o["orderId"] for o in orders]
    chunk = 2000
    for i in range(0, len(ids), chunk):  # one payout per 2,000 orders, as a busy seller's daily payouts
        refund = (ids[i], "5.00") if i == 0 else None
        fake.make_payout(ids[i:i + chunk], when=clock.now() - timedelta(days=(len(ids) - i) / chunk), refund=refund)
    text = fake.transaction_report_csv()
    root.mkdir(parents=True, exist_ok=True)
    path = root.parent / "ebay-transaction-report.csv"  # dropped from outside the instance, as a person would
    path.write_text(text, encoding="utf-8")
    rows = text.count("\n") - 6
    app = make_app(root, {"settlements": settlements, "ebay": ebay_plugin}, clock=clock,
                   channels={ACCOUNT: {"type": "ebay", "marketplace": "EBAY_IT"}})
    ch = app.channel(ACCOUNT)
    stats = {"seen": 0, "new": 0, "changed": 0, "unchanged": 0}
    for i in range(0, len(orders), 500):
        ch._store_page({"orders": [fake.orders[o] for o in ids[i:i + 500]]}, stats)
    app.close()
    return path, rows, len(fake.payouts)


def child(step: str, root: str, path: str) -> None:
    xlsx = step != "reconcile-no-xlsx"
    t = time.perf_counter()
    out: dict = {}
    if step == "baseline":
        import pandas as pd

        frame = pd.read_csv(path, skiprows=5)
        out["rows"] = len(frame)
    else:
        import marketd.plugins.ebay as ebay_plugin
        import marketd.plugins.settlements as settlements
        from marketd.sdk import process_file
        from marketd.sdk.testing import make_app

        app = make_app(Path(root), {"settlements": settlements, "ebay": ebay_plugin},
                       channels={ACCOUNT: {"type": "ebay", "marketplace": "EBAY_IT"}},
                       inbox={"settlements": {"xlsx": xlsx}})
        t = time.perf_counter()
        row = process_file(app, "settlements", Path(path))
        out["state"] = row["state"]
        out["error"] = row.get("error")
        s = row.get("summary") or {}
        out["summary"] = {k: s.get(k) for k in ("payouts", "applied", "duplicates") if k in s}
        db = app.store.db
        out["payouts"] = [tuple(r) for r in db.execute("select status, count(*) from payouts group by status")]
        out["lines"] = db.execute("select count(*) from payout_lines").fetchone()[0]
        out["matched"] = db.execute("select count(*) from payout_refs where order_key is not null").fetchone()[0]
        app.close()
    out["seconds"] = time.perf_counter() - t
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


def run_child(step: str, root: Path, path: Path, fresh_from: Path | None) -> dict:
    if fresh_from is not None:  # a fresh copy of the instance: the file is applied once per run
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(fresh_from, root)
    res = subprocess.run([sys.executable, __file__, "--child", step, str(root), str(path)], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    if res.returncode != 0:
        raise SystemExit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out")
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="marketd-bench-ebay-report-"))
    try:
        load_before = os.getloadavg()[0]
        t = time.perf_counter()
        prepared = work / "prepared"
        path, rows, payouts = prepare(prepared, args.rows)
        prep_s = time.perf_counter() - t
        size_mb = path.stat().st_size / 2 ** 20
        base = [run_child("baseline", prepared, path, None) for _ in range(args.repeat)]
        rec = [run_child("reconcile", work / "run", path, prepared) for _ in range(args.repeat)]
        bare = [run_child("reconcile-no-xlsx", work / "run", path, prepared) for _ in range(args.repeat)]
        if rec[0]["state"] != "done":
            raise SystemExit(f"the report was not applied: {rec[0]}")
        b = statistics.median(r["seconds"] for r in base)
        r = statistics.median(x["seconds"] for x in rec)
        r2 = statistics.median(x["seconds"] for x in bare)
        lines = [
            f"eBay Transaction report: {rows} rows, {payouts} payouts, {size_mb:.1f} MiB (prepared in {prep_s:.0f} s)",
            f"  pandas.read_csv: {b:.2f} s (median of {len(base)}), peak RSS {base[0]['peak_rss_mb']:.0f} MB",
            f"  reconcile (marketd process, settlements inbox): {r:.2f} s (median of {len(rec)}), peak RSS "
            f"{max(x['peak_rss_mb'] for x in rec):.0f} MB; payouts {rec[0]['payouts']}, {rec[0]['lines']} lines, "
            f"{rec[0]['matched']} references matched",
            f"  ratio reconcile / read_csv: {r / b:.1f} (floor 1.0)",
            f"  without the per-payout workbooks ([inbox.settlements] xlsx = false): {r2:.2f} s, ratio {r2 / b:.1f}, "
            f"peak RSS {max(x['peak_rss_mb'] for x in bare):.0f} MB",
            f"  runs: read_csv {[round(x['seconds'], 2) for x in base]}, reconcile {[round(x['seconds'], 2) for x in rec]}, "
            f"no xlsx {[round(x['seconds'], 2) for x in bare]}",
            f"# load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; {os.cpu_count()} CPUs",
        ]
        text = "\n".join(lines)
        print(text)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
