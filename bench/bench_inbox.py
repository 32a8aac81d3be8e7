"""Issue 2 figures: drop-to-report latency, a 2,000-file storm and a 200,000-row catalog.

Run: python bench/bench_inbox.py [--drops 50] [--storm 2000] [--big 200000]
Every figure is printed next to the floor it is compared with, measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from _common import DaemonProcess, median, pct, peak_rss_mb, wait_for, workdir, write_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.samples import catalog_csv  # noqa: E402


def count(root: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{root / 'var' / 'marketd.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def latency(drops: int, stability: float) -> None:
    root = workdir("latency")
    cfg = write_config(root, inbox={"defaults": {"stability_seconds": stability}}, daemon={"rescan_seconds": 30.0})
    d = DaemonProcess(cfg).start()
    inbox = root / "inbox" / "catalog"
    reports = root / "outbox" / "reports"
    lat = []
    try:
        for i in range(drops):
            src = root / f".drop{i}.csv.tmp"
            src.write_text(catalog_csv(1000, start=i * 1000))
            t0 = time.monotonic()
            os.rename(src, inbox / f"drop{i}.csv")  # the file appears complete, in one step
            wait_for(lambda: any(reports.glob(f"catalog-drop{i}-*.csv")), 60, interval=0.005)
            lat.append(time.monotonic() - t0)
    finally:
        d.stop()
    # floor: the stability window plus what `marketd process` takes on the same 1,000-row file
    proc_times = []
    for i in range(5):
        one = workdir("process")
        c = write_config(one)
        f = one / f"one{i}.csv"
        f.write_text(catalog_csv(1000, start=i * 1000))
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "marketd", "--config", str(c), "process", "--kind", "catalog", str(f)],
                       check=True, capture_output=True)
        proc_times.append(time.monotonic() - t0)
    handler = median(_handler_seconds(root))
    floor = stability + median(proc_times)
    print(f"latency 1,000-row catalog, {drops} drops, stability window {stability:.1f}s:")
    print(f"  p50 {median(lat):.3f}s  p95 {pct(lat, 95):.3f}s  max {max(lat):.3f}s")
    print(f"  floor = window {stability:.1f}s + `marketd process` {median(proc_times):.3f}s (median of 5, incl. "
          f"interpreter start) = {floor:.3f}s; in-daemon handler time median {handler:.3f}s")
    print(f"  ratio p50/floor {median(lat) / floor:.2f}; p50/(window + handler) {median(lat) / (stability + handler):.2f}")


def _handler_seconds(root: Path):
    """Handler time in-process (no interpreter start): ``adopt`` runs claim→process→publish→archive."""
    out = []
    from marketd.app import App
    from marketd import config as config_mod
    from marketd.inbox import InboxEngine

    for i in range(5):
        one = workdir("handler")
        app = App(config_mod.load(write_config(one)))
        eng = InboxEngine(app)
        eng.ensure_dirs()
        f = one / "h.csv"
        f.write_text(catalog_csv(1000, start=50_000 + i * 1000))
        t0 = time.monotonic()
        eng.adopt("catalog", f)
        out.append(time.monotonic() - t0)
        app.close()
    return out


def storm(files: int) -> None:
    root = workdir("storm")
    cfg = write_config(root, inbox={"defaults": {"stability_seconds": 1.0}})
    d = DaemonProcess(cfg).start()
    inbox = root / "inbox" / "catalog"
    staging = root / "staging"
    staging.mkdir()
    for i in range(files):
        (staging / f"s{i:05d}.csv").write_text(catalog_csv(5, start=i * 5))
    t0 = time.monotonic()
    for i in range(files):
        os.rename(staging / f"s{i:05d}.csv", inbox / f"s{i:05d}.csv")
    wait_for(lambda: count(root, "select count(*) from files where state in ('done','error','duplicate')") >= files,
             1800, interval=0.2)
    wall = time.monotonic() - t0
    rss = peak_rss_mb(d.proc.pid)
    d.stop()
    done = count(root, "select count(*) from files where state='done'")
    rows = count(root, "select count(*) from files")
    prods = count(root, "select count(*) from products")
    archived = len(list((inbox / ".done").rglob("*__s*.csv")))
    print(f"storm {files} files x 5 rows dropped at once: {done} done, {rows} journal rows, {archived} archived, "
          f"{prods} products (expected {files * 5})")
    print(f"  wall {wall:.1f}s incl. the {1.0:.1f}s window, throughput {files / wall:.1f} files/s, daemon peak RSS {rss:.0f} MB")
    assert done == files == rows == archived and prods == files * 5, "storm lost or duplicated files"


def big(rows: int) -> None:
    import pandas as pd

    root = workdir("big")
    cfg = write_config(root, inbox={"defaults": {"stability_seconds": 1.0}})
    src = root / "big.csv"
    src.write_text(catalog_csv(rows))
    t0 = time.monotonic()
    pd.read_csv(src, dtype=str, keep_default_na=False)
    floor = time.monotonic() - t0
    d = DaemonProcess(cfg).start()
    t0 = time.monotonic()
    os.link(src, root / "inbox" / "catalog" / "big.csv")
    wait_for(lambda: count(root, "select count(*) from files where state='done'") == 1, 1800, interval=0.1)
    wall = time.monotonic() - t0
    rss = peak_rss_mb(d.proc.pid)
    d.stop()
    size = src.stat().st_size / 1e6
    print(f"catalog {rows:,} rows ({size:.0f} MB): drop-to-done {wall:.1f}s (incl. 1.0s window), daemon peak RSS {rss:.0f} MB; "
          f"floor pandas.read_csv(dtype=str) {floor:.2f}s -> ratio {(wall - 1.0) / floor:.1f}")
    assert count(root, "select count(*) from products") == rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--drops", type=int, default=50)
    ap.add_argument("--stability", type=float, default=2.0)
    ap.add_argument("--storm", type=int, default=2000)
    ap.add_argument("--big", type=int, default=200_000)
    ap.add_argument("--only", choices=["latency", "storm", "big"])
    a = ap.parse_args()
    if a.only in (None, "latency"):
        latency(a.drops, a.stability)
    if a.only in (None, "storm"):
        storm(a.storm)
    if a.only in (None, "big"):
        big(a.big)
