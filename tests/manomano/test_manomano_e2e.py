"""End to end with the real daemon process, the ManoMano channel and the BRT carrier.

A real ``marketd run`` subprocess with a ``[channels.mm-fr] type = "manomano"`` account whose
Partners API is the ManoMano fake on loopback (checked against the hand-written contract) and a
``[carriers.brt]`` account on the BRT fake:

1. the ``manomano-orders`` job imports the contract's orders (three accepted, one PENDING that
   waits for a person: ``accept = "manual"``);
2. a shipment file for all four becomes BRT shipments and labels;
3. once BRT scans the parcels, ``tracking-sync`` sends each order's tracking to
   ``/orders/v1/shippings``; the PENDING order's tracking waits until a person accepts the order
   with ``marketd manomano accept``, then goes out by itself;
4. every order is shipped at ManoMano exactly once, although the daemon is killed with
   ``kill -9`` in the middle of the first shippings call (ManoMano applies it, nobody records
   the answer), or right after a recorded push, or right after the push was claimed;
5. the payout detail and the sales file (ManoMano has no settlement API) dropped into
   ``inbox/settlements/`` give each order its revenue, commission and net
   (``marketd orders show``), and ``marketd status`` knows when the last payout was.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from marketd.plugins.brt.fake import BrtFake
from marketd.plugins.manomano.fake import BUYERS, ManoManoFake
from marketd.plugins.manomano.settings import env_name
from marketd.sdk import SYSTEM_CLOCK
from marketd.sdk.fakes import serve
from tests.carriers.test_e2e_carriers import count, drop_file
from tests.helpers import db_dicts
from tests.conftest import wait_for, write_config
from tests.fakes.manomano_contract import ManoManoContract

pytestmark = pytest.mark.e2e

ACCOUNT = "mm-fr"
KEY = "mm-e2e-api-key-0123456789"
SENDER = {"name": "Negozio Srl", "street": "Via Milano 5", "postal_code": "20100", "city": "Milano",
          "province": "MI", "country": "IT"}
BRT_TRACKING_URL = "https://vas.brt.it/vas/sped_det_show.hsm?Nspediz={tracking_number}"


class World:
    def __init__(self, tmp_path: Path):
        now = SYSTEM_CLOCK.now()
        self.mm = ManoManoFake(SYSTEM_CLOCK, keys={KEY: [1001]}, contract=ManoManoContract())
        # Buyers in FR, ES and DE: ManoMano's address has no province, which BRT needs for Italy
        self.ready = [self.mm.add_order(status="PREPARATION", created_at=now - timedelta(hours=3 - i / 10),
                                        buyer=(0, 2, 3)[i],
                                        products=[("MM-DRILL-18V", 1), ("MM-GLOVES", 2)] if i == 0 else None
                                        )["order_reference"] for i in range(3)]
        self.pending = self.mm.add_order(status="PENDING", created_at=now - timedelta(hours=2),
                                         buyer=0)["order_reference"]
        self.mm_served = serve(self.mm)
        self.brt = BrtFake(SYSTEM_CLOCK, tracking_delay=6.0, event_interval=2.0, short_delays=True)
        brt_url = self.brt.serve()
        self.root = tmp_path / "inst"
        self.config = write_config(
            self.root,
            carriers={"brt": {"type": "brt", "base_url": brt_url + "/rest/v1", "user_id": self.brt.user_id,
                              "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                              "requests_per_second": 50, "tracking_url": BRT_TRACKING_URL}},
            channels={ACCOUNT: {"type": "manomano", "contract_id": 1001, "country": "FR", "orders_sync": True,
                                "endpoint": self.mm_served.url, "initial_days": 2}},
            jobs={"manomano-orders": {"seconds": 3600},
                  "tracking-sync": {"seconds": 1, "first_check": 1, "pending_factor": 1.5, "pending_max": 2,
                                    "transit_interval": 1, "out_for_delivery_interval": 1, "error_base": 1,
                                    "push_retry": 1}})
        self.env = {"BRT_PASSWORD": self.brt.password, env_name(ACCOUNT): KEY}

    def close(self) -> None:
        self.brt.shutdown()
        self.mm_served.shutdown()

    @property
    def refs(self) -> list[str]:
        return self.ready + [self.pending]

    def shipment_file(self) -> str:
        return "order,carrier,weight_kg,parcel_count\n" + "".join(f"{r},brt,1.5,1\n" for r in self.refs)

    def wait_orders_synced(self) -> None:
        wait_for(lambda: count(self.root, "select count(*) n from orders where channel = ?", [ACCOUNT]) == 4,
                 30, what="the manomano-orders job importing the fake's orders")

    def manifest(self) -> dict[str, str]:
        path = wait_for(lambda: sorted((self.root / "outbox").glob("labels/manifest-*.csv")), 40, what="manifest")[0]
        return {r["order"]: r["tracking_number"] for r in csv.DictReader(path.open(encoding="utf-8"))}

    def pushed(self) -> int:
        return count(self.root, "select count(*) n from shipment_pushes where state = 'pushed'")

    def shippings_call_in_flight(self, seconds: float):
        self.mm.delay_next("createShippings", seconds)
        fault = self.mm.faults[-1]
        return lambda: fault.times == 0

    def accept_pending_by_hand(self) -> None:
        out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(self.config), "manomano", "accept",
                              self.pending], capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60)
        assert out.returncode == 0 and "accept done" in out.stdout, out.stdout + out.stderr

    def cli(self, *args) -> str:
        out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(self.config), *args],
                             capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def check_exactly_once(self, tracking: dict[str, str]) -> None:
        for ref in self.refs:
            sent = self.mm.shippings_of(ref)
            assert len(sent) == 1, f"{ref}: {len(sent)} shippings applied at ManoMano"
            assert sent[0]["carrier"] == "BRT" and sent[0]["tracking_number"] == tracking[ref]
            assert sent[0]["tracking_url"] == BRT_TRACKING_URL.format(tracking_number=tracking[ref])
            assert self.mm.orders[ref]["status"] == "SHIPPED"
        first = self.mm.shippings_of(self.ready[0])[0]
        assert first["products"] == [{"seller_sku": "MM-DRILL-18V", "quantity": 1},
                                     {"seller_sku": "MM-GLOVES", "quantity": 2}]
        assert self.mm.violations == [] and self.mm.response_violations == []
        assert count(self.root, "select count(*) n from shipment_pushes where state in ('pushing', 'uncertain', "
                                "'failed')") == 0
        stored = {r["order_id"]: r["channel_status"] for r in db_dicts(self.root, "select * from orders")}
        assert stored == {ref: "SHIPPED" for ref in self.refs}

    def check_logs_hold_no_buyer_data(self) -> None:
        text = "\n".join(p.read_text(errors="replace") for p in self.root.glob("daemon-*.log"))
        assert "manomano mm-fr" in text  # the channel did log
        for first, last, *_ in BUYERS:
            assert first not in text and last not in text, first
        assert "@example.com" not in text and KEY not in text


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def test_kill_9_in_the_middle_of_the_shippings_call_ships_each_order_once(world, daemon_factory):
    w = world
    in_flight = w.shippings_call_in_flight(3.0)
    d1 = daemon_factory(w.config, env=w.env)
    w.wait_orders_synced()
    assert w.mm.count("acceptOrders") == 0  # manual: the PENDING order waits for a person
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    tracking = w.manifest()
    assert set(tracking) == set(w.refs)
    wait_for(in_flight, 60, what="the first shippings call reaching ManoMano")
    d1.kill()  # SIGKILL while ManoMano is processing it: the ledger says 'sending', the push 'pushing'
    assert d1.proc.returncode == -signal.SIGKILL
    wait_for(lambda: len(w.mm.shippings) == 1, 10, what="ManoMano applying the call of the dead daemon")
    assert count(w.root, "select count(*) n from manomano_shippings where state = 'sending'") == 1
    assert count(w.root, "select count(*) n from shipment_pushes where state = 'pushing'") == 1

    daemon_factory(w.config, env=w.env)  # asks ManoMano about the interrupted push instead of sending it again
    wait_for(lambda: w.pushed() == 3, 60, what="the three accepted orders pushed")
    verified = db_dicts(w.root, "select error from shipment_pushes where error like 'verified%'")
    assert len(verified) == 1
    waiting = wait_for(lambda: db_dicts(w.root, "select order_id, error from shipment_pushes where state = 'retry' "
                                               "and error like '%waits for acceptance%'"), 30,
                       what="the PENDING order's push waiting for a person")
    assert [r["order_id"] for r in waiting] == [w.pending]
    assert w.mm.shippings_of(w.pending) == []

    w.accept_pending_by_hand()
    wait_for(lambda: w.pushed() == 4, 60, what="the accepted order's tracking going out by itself")
    w.check_exactly_once(tracking)
    assert w.mm.count("createShippings") == 4  # the interrupted call was never sent again

    # 5. ManoMano pays out: the two accounting CSVs from the back office, dropped into the inbox
    ca, detail = w.mm.accounting_csvs("PO-E2E-1", decimal=",")
    drop_file(w.root / "inbox" / "settlements", "Detail versement Manomano.csv", detail)
    drop_file(w.root / "inbox" / "settlements", "CA Manomano.csv", ca)
    wait_for(lambda: count(w.root, "select count(*) n from files where kind = 'settlements' and state = 'done'") == 2,
             60, what="both accounting files applied")
    ref = w.ready[0]
    view = json.loads(w.cli("orders", "show", ref, "--json"))
    gross = Decimal(str(w.mm.orders[ref]["total_price"]["amount"]))
    commission = (gross * Decimal("0.15")).quantize(Decimal("0.01"))
    money = view["finance"][0]
    # the first order of the payout also carries the ECO_CONTRIBUTION row (-0.50, category other)
    assert (Decimal(money["revenue"]), Decimal(money["marketplace_fee"]), Decimal(money["other"]),
            Decimal(money["net"])) == (gross, -commission, Decimal("-0.50"), gross - commission - Decimal("0.50"))
    assert [p["payout_id"] for p in view["payouts"]] == ["PO-E2E-1"]
    payouts = db_dicts(w.root, "select status, matched, unmatched from payouts")
    assert payouts == [{"status": "unchecked", "matched": 4, "unmatched": 0}]
    archived = list((w.root / "inbox" / "settlements" / ".done").rglob("*.csv"))
    assert len(archived) == 2 and all(p.stat().st_mode & 0o007 == 0 for p in archived)
    status = w.cli("status")
    assert "mm-fr: last payout file paid on" in status
    w.check_logs_hold_no_buyer_data()


@pytest.mark.parametrize("crashpoint", ["tracking_after_push", "tracking_after_push_claim"])
def test_kill_9_around_a_push_never_ships_twice(world, daemon_factory, crashpoint):
    w = world
    # accepted in the back office an hour ago: all four can ship
    an_hour_ago = (SYSTEM_CLOCK.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    w.mm.orders[w.pending].update(status="PREPARATION", status_updated_at=an_hour_ago)
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": crashpoint})
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    tracking = w.manifest()
    wait_for(lambda: d1.proc.poll() is not None, 60, what=f"the kill at {crashpoint}")
    assert d1.proc.returncode == -signal.SIGKILL
    sent_before = len(w.mm.shippings)
    assert sent_before == (1 if crashpoint == "tracking_after_push" else 0)

    daemon_factory(w.config, env=w.env)
    wait_for(lambda: w.pushed() == 4, 60, what="all pushes recorded")
    w.check_exactly_once(tracking)
    assert w.mm.count("createShippings") == 4
    w.check_logs_hold_no_buyer_data()
