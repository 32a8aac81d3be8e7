"""Issue 4 figures: a 1,000-shipment file through BRT (fake), and tracking sync of 10,000 open
shipments until delivered.

Run: python bench/bench_shipments.py [--shipments 1000] [--open 10000] [--delay 10800]

In-process against the BRT fake (``httpx.WSGITransport``): the figures are marketd's own cost
plus the fake's (label PDFs are really made with fpdf2 by the fake, one per parcel). Time in the
tracking part is a FakeClock moved 5 minutes per round, so a day of polling runs in seconds;
wall time is measured with ``perf_counter``.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketd.app import App  # noqa: E402
from marketd.clock import FakeClock  # noqa: E402
from marketd.config import default_config  # noqa: E402
from marketd.inbox import InboxEngine  # noqa: E402
from marketd.plugins.shipments.tracking import tracking_sync  # noqa: E402
from tests.fakes.brt import BrtFake  # noqa: E402

SENDER = {"name": "Negozio Srl", "street": "Via Milano 5", "postal_code": "20100", "city": "Milano",
          "province": "MI", "country": "IT"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Channel:
    """A channel that accepts every confirmation (counts them)."""

    type = "bench"
    calls = 0

    def __init__(self, app, name, settings):
        from marketd.models import Capabilities

        self.name = name
        self.capabilities = Capabilities(confirm_shipment=True)

    def confirm_shipment(self, order_id, package):
        Channel.calls += 1
        return {"ok": True}


class BenchPlugin:
    from marketd.hookspecs import hookimpl

    @hookimpl
    def register_channels(self, register):
        register("bench", Channel)


def make_app(root: Path, fake: BrtFake, clock: FakeClock) -> App:
    import marketd.plugins.brt as brt
    import marketd.plugins.shipments as shipments

    cfg = default_config(root)
    cfg["carriers"] = {"brt": {"type": "brt", "base_url": "http://brt.test/rest/v1", "user_id": fake.user_id,
                               "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                               "requests_per_second": 1_000_000, "transport": httpx.WSGITransport(app=fake)}}
    cfg["channels"] = {"amazon-it": {"type": "bench"}}
    cfg["inbox"]["shipments"] = dict(cfg["inbox"]["defaults"])
    return App(cfg, clock=clock, load_entry_points=False,
               extra_plugins={"shipments": shipments, "brt": brt, "bench": BenchPlugin()})


def seed_orders(app: App, n: int, prefix: str) -> None:
    rows = []
    for i in range(n):
        rows.append({"key": f"amazon-it:{prefix}-{i:07d}", "channel": "amazon-it", "channel_type": "amazon",
                     "order_id": f"{prefix}-{i:07d}", "merchant_order_id": None, "status": "Unshipped",
                     "ship_to": json.dumps({"name": f"Cliente {i}", "addressLine1": f"Via Roma {i % 200 + 1}",
                                            "city": "Roma", "postalCode": "00184", "stateOrRegion": "RM",
                                            "countryCode": "IT"}),
                     "items": json.dumps([{"orderItemId": f"{i}-1", "quantity": 1}])})
    with app.store.transaction() as db:
        db["orders"].insert_all(rows, pk="key", alter=True)


def ship_file(app: App, root: Path, n: int, prefix: str, fmt: str) -> tuple[float, dict]:
    src = root / f"bench-{prefix}.csv"
    src.write_text("order,carrier,weight_kg,label_format\n" +
                   "".join(f"{prefix}-{i:07d},brt,{1 + i % 5}.5,{fmt}\n" for i in range(n)))
    t0 = time.perf_counter()
    rec = InboxEngine(app).adopt("shipments", src)
    wall = time.perf_counter() - t0
    assert rec["state"] == "done", rec
    return wall, json.loads(rec["summary"])


def part_file(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="marketd-bench-ship-"))
    clock = FakeClock()
    fake = BrtFake(clock)
    app = make_app(root, fake, clock)
    seed_orders(app, n, "402")
    rss0 = peak_rss_mb()
    wall, summary = ship_file(app, root, n, "402", "PDF")
    printed = sorted(app.outbox_dir.glob("labels/print-*.pdf"))[0]
    # the fake's share: make the same number of label PDFs alone
    from tests.fakes.carrier_kit import pdf_label

    t0 = time.perf_counter()
    for i in range(n):
        pdf_label([f"0102{i:014d}", "Cliente", "Via Roma 1", "00184 Roma RM", "Rif. 1", "Collo 1/1"])
    fake_pdf = time.perf_counter() - t0
    print(f"shipment file, {n} shipments x 1 parcel, PDF labels (BRT fake, in-process):")
    print(f"  total wall time           {wall:8.2f} s   ({summary['labels'] / wall:7.1f} labels/s)")
    print(f"  of which the fake's PDFs  {fake_pdf:8.2f} s   (fpdf2 label generation on the 'carrier' side)")
    print(f"  marketd share             {wall - fake_pdf:8.2f} s   ({summary['labels'] / (wall - fake_pdf):7.1f} labels/s)")
    print(f"  print run                 {printed.stat().st_size / 1e6:8.2f} MB, {summary['parcels']} pages")
    print(f"  peak RSS                  {peak_rss_mb():8.1f} MB (before the file: {rss0:.1f} MB)")
    # ZPL, and a re-run of the same file (everything reused from the ledger)
    seed_orders(app, n, "403")
    wall_z, summary_z = ship_file(app, root, n, "403", "ZPL")
    print(f"  same with ZPL labels      {wall_z:8.2f} s   ({summary_z['labels'] / wall_z:7.1f} labels/s)")
    rec = app.store.db.query("select id from files where name = 'bench-402.csv'")
    file_id = next(rec)["id"]
    clock.advance(1)
    t0 = time.perf_counter()
    InboxEngine(app).requeue(file_id)
    print(f"  requeue (reprint, 0 carrier calls) {time.perf_counter() - t0:5.2f} s; carrier creates total "
          f"{fake.creates} for {2 * n} shipments")
    app.close()


def part_tracking(n: int, delay: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="marketd-bench-track-"))
    clock = FakeClock()
    fake = BrtFake(clock, tracking_delay=delay)
    app = make_app(root, fake, clock)
    seed_orders(app, n, "501")
    t0 = time.perf_counter()
    ship_file(app, root, n, "501", "ZPL")
    print(f"\ntracking sync, {n} open BRT shipments (tracking delay {delay / 3600:g} h, events every 2 h):")
    print(f"  created in {time.perf_counter() - t0:.1f} s (ZPL labels)")
    Channel.calls = 0
    rounds, busy, idle, total = 0, [], [], 0.0
    while True:
        clock.advance(300)
        before = fake.track_calls
        t0 = time.perf_counter()
        stats = tracking_sync(app)
        dt = time.perf_counter() - t0
        total += dt
        rounds += 1
        if fake.track_calls > before or stats.get("pushed"):
            busy.append((dt, fake.track_calls - before))
        else:
            idle.append(dt)
        open_left = app.store.db.execute("select count(*) from shipments where open = 1").fetchone()[0]
        if open_left == 0 or rounds > 2000:
            break
    delivered = app.store.db.execute("select count(*) from shipments where status = 'delivered'").fetchone()[0]
    per_req = sum(d for d, _ in busy) / max(1, sum(r for _, r in busy))
    busy_sorted = sorted(d for d, _ in busy)
    print(f"  fake hours simulated      {rounds * 300 / 3600:8.1f} h in {rounds} rounds ({total:.1f} s wall)")
    print(f"  delivered                 {delivered:8d} of {n}; channel confirmations {Channel.calls} (1 per order)")
    print(f"  carrier requests          {fake.track_calls:8d} = {fake.track_calls / n:.2f} per shipment until delivered")
    print(f"  rounds with work          {len(busy):8d}; time per such round median {busy_sorted[len(busy_sorted) // 2]:.2f} s, "
          f"max {busy_sorted[-1]:.2f} s")
    print(f"  per tracking request      {per_req * 1000:8.2f} ms (incl. store write, fake answer)")
    idle.sort()
    print(f"  idle round (nothing due)  {idle[len(idle) // 2] * 1000:8.1f} ms median ({len(idle)} rounds)")
    print(f"  peak RSS                  {peak_rss_mb():8.1f} MB")
    app.close()


def main() -> None:
    import os

    os.environ.setdefault("BRT_PASSWORD", "brt-secret")
    ap = argparse.ArgumentParser()
    ap.add_argument("--shipments", type=int, default=1000)
    ap.add_argument("--open", type=int, default=10000)
    ap.add_argument("--delay", type=float, default=3 * 3600)
    args = ap.parse_args()
    part_file(args.shipments)
    part_tracking(args.open, args.delay)


if __name__ == "__main__":
    main()
