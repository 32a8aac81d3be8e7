"""Issue 3 figures: Amazon order sync of 10,000 orders against the SP-API fake at the official
default rate limits, on a FakeClock.

Run: python bench/bench_order_sync.py [--orders 10000] [--out bench/results/order-sync-DATE.txt]

In-process (``httpx.WSGITransport``), the fake validating every request and response against the
official models when ``shared/specs/amazon`` is there. searchOrders allows 0.0056 requests/s
with a burst of 20 (orders_2026-01-01.json): 10,000 orders at 100 per page are 100 calls, i.e.
about four hours of Amazon time, which the FakeClock runs in seconds. Three scenarios:

- **seeded**: the client starts with the official limits (what marketd ships);
- **cold**: the client's guess is wrong (1 request/s, burst 100) and it must learn from the
  429 and the ``x-amzn-RateLimit-Limit`` header;
- **shared quota**: another application already used the whole burst at the server;
- **daemon job**: how the daemon runs it: the ``amazon-orders`` job every 900 s, each run
  stopping when the next page is more than ``max_wait_seconds`` (30) away and the next run
  continuing from the saved paginationToken (no run ever sleeps for the rate limit).

The first three are one pass each (``max_wait=None``, like ``marketd jobs run`` would with
``max_wait_seconds = -1``).

"Achieved share" is the successful searchOrders calls divided by what the server's bucket
allowed between the first and the last call (burst + rate x elapsed). Busy waiting would show
as many more clock sleeps than requests, or 429s piling up; "sleeps per request" must stay <= 1.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import marketd.plugins.amazon as amazon_plugin  # noqa: E402
import marketd.plugins.settlements as settlements_plugin  # noqa: E402
from marketd.app import App  # noqa: E402
from marketd.clock import FakeClock  # noqa: E402
from marketd.config import default_config  # noqa: E402
from marketd.plugins.amazon.fake import OFFICIAL_LIMITS, Bucket, SpApiFake  # noqa: E402
from marketd.plugins.amazon.settings import env_name  # noqa: E402
from tests.fakes.specs import amazon_contract  # noqa: E402

CREDS = ("amzn1.application-oa2-client.bench", "bench-client-secret", "Atzr|bench-refresh-token")


class Timed:
    """Wraps the fake to measure its own share of the wall time (its jsonschema checks dominate)."""

    def __init__(self, app):
        self.app, self.seconds = app, 0.0

    def __call__(self, environ, start_response):
        t = time.perf_counter()
        try:
            return self.app(environ, start_response)
        finally:
            self.seconds += time.perf_counter() - t


def run(n_orders: int, scenario: str, base: Path) -> dict:
    clock = FakeClock()
    fake = SpApiFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], seed=7,
                     contract=amazon_contract())
    t = time.perf_counter()
    fake.populate(n_orders, days=30)
    gen_s = time.perf_counter() - t
    if scenario == "shared quota":
        b = fake.buckets["searchOrders"] = Bucket(*OFFICIAL_LIMITS["searchOrders"], clock)
        b.tokens = 0.0
    timed = Timed(fake)
    for i, what in enumerate(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN")):
        os.environ[env_name("bench", what)] = CREDS[i]
    settings = {"type": "amazon", "marketplace": "IT", "orders_sync": True, "initial_days": 31,
                "endpoint": "https://sellingpartnerapi-eu.amazon.com",
                "lwa_endpoint": "https://api.amazon.com/auth/o2/token", "transport": httpx.WSGITransport(app=timed)}
    if scenario == "cold":
        settings["limits"] = {"searchOrders": [1.0, 100]}
    cfg = default_config(base / scenario.replace(" ", "-"))
    cfg["channels"]["bench"] = settings
    app = App(cfg, clock=clock, load_entry_points=False, extra_plugins={"amazon": amazon_plugin,
                                                                          "settlements": settlements_plugin})
    channel = app.channel("bench")
    sleeps0, slept0, mono0 = clock.sleeps, clock.slept, clock.monotonic()
    wall = time.perf_counter()
    runs = 1
    if scenario == "daemon job":
        imported = channel.sync_orders(None)
        while channel._state().get("resume_token"):
            clock.advance(900)  # the job interval (the scheduler's wait, not counted as a client sleep)
            imported += channel.sync_orders(None)
            runs += 1
    else:
        imported = channel.sync_orders(None, max_wait=None)
    wall = time.perf_counter() - wall
    calls = fake.calls_of("searchOrders")
    ok = [c for c in calls if c.status == 200]
    first = datetime.fromisoformat(ok[0].at.replace("Z", "+00:00"))
    last = datetime.fromisoformat(ok[-1].at.replace("Z", "+00:00"))
    elapsed = (last - first).total_seconds()
    rate, burst = fake.limits["searchOrders"]
    allowed = min(len(ok), burst) if elapsed == 0 else burst + rate * elapsed
    if scenario == "shared quota":
        allowed = rate * elapsed + 1  # the server's bucket started empty
    stored = app.store.db.execute("select count(*) from orders").fetchone()[0]
    http = channel.api.http
    out = {
        "scenario": scenario, "orders": n_orders, "runs": runs, "imported": imported, "stored": stored,
        "requests": len(fake.calls), "search_requests": len(calls), "search_ok": len(ok),
        "http_429": fake.count(status=429), "lwa": fake.count("lwa.token"),
        "fake_elapsed_s": clock.monotonic() - mono0, "first_to_last_s": elapsed, "allowed": allowed,
        "share": len(ok) / allowed if allowed else 1.0,
        "sleeps": clock.sleeps - sleeps0, "slept_s": clock.slept - slept0, "client_requests": http.requests,
        "wall_s": wall, "gen_s": gen_s, "fake_s": timed.seconds, "validated": fake.contract is not None,
        "violations": len(fake.violations) + len(fake.response_violations) if fake.contract is not None else 0,
    }
    channel.close()
    app.close()
    return out


def fmt(r: dict) -> str:
    return "\n".join([
        f"scenario: {r['scenario']} ({r['orders']} orders; {r['runs']} run(s) of the sync; contract validation "
        f"{'on' if r['validated'] else 'OFF'})",
        f"  imported / in store          {r['imported']} / {r['stored']}",
        f"  HTTP requests                {r['requests']} (searchOrders {r['search_requests']}, of which 200: "
        f"{r['search_ok']}; LWA {r['lwa']})",
        f"  429 received                 {r['http_429']}",
        f"  achieved share of allowed    {100 * r['share']:.2f} %  ({r['search_ok']} calls / {r['allowed']:.2f} allowed "
        f"in {r['first_to_last_s']:.0f} s between first and last call)",
        f"  fake-clock time              {r['fake_elapsed_s']:.0f} s = {r['fake_elapsed_s'] / 3600:.2f} h; "
        f"slept {r['slept_s']:.0f} s in {r['sleeps']} sleeps",
        f"  sleeps per request           {r['sleeps'] / max(1, r['client_requests']):.2f} "
        f"({r['sleeps']} sleeps, {r['client_requests']} client requests): no busy waiting",
        f"  wall time                    {r['wall_s']:.2f} s (+ {r['gen_s']:.2f} s generating the orders); "
        f"speed-up {r['fake_elapsed_s'] / r['wall_s']:.0f}x",
        f"    of which the fake          {r['fake_s']:.2f} s (its request/response validation against the models)",
        f"    marketd share              {r['wall_s'] - r['fake_s']:.2f} s = "
        f"{1000 * (r['wall_s'] - r['fake_s']) / max(1, r['stored']):.2f} ms per order (map, compare, upsert, event)",
        f"  contract violations          {r['violations']}",
    ])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    lines = [f"# python bench/bench_order_sync.py --orders {args.orders}  ({datetime.now():%Y-%m-%d}; in-process "
             "SP-API fake at the official default limits, FakeClock)"]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("seeded", "cold", "shared quota", "daemon job"):
            r = run(args.orders, scenario, Path(tmp))
            text = fmt(r)
            print(text, flush=True)
            lines.append(text)
            if r["stored"] != args.orders or r["share"] < 0.90 or r["sleeps"] > r["client_requests"] or r["violations"] \
                    or (scenario == "daemon job" and r["sleeps"]):
                failed = True
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    if failed:
        print("FAILED: a target was missed (all orders stored, share >= 90 %, sleeps <= requests, no violations)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
