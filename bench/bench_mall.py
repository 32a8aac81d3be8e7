"""MALL order sync against the MALL fake at MALL's limits, on a FakeClock (issue 11 figures).

Run: python bench/bench_mall.py [--orders 2000] [--out bench/results/mall-YYYYMMDD.txt]

In-process (``httpx.WSGITransport``), the fake checking every request and answer against the
hand-written contract (tests/contracts/mall). MALL's limits: a daily quota per endpoint group
(the partner portal's numbers; here ``daily_quota_orders`` = 100,000) and, on our side, 2
requests/s (the client's token bucket; MALL publishes no per-second rate). The orders are a
mix: 80 % still moving (blocked, open, shipping, shipped), 20 % delivered (not listed).

Scenarios:
- **first import**: an empty store; every listed order is new, so one detail GET each.
- **steady, nothing changed**: the next hourly run: the listings only.
- **steady, 5 % changed**: MALL moved 5 % of the orders (shipped, delivered, cancelled).
- **daemon job**: the first import as the daemon runs it, each run stopping after 600 s of
  MALL time (the rest is still "changed" at the next run, an hour later).

Figures: requests (list pages, detail GETs), requests per 1,000 orders, the floor (the fewest
requests that can do it: ceil(listed/100) pages per listed status, at least one each, plus one
GET per new or changed order) and the ratio to it, and the share of the 2/s rate used between
the first and the last call (100 % = every token used; the client never bursts past it).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import marketd.plugins.mall as mall_plugin  # noqa: E402
import marketd.plugins.settlements as settlements_plugin  # noqa: E402
from marketd.clock import FakeClock  # noqa: E402
from marketd.plugins.mall.fake import MallFake  # noqa: E402
from marketd.plugins.mall.mapper import LISTED_STATUSES  # noqa: E402
from marketd.plugins.mall.settings import env_name  # noqa: E402
from marketd.sdk.testing import make_app  # noqa: E402
from tests.fakes.mall_contract import MallContract  # noqa: E402

RATE = 2.0
BURST = 2.0   # the client's bucket holds one second of tokens
STATUSES = {"blocked": 1, "open": 3, "shipping": 2, "shipped": 2, "delivered": 2}


def floor(fake: MallFake, fetched: int, returns: bool = False) -> int:
    """``returns``: the run also lists returned orders (the first run, then once a day)."""
    statuses = (*LISTED_STATUSES, "returned") if returns else LISTED_STATUSES
    listed = [sum(1 for o in fake.orders.values() if o["status"] == st) for st in statuses]
    return sum(max(1, math.ceil(n / 100)) for n in listed) + fetched


def measure(fake: MallFake, clock: FakeClock, run) -> dict:
    j0, t0, s0 = len(fake.journal), clock.monotonic(), clock.sleeps
    wall = time.perf_counter()
    result = run()
    wall = time.perf_counter() - wall
    calls = fake.journal[j0:]
    first = datetime.fromisoformat(calls[0].at) if calls else None
    last = datetime.fromisoformat(calls[-1].at) if calls else None
    span = (last - first).total_seconds() if calls else 0.0
    allowed = RATE * span + BURST if calls else 1
    return {"requests": len(calls), "lists": sum(c.operation == "mall.list_orders" for c in calls),
            "details": sum(c.operation == "mall.get_order" for c in calls), "fake_s": clock.monotonic() - t0,
            "share": len(calls) / allowed, "sleeps": clock.sleeps - s0, "wall_s": wall, "result": result,
            "http_429": sum(c.status == 429 for c in calls)}


def line(name: str, n: int, m: dict, fl: int) -> str:
    return (f"{name:<26} requests {m['requests']:>6} (list pages {m['lists']}, details {m['details']}); "
            f"per 1,000 orders {1000 * m['requests'] / n:8.1f}; floor {fl} (ratio {m['requests'] / max(1, fl):.2f}); "
            f"rate used {100 * m['share']:.1f} % of {RATE:g}/s over {m['fake_s']:.0f} s MALL time; "
            f"429s {m['http_429']}; wall {m['wall_s']:.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    n = args.orders
    out = [f"# python bench/bench_mall.py --orders {n}  ({datetime.now():%Y-%m-%d}; in-process MALL fake with the "
           f"contract checks, FakeClock, client at {RATE:g} requests/s)"]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("one pass", "daemon job"):
            clock = FakeClock()
            fake = MallFake(clock, contract=MallContract(), payment_delay=10 ** 9, delivery_delay=10 ** 9)
            fake.populate(n, statuses=STATUSES)
            os.environ[env_name("bench")] = fake.client_id
            app = make_app(Path(tmp) / scenario.replace(" ", "-"), {"mall": mall_plugin, "settlements": settlements_plugin}, clock=clock, channels={
                "bench": {"type": "mall", "base_url": "https://mpapi.mallgroup.com", "orders_sync": True,
                          "daily_quota_orders": 100_000, "transport": httpx.WSGITransport(app=fake)}})
            ch = app.channel("bench")
            listed = sum(1 for o in fake.orders.values() if o["status"] in LISTED_STATUSES)
            if scenario == "one pass":
                m = measure(fake, clock, lambda: ch.sync_orders(None, deadline=float("inf")))
                out.append(line("first import", n, m, floor(fake, listed, returns=True)))
                failed |= m["result"] != listed or m["share"] > 1.001
                m = measure(fake, clock, lambda: ch.sync_orders(None, deadline=float("inf")))
                out.append(line("steady, nothing changed", n, m, floor(fake, 0)))
                failed |= m["details"] != 0
                moved = 0
                for i, order in enumerate(list(fake.orders.values())):
                    if i % 20 == 0 and order["status"] in ("open", "shipping", "shipped"):
                        fake.mall_update(order["id"], {"open": "cancelled", "shipping": "cancelled",
                                                       "shipped": "delivered"}[order["status"]])
                        moved += 1
                m = measure(fake, clock, lambda: ch.sync_orders(None, deadline=float("inf")))
                out.append(line("steady, 5 % changed", n, m, floor(fake, moved)))
                failed |= m["details"] != moved
                quota = app.store.db.execute("select used from mall_quota where grp = 'orders'").fetchone()[0]
                out.append(f"{'daily quota used':<26} {quota} of 100,000 orders-group calls by these three runs")
            else:
                runs, total = 0, 0
                t0 = clock.monotonic()
                j0 = len(fake.journal)
                while True:
                    runs += 1
                    total += ch.sync_orders(None)
                    if ch.last_sync.get("complete"):
                        break
                    clock.advance(3600)
                out.append(f"{'daemon job (600 s/run)':<26} {runs} hourly run(s) to import {total} of {listed} listed "
                           f"orders; {len(fake.journal) - j0} requests; {(clock.monotonic() - t0) / 3600:.1f} h")
                failed |= total != listed
            failed |= bool(fake.violations or fake.response_violations)
            app.close()
    text = "\n".join(out)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    if failed:
        print("FAILED: a target was missed (every listed order stored, details only for changed orders, "
              "rate never above 2/s, no contract violations)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
