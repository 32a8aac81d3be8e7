"""Issue 9 item 17: a big catalog through `marketd process` against pandas reading the same file.

Run: python bench/bench_catalog.py [--rows 200000] [--runs 3] [--big 2000000]

Both sides are whole processes started the same way (interpreter start and imports included):
  figure  `python -m marketd process --kind catalog FILE` on a fresh instance whose database
          already exists (migrated first) and holds no product yet;
  floor   `python -c "pandas.read_csv(FILE, dtype=str, keep_default_na=False)"`.
Medians of --runs runs each; ratio = figure / floor (target <= 3). Then the same file again on
the same instance with one price changed (the re-import: every row compared, one written), and
the peak RSS (VmHWM of the process, from wait4) for a --big-row file next to the 200k figure:
streaming in chunks keeps it flat.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import median, workdir, write_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.samples import catalog_rows  # noqa: E402

COLS = ["sku", "ean", "title", "brand", "price", "currency", "stock", "color"]


def write_catalog(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(COLS) + "\n")
        batch = []
        for r in catalog_rows(rows):
            batch.append(",".join(r[c] for c in COLS))
            if len(batch) == 50_000:
                fh.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            fh.write("\n".join(batch) + "\n")


def run_and_measure(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (wait4 on exactly this child) and stdout of one process."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    return wall, usage.ru_maxrss / 1024, out


DIRS: list[Path] = []


def instance(name: str) -> Path:
    root = workdir(name)
    DIRS.append(root)
    cfg = write_config(root, inbox={"defaults": {"max_file_mb": 4096}})
    # creates and migrates the database; its one row is refused (bad EAN), so the store stays empty
    one = root / "warm.csv"
    one.write_text(",".join(COLS) + "\nWARM-1,123,Pen,Acme,1.00,EUR,1,rot\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "process", "--kind", "catalog", str(one)],
                   capture_output=True)
    return cfg


def process(cfg: Path, path: Path) -> tuple[float, float, str]:
    return run_and_measure([sys.executable, "-m", "marketd", "--config", str(cfg), "process", "--kind", "catalog",
                            str(path)])


def floor(path: Path) -> tuple[float, float, str]:
    return run_and_measure([sys.executable, "-c", "import sys, pandas; "
                            "pandas.read_csv(sys.argv[1], dtype=str, keep_default_na=False)", str(path)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--big", type=int, default=2_000_000, help="rows of the peak-RSS file (0: skip)")
    ap.add_argument("--keep", action="store_true", help="keep the instances and files")
    a = ap.parse_args()
    data = workdir("catalog-data")
    DIRS.append(data)
    try:
        measure(a, data)
    finally:
        if not a.keep:
            for d in DIRS:
                shutil.rmtree(d, ignore_errors=True)


def measure(a, data: Path) -> None:
    src = data / "catalog.csv"
    write_catalog(src, a.rows)
    size = src.stat().st_size / 1e6
    figures, floors, rss, starts = [], [], [], []
    tiny = data / "one.csv"
    write_catalog(tiny, 1)
    for _ in range(a.runs):
        cfg = instance("catalog")
        starts.append(process(instance("catalog-start"), tiny)[0])
        wall, peak, out = process(cfg, src)
        assert out.startswith("done:"), out
        figures.append(wall)
        rss.append(peak)
        wall, peak_floor, _ = floor(src)
        floors.append(wall)
    f, fl = median(figures), median(floors)
    print(f"catalog {a.rows:,} rows ({size:.0f} MB) into an empty store, whole processes, median of {a.runs}:")
    print(f"  marketd process {f:.2f}s (runs {', '.join(f'{x:.2f}' for x in figures)}), peak RSS {median(rss):.0f} MB")
    print(f"  floor pandas.read_csv(dtype=str) {fl:.2f}s (runs {', '.join(f'{x:.2f}' for x in floors)}), "
          f"peak RSS {peak_floor:.0f} MB")
    print(f"  ratio {f / fl:.2f} (target <= 3)")
    print(f"  fixed cost: marketd process of a 1-row catalog {median(starts):.2f}s (interpreter, imports of all "
          f"plugins, database); python -c 'import pandas' is part of the floor too")
    # the same catalog again with one price changed: every row is compared with the store
    again = data / "catalog-again.csv"
    text = src.read_text(encoding="utf-8")
    first_row_end = text.index("\n", text.index("\n") + 1)
    row = text[text.index("\n") + 1:first_row_end].split(",")
    row[4] = "0.01"
    again.write_text(text[:text.index("\n") + 1] + ",".join(row) + text[first_row_end:], encoding="utf-8")
    wall, _, out = process(cfg, again)
    print(f"  re-import on the same instance (all rows compared, 1 changed): {wall:.2f}s -> ratio {wall / fl:.2f}")
    if a.big:
        big = data / "big.csv"
        write_catalog(big, a.big)
        cfg = instance("catalog-big")
        wall, peak, out = process(cfg, big)
        assert out.startswith("done:"), out
        print(f"catalog {a.big:,} rows ({big.stat().st_size / 1e6:.0f} MB): marketd process {wall:.1f}s, "
              f"peak RSS {peak:.0f} MB (the {a.rows:,}-row file: {median(rss):.0f} MB)")


if __name__ == "__main__":
    main()
