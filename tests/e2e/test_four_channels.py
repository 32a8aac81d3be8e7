"""Four marketplaces in one instance, end to end on the real daemon (``marketd run`` subprocesses).

One instance has an Amazon, an eBay, a ManoMano and a MALL account, each pointed at the fake its
plugin ships (``marketd.plugins.<x>.fake``, served on loopback with ``marketd.sdk.fakes.serve``,
each checking requests and answers against its contract), and one BRT account. Amazon's and
MALL's secrets are in the environment, eBay's and ManoMano's are systemd credentials.

1. the four order jobs import two orders from each marketplace into the one store
   (``marketd orders list --json`` lists all eight, by channel);
2. one shipment file ships all eight with BRT;
3. once BRT has scanned the parcels, ``tracking-sync`` sends each package's tracking to its own
   marketplace, and the daemon is killed twice in the middle of that push:
   - run 1 dies (crash point ``tracking_after_push``) right after the first push was recorded;
   - run 2 is killed (``kill -9``) while the next push to the marketplace under test is held
     at that fake's door: the marketplace applies it after the daemon is gone, and that
     marketplace's second order has not been pushed yet;
   - run 3 reads the interrupted push back from the marketplace instead of sending it again,
     and pushes the rest.

Each marketplace has each package exactly once, every push call reached its fake exactly once
(the interrupted one too: read back, not resent), and no buyer name, e-mail or street reached
the daemon's log. Parametrised by the marketplace whose push is in flight at the kill, so each
channel's read-back after a crash is proven in the shared instance.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.amazon.fake import SpApiFake
from marketd.plugins.amazon.fake import generate_orders as amazon_orders
from marketd.plugins.amazon.settings import env_name as amazon_env
from marketd.plugins.brt.fake import BrtFake
from marketd.plugins.ebay.fake import EbayFake
from marketd.plugins.ebay.fake import generate_orders as ebay_orders
from marketd.plugins.ebay.settings import env_name as ebay_env
from marketd.plugins.mall.fake import MallFake
from marketd.plugins.mall.settings import env_name as mall_env
from marketd.plugins.manomano.fake import BUYERS, ManoManoFake
from marketd.plugins.manomano.settings import env_name as manomano_env
from marketd.sdk.fakes import serve
from tests.carriers.test_e2e_carriers import SENDER, count, drop_file
from tests.conftest import wait_for, write_config
from tests.fakes.ebay_specs import EbayContract, require_ebay_specs
from tests.fakes.mall_contract import MallContract
from tests.fakes.manomano_contract import ManoManoContract
from tests.fakes.specs import AmazonContract, require_amazon_specs
from tests.helpers import HoldRequests, db_dicts

pytestmark = pytest.mark.e2e

AMAZON, EBAY, MANOMANO, MALL = "amazon-it", "ebay-it", "mm-fr", "mall-cz"
AMAZON_CREDS = ("amzn1.application-oa2-client.four", "four-lwa-client-secret", "Atzr|four-refresh-token")
EBAY_CREDS = ("Negozio-Marketd-PRD-four00001", "PRD-four-cert-id", "v^1.1#i^1#four-refresh")
MM_KEY = "mm-four-api-key-0123456789"
MALL_IDS = ("7101", "7102")
# the request that carries one package's tracking to each marketplace
PUSH_DOORS = {AMAZON: ("POST", r"/orders/v0/orders/[^/]+/shipmentConfirmation$"),
              EBAY: ("POST", r"/order/[^/]+/shipping_fulfillment$"),
              MANOMANO: ("POST", r"/orders/v1/shippings$"),
              MALL: ("PUT", r"/v1/orders/\d+(/tracking)?$")}


class FourWorld:
    """The four marketplace fakes and BRT on loopback, two orders at each, and one instance."""

    def __init__(self, tmp_path: Path):
        now = datetime.now(timezone.utc)
        self.amazon = SpApiFake(SYSTEM_CLOCK, client_id=AMAZON_CREDS[0], client_secret=AMAZON_CREDS[1],
                                refresh_token=AMAZON_CREDS[2], contract=AmazonContract(require_amazon_specs()))
        self.amazon_orders = amazon_orders(2, now=now - timedelta(hours=2), days=1, seed=44, status="UNSHIPPED",
                                           fulfilled_by="MERCHANT")
        self.amazon.add_orders(self.amazon_orders)
        self.ebay = EbayFake(SYSTEM_CLOCK, client_id=EBAY_CREDS[0], client_secret=EBAY_CREDS[1],
                             refresh_token=EBAY_CREDS[2], contract=EbayContract(require_ebay_specs()))
        self.ebay_orders = ebay_orders(2, now=now - timedelta(hours=2), days=1, seed=44)
        self.ebay.add_orders(self.ebay_orders)
        self.mm = ManoManoFake(SYSTEM_CLOCK, keys={MM_KEY: [1001]}, contract=ManoManoContract())
        # buyers outside Italy (ManoMano's address has no province, which BRT needs for Italy)
        self.mm_refs = [self.mm.add_order(status="PREPARATION", created_at=now - timedelta(hours=3 - i / 10),
                                          buyer=(0, 3)[i])["order_reference"] for i in range(2)]
        self.mall = MallFake(SYSTEM_CLOCK, contract=MallContract(), delivery_delay=3600)
        for oid in MALL_IDS:
            self.mall.add_order(int(oid), mdp=False, confirmed=True)
        self.doors = {AMAZON: HoldRequests(self.amazon, *PUSH_DOORS[AMAZON]),
                      EBAY: HoldRequests(self.ebay, *PUSH_DOORS[EBAY]),
                      MANOMANO: HoldRequests(self.mm, *PUSH_DOORS[MANOMANO]),
                      MALL: HoldRequests(self.mall, *PUSH_DOORS[MALL])}
        self.served = {name: serve(door) for name, door in self.doors.items()}
        self.brt = BrtFake(SYSTEM_CLOCK, tracking_delay=3.0, event_interval=1.0, short_delays=True)
        brt_url = self.brt.serve()
        url = {name: s.url for name, s in self.served.items()}
        self.root = tmp_path / "inst"
        self.config = write_config(
            self.root,
            carriers={"brt": {"type": "brt", "base_url": brt_url + "/rest/v1", "user_id": self.brt.user_id,
                              "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                              "requests_per_second": 50}},
            channels={
                AMAZON: {"type": "amazon", "marketplace": "IT", "orders_sync": True, "endpoint": url[AMAZON],
                         "lwa_endpoint": url[AMAZON] + "/auth/o2/token", "initial_days": 3},
                EBAY: {"type": "ebay", "marketplace": "EBAY_IT", "orders_sync": True, "endpoint": url[EBAY],
                       "finances_endpoint": url[EBAY], "initial_days": 3},
                MANOMANO: {"type": "manomano", "contract_id": 1001, "country": "FR", "orders_sync": True,
                           "endpoint": url[MANOMANO], "initial_days": 2},
                MALL: {"type": "mall", "base_url": url[MALL], "orders_sync": True, "requests_per_second": 50}},
            jobs={**{job: {"seconds": 3600} for job in ("amazon-orders", "ebay-orders", "manomano-orders",
                                                         "mall-orders")},
                  "tracking-sync": {"seconds": 1, "first_check": 1, "pending_factor": 1.5, "pending_max": 2,
                                    "transit_interval": 1, "out_for_delivery_interval": 1, "error_base": 1,
                                    "push_retry": 1}})
        # Amazon's and MALL's secrets in the environment, eBay's and ManoMano's as systemd credentials
        # (LoadCredential= files in $CREDENTIALS_DIRECTORY, which the daemon reads when no variable is set)
        credentials = tmp_path / "credentials"
        credentials.mkdir(mode=0o700)
        for name, value in [(manomano_env(MANOMANO), MM_KEY),
                            *((ebay_env(EBAY, w), v) for w, v in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"),
                                                                       EBAY_CREDS))]:
            (credentials / name).write_text(value + "\n")
            (credentials / name).chmod(0o600)
        self.env = {"BRT_PASSWORD": self.brt.password, mall_env(MALL): self.mall.client_id,
                    "CREDENTIALS_DIRECTORY": str(credentials),
                    **{amazon_env(AMAZON, w): v for w, v in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"),
                                                                AMAZON_CREDS)}}

    def close(self) -> None:
        for door in self.doors.values():
            door.release.set()
        self.brt.shutdown()
        for s in self.served.values():
            s.shutdown()

    # -- the orders ------------------------------------------------------------------------------
    @property
    def orders(self) -> dict[str, list[str]]:
        return {AMAZON: [o["orderId"] for o in self.amazon_orders], EBAY: [o["orderId"] for o in self.ebay_orders],
                MANOMANO: list(self.mm_refs), MALL: list(MALL_IDS)}

    def wait_orders_synced(self) -> None:
        for channel, ids in self.orders.items():
            wait_for(lambda: count(self.root, "select count(*) n from orders where channel = ?", [channel])
                     == len(ids), 60, what=f"the {channel} order job importing its fake's orders")

    def shipment_file(self) -> str:
        """One file for the eight orders, the marketplaces' lines interleaved."""
        lines = [f"{ids[i]},brt,1.5,1\n" for i in range(2) for ids in self.orders.values()]
        return "order,carrier,weight_kg,parcel_count\n" + "".join(lines)

    def cli(self, *args) -> str:
        out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(self.config), *args],
                             capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    # -- what each marketplace has ---------------------------------------------------------------
    def applied(self, channel: str, order_id: str) -> list[str]:
        """The tracking numbers ``channel``'s fake holds for ``order_id``, one per applied push."""
        if channel == AMAZON:
            with self.amazon.lock:
                return [c["body"]["packageDetail"]["trackingNumber"] for c in self.amazon.confirmations
                        if c["orderId"] == order_id]
        if channel == EBAY:
            return [f["shipmentTrackingNumber"] for f in self.ebay.fulfillments_of(order_id)]
        if channel == MANOMANO:
            return [s["tracking_number"] for s in self.mm.shippings_of(order_id)]
        with self.mall.lock:
            return [(r.json() or {}).get("tracking_number") for r in self.mall.status_puts(order_id)]

    def push_calls(self, channel: str) -> int:
        """Push requests that reached ``channel``'s fake (whatever it answered)."""
        fake = {AMAZON: self.amazon, EBAY: self.ebay, MANOMANO: self.mm, MALL: self.mall}[channel]
        method, pattern = PUSH_DOORS[channel]
        door = self.doors[channel]
        with fake.lock:
            return sum(1 for r in fake.journal if r.method == method and door.pattern.search(r.path))

    def push_journal(self, channel: str) -> list[tuple]:
        """(path, status, body) of the push calls ``channel``'s fake journaled, for failure messages."""
        fake = {AMAZON: self.amazon, EBAY: self.ebay, MANOMANO: self.mm, MALL: self.mall}[channel]
        method, _ = PUSH_DOORS[channel]
        with fake.lock:
            return [(r.path, r.status, r.body[:200]) for r in fake.journal
                    if r.method == method and self.doors[channel].pattern.search(r.path)]

    def pushes(self, state: str | None = None) -> list[dict]:
        rows = db_dicts(self.root, "select channel, order_id, state, error from shipment_pushes order by channel, "
                                   "order_id")
        return [r for r in rows if state is None or r["state"] == state]

    def check_exactly_once(self) -> None:
        tracking = {json.loads(r["refs"])[0]: r["tracking_number"]
                    for r in db_dicts(self.root, "select refs, tracking_number from shipments")}
        assert len(tracking) == 8
        for channel, ids in self.orders.items():
            for oid in ids:
                assert self.applied(channel, oid) == [tracking[oid]], (channel, oid, self.applied(channel, oid))
            assert self.push_calls(channel) == 2, f"{channel}: {self.push_calls(channel)} push calls for 2 orders"
        assert [(r["channel"], r["state"]) for r in self.pushes()] == \
            [(c, "pushed") for c in sorted(self.orders) for _ in range(2)]
        with self.amazon.lock:
            assert self.amazon.violations == [] and self.amazon.response_violations == []
        assert self.ebay.violations == [] and self.ebay.response_violations == []
        assert self.mm.violations == [] and self.mm.response_violations == []
        with self.mall.lock:
            assert self.mall.violations == [] and self.mall.response_violations == []
        for o in self.ebay_orders:
            assert self.ebay.orders[o["orderId"]]["orderFulfillmentStatus"] == "FULFILLED"
        for oid in MALL_IDS:
            assert self.mall.orders[int(oid)]["status"] in ("shipped", "delivered")
        for ref in self.mm_refs:
            assert self.mm.orders[ref]["status"] == "SHIPPED"

    def buyer_data(self) -> set[str]:
        out = set()
        for o in self.amazon_orders:
            addr = o["recipient"]["deliveryAddress"]
            out |= {addr["name"], addr["addressLine1"], o["buyer"]["buyerEmail"]}
        for o in self.ebay_orders:
            to = o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
            out |= {to["fullName"], to["email"], to["contactAddress"]["addressLine1"], o["buyer"]["username"]}
        for first, last, *_ in (BUYERS[0], BUYERS[3]):
            out |= {first, last}
        for oid in MALL_IDS:
            addr = self.mall.orders[int(oid)]["address"]
            out |= {addr["name"], addr["email"], addr["street"]}
        return out

    def check_logs_hold_no_buyer_data(self) -> None:
        text = "\n".join(p.read_text(errors="replace") for p in self.root.glob("daemon-*.log"))
        assert "tracking-sync" in text  # the log is there and talks about the push
        for value in self.buyer_data():
            assert value not in text, f"buyer data in the log: {value}"
        for secret in (AMAZON_CREDS[1], AMAZON_CREDS[2], EBAY_CREDS[1], EBAY_CREDS[2], MM_KEY, self.mall.client_id):
            assert secret not in text


@pytest.fixture
def world(tmp_path):
    w = FourWorld(tmp_path)
    yield w
    w.close()


@pytest.mark.parametrize("held", [AMAZON, EBAY, MANOMANO, MALL], ids=["amazon", "ebay", "manomano", "mall"])
def test_tracking_reaches_each_of_four_marketplaces_once_across_two_kills_in_the_push(world, daemon_factory, held):
    w = world
    # run 1: imports every marketplace's orders, ships the file, dies after the first recorded push
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": "tracking_after_push"})
    w.wait_orders_synced()
    listed = json.loads(w.cli("orders", "list", "--json"))
    assert sorted((o["channel"], o["order_id"]) for o in listed) == \
        sorted((c, oid) for c, ids in w.orders.items() for oid in ids)
    drop_file(w.root / "inbox" / "shipments", "four.csv", w.shipment_file())
    wait_for(lambda: d1.proc.poll() is not None, 90, what="the kill after the first recorded push")
    assert d1.proc.returncode == -signal.SIGKILL
    [first] = w.pushes("pushed")
    assert sum(w.push_calls(c) for c in w.orders) == 1
    assert len(w.brt.live_shipments()) == 8 and w.brt.duplicate_creates == 0

    # run 2: the next push to `held` waits at its marketplace's door; kill -9 while it is in flight
    door = w.doors[held].arm(times=1)
    d2 = daemon_factory(w.config, env=w.env)
    assert door.arrived.wait(90), f"no push reached {held}"
    [in_flight] = w.pushes("pushing")
    assert in_flight["channel"] == held
    d2.kill()
    assert d2.proc.returncode == -signal.SIGKILL
    at_kill = {c: w.push_calls(c) for c in w.orders}
    assert 1 <= len(w.pushes("pushed")) < 7  # the kill is in the middle: done, in flight, and waiting
    assert at_kill[held] == (1 if first["channel"] == held else 0)  # the held one is not journaled yet
    door.release.set()  # the marketplace applies what the dead daemon sent
    try:  # the fake journals a call before it answers: wait for both
        wait_for(lambda: w.push_calls(held) == at_kill[held] + 1 and w.applied(held, in_flight["order_id"]) != [],
                 30, what=f"{held} applying the dead daemon's push")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; its push calls (path, status, body): {w.push_journal(held)}") from None

    # run 3: reads the interrupted push back from the marketplace, pushes the rest once
    daemon_factory(w.config, env=w.env)
    wait_for(lambda: len(w.pushes("pushed")) == 8, 90, what="all eight pushes recorded")
    verified = [r for r in w.pushes("pushed") if (r["error"] or "").startswith("verified")]
    assert [(r["channel"], r["order_id"]) for r in verified] == [(held, in_flight["order_id"])]
    w.check_exactly_once()
    w.check_logs_hold_no_buyer_data()
