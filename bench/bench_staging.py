"""Staging many outputs of one file (a shipments file stages a label per parcel): the time per
1,000 outputs must not grow with the number already staged.

Run: python bench/bench_staging.py [--outputs 8000] [--runs 5]

The figure: the median time to stage outputs 7,000-7,999 next to the floor, the same handler
staging outputs 0-999 (measured in the same run); ratio = tail / head. A linear "staged twice"
check keeps the ratio near 1 (a list scan made it ~15). The test suite checks the same property
by counting path comparisons (tests/core/test_engine.py), never by timing it.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import workdir, write_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one_run(outputs: int) -> tuple[float, float]:
    from marketd import config as config_mod
    from marketd.app import App
    from marketd.context import FileContext

    root = workdir("staging")
    app = App(config_mod.load(write_config(root)))
    ctx = FileContext(app=app, kind="catalog", settings={}, path=app.inbox_dir / "x.csv", name="x.csv",
                      file_id="20261102T090000-0badcafe", sha256="0" * 64, size=1,
                      claimed_at=datetime(2026, 11, 2, 9, tzinfo=timezone.utc), log=logging.getLogger("bench"))

    def stage(first: int, last: int) -> float:
        t = time.perf_counter()
        for i in range(first, last):
            ctx._stage(f"labels/{ctx.stamp}-x/{i:05d}.pdf", True)
        return time.perf_counter() - t

    head = stage(0, 1000)
    stage(1000, outputs - 1000)
    tail = stage(outputs - 1000, outputs)
    app.close()
    shutil.rmtree(root)
    return head, tail


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", type=int, default=8000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    runs = [one_run(a.outputs) for _ in range(a.runs)]
    head = statistics.median(h for h, _ in runs)
    tail = statistics.median(t for _, t in runs)
    print(f"staging {a.outputs:,} outputs, {a.runs} runs: last 1,000 median {tail * 1000:.1f} ms; "
          f"floor (first 1,000) {head * 1000:.1f} ms; ratio {tail / head:.2f}")
    print("  per run (head ms, tail ms): " + ", ".join(f"({h * 1000:.1f}, {t * 1000:.1f})" for h, t in runs))


if __name__ == "__main__":
    main()
