"""Issue 9 item 17: a big catalog through `marketd process` against pandas reading the same file.

Run: python bench/bench_catalog.py [--rows 200000] [--runs 5] [--big 2000000] [--out FILE]

Both sides are whole processes started the same way (interpreter start, imports and exit included):
  figure  `python -m marketd process --kind catalog FILE` on a fresh instance whose database
          already exists (migrated first) and holds no product yet (the first import);
  floor   `python -c "pandas.read_csv(FILE, dtype=str, keep_default_na=False)"`.
Medians of --runs runs each, the two alternating; ratio = figure / floor (target <= 3). Then:
  - the fixed cost: `marketd process` of a 1-row catalog (fresh instance), and `marketd --help`;
  - where the time of one import goes, measured inside one process (the engine's ``adopt`` with
    timers around the catalog pass's steps; the run with the smallest total of --runs);
  - the same file again on the same instance with one price changed (the re-import: every row
    compared with the store, one written);
  - the peak RSS (VmHWM from wait4) of `marketd process` for a --big-row file: streaming in chunks
    keeps it flat in the file's size.

The daemon's own modules are compiled to bytecode first (`compileall`, as `pip install` does for a
deployed instance): this machine sets PYTHONDONTWRITEBYTECODE, and without .pyc files every start
would compile marketd's ~100 modules again, which no installed daemon does.
"""
from __future__ import annotations

import argparse
import compileall
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from _common import workdir, write_config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.samples import catalog_rows  # noqa: E402

COLS = ["sku", "ean", "title", "brand", "price", "currency", "stock", "color"]
DIRS: list[Path] = []


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


CPU: dict[str, list[float]] = {}  # label -> CPU seconds (user + system) of each process measured


def run_and_measure(cmd: list[str], label: str = "") -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (wait4 on exactly this child) and stdout of one process; its
    CPU seconds go to ``CPU[label]``. On a shared machine the wall figures of both sides stretch
    with the load, the CPU seconds much less: both are reported."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if label:
        CPU.setdefault(label, []).append(usage.ru_utime + usage.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    return wall, usage.ru_maxrss / 1024, out


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


def process(cfg: Path, path: Path, label: str = "") -> tuple[float, float, str]:
    return run_and_measure([sys.executable, "-m", "marketd", "--config", str(cfg), "process", "--kind", "catalog",
                            str(path)], label)


def floor(path: Path) -> tuple[float, float, str]:
    return run_and_measure([sys.executable, "-c", "import sys, pandas; "
                            "pandas.read_csv(sys.argv[1], dtype=str, keep_default_na=False)", str(path)], "floor")


def runs_text(values: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


# -- in-process phases (a child: `bench_catalog.py --phases FILE`) -------------------------------
PHASES = [  # (label, module, attribute): outermost timed call only, so nothing is counted twice
    ("byte scan + header (csvscan)", "marketd.plugins.catalog.run", "read_table"),
    ("decimal style (price column from the bytes)", "marketd.plugins.catalog.run", "_decimal_style"),
    ("parse (pandas C parser, in chunks)", "marketd.tabular", "_pandas_chunks"),
    ("parse (split, a file without quotes)", "marketd.tabular", "_split_chunks"),
    ("column checks (fastcheck)", "marketd.plugins.catalog.run", "check_columns"),
    ("duplicate SKUs (hashes, seen)", "marketd.plugins.catalog.run:_Run", "_first_occurrences"),
    ("duplicate SKUs (hashes, seen)", "marketd.plugins.catalog.seen:Seen", "add"),
    ("attributes JSON", "marketd.plugins.catalog.run:_Run", "_attributes"),
    ("SQLite upsert (statements)", "marketd.plugins.catalog.upsert:ProductStore", "upsert"),
    ("report rows", "marketd.plugins.catalog.run:_Run", "_write"),
]


def child_phases(path: str) -> None:
    """One import of ``path`` into an empty store inside this process, with the time of each
    step; prints JSON."""
    import importlib
    import inspect
    import logging
    import tempfile

    logging.disable(logging.CRITICAL)
    spent: dict[str, float] = {}
    depth = [0]

    def timed(label, func):
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def gen(*a, **k):
                it = func(*a, **k)
                while True:
                    depth[0] += 1
                    t = time.perf_counter()
                    try:
                        value = next(it)
                    except StopIteration:
                        return
                    finally:
                        depth[0] -= 1
                        if not depth[0]:
                            spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
                    yield value
            return gen

        @functools.wraps(func)
        def call(*a, **k):
            depth[0] += 1
            t = time.perf_counter()
            try:
                return func(*a, **k)
            finally:
                depth[0] -= 1
                if not depth[0]:
                    spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
        return call

    for label, where, attr in PHASES:
        module, _, cls = where.partition(":")
        owner = importlib.import_module(module)
        owner = getattr(owner, cls) if cls else owner
        if hasattr(owner, attr):  # an older tree (an A/B against main) may not have every step
            setattr(owner, attr, timed(label, getattr(owner, attr)))
    from marketd.app import App
    from marketd.config import load
    from marketd.inbox import InboxEngine
    from marketd.plugins.catalog import handler

    handler_time = {}
    original = handler.CatalogHandler.process

    def process_timed(self, ctx):
        t = time.perf_counter()
        try:
            return original(self, ctx)
        finally:
            handler_time["t"] = time.perf_counter() - t

    handler.CatalogHandler.process = process_timed
    root = Path(tempfile.mkdtemp(prefix="marketd-bench-phases-"))
    try:
        app = App(load(write_config(root, inbox={"defaults": {"max_file_mb": 4096}})))
        engine = InboxEngine(app)
        engine.ensure_dirs()
        spent.clear()
        t = time.perf_counter()
        row = engine.adopt("catalog", Path(path))
        total = time.perf_counter() - t
        assert row["state"] == "done", row
        app.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({"total": total, "handler": handler_time["t"], "phases": spent}))


def phases(path: Path, runs: int) -> dict:
    best = None
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--phases", str(path)], capture_output=True, text=True,
                             check=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        if best is None or res["total"] < best["total"]:
            best = res
    return best


# -- the figures ---------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big", type=int, default=2_000_000, help="rows of the peak-RSS file (0: skip)")
    ap.add_argument("--keep", action="store_true", help="keep the instances and files")
    ap.add_argument("--no-compile", action="store_true", help="do not compile marketd's modules to bytecode first")
    ap.add_argument("--out", help="also write the figures to this file")
    ap.add_argument("--phases", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phases:
        child_phases(a.phases)
        return
    if not a.no_compile:
        for folder in ("daemon", "plugins"):
            compileall.compile_dir(REPO / folder, quiet=1)
    data = workdir("catalog-data")
    DIRS.append(data)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    load_before = os.getloadavg()[0]
    try:
        measure(a, data, say)
    finally:
        if not a.keep:
            for d in DIRS:
                shutil.rmtree(d, ignore_errors=True)
    say(f"# load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; {os.cpu_count()} CPUs; "
        f"{date.today().isoformat()}")
    if a.out:
        Path(a.out).write_text("\n".join(lines) + "\n", encoding="utf-8")


def measure(a, data: Path, say) -> None:
    src = data / "catalog.csv"
    write_catalog(src, a.rows)
    size = src.stat().st_size / 1e6
    tiny = data / "one.csv"
    write_catalog(tiny, 1)
    figures, floors, rss, floor_rss, starts, helps = [], [], [], [], [], []
    for _ in range(a.runs):
        cfg = instance("catalog")
        wall, peak, out = process(cfg, src, "figure")
        assert out.startswith("done:"), out
        figures.append(wall)
        rss.append(peak)
        wall, peak, _ = floor(src)
        floors.append(wall)
        floor_rss.append(peak)
        starts.append(process(instance("catalog-start"), tiny)[0])
        helps.append(run_and_measure([sys.executable, "-m", "marketd", "--help"])[0])
    f, fl = statistics.median(figures), statistics.median(floors)
    say(f"catalog {a.rows:,} rows ({size:.0f} MB) into an empty store, whole processes, median of {a.runs}:")
    say(f"  marketd process {f:.2f}s (runs {runs_text(figures)}), peak RSS {statistics.median(rss):.0f} MB")
    say(f"  floor pandas.read_csv(dtype=str) {fl:.2f}s (runs {runs_text(floors)}), "
        f"peak RSS {statistics.median(floor_rss):.0f} MB")
    say(f"  ratio {f / fl:.2f} (target <= 3)")
    cf, cfl = statistics.median(CPU["figure"]), statistics.median(CPU["floor"])
    say(f"  CPU seconds (user+system): marketd process {cf:.2f} (runs {runs_text(CPU['figure'])}), floor {cfl:.2f} "
        f"(runs {runs_text(CPU['floor'])}), ratio {cf / cfl:.2f}")
    say(f"  fixed cost: marketd process of a 1-row catalog {statistics.median(starts):.2f}s "
        f"(runs {runs_text(starts)}); marketd --help {statistics.median(helps):.2f}s (runs {runs_text(helps)})")
    p = phases(src, a.runs)
    handler, total = p["handler"], p["total"]
    say(f"  in one process (InboxEngine.adopt, the fastest of {a.runs}): {total:.2f}s = catalog handler "
        f"{handler:.2f}s + engine {total - handler:.2f}s (copy in, sha256, claim, commit: WAL fsync and "
        "checkpoint, publish, archive)")
    for label, seconds in sorted(p["phases"].items(), key=lambda kv: -kv[1]):
        say(f"    {seconds:6.3f}s  {label}")
    say(f"    {handler - sum(p['phases'].values()):6.3f}s  the rest of the handler (fields, defaults, glue)")
    # the same catalog again with one price changed: every row is compared with the store
    again = data / "catalog-again.csv"
    text = src.read_text(encoding="utf-8")
    first_row_end = text.index("\n", text.index("\n") + 1)
    row = text[text.index("\n") + 1:first_row_end].split(",")
    row[4] = "0.01"
    again.write_text(text[:text.index("\n") + 1] + ",".join(row) + text[first_row_end:], encoding="utf-8")
    wall, _, out = process(cfg, again)
    say(f"  re-import on the same instance (all rows compared, 1 changed): {wall:.2f}s -> ratio {wall / fl:.2f}")
    if a.big:
        big = data / "big.csv"
        write_catalog(big, a.big)
        cfg = instance("catalog-big")
        wall, peak, out = process(cfg, big)
        assert out.startswith("done:"), out
        say(f"catalog {a.big:,} rows ({big.stat().st_size / 1e6:.0f} MB): marketd process {wall:.1f}s, "
            f"peak RSS {peak:.0f} MB (the {a.rows:,}-row file: {statistics.median(rss):.0f} MB)")
        big.unlink()


if __name__ == "__main__":
    main()
