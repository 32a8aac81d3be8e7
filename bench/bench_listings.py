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
    w.writerow(["sku", "brand", "category", "ean", "title_de", "description_de", "bullet_1_de", "color", "image_1",
                "price", "stock"])
    for i in range(n):
        w.writerow([f"S{i:06d}", "ACME", "Koffer", ean(i), f"Koffer Hartschale 55 cm Blau {i}", "Leichter Koffer",
                    "Leicht", "Blau",
                    f"https://img.example/s{i}.jpg", "129.90", "5"])
    return buf.getvalue()


def timed(obj, name: str, box: list) -> None:
    """Wrap ``obj.name`` so the seconds spent inside it add up in ``box[0]`` (the fake's own work)."""
    inner = getattr(obj, name)

    def wrapper(*a, **kw):
        t = time.perf_counter()
        try:
            return inner(*a, **kw)
        finally:
            box[0] += time.perf_counter() - t
    setattr(obj, name, wrapper)


def timed_app(app, box: list):
    """A WSGI app that adds the seconds ``app`` spends answering to ``box[0]``."""
    def wrapper(environ, start_response):
        t = time.perf_counter()
        try:
            return list(app(environ, start_response))   # the body is made while it is iterated
        finally:
            box[0] += time.perf_counter() - t
    return wrapper


MALL_MODEL = ('[model]\nplatform = "mall"\nname = "EG115"\nversion = "1"\n'
              '[attributes.title]\nrequired = true\nper_locale = true\n'
              '[attributes.longdesc]\nrequired = true\nper_locale = true\nfrom = "description"\n'
              '[attributes.shortdesc]\nper_locale = true\nfrom = "bullet_1"\n'
              '[attributes.barcode]\nfrom = "ean"\n[attributes.image_1]\nrequired = true\n'
              '[attributes.barva]\nfrom = "color"\n')


def bench_mall(n: int) -> list[str]:
    """MALL: products (one POST each: MPAPI has no batch for articles), then stock for every SKU
    and a new price for a tenth of them after a pull (batch availability of 100; one pricing PUT
    per changed price), counted per MALL quota group. Floor: one call per article for content,
    N/100 availability calls + one per changed price."""
    import marketd.plugins.mall as mall_plugin
    from marketd.plugins.mall.fake import MallFake
    from marketd.plugins.mall.settings import env_name as mall_env

    clock = FakeClock()
    fake = MallFake(clock, client_id="mall-bench", review_delay=60)
    os.environ[mall_env("mall")] = "mall-bench"
    fake_time = [0.0]
    with tempfile.TemporaryDirectory() as tmp:
        app = _world(Path(tmp), {"mall_cz": {"type": "file", "folder": "mall", "locales": ["de_DE"], "marketplace": "CZ",
                                             "channel": "mall", "gpsr": False}},
                     {"mall": {"type": "mall", "base_url": "https://mpapi.mallgroup.com", "requests_per_second": 1000, "vat": "21",
                               "transport": httpx.WSGITransport(app=timed_app(fake, fake_time))}},
                     {"mall": mall_plugin}, clock)
        models = Path(tmp) / "inst" / "models"
        (models / "mall").mkdir()
        (models / "mall" / "EG115.toml").write_text(MALL_MODEL)
        (models / "mapping.toml").write_text('[categories."Koffer"]\nmall = "EG115"\n')
        _drop_and_price(app, Path(tmp), n, "1299.00")
        t = time.perf_counter()
        run_job(app, "listings-push")
        wall, calls, f1 = time.perf_counter() - t, len(fake.journal), fake_time[0]
        clock.advance(61)
        t = time.perf_counter()
        run_job(app, "listings-pull")
        wall_pull, pulled = time.perf_counter() - t, len(fake.journal) - calls
        with app.store.transaction() as tx:
            for i in range(n):
                tx["products"].upsert({"sku": f"S{i:06d}", "price": "1199.00" if i % 10 == 0 else "1299.00",
                                       "currency": "CZK", "stock": 3}, pk="sku")
        before = len(fake.journal)
        t = time.perf_counter()
        run_job(app, "listings-push")
        wall2 = time.perf_counter() - t
        ops: dict[str, int] = {}
        for c in fake.journal[before:]:
            ops[c.operation] = ops.get(c.operation, 0) + 1
        ok = app.store.db.execute("select kind, count(*) from listing_pushes where state = 'accepted' group by kind"
                                  ).fetchall()
        groups: dict[str, int] = {}
        for (g, _day), used in fake.used.items():
            groups[g] = groups.get(g, 0) + used
        app.close()
    changed = len(range(0, n, 10))
    floor2 = -(-n // 100) + changed
    return [f"MALL ({n} SKUs): content {calls} requests ({calls / n:.2f} per SKU: create_product; floor 1 per article, "
            f"MPAPI has no batch for articles), {wall:.1f} s wall (fake {f1:.1f} s); pull {pulled} list_products pages "
            f"of 100 ({wall_pull:.1f} s wall); price/stock {sum(ops.values())} requests "
            f"({', '.join(f'{k} {v}' for k, v in sorted(ops.items()))}) for {n} stock changes and {changed} price "
            f"changes, floor {floor2} (ratio {sum(ops.values()) / floor2:.2f}), {wall2:.1f} s wall; accepted "
            f"{dict(ok)}; calls per MALL quota group {dict(sorted(groups.items()))}"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skus", type=int, default=10000)
    ap.add_argument("--ebay-skus", type=int, default=2000)
    ap.add_argument("--manomano-skus", type=int, default=10000)
    ap.add_argument("--only", default="amazon,ebay,manomano,mall",
                    help="comma-separated: which channels to measure (default: all)")
    ap.add_argument("--mall-skus", type=int, default=10000)
    ap.add_argument("--out")
    args = ap.parse_args()
    only = set(args.only.split(","))
    lines: list[str] = []
    if "amazon" in only:
        clock = FakeClock()
        fake = SpApiFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                         marketplace_id="A1PA6795UKMFR9")
        for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
            os.environ[env_name("amz", what)] = value
        fake_time = [0.0]
        timed(fake, "_process_feed", fake_time)
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

            fake_time[0] = 0.0
            wall, amazon_s, calls = push_until_done("content")
            fake_content = fake_time[0]
            accepted = app.store.db.execute("select count(*) from listing_pushes where kind='content' and state='accepted'").fetchone()[0]
            lines.append(f"content check of {args.skus} SKUs (drop + model fetch + re-check): {t_check:.1f} s wall")
            lines.append(f"content push: {accepted}/{args.skus} accepted in {calls} requests, {wall:.1f} s wall "
                         f"(of which the fake validating the feed: {fake_content:.1f} s), {amazon_s:.0f} s Amazon time "
                         "(fake clock)")
            ops: dict = {}
            for c in fake.journal:
                ops[c.operation] = ops.get(c.operation, 0) + 1
            with app.store.transaction() as tx:
                for i in range(args.skus):
                    tx["products"].upsert({"sku": f"S{i:06d}", "price": "119.90", "currency": "EUR", "stock": 3}, pk="sku")
            fake_time[0] = 0.0
            wall2, amazon2, calls2 = push_until_done("offer")
            lines.append(f"price/stock push: {args.skus} SKUs in {calls2} requests, {wall2:.1f} s wall (fake: "
                         f"{fake_time[0]:.1f} s), {amazon2:.0f} s Amazon time")
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
    if "ebay" in only:
        lines += bench_ebay(args.ebay_skus)
    if "manomano" in only:
        lines += bench_manomano(args.manomano_skus)
    if "mall" in only:
        lines += bench_mall(args.mall_skus)
    text = f"# bench_listings {datetime.now().isoformat(timespec='seconds')}\n" + "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


def _world(tmp: Path, platforms: dict, channels: dict, plugins: dict, clock):
    root = tmp / "inst"
    models = root / "models"
    models.mkdir(parents=True)
    (models / "mapping.toml").write_text('[categories."Koffer"]\nebay_de = "11700"\nmanomano = "suitcases"\n'
                                         '[aspects.EBAY_DE]\nbrand = "Marke"\n')
    (models / "manomano").mkdir()
    (models / "manomano" / "suitcases.toml").write_text(
        '[model]\nplatform = "manomano"\nname = "suitcases"\nversion = "1"\n[attributes.title]\nrequired = true\n'
        'per_locale = true\n')
    eb = models / "ebay" / "EBAY_DE"
    (eb / "77").mkdir(parents=True)
    (eb / "tree.json").write_text('{"categoryTreeId": "77", "categoryTreeVersion": "129"}')
    (eb / "77" / "11700.aspects.json").write_text('{"aspects": [{"localizedAspectName": "Marke", '
                                                  '"aspectConstraint": {"aspectRequired": true}}]}')
    allow = {name: ["ACME"] for name in platforms}
    inbox = {"content": {"locales": ["de_DE"], "models_dir": str(models), "watch": "poll", "xlsx": False,
                         "html": False, "images": {"download": False}, "platforms": platforms,
                         "listings": {"allow": allow}}}
    return make_app(root, {"content": content_plugin, "settlements": settlements_plugin, "catalog": catalog_plugin,
                           **plugins}, inbox=inbox, channels=channels, clock=clock)


def _drop_and_price(app, tmp: Path, n: int, price: str) -> None:
    src = tmp / "content.csv"
    src.write_text(content_file(n).replace("129.90", price), encoding="utf-8")
    process_file(app, "content", src)


def bench_ebay(n: int) -> list[str]:
    """eBay: content in bulk calls of 25 (items, offers, publish), then price/stock in bulk calls of
    25; calls counted against the daily Inventory limit (2,000,000). The floor of the per-SKU way
    is 3 calls per new SKU (createOrReplaceInventoryItem, createOffer, publishOffer)."""
    import marketd.plugins.ebay as ebay_plugin
    from marketd.plugins.ebay.fake import SCOPE_FINANCES, SCOPE_FULFILLMENT, SCOPE_INVENTORY, EbayFake
    from marketd.plugins.ebay.settings import env_name as ebay_env

    clock = FakeClock()
    creds = ("Bench-PRD-1", "PRD-bench", "v^1.1#bench")
    fake = EbayFake(clock, client_id=creds[0], client_secret=creds[1], refresh_token=creds[2], marketplace="EBAY_DE",
                    granted_scopes=(SCOPE_FULFILLMENT, SCOPE_FINANCES, SCOPE_INVENTORY))
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), creds):
        os.environ[ebay_env("shop", what)] = value
    fake_time = [0.0]
    with tempfile.TemporaryDirectory() as tmp:
        app = _world(Path(tmp), {"ebay_de": {"type": "ebay", "marketplace": "EBAY_DE", "locales": ["de_DE"],
                                             "channel": "shop", "gpsr": False}},
                     {"shop": {"type": "ebay", "marketplace": "EBAY_DE", "listings": True, "endpoint": "https://api.ebay.com",
                               "merchant_location_key": "L", "fulfillment_policy_id": "F", "payment_policy_id": "P",
                               "return_policy_id": "R", "transport": httpx.WSGITransport(app=timed_app(fake, fake_time))}},
                     {"ebay": ebay_plugin}, clock)
        _drop_and_price(app, Path(tmp), n, "59.90")
        t = time.perf_counter()
        run_job(app, "listings-push")
        wall, fake1 = time.perf_counter() - t, fake_time[0]
        ops1: dict[str, int] = {}
        for c in fake.journal:
            if c.operation != "oauth.token":
                ops1[c.operation] = ops1.get(c.operation, 0) + 1
        calls = sum(ops1.values())
        with app.store.transaction() as tx:
            for i in range(n):
                tx["products"].upsert({"sku": f"S{i:06d}", "price": "49.90", "currency": "EUR", "stock": 3}, pk="sku")
        before = len(fake.journal)
        t = time.perf_counter()
        run_job(app, "listings-push")
        wall2, calls2 = time.perf_counter() - t, len(fake.journal) - before
        ok = app.store.db.execute("select count(*) from listing_pushes where state = 'accepted'").fetchone()[0]
        app.close()
    day = calls / n * 10000 + 10000 / 25
    return [f"eBay ({n} SKUs): content {calls} requests = {calls / n:.3f} per SKU "
            f"({', '.join(f'{op} {k}' for op, k in sorted(ops1.items()))}), {wall:.1f} s wall (fake {fake1:.2f} s); "
            f"floor of the per-SKU way 3 per new SKU = {3 * n} requests (ratio {calls / (3 * n):.4f}); "
            f"price/stock {calls2} bulkUpdatePriceQuantity calls of <= 25 ({wall2:.1f} s wall); {ok} pushes accepted; "
            f"10,000 SKUs would use {day:.0f} of the 2,000,000 Inventory calls a day ({day / 20000:.3f} %)"]


def bench_manomano(n: int) -> list[str]:
    """ManoMano: price/stock of N SKUs, 100 per PATCH, against the key's 250 requests per hour."""
    import marketd.plugins.manomano as manomano_plugin
    from marketd.plugins.manomano.fake import ManoManoFake
    from marketd.plugins.manomano.settings import env_name as mm_env

    clock = FakeClock()
    key = "mm-bench-key"
    fake = ManoManoFake(clock, keys={key: [1001]})
    os.environ[mm_env("mm")] = key
    for i in range(n):
        fake.offers[(1001, f"S{i:06d}")] = {"sku": f"S{i:06d}", "seller_contract_id": 1001, "title": f"Koffer {i}",
                                           "status": "ONLINE", "price": __import__("decimal").Decimal("10"), "stock": 1}
    with tempfile.TemporaryDirectory() as tmp:
        app = _world(Path(tmp), {"manomano_de": {"type": "file", "folder": "manomano", "locales": ["de_DE"],
                                                 "marketplace": "DE", "channel": "mm", "gpsr": False}},
                     {"mm": {"type": "manomano", "contract_id": 1001, "endpoint": "https://partnersapi.manomano.com",
                             "max_wait_seconds": -1, "transport": httpx.WSGITransport(app=fake)}},
                     {"manomano": manomano_plugin}, clock)
        _drop_and_price(app, Path(tmp), n, "24.90")
        with app.store.transaction() as tx:
            for i in range(n):
                tx["products"].upsert({"sku": f"S{i:06d}", "price": "24.90", "currency": "EUR", "stock": 3}, pk="sku")
        t0, m0 = time.perf_counter(), clock.monotonic()
        run_job(app, "listings-pull")
        pulled = len(fake.journal)
        run_job(app, "listings-push")
        wall, hours = time.perf_counter() - t0, (clock.monotonic() - m0) / 3600
        ok = app.store.db.execute("select count(*) from listing_pushes where state = 'accepted'").fetchone()[0]
        app.close()
    return [f"ManoMano ({n} SKUs): pull {pulled} listOffers + push {len(fake.journal) - pulled} PATCHes of <= 100 = "
            f"{len(fake.journal)} requests against 250 per hour per key; {ok} accepted; {hours:.2f} h of ManoMano time "
            f"(fake clock), {wall:.1f} s wall"]


if __name__ == "__main__":
    main()
