"""ManoMano order sync against the fake Partners API at its documented limit (250 requests per
hour per API key, counted by the fake over a sliding hour), on a FakeClock.

Run: python bench/bench_manomano.py [--orders 10000] [--out bench/results/manomano-DATE.txt]

In-process (``httpx.WSGITransport``); the fake checks every request and answer against the
hand-written contract (tests/contracts/manomano). Scenarios:

- **one pass**: the first import of ``--orders`` orders spread over 30 days, one contract, one
  ``sync_orders`` call that waits for the rate limit as long as needed (``max_wait=None``);
- **daemon job**: the same as the daemon runs it: the ``manomano-orders`` job every 900 s, each
  run stopping when the next page is more than ``max_wait_seconds`` (30) away;
- **four contracts**: four accounts (FR, IT, ES, DE) on one key, ``--orders`` / 4 each, the job
  every 900 s: they share the key's one budget;
- **steady day**: after the import, 24 h of 15-minute runs with 300 new orders that day.

Figures: requests per 1,000 orders (floor: one page of 100 per 100 orders = 10), the busiest
sliding hour as a share of the 250 allowed (order sync may use 70 % of it; the rest is kept for
tracking pushes and accepts), 429s received (target 0), fake-clock hours, wall time.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import marketd.plugins.manomano as manomano_plugin  # noqa: E402
import marketd.plugins.settlements as settlements_plugin  # noqa: E402
from marketd.plugins.manomano.fake import ManoManoFake  # noqa: E402
from marketd.plugins.manomano.settings import env_name  # noqa: E402
from marketd.sdk import FakeClock  # noqa: E402
from marketd.sdk.testing import make_app  # noqa: E402
from tests.fakes.manomano_contract import ManoManoContract  # noqa: E402

KEY = "mm-bench-api-key-0123456789"
PER_HOUR = 250
SYNC_SHARE = 0.7
CONTRACTS = {"mm-fr": 1001, "mm-it": 1002, "mm-es": 1003, "mm-de": 1004}


def busiest_hour(times: list[float]) -> int:
    window, best = deque(), 0
    for t in sorted(times):
        window.append(t)
        while window[0] <= t - 3600:
            window.popleft()
        best = max(best, len(window))
    return best


def world(base: Path, accounts: list[str], validate: bool):
    clock = FakeClock()
    fake = ManoManoFake(clock, keys={KEY: list(CONTRACTS.values())}, contract=ManoManoContract() if validate else None)
    channels = {}
    for name in accounts:
        os.environ[env_name(name)] = KEY
        channels[name] = {"type": "manomano", "contract_id": CONTRACTS[name], "orders_sync": True,
                          "initial_days": 31, "transport": httpx.WSGITransport(app=fake)}
    app = make_app(base, {"manomano": manomano_plugin, "settlements": settlements_plugin}, clock=clock,
                   channels=channels)
    return clock, fake, app


def run(scenario: str, n_orders: int, base: Path, validate: bool) -> dict:
    accounts = list(CONTRACTS) if scenario == "four contracts" else ["mm-fr"]
    clock, fake, app = world(base / scenario.replace(" ", "-"), accounts, validate)
    t = time.perf_counter()
    for name in accounts:
        fake.populate(n_orders // len(accounts), days=30, contract=CONTRACTS[name],
                      statuses={"PREPARATION": 0.7, "SHIPPED": 0.3})
    gen_s = time.perf_counter() - t
    channels = [app.channel(name) for name in accounts]
    mono0, slept0 = clock.monotonic(), clock.slept
    wall = time.perf_counter()
    runs = 0
    counted_orders = n_orders
    day_requests = 0
    if scenario == "one pass":
        channels[0].sync_orders(None, max_wait=None)
        runs = 1
    else:
        while True:
            runs += 1
            for ch in channels:
                ch.sync_orders(None)
            if all(ch.last_sync["complete"] for ch in channels):
                break
            clock.advance(900)
        if scenario == "steady day":
            before = fake.count("listOrders")
            for i in range(96):
                clock.advance(900)
                for _ in range(3 if i % 8 else 6):  # ~300 new orders over the day
                    fake.add_order(status="PENDING", contract=CONTRACTS["mm-fr"],
                                   created_at=clock.now() - timedelta(minutes=5))
                channels[0].sync_orders(None)
                runs += 1
            day_requests = fake.count("listOrders") - before
            counted_orders = sum(1 for o in fake.orders.values()) - n_orders
    wall = time.perf_counter() - wall
    calls = fake.calls_of("listOrders")
    import_requests = len(calls) - (day_requests if scenario == "steady day" else 0)
    ok = [datetime.fromisoformat(c.at).timestamp() for c in calls if c.status == 200]
    stored = app.store.db.execute("select count(*) from orders").fetchone()[0]
    out = {
        "scenario": scenario, "orders": n_orders, "accounts": len(accounts), "runs": runs, "stored": stored,
        "requests": import_requests, "http_429": fake.count(status=429), "busiest_hour": busiest_hour(ok),
        "fake_h": (clock.monotonic() - mono0) / 3600, "slept_h": (clock.slept - slept0) / 3600, "wall_s": wall,
        "gen_s": gen_s, "validated": validate,
        "violations": len(fake.violations) + len(fake.response_violations) if validate else 0,
    }
    if scenario == "steady day":
        out.update(day_requests=day_requests, day_orders=counted_orders)
    for ch in channels:
        ch.close()
    app.close()
    return out


def fmt(r: dict) -> str:
    per_1000 = 1000 * r["requests"] / max(1, r["orders"])
    lines = [
        f"scenario: {r['scenario']} ({r['orders']} orders, {r['accounts']} account(s) on one key, {r['runs']} run(s); "
        f"contract checks {'on' if r['validated'] else 'OFF'})",
        f"  stored                        {r['stored']}",
        f"  listOrders requests (import)  {r['requests']}  = {per_1000:.1f} per 1,000 orders "
        f"(floor 10.0: pages of 100; ratio {per_1000 / 10:.2f})",
        f"  busiest sliding hour          {r['busiest_hour']} requests = {100 * r['busiest_hour'] / PER_HOUR:.0f} % "
        f"of the {PER_HOUR} allowed (order sync's share: {100 * SYNC_SHARE:.0f} %)",
        f"  429 received                  {r['http_429']}",
        f"  fake-clock time               {r['fake_h']:.2f} h (of which the client slept {r['slept_h']:.2f} h)",
        f"  wall time                     {r['wall_s']:.2f} s (+ {r['gen_s']:.2f} s generating orders)",
        f"  contract violations           {r['violations']}",
    ]
    if "day_requests" in r:
        lines.insert(3, f"  steady day                    {r['day_requests']} requests for {r['day_orders']} new "
                        f"orders in 96 runs = {r['day_requests'] / 24:.1f} per hour "
                        f"({100 * r['day_requests'] / 24 / PER_HOUR:.1f} % of the allowed rate)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--no-validate", action="store_true", help="skip the fake's contract checks (faster)")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    lines = [f"# python bench/bench_manomano.py --orders {args.orders}  ({datetime.now():%Y-%m-%d}; in-process "
             "ManoMano fake, 250 requests/hour/key, FakeClock)"]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("one pass", "daemon job", "four contracts", "steady day"):
            r = run(scenario, args.orders, Path(tmp), not args.no_validate)
            text = fmt(r)
            print(text, flush=True)
            lines.append(text)
            expected = args.orders + (r.get("day_orders") or 0)
            if r["stored"] != expected or r["http_429"] or r["violations"] or r["busiest_hour"] > PER_HOUR * SYNC_SHARE:
                failed = True
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    if failed:
        print("FAILED: a target was missed (all orders stored, no 429, no violation, busiest hour <= 70 % of 250)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
