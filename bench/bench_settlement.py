"""Issue 3 figures: an Amazon settlement flat file V2 of 1,000,000 rows (~180 MB, 200,000
order-ids: 1 % MCF, 1 % not in the store, 0.5 % account-level rows) reconciled against a store of
198,000 orders, compared with ``pandas.read_csv(path, sep='\\t', dtype=str)`` of the same file in
the same run.

Run: python bench/bench_settlement.py [--rows 1000000] [--orders 200000] [--runs 5] [--out FILE]

Each measurement runs in a fresh child process (so peak RSS is that work's own, read from
``ru_maxrss``), alternating baseline and reconcile, on a fresh copy of the store each time. The
machine may be shared: medians are reported, with every run's figure.

- **baseline** (the floor): ``pandas.read_csv(path, sep='\\t', dtype=str)``.
- **reconcile**: what the settlements handler does for the file (``settlements.handler.ingest``):
  dispatch (the formats' sniff) + parse (header sniffing, column check, amounts, dates) +
  classify and aggregate into lines per (order-id, category, fee subtype) (the Amazon format)
  + match, payout check, store writes (``payouts``, 200,000 ``payout_refs``, ~600,000
  ``payout_lines``, the paid items) + the per-order, lines and aging CSVs + commit. The XLSX is
  *not* in this figure (``marketd.xlsxout`` streams ~25,000 rows/s of 18 columns; the workbook holds
  every row).
- **daemon path** (once, informational): the same file through the inbox engine
  (``InboxEngine.adopt``: copy, sha256, claim, handler with the full XLSX (every row),
  publish, archive).

Target (issue 3): reconcile median <= 3 x baseline median, peak RSS <= 2 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process, every thread: on a shared machine the wall figures of
    both sides stretch with the load, the CPU seconds much less; both are reported."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- children --------------------------------------------------------------------------------------
def child_baseline(path: str) -> dict:
    import pandas as pd

    t0, c0 = time.perf_counter(), cpu_seconds()
    df = pd.read_csv(path, sep="\t", dtype=str)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "cpu": cpu_seconds() - c0, "rows": len(df), "rss_mb": peak_rss_mb()}


def child_reconcile(path: str, instance: str) -> dict:
    import logging

    from marketd import config as config_mod
    from marketd.app import App
    from marketd.config import inbox_settings
    from marketd.context import FileContext
    from marketd.plugins.settlements.handler import ingest

    app = App(config_mod.load(Path(instance) / "marketd.toml"))
    rss_before = peak_rss_mb()
    settings = {**inbox_settings(app.config, "settlements"), "xlsx": False}
    ctx = FileContext(app=app, kind="settlements", settings=settings, path=Path(path), name=Path(path).name,
                      file_id="bench", sha256="0" * 64, size=os.path.getsize(path),
                      claimed_at=app.clock.now(), log=logging.getLogger("bench"))
    phases: dict = {}
    t0, c0 = time.perf_counter(), cpu_seconds()
    with app.store.transaction():
        summary = ingest(ctx, timings=phases)
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    phases["commit"] = t2 - t1
    out = {"seconds": t2 - t0, "cpu": cpu_seconds() - c0, "phases": phases, "rss_mb": peak_rss_mb(), "rss_before_mb": rss_before,
           **{k: summary[k] for k in ("status", "difference", "total_amount", "orders", "matched", "unmatched",
                                      "no_order_rows", "unclassified_rows", "unsettled")}}
    for o in ctx.outputs:
        o.tmp.unlink(missing_ok=True)
    app.close()
    return out


def child_daemon(path: str, instance: str) -> dict:
    from marketd import config as config_mod
    from marketd.app import App
    from marketd.inbox import InboxEngine

    app = App(config_mod.load(Path(instance) / "marketd.toml"))
    engine = InboxEngine(app)
    engine.ensure_dirs()
    t0 = time.perf_counter()
    row = engine.adopt("settlements", Path(path))
    dt = time.perf_counter() - t0
    summary = json.loads(row["summary"] or "{}")
    app.close()
    return {"seconds": dt, "state": row["state"], "rss_mb": peak_rss_mb(), "status": summary.get("status"),
            "outputs": summary.get("outputs"), "error": row["error"]}


# -- set-up ----------------------------------------------------------------------------------------
def build_instance(root: Path, info: dict) -> Path:
    """An instance whose store holds the file's Amazon orders (channel ``amazon-de``) and the
    shop orders behind its MCF rows (channel ``shop``); 1 % of the file's order-ids are not there."""
    from marketd import config as config_mod
    from marketd.app import App
    from tests.conftest import write_config

    cfg = write_config(root, inbox={"settlements": {"mode": "stable"}},
                       channels={"amazon-de": {"type": "amazon", "marketplace": "DE"}})
    app = App(config_mod.load(cfg))
    now = datetime(2026, 8, 1, tzinfo=timezone.utc).isoformat()
    rows = [(f"amazon-de:{oid}", "amazon-de", "amazon", oid, None, "SHIPPED", now, now, "EUR", "10.00")
            for oid in info["order_ids"]]
    rows += [(f"shop:{ref}", "shop", "manual", ref, None, "SHIPPED", now, now, "EUR", "10.00")
             for ref in info["mcf_refs"]]
    with app.store.transaction() as db:
        db.conn.executemany(
            "insert into orders (key, channel, channel_type, order_id, merchant_order_id, status, purchased_at, "
            "updated_at, currency, total) values (?,?,?,?,?,?,?,?,?,?)", rows)
    app.store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app.close()
    return cfg


def fresh_copy(template: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest)
    return dest


def run_child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-daemon", action="store_true", help="skip the informational daemon-path run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--out", help="also write the report to this file")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        mode, *rest = a.child
        result = {"baseline": child_baseline, "reconcile": child_reconcile, "daemon": child_daemon}[mode](*rest)
        print(json.dumps(result, default=str))
        return

    from tests.amazon.settlement_samples import big_v2_file

    work = Path(tempfile.mkdtemp(prefix="marketd-bench-settlement-"))
    try:
        path = work / "settlement-v2.txt"
        t0 = time.perf_counter()
        info = big_v2_file(path, rows=a.rows, orders=a.orders)
        gen = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        template = build_instance(work / "template", info).parent
        seed = time.perf_counter() - t0
        stored = len(info["order_ids"]) + len(info["mcf_refs"])
        print(f"file: {a.rows} rows, {size_mb:.0f} MB, {a.orders} order-ids (generated in {gen:.1f} s); "
              f"store: {stored} orders (seeded in {seed:.1f} s)", flush=True)
        load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        base, recs = [], []
        for i in range(a.runs):
            b = run_child(["--child", "baseline", str(path)])
            inst = fresh_copy(template, work / "run")
            r = run_child(["--child", "reconcile", str(path), str(inst)])
            base.append(b)
            recs.append(r)
            print(f"run {i + 1}: read_csv {b['seconds']:.2f} s, reconcile {r['seconds']:.2f} s "
                  f"({', '.join(f'{k} {v:.2f}' for k, v in r['phases'].items())}), rss {r['rss_mb']:.0f} MB",
                  flush=True)
        daemon = None
        if not a.no_daemon:
            inst = fresh_copy(template, work / "run")
            daemon = run_child(["--child", "daemon", str(path), str(inst)])
        mb = statistics.median(x["seconds"] for x in base)
        mr = statistics.median(x["seconds"] for x in recs)
        last = recs[-1]
        phase_med = {k: statistics.median(x["phases"][k] for x in recs) for k in recs[0]["phases"]}
        lines = [
            f"# python bench/bench_settlement.py --rows {a.rows} --orders {a.orders} --runs {a.runs}  "
            f"({datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} CPUs, load average {load_before} before, "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} after)",
            f"settlement V2 flat file: {a.rows} rows, {size_mb:.0f} MB, {a.orders} order-ids "
            f"({len(info['mcf_refs'])} MCF, {len(info['missing'])} not in the store); store: {stored} orders",
            f"  pandas.read_csv(sep='\\t', dtype=str)  median {mb:6.2f} s   runs {[round(x['seconds'], 2) for x in base]}"
            f"   peak RSS {max(x['rss_mb'] for x in base):.0f} MB",
            f"  reconcile (parse+match+aggregate+store+CSVs+commit)  median {mr:6.2f} s   runs "
            f"{[round(x['seconds'], 2) for x in recs]}   peak RSS {max(x['rss_mb'] for x in recs):.0f} MB "
            f"(app before: {last['rss_before_mb']:.0f} MB)",
            "    phases (median): " + ", ".join(f"{k} {v:.2f} s" for k, v in phase_med.items()),
            f"  ratio reconcile / read_csv          {mr / mb:6.2f}   (target <= 3)",
            f"  CPU seconds (user+system, all threads): read_csv {statistics.median(x['cpu'] for x in base):.2f} "
            f"{[round(x['cpu'], 2) for x in base]}, reconcile {statistics.median(x['cpu'] for x in recs):.2f} "
            f"{[round(x['cpu'], 2) for x in recs]}, ratio "
            f"{statistics.median(x['cpu'] for x in recs) / statistics.median(x['cpu'] for x in base):.2f}",
            f"  result: status {last['status']}, difference {last['difference']}, payout {last['total_amount']}; "
            f"{last['orders']} order-ids, {last['matched']} matched, {last['unmatched']} unmatched, "
            f"{last['no_order_rows']} rows without order-id, {last['unclassified_rows']} unclassified",
        ]
        if daemon:
            lines.append(f"  daemon path (InboxEngine.adopt: copy+sha256+handler incl. the full XLSX"
                         f"+publish): {daemon['seconds']:.2f} s, state {daemon['state']}, peak RSS "
                         f"{daemon['rss_mb']:.0f} MB")
        report = "\n".join(lines)
        print(report)
        if a.out:
            Path(a.out).write_text(report + "\n", encoding="utf-8")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")


if __name__ == "__main__":
    main()
