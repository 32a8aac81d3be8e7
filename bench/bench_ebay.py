"""eBay figures (issue 11): order sync against the fake eBay at eBay's documented limits, on a
FakeClock; and (phase 2) the Seller Hub Transaction report of 200,000 rows.

Run: python bench/bench_ebay.py [--orders 10000] [--no-contract] [--out bench/results/ebay-DATE.txt]

In-process (``httpx.WSGITransport``), the fake validating every request and answer against the
OpenAPI files when ``shared/specs/ebay`` is there. The limits: Fulfillment ``order`` resources
100,000 calls a day per application (research api-contracts §2.2; enforced by the fake, counted
by the client), and the client's own bucket of 5 requests/s with a burst of 10 per operation
(eBay publishes no per-second limit for these APIs). Scenarios:

- **initial import**: N orders of the last 30 days in one pass (limit 200, offset paging);
- **changing while paged**: the same, one order of the first page changed while that page is
  read (the shrinking window is read again, nothing is skipped): the price in requests;
- **steady day**: a day of the ``ebay-orders`` job every 900 s, N/10 new orders and N/30 changed
  ones spread over the day: requests per 1,000 new-or-changed orders and the share of the daily
  limit a day of syncing uses.

"Share of the bucket" is the getOrders calls after the burst divided by what 5/s allows over
the pass's elapsed fake time; the floor is the arithmetic minimum (ceil(N/200) calls).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import marketd.plugins.ebay as ebay_plugin  # noqa: E402
import marketd.plugins.settlements as settlements_plugin  # noqa: E402
from marketd.app import App  # noqa: E402
from marketd.clock import FakeClock  # noqa: E402
from marketd.config import default_config  # noqa: E402
from marketd.plugins.ebay.fake import EbayFake  # noqa: E402
from marketd.plugins.ebay.settings import env_name  # noqa: E402
from tests.fakes.ebay_specs import ebay_contract  # noqa: E402

CREDS = ("Bench-Marketd-PRD-000000000", "PRD-bench-cert", "v^1.1#i^1#bench-refresh")
DAILY = 100_000
RATE, BURST = 5.0, 10


class Timed:
    """Wraps the fake to measure its own share of the wall time (its schema checks dominate)."""

    def __init__(self, app):
        self.app, self.seconds = app, 0.0

    def __call__(self, environ, start_response):
        t = time.perf_counter()
        try:
            return self.app(environ, start_response)
        finally:
            self.seconds += time.perf_counter() - t


def make(n: int, base: Path, contract: bool, scenario: str):
    clock = FakeClock()
    fake = EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], seed=7,
                    contract=ebay_contract() if contract else None)
    t = time.perf_counter()
    orders = fake.populate(n, days=30)
    gen = time.perf_counter() - t
    timed = Timed(fake)
    for i, what in enumerate(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN")):
        os.environ[env_name("bench", what)] = CREDS[i]
    cfg = default_config(base / scenario.replace(" ", "-"))
    cfg["channels"]["bench"] = {"type": "ebay", "orders_sync": True, "initial_days": 31,
                                "transport": httpx.WSGITransport(app=timed)}
    app = App(cfg, clock=clock, load_entry_points=False, extra_plugins={"ebay": ebay_plugin, "settlements": settlements_plugin})
    return clock, fake, timed, app, orders, gen


def one_pass(n: int, base: Path, contract: bool, changing: bool) -> dict:
    scenario = "changing while paged" if changing else "initial import"
    clock, fake, timed, app, orders, gen = make(n, base, contract, scenario)
    if changing:
        seen = {"k": 0}

        def change(offset):
            if offset == 0 and seen["k"] < 1:  # the first page of the first reading
                fake.touch(orders[seen["k"]]["orderId"])
                seen["k"] += 1
        fake.on_orders_page = change
    ch = app.channel("bench")
    mono0, sleeps0 = clock.monotonic(), clock.sleeps
    wall = time.perf_counter()
    imported = ch.sync_orders(None, max_wait=None)
    wall = time.perf_counter() - wall
    calls = fake.calls_of("getOrders")
    elapsed = clock.monotonic() - mono0
    stored = app.store.db.execute("select count(*) from orders").fetchone()[0]
    allowed_after_burst = RATE * elapsed
    out = {"scenario": scenario, "orders": n, "stored": stored, "imported": imported, "get_orders": len(calls),
           "oauth": fake.count("oauth.token"), "passes": ch.last_sync["passes"],
           "per_1000": 1000 * len(calls) / n, "floor": math.ceil(n / 200), "elapsed_s": elapsed,
           "bucket_share": (len(calls) - BURST) / allowed_after_burst if allowed_after_burst > 0 else 1.0,
           "daily_share": len(calls) / DAILY, "sleeps": clock.sleeps - sleeps0, "wall_s": wall, "gen_s": gen,
           "fake_s": timed.seconds, "validated": fake.contract is not None,
           "violations": (len(fake.violations) + len(fake.response_violations)) if fake.contract is not None else 0}
    ch.close()
    app.close()
    return out


def steady_day(n: int, base: Path, contract: bool) -> dict:
    clock, fake, timed, app, orders, gen = make(n, base, contract, "steady day")
    ch = app.channel("bench")
    ch.sync_orders(None, max_wait=None)
    before = fake.count("getOrders")
    runs, new_per_run, changed_per_run = 96, max(1, n // 10 // 96), max(1, n // 30 // 96)
    touched = 0
    ids = list(fake.orders)
    wall = time.perf_counter()
    changed_total = 0
    for r in range(runs):
        clock.advance(900)
        fake.new_orders(new_per_run)
        for k in range(changed_per_run):
            fake.touch(ids[(touched + k) % len(ids)], orderFulfillmentStatus="FULFILLED")
        touched += changed_per_run
        changed_total += ch.sync_orders(None, max_wait=None)
    wall = time.perf_counter() - wall
    calls = fake.count("getOrders") - before
    out = {"scenario": "steady day", "orders": n, "runs": runs, "new_or_changed": changed_total,
           "get_orders": calls, "per_1000": 1000 * calls / max(changed_total, 1), "daily_share": calls / DAILY,
           "oauth": fake.count("oauth.token"), "wall_s": wall, "validated": fake.contract is not None,
           "violations": (len(fake.violations) + len(fake.response_violations)) if fake.contract is not None else 0}
    ch.close()
    app.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--no-contract", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="marketd-bench-ebay-"))
    contract = not args.no_contract
    lines = [f"eBay order sync against the fake eBay: {args.orders} orders, limit 200 per page, daily limit "
             f"{DAILY:,} order calls, client bucket {RATE:g}/s burst {BURST}; contract checks "
             f"{'on' if contract and ebay_contract() else 'off'}"]
    for res in (one_pass(args.orders, base, contract, False), one_pass(args.orders, base, contract, True)):
        lines.append(
            f"{res['scenario']:>22}: {res['stored']} stored, {res['get_orders']} getOrders in {res['passes']} "
            f"reading(s) + {res['oauth']} token; {res['per_1000']:.2f} requests per 1,000 orders (floor "
            f"{1000 * res['floor'] / args.orders:.2f}); {res['elapsed_s']:.1f} s of eBay time, "
            f"{100 * res['bucket_share']:.0f}% of the 5/s bucket after the burst, "
            f"{100 * res['daily_share']:.3f}% of the daily limit; {res['sleeps']} clock sleeps; wall "
            f"{res['wall_s']:.1f} s (fake {res['fake_s']:.1f} s, generating {res['gen_s']:.1f} s); "
            f"violations {res['violations']}")
    day = steady_day(args.orders, base, contract)
    lines.append(
        f"{day['scenario']:>22}: {day['runs']} runs, {day['new_or_changed']} orders new or changed, "
        f"{day['get_orders']} getOrders = {day['per_1000']:.2f} per 1,000 (floor: one call per run, "
        f"{1000 * day['runs'] / max(day['new_or_changed'], 1):.2f}); {100 * day['daily_share']:.3f}% of the daily "
        f"limit; {day['oauth']} token calls in the day; wall {day['wall_s']:.1f} s; violations {day['violations']}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
