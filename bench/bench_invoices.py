"""Issue 15 figure: invoices per second through the whole path, against the floor of rendering
the same PDF the same number of times without the store.

Run: python bench/bench_invoices.py [--n 10000] [--out FILE]

Each side runs in a fresh child process (peak RSS is that work's own, from ``ru_maxrss``):

- **floor**: ``render_for(snapshot, font)`` of one invoice snapshot, ``n`` times (fpdf2 with the
  prepared European subset of DejaVu Sans embedded, as the job does), nothing written.
- **full**: the ``invoices`` job over ``n`` shipped orders in a fresh store: per order the
  snapshot (lines, VAT in Decimal), the number and the document row in one ``BEGIN IMMEDIATE``
  transaction (``synchronous=FULL``), the render, the 0600 file written, fsynced and renamed, the
  row marked published. The orders are inserted before the clock starts.

The machine may be shared (2 cores, other work running): the figure is what this run saw.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SELLER = {"name": "Bottega GmbH", "address": ["Hauptstr. 1", "10115 Berlin", "DE"], "vat_id": "DE123456789",
          "country": "DE"}


def _snapshot() -> dict:
    from marketd.plugins.invoices.amounts import order_lines, summarise

    order = {"items": [{"sku": "MUG-1", "title": "Tasse blau", "quantity": 2, "unit_price": "5.95"},
                       {"sku": "CUP-2", "title": "Becher", "quantity": 1, "unit_price": "11.90"}], "total": "27.75"}
    return {"kind": "invoice", "doc_no": "INV-amz-2026-000001", "number": 1, "issue_date": "2026-11-30",
            "currency": "EUR", "seller": {**SELLER, "tax_number": "", "footer": []},
            "buyer": {"name": "Jana Nováková", "address": ["Dlouhá 5", "11000 Praha", "CZ"], "country": "CZ",
                      "vat_id": ""},
            "order": {"key": "amz:1", "channel": "amz", "order_id": "302-1", "purchased_at": "2026-11-20"},
            "refers_to": None, "einvoice": None, **summarise(order_lines(order, "19"))}


def floor(n: int) -> dict:
    from marketd.plugins.invoices.render import find_font, render_for

    snap, font = _snapshot(), find_font(None)
    cache = Path(tempfile.mkdtemp(prefix="marketd-bench-fonts-"))
    render_for(snap, font, cache)  # the subset is prepared once per instance, as in the daemon
    start = time.perf_counter()
    size = 0
    for _ in range(n):
        size = len(render_for(snap, font, cache))
    took = time.perf_counter() - start
    return {"seconds": took, "per_s": n / took, "pdf_bytes": size}


def full(n: int) -> dict:
    import marketd.plugins.invoices as invoices
    from marketd.plugins.invoices.job import issue_job
    from marketd.sdk.testing import make_app

    root = Path(tempfile.mkdtemp(prefix="marketd-bench-invoices-"))
    app = make_app(root, {"invoices": invoices}, jobs={"invoices": {
        "seller": SELLER, "vat_rate": "19", "batch": n, "channels": {"amz": {}}}})
    from marketd.sdk import SYSTEM_CLOCK

    app.clock = SYSTEM_CLOCK
    with app.store.transaction():
        for i in range(n):
            app.store.upsert_order({"channel": "amz", "channel_type": "amazon", "order_id": f"302-{i:07d}",
                                    "status": "SHIPPED", "purchased_at": "2026-11-20T10:00:00+00:00", "currency": "EUR",
                                    "total": "27.75", "buyer_name": "Jana Nováková",
                                    "ship_to": {"name": "Jana Nováková", "street": "Dlouhá 5", "postal_code": "11000",
                                                "city": "Praha", "country": "CZ"},
                                    "items": [{"sku": "MUG-1", "title": "Tasse blau", "quantity": 2,
                                               "unit_price": "5.95"},
                                              {"sku": "CUP-2", "title": "Becher", "quantity": 1,
                                               "unit_price": "11.90"}]})
    start = time.perf_counter()
    done = issue_job(app)
    took = time.perf_counter() - start
    published = app.store.db.execute("select count(*) from documents where state = 'published'").fetchone()[0]
    app.close()
    assert published == n and done["invoices"] == n, (published, done)
    return {"seconds": took, "per_s": n / took}


def child(kind: str, n: int) -> dict:
    out = (floor if kind == "floor" else full)(n)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--out")
    ap.add_argument("--child", choices=("floor", "full"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n)))
        return
    results = {}
    for kind in ("floor", "full"):
        p = subprocess.run([sys.executable, __file__, "--child", kind, "--n", str(args.n)], capture_output=True,
                           text=True, check=True)
        results[kind] = json.loads(p.stdout.strip().splitlines()[-1])
    f, w = results["floor"], results["full"]
    lines = [
        f"invoices: {args.n} invoices (one page, two lines + shipping, DejaVu Sans subset embedded)",
        f"floor (render only, no store):  {f['per_s']:8.1f} PDF/s  ({f['seconds']:.1f} s)  peak RSS {f['peak_rss_mb']:.0f} MB"
        f"  ({f['pdf_bytes']} bytes/PDF)",
        f"full  (number+row+render+file): {w['per_s']:8.1f} PDF/s  ({w['seconds']:.1f} s)  peak RSS {w['peak_rss_mb']:.0f} MB",
        f"ratio full/floor time: {w['seconds'] / f['seconds']:.2f}x; RSS ratio {w['peak_rss_mb'] / f['peak_rss_mb']:.2f}x",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
