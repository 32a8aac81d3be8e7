"""Issue 4 figures: a 1,000-shipment file through BRT (fake), and tracking sync of 10,000 open
shipments until delivered — each figure next to a floor measured in the same run.

Run: python bench/bench_shipments.py [--shipments 1000] [--open 10000] [--delay 10800] [--repeat 3]

Everything runs in-process against the BRT fake through ``httpx.WSGITransport`` and marketd's
real ``marketd.http.HttpClient`` (rate limiter, retry policy, logging), with the BRT account's
rate limit lifted (``requests_per_second`` very high) so the figures are marketd's own cost, not a
configured wait. Each file run is a fresh subprocess (clean peak RSS); medians over ``--repeat``.

Floors (what any implementation has to pay at least, measured in the same run):

- **labels**: render the same labels with the PDF library alone (fpdf2, the fake's carrier-side
  work for every create) and merge them into one print run with pypdf — no marketd, no HTTP, no
  store; its peak RSS is the RSS floor.
- **tracking requests**: 3 per shipment — one poll per status change to record every change
  (in transit, out for delivery, delivered), an oracle that knows BRT's timetable.
- **time per sync round**: the same tracking requests of that round replayed as raw HTTP
  round-trips to the fake (``httpx`` GET + JSON parse, same fake time, so the same answers).

Tracking time is a FakeClock moved 5 minutes per round, so a day of polling runs in seconds; wall
time is ``perf_counter``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from marketd.app import App  # noqa: E402
from marketd.clock import FakeClock  # noqa: E402
from marketd.config import default_config  # noqa: E402
from marketd.inbox import InboxEngine  # noqa: E402
from marketd.plugins.shipments.tracking import tracking_sync  # noqa: E402
from marketd.plugins.brt.fake import BrtFake  # noqa: E402

SENDER = {"name": "Negozio Srl", "street": "Via Milano 5", "postal_code": "20100", "city": "Milano",
          "province": "MI", "country": "IT"}


def vm_hwm_mb() -> float:
    """Peak resident set size of this process (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


def time_fake(fake: BrtFake) -> dict:
    """Count the seconds the fake spends handling requests (under its lock, so never overlapping)."""
    spent = {"seconds": 0.0}
    inner = fake._dispatch

    def dispatch(req):
        t0 = time.perf_counter()
        try:
            return inner(req)
        finally:
            spent["seconds"] += time.perf_counter() - t0

    fake._dispatch = dispatch
    return spent


def time_fsync() -> dict:
    """Count the os.fsync calls (the outbox makes every output file durable) and their time."""
    spent = {"seconds": 0.0, "calls": 0}
    inner = os.fsync

    def fsync(fd):
        t0 = time.perf_counter()
        try:
            return inner(fd)
        finally:
            spent["seconds"] += time.perf_counter() - t0
            spent["calls"] += 1

    os.fsync = fsync
    return spent


def make_app(root: Path, wsgi, clock: FakeClock) -> App:
    import marketd.plugins.brt as brt
    import marketd.plugins.shipments as shipments

    cfg = default_config(root)
    cfg["carriers"] = {"brt": {"type": "brt", "base_url": "http://brt.test/rest/v1", "user_id": "1020304",
                               "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                               "requests_per_second": 1_000_000, "transport": httpx.WSGITransport(app=wsgi)}}
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


def label_lines(i: int) -> list[str]:
    """What the BRT fake prints on parcel ``i`` of the bench file (same text, same size)."""
    return [f"0102{i + 1:014d}", f"BRT 102{i + 1:09d}", f"Cliente {i}", f"Via Roma {i % 200 + 1}",
            "00184 Roma RM", f"Rif. {i + 1} M0123456789ABCD", f"Collo 1/1  {1 + i % 5}.5 kg"]


# -- workers (one fresh process each) -----------------------------------------------------------
def warm_up() -> None:
    """fpdf2 and pypdf's one-off start-up (fonts, modules) outside every timed section."""
    import io

    from pypdf import PdfReader

    from marketd.sdk.fakes import pdf_label

    PdfReader(io.BytesIO(pdf_label(label_lines(0)))).pages[0]


def worker_file(n: int, fmt: str) -> dict:
    root = Path(tempfile.mkdtemp(prefix="marketd-bench-ship-"))
    clock = FakeClock()
    fake = BrtFake(clock)
    spent = time_fake(fake)
    syncs = time_fsync()
    app = make_app(root, fake, clock)
    seed_orders(app, n, "402")
    app.carrier("brt")  # imports done before the baseline
    warm_up()
    rss0 = vm_hwm_mb()
    syncs.update(seconds=0.0, calls=0)
    wall, summary = ship_file(app, root, n, "402", fmt)
    out = {"fsync_seconds": syncs["seconds"], "fsync_calls": syncs["calls"], "fmt": fmt, "n": n, "wall": wall, "labels": summary["labels"], "parcels": summary["parcels"],
           "fake_seconds": spent["seconds"], "rss_before": rss0, "rss_peak": vm_hwm_mb(), "creates": fake.creates}
    printed = sorted(app.outbox_dir.glob(f"labels/print-*.{fmt.lower()}"))[0]
    out["print_bytes"] = printed.stat().st_size
    # the same file again: every label comes from the ledger, no carrier call
    file_id = next(app.store.db.query("select id from files where name = 'bench-402.csv'"))["id"]
    clock.advance(1)
    before = fake.creates
    t0 = time.perf_counter()
    rec = InboxEngine(app).requeue(file_id)
    out["requeue_wall"] = time.perf_counter() - t0
    out["requeue_creates"] = fake.creates - before
    assert rec["state"] == "done", rec
    app.close()
    return out


def _print_run(labels: list[bytes], fmt: str) -> int:
    import io

    from pypdf import PdfReader, PdfWriter

    if fmt != "PDF":
        return len(b"\n".join(labels))
    w = PdfWriter()
    for data in labels:
        w.add_page(PdfReader(io.BytesIO(data)).pages[0])
    buf = io.BytesIO()
    w.write(buf)
    return len(buf.getvalue())


def worker_floor(n: int, fmt: str) -> dict:
    """Floor A: render the same labels with the label library alone and make one print run.
    Floor B: the same creates as raw HTTP calls to a fresh fake (its rendering included), then
    the print run of the labels it returned."""
    import base64

    from marketd.carriers import Address, LabelFormat, Parcel, ShipmentRequest
    from marketd.plugins.brt import mapper
    from marketd.sdk.fakes import pdf_label, zpl_label

    warm_up()
    rss0 = vm_hwm_mb()
    t0 = time.perf_counter()
    if fmt == "PDF":
        labels = [pdf_label(label_lines(i)) for i in range(n)]
    else:
        labels = [zpl_label(label_lines(i), label_lines(i)[0]).encode() for i in range(n)]
    render = time.perf_counter() - t0
    t0 = time.perf_counter()
    size = _print_run(labels, fmt)
    merge = time.perf_counter() - t0
    rss_a = vm_hwm_mb()
    del labels
    # B: raw creates (payloads built before the clock starts: only HTTP + the carrier's work is timed)
    fake = BrtFake(FakeClock())
    settings = {"departure_depot": 102, "sender_customer_code": 1020304}
    account = {"userID": fake.user_id, "password": fake.password}
    payloads = [mapper.create_payload(ShipmentRequest(
        "brt", [Parcel(f"{1 + i % 5}.5")], Address(name=f"Cliente {i}", street=f"Via Roma {i % 200 + 1}",
                                                    postal_code="00184", city="Roma", province="RM", country="IT"),
        Address(**SENDER), label_format=LabelFormat(fmt), idempotency_key=f"M{i:014d}", sequence=i + 1),
        settings, account) for i in range(n)]
    client = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="http://brt.test/rest/v1")
    t0 = time.perf_counter()
    got = []
    for p in payloads:
        label = client.post("/shipments/shipment", json=p).json()["createResponse"]["labels"]["label"]
        got.append(base64.b64decode(label["stream"]))
    creates = time.perf_counter() - t0
    t0 = time.perf_counter()
    _print_run(got, fmt)
    merge_b = time.perf_counter() - t0
    return {"fmt": fmt, "n": n, "render": render, "merge": merge, "floor": render + merge, "print_bytes": size,
            "raw_creates": creates, "merge_b": merge_b, "floor_b": creates + merge_b,
            "rss_before": rss0, "rss_floor_a": rss_a, "rss_peak": vm_hwm_mb()}


def worker_tracking(n: int, delay: float) -> dict:
    root = Path(tempfile.mkdtemp(prefix="marketd-bench-track-"))
    clock = FakeClock()
    fake = BrtFake(clock, tracking_delay=delay)
    app = make_app(root, fake, clock)
    seed_orders(app, n, "501")
    t0 = time.perf_counter()
    ship_file(app, root, n, "501", "ZPL")
    created = time.perf_counter() - t0
    raw = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="http://brt.test/rest/v1",
                       headers={"userID": fake.user_id, "password": fake.password})
    Channel.calls = 0
    rounds, busy, idle = 0, [], []
    requests = pending_requests = 0
    fake.journal.clear()  # the fake's request journal (a test aid) would dominate the RSS figure
    rss_created = vm_hwm_mb()
    while True:
        clock.advance(300)
        mark = len(fake.track_log)
        t0 = time.perf_counter()
        stats = tracking_sync(app)
        dt = time.perf_counter() - t0
        rounds += 1
        polled = fake.track_log[mark:]
        requests += len(polled)
        pending_requests += sum(1 for _, _, found in polled if not found)
        if polled:
            # the floor: the same requests as raw HTTP round-trips (same fake time: same answers)
            t0 = time.perf_counter()
            for pid, _, _ in polled:
                raw.get(f"/tracking/parcelID/{pid}").json()
            floor = time.perf_counter() - t0
            del fake.track_log[mark:]
            fake.journal.clear()
            busy.append({"wall": dt, "floor": floor, "requests": len(polled), "pushed": stats.get("pushed", 0)})
        elif stats.get("pushed"):
            busy.append({"wall": dt, "floor": 0.0, "requests": 0, "pushed": stats["pushed"]})
        else:
            idle.append(dt)
        open_left = app.store.db.execute("select count(*) from shipments where open = 1").fetchone()[0]
        if open_left == 0 or rounds > 2000:
            break
    delivered = app.store.db.execute("select count(*) from shipments where status = 'delivered'").fetchone()[0]
    pushes = app.store.db.execute("select count(*) from shipment_pushes where state = 'pushed'").fetchone()[0]
    app.close()
    return {"n": n, "delay": delay, "created": created, "rounds": rounds, "busy": busy, "idle": idle,
            "requests": requests, "pending_requests": pending_requests, "rss_created": rss_created,
            "delivered": delivered, "confirmations": Channel.calls, "pushed": pushes, "rss_peak": vm_hwm_mb()}


# -- driver ---------------------------------------------------------------------------------------
def run_worker(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True,
                         env={**os.environ, "BRT_PASSWORD": "brt-secret"}, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def med(values) -> float:
    return statistics.median(values)


def report_file(n: int, repeat: int) -> None:
    for fmt in ("PDF", "ZPL"):
        runs = [run_worker("file", fmt, str(n)) for _ in range(repeat)]
        floors = [run_worker("floor", fmt, str(n)) for _ in range(repeat)]
        wall = med(r["wall"] for r in runs)
        fa, fb = med(f["floor"] for f in floors), med(f["floor_b"] for f in floors)
        render, merge = med(f["render"] for f in floors), med(f["merge"] for f in floors)
        raw, merge_b = med(f["raw_creates"] for f in floors), med(f["merge_b"] for f in floors)
        labels = runs[0]["labels"]
        fake = med(r["fake_seconds"] for r in runs)
        rss, rss_floor = med(r["rss_peak"] for r in runs), med(f["rss_floor_a"] for f in floors)
        rss0 = med(r["rss_before"] for r in runs)
        req = med(r["requeue_wall"] for r in runs)
        lib = "fpdf2 render + pypdf merge" if fmt == "PDF" else "ZPL text + concatenation"
        print(f"shipment file, {n} shipments x 1 parcel, {fmt} labels (median of {repeat} runs, fresh process each):")
        print(f"  total wall time        {wall:8.2f} s")
        if fmt == "PDF":
            print(f"    floor A (labels alone)  {fa:6.2f} s  ({lib}: {render:.2f} + {merge:.2f} s)"
                  f"{'':4}ratio {wall / fa:5.2f}x")
        print(f"    floor B (raw creates)   {fb:6.2f} s  ({n} raw HTTP creates to the fake {raw:.2f} s + print run "
              f"{merge_b:.2f} s)  ratio {wall / fb:5.2f}x")
        rates = f"floor A {labels / fa:6.1f}/s ({fa / wall:.0%} of it), " if fmt == "PDF" else ""
        print(f"  labels/s               {labels / wall:8.1f}    {rates}floor B {labels / fb:6.1f}/s "
              f"({fb / wall:.0%} of it)")
        fs, fsn = med(r["fsync_seconds"] for r in runs), runs[0]["fsync_calls"]
        print(f"    of the wall: in the fake (lock held) {fake:.2f} s; os.fsync of outputs {fs:.2f} s ({fsn} calls, "
              f"core outbox); the rest {wall - fake - fs:.2f} s (SQLite fsyncs of the ledger are in the rest)")
        print(f"  peak RSS               {rss:8.1f} MB   floor {rss_floor:6.1f} MB (peak of the floor-A process)"
              f"  ratio {rss / rss_floor:5.2f}x  (before the file {rss0:.1f} MB)")
        print(f"  print run              {med(r['print_bytes'] for r in runs) / 1e6:8.2f} MB, {runs[0]['parcels']} "
              f"labels; carrier creates {runs[0]['creates']} for {n} lines")
        if fmt == "PDF":
            print(f"  requeue (reprint)      {req:8.2f} s    floor {merge:6.2f} s (print run alone){'':14}"
                  f"ratio {req / merge:5.2f}x  carrier calls {runs[0]['requeue_creates']}")
        else:
            print(f"  requeue (reprint)      {req:8.2f} s    (no floor: the print run is text concatenation)  "
                  f"carrier calls {runs[0]['requeue_creates']}")
        walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
        floor_runs = ", ".join(f"{f['floor']:.2f}/{f['floor_b']:.2f}" for f in floors)
        print(f"  runs: wall {walls} s; floor A/B {floor_runs} s")
        print()


def report_tracking(n: int, delay: float) -> None:
    r = run_worker("tracking", str(n), str(delay))
    busy = [b for b in r["busy"] if b["requests"]]
    walls = [b["wall"] for b in busy]
    floors = [b["floor"] for b in busy]
    ratios = [b["wall"] / b["floor"] for b in busy]
    reqs = r["requests"]
    per_ship = reqs / n
    per_req = [b["wall"] / b["requests"] for b in busy]
    per_req_floor = [b["floor"] / b["requests"] for b in busy]
    print(f"tracking sync, {n} open BRT shipments (BRT tracking delay {delay / 3600:g} h, scans every 2 h, "
          f"default polling policy):")
    print(f"  created in {r['created']:.1f} s (ZPL); {r['rounds']} rounds of 5 fake minutes "
          f"= {r['rounds'] * 300 / 3600:.1f} h until every shipment was final")
    print(f"  delivered              {r['delivered']:8d} of {n}; confirmations {r['confirmations']} "
          f"(pushed rows {r['pushed']}: 1 per order)")
    print(f"  carrier requests       {per_ship:8.2f} per shipment   floor {3:6.2f} (one per status change)"
          f"{'':9}ratio {per_ship / 3:5.2f}x")
    print(f"    of which while BRT did not know the parcel yet: {r['pending_requests'] / n:.2f} per shipment "
          f"(the pending backoff's cost); total {reqs}")
    print(f"  time per sync round    {med(walls):8.2f} s    floor {med(floors):6.2f} s (same requests, raw httpx)"
          f"{'':7}ratio {med(ratios):5.2f}x  (medians of {len(busy)} rounds with requests; max "
          f"{max(walls):.2f} s for {max(b['requests'] for b in busy)} requests)")
    print(f"  per tracking request   {med(per_req) * 1000:8.2f} ms   floor {med(per_req_floor) * 1000:6.2f} ms"
          f"{'':34}(medians; per round the ratio is the one above)")
    idle = sorted(r["idle"])
    if idle:
        print(f"  idle round (nothing due) {med(idle) * 1000:6.1f} ms median ({len(idle)} rounds)")
    print(f"  peak RSS               {r['rss_peak']:8.1f} MB   (after creating the {n} shipments: "
          f"{r['rss_created']:.1f} MB; the fake's state included)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, args = sys.argv[2], sys.argv[3:]
        os.environ.setdefault("BRT_PASSWORD", "brt-secret")
        if kind == "file":
            result = worker_file(int(args[1]), args[0])
        elif kind == "floor":
            result = worker_floor(int(args[1]), args[0])
        else:
            result = worker_tracking(int(args[0]), float(args[1]))
        print(json.dumps(result))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--shipments", type=int, default=1000)
    ap.add_argument("--open", type=int, default=10000)
    ap.add_argument("--delay", type=float, default=3 * 3600)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"# python bench/bench_shipments.py --shipments {args.shipments} --open {args.open} --delay {args.delay:g} "
          f"--repeat {args.repeat}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
          "in-process BRT fake through marketd.http\n")
    report_file(args.shipments, args.repeat)
    report_tracking(args.open, args.delay)


if __name__ == "__main__":
    main()
