"""End to end with the real daemon process and the real MALL channel.

A real ``marketd run`` subprocess with ``[channels.mall-cz] type = "mall"`` whose MPAPI is the
MALL fake on loopback (checking every request and answer against tests/contracts/mall), a BRT
account for the orders the seller ships itself and a MALL Delivery account for the MDP order:

1. the ``mall-orders`` job imports the open orders (and confirms them: ``auto_confirm``);
2. one shipment file ships the two own-carrier orders with BRT and the MDP order with MALL
   Delivery (labels from MALL);
3. once BRT has scanned the parcels, tracking-sync puts each BRT tracking number on its MALL
   order (``PUT status=shipped``) — exactly once, although the daemon is killed (``kill -9``)
   right after the first push was recorded, or right after a push was claimed and before it
   was sent; the MDP order is never moved to shipped by us: MALL does it at pickup;
4. MALL invoices the delivered orders and offsets the COD one: the ``mall-finance`` job drops both
   documents into ``inbox/settlements/``, and ``marketd orders show`` gives each order's gross,
   MALL's margin and what MALL paid.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.brt.fake import BrtFake
from marketd.plugins.mall.fake import MallFake
from marketd.plugins.mall.settings import env_name
from marketd.sdk.fakes import serve
from tests.carriers.test_e2e_carriers import SENDER, count, drop_file
from tests.helpers import db_dicts
from tests.conftest import wait_for, write_config
from tests.fakes.mall_contract import MallContract

pytestmark = pytest.mark.e2e

ACCOUNT = "mall-cz"
OWN = (7001, 7002)     # shipped with BRT by the seller: tracking goes back to MALL
MDP = 7003             # MALL Delivery: MALL moves it
TRACKING_DELAY, EVENT_INTERVAL = 4.0, 2.0


class MallWorld:
    def __init__(self, tmp_path: Path):
        self.mall = MallFake(SYSTEM_CLOCK, contract=MallContract(), pickup_delay=3, delivery_delay=3600)
        for oid in OWN:
            self.mall.add_order(oid, mdp=False, confirmed=oid == OWN[0],
                                items=[{"id": "SKU-9", "article_id": 9, "quantity": 1, "price": 1299.0, "vat": 21.0,
                                        "commission": 15, "title": "Konvice", "serial_numbers": [],
                                        "package_size": "bigbox"}])
        self.mall.add_order(MDP, mdp=True, confirmed=True)
        self.mall_served = serve(self.mall)
        self.brt = BrtFake(SYSTEM_CLOCK, tracking_delay=TRACKING_DELAY, event_interval=EVENT_INTERVAL,
                           short_delays=True)
        brt_url = self.brt.serve()
        self.root = tmp_path / "inst"
        self.config = write_config(
            self.root,
            carriers={"brt": {"type": "brt", "base_url": brt_url + "/rest/v1", "user_id": self.brt.user_id,
                              "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                              "requests_per_second": 50},
                      "mall": {"type": "mall_delivery", "channels": [ACCOUNT]}},
            channels={ACCOUNT: {"type": "mall", "base_url": self.mall_served.url, "orders_sync": True,
                                "auto_confirm": True, "requests_per_second": 50}},
            jobs={"mall-orders": {"seconds": 3600},
                  "tracking-sync": {"seconds": 1, "first_check": 1, "pending_factor": 1.5, "pending_max": 2,
                                    "transit_interval": 1, "out_for_delivery_interval": 1, "error_base": 1}},
        )
        self.env = {"BRT_PASSWORD": self.brt.password, env_name(ACCOUNT): self.mall.client_id}

    def close(self) -> None:
        self.brt.shutdown()
        self.mall_served.shutdown()

    def wait_orders_synced(self) -> None:
        wait_for(lambda: count(self.root, "select count(*) n from orders where channel = ?", [ACCOUNT]) == 3,
                 30, what="the mall-orders job importing the fake's orders")

    def shipment_file(self) -> str:
        a, b = OWN
        return f"order,carrier,weight_kg,parcel_count\n{a},brt,1.5,1\n{b},brt,2.0,2\n{MDP},mall,0.5,1\n"

    def puts(self, oid: int) -> int:
        with self.mall.lock:
            return len(self.mall.status_puts(oid))

    def check_exactly_once(self) -> None:
        manifest = db_dicts(self.root, "select order_keys, tracking_number, carrier from shipments")
        assert len(manifest) == 3
        by_order = {r["order_keys"]: r for r in manifest}
        with self.mall.lock:
            for oid in OWN:
                order = self.mall.orders[oid]
                assert self.puts(oid) == 1, f"{oid}: {self.puts(oid)} status PUTs"
                assert order["status"] in ("shipped", "delivered") and order["confirmed"]
                assert order["tracking_number"] == by_order[f'["{ACCOUNT}:{oid}"]']["tracking_number"]
            assert self.mall.status_puts(MDP) == []                    # never shipped by us
            assert not [r for r in self.mall.journal if r.method == "PUT" and r.path.endswith(f"/{MDP}")
                        and b"shipped" in r.body]
            assert self.mall.violations == [] and self.mall.response_violations == []
        pushes = db_dicts(self.root, "select order_id, state from shipment_pushes order by order_id")
        assert [(p["order_id"], p["state"]) for p in pushes] == [(str(o), "pushed") for o in OWN]
        assert count(self.root, "select count(*) n from shipments where channel_managed = 1") == 1


@pytest.fixture
def world(tmp_path):
    made = []

    def make() -> MallWorld:
        w = MallWorld(tmp_path)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.mark.parametrize("crashpoint", ["tracking_after_push", "tracking_after_push_claim"])
def test_kill_9_in_the_middle_of_the_push_puts_each_tracking_on_mall_once(world, daemon_factory, crashpoint):
    w = world()
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": crashpoint})
    w.wait_orders_synced()
    assert w.mall.orders[OWN[1]]["confirmed"]                 # auto_confirm
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    wait_for(lambda: d1.proc.poll() is not None, 60, what=f"the kill at {crashpoint}")
    assert d1.proc.returncode == -signal.SIGKILL
    sent = sum(w.puts(o) for o in OWN)
    assert sent == (1 if crashpoint == "tracking_after_push" else 0)
    assert count(w.root, "select count(*) n from shipment_pushes where state = 'pushing'") == \
        (0 if crashpoint == "tracking_after_push" else 1)

    daemon_factory(w.config, env=w.env)                        # the restart, without the crash point
    wait_for(lambda: count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'") == 2,
             60, what="both MALL orders confirmed")
    wait_for(lambda: w.mall.orders[MDP]["status"] == "shipped", 30, what="MALL's pickup of the MDP order")
    w.check_exactly_once()
    log = "".join(p.read_text(errors="replace") for p in w.root.glob("daemon-*.log"))
    for pii in ("Jana", "Nováková", "jana@example.cz", "Dlouhá", w.mall.client_id):
        assert pii not in log


def test_invoices_fetched_by_the_daemon_give_each_orders_margin(world, daemon_factory):
    """MALL delivers and invoices the orders; the daemon's mall-finance job drops the invoice and the
    offset into inbox/settlements/, the settlements handler applies them, and `marketd orders show`
    gives the order's gross, MALL's margin and what MALL paid."""
    w = world()
    with w.mall.lock:
        w.mall.orders[OWN[0]]["cod"] = 1378.0                   # paid cash on delivery to the seller's carrier
    cfg = w.config.read_text().replace('auto_confirm = true', 'auto_confirm = true\ninvoices_fetch = true')
    cfg += '\n[jobs.mall-finance]\nseconds = 2\n'
    w.config.write_text(cfg)
    daemon_factory(w.config, env=w.env)
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    wait_for(lambda: count(w.root, "select count(*) n from shipment_pushes where state = 'pushed'") == 2,
             60, what="both MALL orders shipped")
    with w.mall.lock:
        for oid in OWN:
            w.mall.mall_update(oid, "delivered")
        invoice = w.mall.finance.run_now()
        offset = w.mall.finance.offset(invoice["id"], SYSTEM_CLOCK.now())
    wait_for(lambda: count(w.root, "select count(*) n from payouts") == 2, 60, what="invoice and offset applied")
    rows = db_dicts(w.root, "select kind, status, check_detail from payouts order by kind")
    assert [(r["kind"], r["status"]) for r in rows] == [("invoice", "ok"), ("offset", "ok")], rows
    out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(w.config), "orders", "show", str(OWN[0]),
                          "--json"], capture_output=True, text=True, env={**os.environ, **w.env}, timeout=60)
    assert out.returncode == 0, out.stderr
    [money] = json.loads(out.stdout)["finance"]
    paid = sum(Decimal(repr(i["totalPrice"])) for i in invoice["items"] if i["orderId"] == OWN[0])
    assert Decimal(money["revenue"]) == Decimal("1378.00")                  # 1299 + 79 delivery
    assert Decimal(money["marketplace_fee"]) == paid - Decimal("1378.00")   # MALL's margin
    assert Decimal(money["net"]) == paid and Decimal(money["transfer"]) == Decimal("-1378.00")
    assert offset["diffPrice"] == float(Decimal(repr(invoice["total"])) - Decimal("1378.0"))
    archived = [p for p in (w.root / "inbox" / "settlements" / ".done").rglob("*mall-mall-cz-*.json") if p.is_file()]
    assert len(archived) == 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in archived)
    log = "".join(p.read_text(errors="replace") for p in w.root.glob("daemon-*.log"))
    assert "Jana" not in log and w.mall.client_id not in log
