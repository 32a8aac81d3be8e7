"""Issue 12 "Measured": the listings push of 10,000 SKUs to the fake SP-API — requests used per
operation against its documented limit, Amazon time on the FakeClock, and wall time.

Run: python bench/bench_listings.py [--skus 10000] [--out bench/results/listings-DATE.txt]

In-process (``httpx.WSGITransport``), the real engine and store: a content file of N SKUs is
dropped into inbox/content/, the product type is fetched by the ``content-models`` job, then the
``listings-push`` job runs every 5 minutes of fake time until the content batch is done; then every
SKU's catalog price changes and the price/stock batch goes out the same way. The floor is what
the APIs' limits allow at best: one feed needs createFeedDocument + upload + createFeed + getFeed
polls + getFeedDocument + download, whereas patchListingsItem at 5 requests/s would need N calls
and N/5 seconds.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import marketd.plugins.amazon as amazon_plugin  # noqa: E402
import marketd.plugins.catalog as catalog_plugin  # noqa: E402
import marketd.plugins.content as content_plugin  # noqa: E402
import marketd.plugins.settlements as settlements_plugin  # noqa: E402
from marketd.plugins.amazon.fake import OFFICIAL_LIMITS, SpApiFake  # noqa: E402
from marketd.plugins.amazon.settings import env_name  # noqa: E402
from marketd.sdk import FakeClock  # noqa: E402
from marketd.sdk.testing import make_app, process_file, run_job  # noqa: E402

CREDS = ("amzn1.application-oa2-client.bench", "bench-secret", "Atzr|bench")


def ean(n: int) -> str:
    d = f"{4006381000000 + n:013d}"[:12]
    return d + str((10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(d)) % 10) % 10)


def content_file(n: int) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(["sku", "brand", "category", "ean", "title_de", "bullet_1_de", "color", "image_1", "price", "stock"])
    for i in range(n):
        w.writerow([f"S{i:06d}", "ACME", "Koffer", ean(i), f"Koffer Hartschale 55 cm Blau {i}", "Leicht", "Blau",
                    f"https://img.example/s{i}.jpg", "129.90", "5"])
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skus", type=int, default=10000)
    ap.add_argument("--out")
    args = ap.parse_args()
    clock = FakeClock()
    fake = SpApiFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                     marketplace_id="A1PA6795UKMFR9")
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        os.environ[env_name("amz", what)] = value
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "inst"
        models = root / "models"
        models.mkdir(parents=True)
        (models / "mapping.toml").write_text('[categories."Koffer"]\namazon = "LUGGAGE"\n')
        inbox = {"content": {"locales": ["de_DE"], "models_dir": str(models), "watch": "poll", "xlsx": False,
                             "html": False, "images": {"download": False},
                             "platforms": {"amazon_de": {"type": "amazon", "marketplace": "DE", "locales": ["de_DE"],
                                                         "channel": "amz", "gpsr": False, "main_image_rules": False}},
                             "listings": {"allow": {"amazon_de": ["ACME"]}}}}
        channels = {"amz": {"type": "amazon", "marketplace": "DE", "seller_id": fake.seller_id,
                            "endpoint": "https://sellingpartnerapi-eu.amazon.com",
                            "lwa_endpoint": "https://api.amazon.com/auth/o2/token",
                            "transport": httpx.WSGITransport(app=fake)}}
        app = make_app(root, {"content": content_plugin, "amazon": amazon_plugin, "settlements": settlements_plugin,
                              "catalog": catalog_plugin}, inbox=inbox, channels=channels, clock=clock)
        src = Path(tmp) / "content.csv"
        src.write_text(content_file(args.skus), encoding="utf-8")
        t0 = time.perf_counter()
        process_file(app, "content", src)
        run_job(app, "content-models")
        t_check = time.perf_counter() - t0

        def push_until_done(kind: str) -> tuple[float, float, int]:
            before = len(fake.journal)
            start_wall, start_fake = time.perf_counter(), clock.monotonic()
            runs = 0
            while True:
                runs += 1
                run_job(app, "listings-push")
                open_ = app.store.db.execute("select count(*) from listing_batches where state != 'done'").fetchone()[0]
                if not open_:
                    break
                clock.advance(300)
            return time.perf_counter() - start_wall, clock.monotonic() - start_fake, len(fake.journal) - before

        wall, amazon_s, calls = push_until_done("content")
        accepted = app.store.db.execute("select count(*) from listing_pushes where kind='content' and state='accepted'").fetchone()[0]
        lines.append(f"content check of {args.skus} SKUs (drop + model fetch + re-check): {t_check:.1f} s wall")
        lines.append(f"content push: {accepted}/{args.skus} accepted in {calls} requests, {wall:.1f} s wall, "
                     f"{amazon_s:.0f} s Amazon time (fake clock)")
        ops: dict = {}
        for c in fake.journal:
            ops[c.operation] = ops.get(c.operation, 0) + 1
        with app.store.transaction() as tx:
            for i in range(args.skus):
                tx["products"].upsert({"sku": f"S{i:06d}", "price": "119.90", "currency": "EUR", "stock": 3}, pk="sku")
        wall2, amazon2, calls2 = push_until_done("offer")
        lines.append(f"price/stock push: {args.skus} SKUs in {calls2} requests, {wall2:.1f} s wall, {amazon2:.0f} s "
                     "Amazon time")
        ops2: dict = {}
        for c in fake.journal:
            ops2[c.operation] = ops2.get(c.operation, 0) + 1
        lines.append("requests per operation (both pushes) vs the operation's limit (rate/s, burst):")
        for op in sorted(ops2):
            lim = OFFICIAL_LIMITS.get(op)
            lines.append(f"  {op:<28} {ops2[op]:>5}   limit {lim[0]:g}/s burst {lim[1]:g}" if lim else
                         f"  {op:<28} {ops2[op]:>5}   (S3/LWA host)")
        lines.append(f"floor: patchListingsItem per SKU would need {args.skus} requests and >= {args.skus / 5:.0f} s "
                     f"at 5/s (burst 5) per push; the feeds used {calls} + {calls2} requests "
                     f"(ratio {(calls + calls2) / (2 * args.skus):.4f} of the per-SKU floor)")
        app.close()
    text = f"# bench_listings {datetime.now().isoformat(timespec='seconds')}\n" + "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
