"""Issue 12 "Measured": completeness of 50,000 SKUs x 4 locales x 3 platforms, and the first-image
classifier's speed.

Run: python bench/bench_content.py [--skus 50000] [--runs 1] [--images 1000] [--skip-completeness]

Completeness, whole processes started the same way (interpreter start and imports included):
  figure  `python -m marketd process --kind content FILE` on a fresh, migrated instance with three
          platforms of four locales each: Amazon (a product type schema in Amazon's shape: the fake's
          LUGGAGE), eBay (a category's aspects), ManoMano (a TOML model); GPSR on for all;
  floor   `python -c "pandas.read_csv(FILE, dtype=str, keep_default_na=False)"` of the same file.
The file is the long layout: one row per SKU and locale (200,000 rows for 50,000 SKUs). Reported:
wall time, peak RSS (wait4 on exactly that child), the ratio, and the run's counts; the same file
again (a re-check: every SKU's schema results come from the cache, the store is rewritten).

Images: images/s of `images.measure` + `decide` over --images generated 1600x2000 JPEGs (50
distinct pictures cycled; the work per image does not depend on repeats), in one process and in
two (the machine has 2 cores), next to the floor of only decoding the same JPEGs at the same
reduced scale (`Image.draft` + `load`).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import median, workdir, write_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LOCALES = ["de_DE", "fr_FR", "it_IT", "es_ES"]
COLS = ["sku", "locale", "parent_sku", "brand", "category", "ean", "title", "description", "bullet_1", "bullet_2",
        "bullet_3", "color", "size", "material", "image_1", "gpsr_manufacturer_name", "gpsr_manufacturer_street",
        "gpsr_manufacturer_postal_code", "gpsr_manufacturer_city", "gpsr_manufacturer_country",
        "gpsr_manufacturer_email", "gpsr_safety_info", "gpsr_attestation"]
WORDS = {"de_DE": "Koffer Hartschale leicht robust Rollen", "fr_FR": "Valise rigide légère robuste roulettes",
         "it_IT": "Valigia rigida leggera robusta ruote", "es_ES": "Maleta rígida ligera robusta ruedas"}


def ean13(n: int) -> str:
    body = f"400{n:09d}"
    check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
    return body + str(check)


def write_content(path: Path, skus: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(";".join(COLS) + "\n")
        lines = []
        for n in range(skus):
            sku = f"SKU-{n:06d}"
            color = rng.choice(["Blau", "Rot", "Schwarz", ""])          # some gaps: real issues to report
            ean = ean13(n)
            if n % 50 == 0:  # a wrong check digit now and then
                ean = ean[:-1] + str((int(ean[-1]) + 1) % 10)
            for loc in LOCALES:
                words = WORDS[loc]
                title = "" if (n + len(loc)) % 97 == 0 else f"{words.split()[0]} {color} {n % 90 + 40} cm"
                row = [sku, loc, "", "ACME", "Koffer", ean, title, f"{words} " * 4, f"{words} 1", f"{words} 2",
                       "" if n % 13 == 0 else f"{words} 3", color, rng.choice(["S", "M", "L"]), "ABS",
                       "" if n % 41 == 0 else f"img{n % 10}.jpg",
                       "Acme Travel GmbH", "Hauptstraße 1", "10115", "Berlin", "DE", "gpsr@acme.example",
                       "" if n % 7 else f"Sicherheit {loc}", "true" if n % 7 else ""]
                lines.append(";".join(row))
            if len(lines) >= 40_000:
                fh.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            fh.write("\n".join(lines) + "\n")


MAPPING = """
[categories."Koffer"]
amazon = "LUGGAGE"
ebay = "11700"
manomano = "suitcases"

[aspects.ebay]
brand = "Marke"
color = "Farbe"
size = "Größe"
"""

TOML = """
[model]
version = "2026-11-01"
[attributes.title]
required = true
per_locale = true
max_length = 150
[attributes.description]
required = true
per_locale = true
max_length = 2000
[attributes.color]
required = true
allowed = ["Blau", "Rot", "Schwarz"]
[attributes.material]
required = true
"""


def write_models(models: Path) -> None:
    from marketd.plugins.amazon.fake_ptd import luggage_schema

    repo = Path(__file__).resolve().parents[1]
    (models / "manomano").mkdir(parents=True)
    (models / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    (models / "manomano" / "suitcases.toml").write_text(TOML, encoding="utf-8")
    lug = models / "amazon" / "EU" / "LUGGAGE"
    lug.mkdir(parents=True)
    (lug / "schema.json").write_text(json.dumps(luggage_schema()), encoding="utf-8")
    (lug / "definition.json").write_text(json.dumps({"productType": "LUGGAGE", "marketplaceIds": ["A1PA6795UKMFR9"],
                                                     "productTypeVersion": {"version": "bench", "latest": True}}))
    eb = models / "ebay" / "EBAY_EU" / "77"
    eb.mkdir(parents=True)
    shutil.copy(repo / "tests" / "content" / "fixtures" / "ebay-11700.aspects.json", eb / "11700.aspects.json")


def instance(root: Path) -> Path:
    from tests.content import imagegen as g

    models = root / "models"
    write_models(models)
    images = root / "images"
    images.mkdir()
    for i in range(10):  # the rows name ten shared packshots (the classifier has its own figure below)
        img = g.packshot(1200, 1500)
        img.putpixel((i, i), (i, 0, 0))
        (images / f"img{i}.jpg").write_bytes(g.jpeg(img))
    platforms = {"amazon": {"type": "amazon", "marketplace": "EU", "locales": LOCALES, "country": "DE"},
                 "ebay": {"type": "ebay", "marketplace": "EBAY_EU", "locales": LOCALES, "country": "DE"},
                 "manomano": {"type": "file", "locales": LOCALES, "country": "FR", "gpsr_shape": "otto"}}
    cfg = write_config(root, inbox={"defaults": {"max_file_mb": 4096},
                                    "content": {"locales": LOCALES, "platforms": platforms, "models_dir": "models",
                                                "images_dir": "images"}})
    warm = root / "warm.csv"
    warm.write_text("sku;title_de\nWARM;x\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "process", "--kind", "content", str(warm)],
                   capture_output=True, check=True)
    return cfg


def run_and_measure(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and output of one child; its CPU seconds (user + system, from
    the same wait4) go to CPU[-1]: on a shared machine the CPU figure is the comparable one."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    CPU.append(usage.ru_utime + usage.ru_stime)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out


def completeness(a, data: Path) -> None:
    src = data / "content.csv"
    write_content(src, a.skus)
    size = src.stat().st_size / 1e6
    figures, floors, rss, rss_floor, cpus, cpu_floor = [], [], [], [], [], []
    for _ in range(a.runs):
        root = workdir("content")
        DIRS.append(root)
        cfg = instance(root)
        wall, peak, out = run_and_measure([sys.executable, "-m", "marketd", "--config", str(cfg), "process",
                                           "--kind", "content", str(src)])
        assert "\ndone: content/" in "\n" + out, out[-2000:]
        figures.append(wall)
        cpus.append(CPU[-1])
        rss.append(peak)
        w, p, _ = run_and_measure([sys.executable, "-c", "import sys, pandas; pandas.read_csv(sys.argv[1], sep=';', "
                                   "dtype=str, keep_default_na=False)", str(src)])
        floors.append(w)
        cpu_floor.append(CPU[-1])
        rss_floor.append(p)
    import sqlite3

    db = sqlite3.connect(str(root / "var" / "marketd.sqlite"))
    counts = json.loads(db.execute("select counts from content_runs order by id desc limit 1").fetchone()[0])
    f, fl = median(figures), median(floors)
    print(f"completeness {a.skus:,} SKUs x {len(LOCALES)} locales x 3 platforms ({a.skus * len(LOCALES):,} rows, "
          f"{size:.0f} MB, long layout), whole processes, median of {a.runs}:")
    print(f"  marketd process {f:.1f}s (runs {', '.join(f'{x:.1f}' for x in figures)}), peak RSS {median(rss):.0f} MB")
    print(f"  floor pandas.read_csv(dtype=str) {fl:.2f}s, peak RSS {median(rss_floor):.0f} MB")
    print(f"  CPU (user+sys) marketd {median(cpus):.1f}s, floor {median(cpu_floor):.2f}s, CPU ratio "
          f"{median(cpus) / median(cpu_floor):.1f}; load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"  ratio {f / fl:.1f}; cells {counts['cells']:,}, errors {counts['errors']:,}, warnings {counts['warnings']:,}, "
          f"blocked SKUs {counts['blocked_skus']:,}")
    again = data / "content-again.csv"
    shutil.copy(src, again)
    wall, peak, out = run_and_measure([sys.executable, "-m", "marketd", "--config", str(cfg), "process", "--kind",
                                       "content", str(again)])
    print(f"  the same file again on that instance (diff against the first run): {wall:.1f}s (CPU {CPU[-1]:.1f}s), "
          f"peak RSS {peak:.0f} MB")


def _images(n_distinct: int) -> list[bytes]:
    from tests.content import imagegen as g

    makers = [lambda: g.packshot(), lambda: g.model_figure(), lambda: g.ghost_mannequin(),
              lambda: g.model_figure(bg=(235, 235, 235)), lambda: g.beige_knit()]
    out = []
    for i in range(n_distinct):
        img = makers[i % len(makers)]()
        img.putpixel((i, i), (i % 255, 0, 0))  # distinct bytes
        out.append(g.jpeg(img))
    return out


def _classify(chunk: list[bytes]) -> int:
    from marketd.plugins.content.images import decide, measure
    from marketd.plugins.content.settings import ImageSettings

    s = ImageSettings()
    for data in chunk:
        decide(measure(data), s)
    return len(chunk)


def _decode(chunk: list[bytes]) -> int:
    import io

    from PIL import Image

    for data in chunk:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (512, 512))
        img.load()
    return len(chunk)


def images(a) -> None:
    distinct = _images(50)
    work = [distinct[i % len(distinct)] for i in range(a.images)]
    t0 = time.monotonic()
    _decode(work)
    floor = time.monotonic() - t0
    t0 = time.monotonic()
    _classify(work)
    one = time.monotonic() - t0
    half = len(work) // 2
    with mp.get_context("fork").Pool(2) as pool:
        t0 = time.monotonic()
        pool.map(_classify, [work[:half], work[half:]])
        two = time.monotonic() - t0
    print(f"first-image classification, {a.images} generated 1600x2000 JPEGs (q90, ~{sum(map(len, distinct)) / len(distinct) / 1e3:.0f} kB):")
    print(f"  one process {a.images / one:.1f} images/s; two processes {a.images / two:.1f} images/s")
    print(f"  floor: decoding only (draft to 512 px + load) {a.images / floor:.1f} images/s in one process "
          f"-> the classifier costs {one / floor:.2f}x the decode")


DIRS: list[Path] = []
CPU: list[float] = []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skus", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--skip-completeness", action="store_true")
    ap.add_argument("--skip-images", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    data = workdir("content-data")
    DIRS.append(data)
    try:
        if not a.skip_completeness:
            completeness(a, data)
        if not a.skip_images:
            images(a)
    finally:
        if not a.keep:
            for d in DIRS:
                shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
