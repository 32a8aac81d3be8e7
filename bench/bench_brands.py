"""Issue 13 "Measured": 200 brands x 5,000 SKUs x 4 platforms with a year of orders: the time to
build all data links, all dashboards and all six reports for one week, and the data-link request
latency p50/p95 under 50 concurrent readers.

Run: python bench/bench_brands.py [--brands 200] [--skus 5000] [--platforms 4] [--orders-per-day 2000]
                                  [--readers 50] [--requests 1000]

  figure  the brands-links job (three files per brand, one read of the orders for all brands) and the
          brands-weekly job (dashboard HTML + PDF, six XLSX per brand, no mail) on a migrated instance,
          in this process, on a fake clock set to Monday 07:00 Berlin;
  floor   pandas.read_sql of the same aggregates (sales per brand x platform x SKU x day over the
          links' 400 days, and per week over the dashboard's 12 weeks; stock per brand);
  latency GETs of a random brand's sales-history.csv through the real endpoint (a separate process)
          from --readers threads, --requests in all, over loopback.
Orders: --orders-per-day for 365 days, 1-2 lines each on random SKUs of random brands; golive rows
for every SKU x platform (70 % live); settlements for every order not cancelled (fill_payouts;
--no-payouts leaves them out, as the runs before brands13 did).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _common import pct, workdir, write_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLATFORMS = ["amazon-de", "ebay-de", "manomano-fr", "mall-cz", "amazon-fr", "amazon-it"]

SERVER = """
import sys, time
from marketd.sdk import open_app
from marketd.plugins.brands import web
app = open_app(sys.argv[1])
ep = web.Endpoint(app, "127.0.0.1", int(sys.argv[2])).start()
print("ready", flush=True)
time.sleep(3600)
"""


def make_instance(root: Path, brands: int, platforms: list[str]) -> Path:
    table = {f"b{i:03d}": {"name": f"Brand {i}", "sku_prefixes": [f"B{i:03d}-"], "country": "DE", "subdivision": "NW",
                           "platforms": platforms} for i in range(brands)}
    return write_config(root, brands=table, jobs={"brands-links": {"serve": False}})


def fill_payouts(app, rows, rnd) -> int:
    """Settlements for the orders (what report 6, the fees chart and the statement read through
    the ``order_finance`` hook): one payout per platform and 14 days, paid 3 days after; per
    shipped/returned order revenue, a 15 % commission, for a third a fulfilment fee, and for a
    returned one the refund and the commission credit. Written straight into the settlements
    plugin's tables (as the orders and go-live rows are), at its integer (e4) scale."""
    db = app.store.db
    if "payout_lines" not in db.table_names():
        return 0
    epoch = datetime(2024, 1, 1, tzinfo=timezone.utc)
    payouts, refs, lines = {}, [], []
    for key, channel, ctype, oid, status, _cs, at, cur, items in rows:
        if status == "CANCELLED":
            continue
        period = (datetime.fromisoformat(at) - epoch).days // 14
        pk = (channel, period)
        if pk not in payouts:
            paid = epoch + timedelta(days=14 * (period + 1) + 3)
            payouts[pk] = (len(payouts) + 1, f"{ctype}:{channel}-{period}", ctype, channel, f"{channel}-{period}", "EUR",
                           paid.isoformat(), 2)
        pid = payouts[pk][0]
        ref_no = len(refs)
        refs.append((pid, ref_no, oid, key, "order_id"))
        gross = sum(int(round(float(i["unit_price"]) * 100)) * i["quantity"] for i in json.loads(items)) * 100
        fee = -(gross * 15 // 100)
        ls = [("revenue", None, gross), ("marketplace_fee", "commission", fee)]
        if rnd.random() < 0.33:
            ls.append(("marketplace_fee", "fulfilment", -25000))
        if status == "RETURNED":
            ls += [("refund", None, -gross), ("marketplace_fee", "refund_commission", -fee * 8 // 10)]
        lines += [(pid, ref_no, n, c, sub, "EUR", amt) for n, (c, sub, amt) in enumerate(ls)]
    with app.store.transaction() as tx:
        tx.conn.executemany("insert into payouts (pid, payout_key, channel_type, channel, payout_id, currency, paid_at, "
                            "scale) values (?,?,?,?,?,?,?,?)", list(payouts.values()))
        tx.conn.executemany("insert into payout_refs (pid, ref_no, order_ref, order_key, match) values (?,?,?,?,?)",
                            sorted(refs))
        tx.conn.executemany("insert into payout_lines (pid, ref_no, line_no, category, subtype, currency, amount_e4) "
                            "values (?,?,?,?,?,?,?)", sorted(lines))
    return len(lines)


def fill(app, brands: int, skus: int, platforms: list[str], per_day: int, end: datetime,
         with_payouts: bool = True) -> dict:
    rnd = random.Random(42)
    db = app.store.db
    t0 = time.perf_counter()
    with app.store.transaction():
        db["products"].insert_all(({"sku": f"B{b:03d}-{s:05d}", "title": f"Product {b}/{s}", "stock": rnd.randrange(200)}
                                   for b in range(brands) for s in range(skus)), pk="sku", alter=True, batch_size=5000)
    start = end - timedelta(days=365)
    rows = []
    n = 0
    for d in range(365):
        day = start + timedelta(days=d)
        for _ in range(per_day):
            at = day + timedelta(seconds=rnd.randrange(86400))
            items = [{"sku": f"B{rnd.randrange(brands):03d}-{rnd.randrange(skus):05d}", "quantity": rnd.randint(1, 3),
                      "unit_price": f"{rnd.randrange(500, 9900) / 100:.2f}", "currency": "EUR"}
                     for _ in range(rnd.choice((1, 1, 1, 2)))]
            p = rnd.choice(platforms)
            status = rnd.choices(["SHIPPED", "RETURNED", "CANCELLED"], [92, 5, 3])[0]
            rows.append((f"{p}:O{n}", p, p.split("-")[0], f"O{n}", status, status, at.isoformat(), "EUR",
                         json.dumps(items)))
            n += 1
    with app.store.transaction() as tx:
        tx.conn.executemany("insert into orders (key, channel, channel_type, order_id, status, channel_status, "
                            "purchased_at, currency, items) values (?,?,?,?,?,?,?,?,?)", rows)
    n_payout_lines = fill_payouts(app, rows, rnd) if with_payouts else 0
    with app.store.transaction() as tx:
        act0 = end - timedelta(days=200)
        gl = []
        for b in range(brands):
            for s in range(skus):
                for p in platforms:
                    a = act0 + timedelta(hours=rnd.randrange(150 * 24))
                    live = (a + timedelta(days=rnd.randrange(3, 25))).isoformat() if rnd.random() < 0.7 else None
                    gl.append((f"B{b:03d}-{s:05d}", p, f"b{b:03d}", a.isoformat(), live))
        tx.conn.executemany("insert into golive (sku, platform, brand, activated_at, live_at) values (?,?,?,?,?)", gl)
    return {"orders": n, "order_lines": sum(len(json.loads(r[-1])) for r in rows), "golive": len(gl),
            "payout_lines": n_payout_lines,
            "products": brands * skus, "fill_s": time.perf_counter() - t0}


def floor(app, monday, sunday) -> float:
    import pandas as pd

    conn = app.store.db.conn
    t0 = time.perf_counter()
    q = ("select b.brand, o.channel, json_extract(j.value, '$.sku') sku, substr(o.purchased_at, 1, 10) day, "
         "sum(json_extract(j.value, '$.quantity')) units, sum(json_extract(j.value, '$.quantity') * "
         "json_extract(j.value, '$.unit_price')) gross from orders o, json_each(o.items) j join brand_skus b on "
         "b.sku = json_extract(j.value, '$.sku') where o.purchased_at >= ? and o.purchased_at < ? "
         "group by 1, 2, 3, 4")
    pd.read_sql(q, conn, params=[(sunday - timedelta(days=400)).isoformat(), (sunday + timedelta(days=1)).isoformat()])
    pd.read_sql(q.replace("substr(o.purchased_at, 1, 10)", "strftime('%Y-%W', o.purchased_at)"), conn,
                params=[(monday - timedelta(weeks=11)).isoformat(), (sunday + timedelta(days=1)).isoformat()])
    pd.read_sql("select b.brand, p.sku, p.title, p.stock from products p join brand_skus b on b.sku = p.sku", conn)
    pd.read_sql("select brand, platform, activated_at, live_at from golive", conn)
    return time.perf_counter() - t0


def latency(cfg: Path, tokens: list[str], readers: int, requests: int) -> dict:
    import httpx

    from tests.brands.conftest import free_port

    port = free_port()
    srv = subprocess.Popen([sys.executable, "-c", SERVER, str(cfg), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready"
        lat, errors = [], []
        lock = threading.Lock()
        left = [requests]
        sizes = []

        def reader(seed):
            rnd = random.Random(seed)
            with httpx.Client(timeout=60) as c:
                while True:
                    with lock:
                        if left[0] <= 0:
                            return
                        left[0] -= 1
                    t = rnd.choice(tokens)
                    t0 = time.perf_counter()
                    r = c.get(f"http://127.0.0.1:{port}/l/{t}/sales-history.csv")
                    dt = time.perf_counter() - t0
                    with lock:
                        lat.append(dt)
                        sizes.append(len(r.content))
                        if r.status_code != 200:
                            errors.append(r.status_code)

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        srv.kill()
        srv.wait()
    return {"p50_ms": pct(lat, 50) * 1000, "p95_ms": pct(lat, 95) * 1000, "max_ms": max(lat) * 1000,
            "requests": len(lat), "errors": len(errors), "wall_s": wall, "mean_body_kb": sum(sizes) / len(sizes) / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brands", type=int, default=200)
    ap.add_argument("--skus", type=int, default=5000)
    ap.add_argument("--platforms", type=int, default=4)
    ap.add_argument("--orders-per-day", type=int, default=2000)
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--no-payouts", action="store_true", help="no settlements (report 6 and the fees chart empty)")
    args = ap.parse_args()
    from marketd.app import App
    from marketd import config as config_mod
    from marketd.clock import FakeClock
    from marketd.plugins.brands import jobs, links

    os.environ.setdefault("MPLCONFIGDIR", str(workdir("brands-mpl")))
    root = workdir("brands")
    platforms = PLATFORMS[:args.platforms]
    cfg = make_instance(root / "inst", args.brands, platforms)
    now = datetime(2025, 3, 3, 6, 0, tzinfo=timezone.utc)     # Monday 07:00 in Berlin
    app = App(config_mod.load(cfg), clock=FakeClock(now))
    counts = fill(app, args.brands, args.skus, platforms, args.orders_per_day, now, not args.no_payouts)
    t0 = time.perf_counter()
    jobs.refresh_skus(app)
    t_skus = time.perf_counter() - t0
    t0 = time.perf_counter()
    made_links = jobs.links_job(app)
    t_links = time.perf_counter() - t0
    t0 = time.perf_counter()
    made_weekly = jobs.weekly_job(app)
    t_weekly = time.perf_counter() - t0
    from marketd.plugins.brands.weekly import week_bounds

    monday, sunday = week_bounds("2025-W09")
    t_floor = floor(app, datetime.combine(monday, datetime.min.time(), timezone.utc),
                    datetime.combine(sunday, datetime.min.time(), timezone.utc))
    tokens = [links.rotate(app, b) for b in sorted(made_links)]
    app.close()
    lat = latency(cfg, tokens, args.readers, args.requests)
    total = t_skus + t_links + t_weekly
    out = root / "inst/outbox/brands"
    files = sum(1 for _ in out.rglob("*") if _.is_file())
    print(f"brands {args.brands} x {args.skus} SKUs x {len(platforms)} platforms; {counts['orders']:,} orders "
          f"({counts['order_lines']:,} lines) over 365 days; {counts['golive']:,} go-live rows; "
          f"{counts['payout_lines']:,} payout lines (fill {counts['fill_s']:.0f}s)")
    print(f"  figure: build for week 2025-W09: brand_skus {t_skus:.1f}s + links {t_links:.1f}s ({len(made_links)} brands, "
          f"3 files each) + weekly {t_weekly:.1f}s ({len(made_weekly)} brands, {files} files: dashboard html+pdf, "
          f"six xlsx) = {total:.1f}s; {total / max(1, len(made_weekly)):.2f}s per brand")
    print(f"  floor: pandas.read_sql of the same aggregates {t_floor:.1f}s; ratio {total / t_floor:.1f}")
    print(f"  data-link latency, {args.readers} concurrent readers, {lat['requests']} GETs of sales-history.csv "
          f"(mean {lat['mean_body_kb']:.0f} kB): p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, "
          f"max {lat['max_ms']:.0f} ms, errors {lat['errors']}, {lat['requests'] / lat['wall_s']:.0f} req/s")


if __name__ == "__main__":
    main()
