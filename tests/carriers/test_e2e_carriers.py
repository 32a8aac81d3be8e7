"""End to end with the real daemon process and the real Amazon channel.

A real ``marketd run`` subprocess, configured with a ``[channels.amazon-it] type = "amazon"``
account whose SP-API and LWA endpoints are the SP-API fake (``marketd.plugins.amazon.fake``, served on
loopback, checking every request body against the official models in ``shared/specs/amazon``;
without them the tests skip, and fail under CI) and a ``[carriers.brt]`` account pointing at the BRT fake (also on loopback):

1. the daemon's ``amazon-orders`` job imports the marketplace's orders from the fake;
2. a shipment file dropped into ``inbox/shipments/`` becomes BRT shipments, labels and a manifest;
3. BRT answers "not found" for a few seconds (the fake's tracking delay, on the wall clock like
   the daemon), then scans appear; the ``tracking-sync`` job (every second here) notices;
4. the SP-API fake receives exactly one ``confirmShipment`` per package, with BRT's parcel ID and
   carrier code ``BRT`` — although the daemon is stopped in the middle of the shipment file and
   in the middle of the ``confirmShipment`` call: with ``kill -9`` in one test, with ``SIGTERM`` in
   the other.
"""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.amazon.settings import env_name
from tests.conftest import wait_for, write_config
from marketd.plugins.amazon.fake import SpApiFake, generate_orders
from marketd.plugins.brt.fake import BrtFake
from marketd.sdk.fakes import serve
from tests.fakes.specs import AmazonContract, amazon_model, require_amazon_specs


pytestmark = pytest.mark.e2e

SENDER = {"name": "Negozio Srl", "street": "Via Milano 5", "postal_code": "20100", "city": "Milano",
          "province": "MI", "country": "IT"}
ACCOUNT = "amazon-it"
CREDS = ("amzn1.application-oa2-client.e2e", "e2e-lwa-client-secret", "Atzr|e2e-refresh-token")
# Seconds of wall-clock time until BRT knows a parcel, then between its scans (701, 702, 703, 704).
TRACKING_DELAY, EVENT_INTERVAL = 14.0, 2.0


def db_rows(root: Path, sql: str, params=(), db: str = "marketd.sqlite") -> list[dict]:
    path = root / "var" / db
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def drop_file(inbox: Path, name: str, text: str) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    tmp = inbox / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.rename(tmp, inbox / name)


def count(root: Path, sql: str, params=(), db: str = "marketd.sqlite") -> int:
    rows = db_rows(root, sql, params, db)
    return rows[0]["n"] if rows else 0


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class World:
    """The fakes on loopback, the marketplace's orders, and an instance configured against them."""

    def __init__(self, tmp_path: Path, n_orders: int = 3, **inbox):
        now = datetime.now(timezone.utc)
        # the fake checks every request and answer against the official models (skip or, under CI, fail without)
        self.specs = require_amazon_specs()
        self.amazon = SpApiFake(SYSTEM_CLOCK, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                                contract=AmazonContract(self.specs))
        # Seller-fulfilled, unshipped orders of the last day (searchOrders serves changes up to 2 min ago).
        self.orders = generate_orders(n_orders, now=now - timedelta(hours=2), days=1, seed=42,
                                      status="UNSHIPPED", fulfilled_by="MERCHANT")
        self.amazon.add_orders(self.orders)
        self.amazon_served = serve(self.amazon)
        self.brt = BrtFake(SYSTEM_CLOCK, tracking_delay=TRACKING_DELAY, event_interval=EVENT_INTERVAL,
                           short_delays=True)
        brt_url = self.brt.serve()
        self.root = tmp_path / "inst"
        url = self.amazon_served.url
        self.config = write_config(
            self.root,
            carriers={"brt": {"type": "brt", "base_url": brt_url + "/rest/v1", "user_id": self.brt.user_id,
                              "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                              "requests_per_second": 50}},
            channels={ACCOUNT: {"type": "amazon", "marketplace": "IT", "orders_sync": True, "endpoint": url,
                                "lwa_endpoint": url + "/auth/o2/token", "initial_days": 3}},
            jobs={"amazon-orders": {"seconds": 3600},
                  "tracking-sync": {"seconds": 1, "first_check": 1, "pending_factor": 1.5, "pending_max": 2,
                                    "transit_interval": 1, "out_for_delivery_interval": 1, "error_base": 1}},
            inbox={"shipments": dict(inbox)} if inbox else {},
        )
        self.env = {"BRT_PASSWORD": self.brt.password, env_name(ACCOUNT, "CLIENT_ID"): CREDS[0],
                    env_name(ACCOUNT, "CLIENT_SECRET"): CREDS[1], env_name(ACCOUNT, "REFRESH_TOKEN"): CREDS[2]}

    def close(self) -> None:
        self.brt.shutdown()
        self.amazon_served.shutdown()

    @property
    def order_ids(self) -> list[str]:
        return [o["orderId"] for o in self.orders]

    def shipment_file(self) -> str:
        """One line per order, recipient from the stored (synced) order; the second has two parcels."""
        a, b, c = self.order_ids
        return ("order,carrier,weight_kg,parcel_count\n"
                f"{a},brt,1.5,1\n{b},brt,2.0,2\n{c},brt,0.5,1\n")

    def wait_orders_synced(self) -> None:
        wait_for(lambda: count(self.root, "select count(*) n from orders where channel = ?", [ACCOUNT])
                 == len(self.orders), 30, what="the amazon-orders job importing the fake's orders")

    def manifest(self) -> list[dict]:
        path = wait_for(lambda: sorted((self.root / "outbox").glob("labels/manifest-*.csv")), 40, what="manifest")[0]
        return list(csv.DictReader(path.open(encoding="utf-8")))

    def confirmations(self, order_id: str | None = None) -> list[dict]:
        with self.amazon.lock:
            return [c for c in self.amazon.confirmations if order_id is None or c["orderId"] == order_id]

    def confirm_calls(self) -> list:
        with self.amazon.lock:
            return self.amazon.calls_of("confirmShipment")

    def delayed_confirm_in_flight(self, seconds: float):
        """Arm the next confirmShipment to take ``seconds``; returns a predicate: is it in flight now?"""
        self.amazon.delay_next("confirmShipment", seconds)
        fault = self.amazon.faults[-1]
        return lambda: fault.times == 0

    # -- the checks both tests end with ----------------------------------------------------------
    def check_labels(self, manifest: list[dict]) -> None:
        assert len(manifest) == 4
        assert all(r["status"] in ("created", "reused") and r["tracking_number"] for r in manifest), manifest
        printed = sorted((self.root / "outbox").glob("labels/print-*.pdf"))[-1]
        reader = PdfReader(io.BytesIO(printed.read_bytes()))
        assert len(reader.pages) == 4  # one page per parcel, 100 x 150 mm
        assert all(abs(float(p.mediabox.width) * 25.4 / 72 - 100) < 1 and
                   abs(float(p.mediabox.height) * 25.4 / 72 - 150) < 1 for p in reader.pages)
        labels = sorted((self.root / "outbox").glob("labels/*-day/*.pdf"))
        assert len(labels) == 4 and all(len(PdfReader(str(p)).pages) == 1 for p in labels)
        # never twice at the carrier
        assert len(self.brt.live_shipments()) == 3 and self.brt.duplicate_creates == 0
        # shipped to the address Amazon gave for each order (recipient taken from the synced order)
        addresses = {(o["recipient"]["deliveryAddress"]["addressLine1"], o["recipient"]["deliveryAddress"]["postalCode"])
                     for o in self.orders}
        assert {(s["data"]["consigneeAddress"], s["data"]["consigneeZIPCode"])
                for s in self.brt.live_shipments()} == addresses

    def check_exactly_once(self, manifest: list[dict]) -> None:
        first_parcel = {}
        for r in manifest:
            first_parcel.setdefault(r["order"], r["tracking_number"])
        by_id = {o["orderId"]: o for o in self.orders}
        for oid in self.order_ids:
            sent = self.confirmations(oid)
            assert len(sent) == 1, f"{oid}: {len(sent)} confirmShipment calls applied"
            detail = sent[0]["body"]["packageDetail"]
            assert amazon_model("ordersV0", str(self.specs)).validate("ConfirmShipmentRequest", sent[0]["body"]) == []
            assert sent[0]["body"]["marketplaceId"] == "APJ6JRA9NG5V4"
            assert detail["packageReferenceId"] == "1"
            assert detail["carrierCode"] == "BRT" and "carrierName" not in detail
            assert detail["trackingNumber"] == first_parcel[oid]
            assert sorted((i["orderItemId"], i["quantity"]) for i in detail["orderItems"]) == sorted(
                (i["orderItemId"], i["quantityOrdered"]) for i in by_id[oid]["orderItems"])
            # confirmed only once BRT knew the parcel, and shipped at its first scan
            visible = self.brt.visible_at(first_parcel[oid])
            confirmed = parse_iso(sent[0]["at"])
            assert confirmed >= visible.replace(microsecond=0)
            ship_date = parse_iso(detail["shipDate"])
            assert visible - timedelta(minutes=1) <= ship_date <= confirmed  # BRT times are to the minute
            assert self.amazon.orders[oid]["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
        calls = self.confirm_calls()
        assert len(calls) == len(self.orders) and {c.status for c in calls} == {204}
        assert not any(c["replay"] for c in self.confirmations())
        assert self.amazon.violations == [] and self.amazon.response_violations == []
        # BRT was asked while it did not know the parcels yet ("not found": pending, not an error)
        for tn in set(first_parcel.values()):
            answers = [found for pid, _, found in self.brt.track_log if pid == tn]
            assert answers[0] is False and answers[-1] is True, (tn, answers)

    def check_delivered_and_listed(self, env: dict) -> None:
        wait_for(lambda: count(self.root, "select count(*) n from shipments where status = 'delivered'") == 3,
                 60, what="delivered")
        pushes = db_rows(self.root, "select state from shipment_pushes")
        assert [p["state"] for p in pushes] == ["pushed"] * 3
        events = db_rows(self.root, "select shipment_key, old_status, new_status from shipment_events order by id")
        assert len({e["shipment_key"] for e in events}) == 3
        for key in {e["shipment_key"] for e in events}:
            chain = [(e["old_status"], e["new_status"]) for e in events if e["shipment_key"] == key]
            # every change recorded in order (a poll may see out_for_delivery and delivered at once)
            assert chain[:2] == [(None, "pending"), ("pending", "in_transit")] and chain[-1][1] == "delivered"
            assert all(a[1] == b[0] for a, b in zip(chain, chain[1:])), chain
        out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(self.config), "shipments", "--all",
                              "--json"], capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
        assert out.returncode == 0, out.stderr
        listed = json.loads(out.stdout)
        assert len(listed) == 3 and {r["status"] for r in listed} == {"delivered"}
        assert {r["pushes"] for r in listed} == {f"{ACCOUNT}:pushed"}


@pytest.fixture
def world(tmp_path):
    made = []

    def make(**inbox) -> World:
        w = World(tmp_path, **inbox)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def test_kill_9_mid_file_and_mid_confirmation_confirms_each_package_once(world, daemon_factory):
    w = world()
    # run 1: imports the orders, then dies right after the first line's carrier answer was recorded
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": "shipments_after_ledger"})
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    wait_for(lambda: d1.proc.poll() is not None, 30, what="crash during the shipment file")
    assert d1.proc.returncode == -signal.SIGKILL
    assert w.brt.creates >= 1 and not list((w.root / "outbox").glob("labels/manifest-*.csv"))
    assert w.amazon.count("searchOrders") == 1

    # run 2: finishes the file (line 1 from the ledger), polls BRT while it does not know the
    # parcels, and is killed while Amazon is processing the first confirmShipment
    in_flight = w.delayed_confirm_in_flight(2.0)
    d2 = daemon_factory(w.config, env=w.env)
    manifest = w.manifest()
    w.check_labels(manifest)
    assert w.confirmations() == []
    wait_for(in_flight, 40, what="the first confirmShipment reaching Amazon")
    assert count(w.root, "select count(*) n from shipment_pushes where state = 'pushing'") == 1
    d2.kill()  # SIGKILL between the 'pushing' commit and Amazon's answer
    assert d2.proc.returncode == -signal.SIGKILL
    wait_for(lambda: len(w.confirmations()) == 1, 10, what="Amazon applying the confirmation of the dead daemon")
    assert count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'") == 0

    # run 3: asks Amazon (getOrder, PACKAGES) about the interrupted push instead of sending it
    # again, confirms the others once, follows the parcels until delivered
    daemon_factory(w.config, env=w.env)
    wait_for(lambda: count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'") == 3,
             40, what="all pushes recorded")
    assert len(w.confirmations()) == 3
    verified = db_rows(w.root, "select error from shipment_pushes where error like 'verified%'")
    assert len(verified) == 1  # the interrupted one, resolved by asking Amazon
    assert w.amazon.count("getOrder") >= 1
    w.check_delivered_and_listed(w.env)
    w.check_exactly_once(manifest)
    assert w.amazon.count("searchOrders") == 1  # the order sync did not run again on restarts


def test_sigterm_mid_file_and_mid_confirmation_confirms_each_package_once(world, daemon_factory):
    w = world(concurrency=1)  # one carrier call at a time, so SIGTERM lands in the middle of the file
    w.brt.latency = 1.0
    d1 = daemon_factory(w.config, env=w.env)
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    wait_for(lambda: count(w.root, "select count(*) n from calls", db="carrier-ledger.sqlite") >= 1,
             30, what="the first carrier call of the file")
    done_at_signal = count(w.root, "select count(*) n from calls where state = 'done'", db="carrier-ledger.sqlite")
    assert d1.stop(timeout=60) == 0  # SIGTERM
    assert done_at_signal < 3
    # the file in hand was finished before stopping: every line shipped once
    manifest = w.manifest()
    assert w.brt.creates == 3
    w.brt.latency = 0.0
    w.check_labels(manifest)

    # run 2: SIGTERM while Amazon is processing a confirmShipment: the daemon waits for the
    # answer and records it before it exits
    in_flight = w.delayed_confirm_in_flight(2.0)
    d2 = daemon_factory(w.config, env=w.env)
    wait_for(in_flight, 40, what="the first confirmShipment reaching Amazon")
    assert d2.stop(timeout=60) == 0  # SIGTERM
    pushed = count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'")
    assert pushed >= 1 and pushed == len(w.confirmations())
    assert count(w.root, "select count(*) n from shipment_pushes where state in ('pushing', 'uncertain')") == 0

    # run 3: the rest, once; then delivery
    daemon_factory(w.config, env=w.env)
    wait_for(lambda: count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'") == 3,
             40, what="all pushes recorded")
    assert len(w.confirmations()) == 3
    w.check_delivered_and_listed(w.env)
    w.check_exactly_once(manifest)
