"""eBay end to end on the real daemon (``marketd run`` subprocess) against the fake eBay and the
fake BRT on loopback: orders arrive through the ``ebay-orders`` job, a shipment file ships them
with BRT, and the ``tracking-sync`` job sends each package's tracking to eBay exactly once —
although the daemon is killed (``kill -9``) in the middle of the push:

- while ``createShippingFulfillment`` is in flight (eBay applies it, the daemon never hears the
  answer): after the restart the daemon reads the fulfilments back instead of sending again;
- right after a push was recorded (crash point ``tracking_after_push``): never sent again; and
  the next push meets eBay's "500 after success", which is read back, not re-sent.

The fake checks every request and answer against eBay's OpenAPI files (skip locally without
``shared/specs/ebay``, fail under CI). Buyer names, e-mails and user names never reach the log.
"""
from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

import pytest

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.brt.fake import BrtFake
from marketd.plugins.ebay.fake import EbayFake, generate_orders
from marketd.plugins.ebay.settings import env_name
from marketd.sdk.fakes import serve
from tests.carriers.test_e2e_carriers import SENDER, count, drop_file
from tests.helpers import db_dicts
from tests.conftest import wait_for, write_config
from tests.fakes.ebay_specs import EbayContract, require_ebay_specs

pytestmark = pytest.mark.e2e

ACCOUNT = "ebay-it"
CREDS = ("Negozio-Marketd-PRD-e2e000001", "PRD-e2e-cert-id", "v^1.1#i^1#e2e-refresh")


class World:
    def __init__(self, tmp_path):
        self.ebay = EbayFake(SYSTEM_CLOCK, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                             contract=EbayContract(require_ebay_specs()))
        self.orders = generate_orders(3, now=datetime.now(timezone.utc) - timedelta(hours=2), days=1, seed=11)
        self.ebay.add_orders(self.orders)
        self.served = serve(self.ebay)
        self.brt = BrtFake(SYSTEM_CLOCK, tracking_delay=3.0, event_interval=1.0, short_delays=True)
        brt_url = self.brt.serve()
        self.root = tmp_path / "inst"
        url = self.served.url
        self.config = write_config(
            self.root,
            carriers={"brt": {"type": "brt", "base_url": brt_url + "/rest/v1", "user_id": self.brt.user_id,
                              "departure_depot": 102, "sender_customer_code": 1020304, "sender": SENDER,
                              "requests_per_second": 50}},
            channels={ACCOUNT: {"type": "ebay", "marketplace": "EBAY_IT", "orders_sync": True, "endpoint": url,
                                "finances_endpoint": url, "initial_days": 3}},
            jobs={"ebay-orders": {"seconds": 3600},
                  "tracking-sync": {"seconds": 1, "first_check": 1, "pending_factor": 1.5, "pending_max": 2,
                                    "transit_interval": 1, "out_for_delivery_interval": 1, "error_base": 1}})
        self.env = {"BRT_PASSWORD": self.brt.password,
                    **{env_name(ACCOUNT, w): v for w, v in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS)}}

    def close(self) -> None:
        self.brt.shutdown()
        self.served.shutdown()

    @property
    def order_ids(self) -> list[str]:
        return [o["orderId"] for o in self.orders]

    def shipment_file(self) -> str:
        a, b, c = self.order_ids
        return f"order,carrier,weight_kg,parcel_count\n{a},brt,1.5,1\n{b},brt,2.0,1\n{c},brt,0.5,1\n"

    def wait_orders_synced(self) -> None:
        wait_for(lambda: count(self.root, "select count(*) n from orders where channel = ?", [ACCOUNT]) == 3,
                 30, what="the ebay-orders job importing the fake's orders")

    def posts(self) -> int:
        with self.ebay.lock:
            return self.ebay.count("createShippingFulfillment")

    def fulfilments(self, order_id: str) -> list[dict]:
        return self.ebay.fulfillments_of(order_id)

    def pushed(self) -> int:
        return count(self.root, "select count(*) n from shipment_pushes where state = 'pushed'")

    def check_exactly_once(self) -> None:
        tracking = {r["refs"]: r["tracking_number"] for r in db_dicts(self.root, "select refs, tracking_number from shipments")}
        for o in self.orders:
            found = self.fulfilments(o["orderId"])
            assert len(found) == 1, f"{o['orderId']}: {len(found)} fulfilments at eBay"
            assert found[0]["shippingCarrierCode"] == "BRT"
            assert found[0]["shipmentTrackingNumber"] in tracking.values()
            assert sorted(li["lineItemId"] for li in found[0]["lineItems"]) == \
                sorted(li["lineItemId"] for li in o["lineItems"])
            assert self.ebay.orders[o["orderId"]]["orderFulfillmentStatus"] == "FULFILLED"
        assert count(self.root, "select count(*) n from shipment_pushes where state in ('pushing', 'uncertain')") == 0
        assert self.ebay.violations == [] and self.ebay.response_violations == []

    def check_no_buyer_data_in_logs(self) -> None:
        text = "".join(p.read_text(errors="replace") for p in self.root.glob("daemon-*.log"))
        assert "ebay" in text.lower()  # the log is there and talks about eBay
        for o in self.orders:
            contact = o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
            for value in (contact["fullName"], contact["email"], contact["contactAddress"]["addressLine1"],
                          o["buyer"]["username"]):
                assert value not in text, f"buyer data in the log: {value}"
        assert CREDS[1] not in text and CREDS[2] not in text


def buyer_cells(report: str) -> set[str]:
    """The buyer user names and names a Transaction report holds (its preamble skipped)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(report.lstrip("\ufeff"))))
    at = next(i for i, r in enumerate(rows) if "Buyer name" in r)
    header = rows[at]
    cols = [header.index("Buyer username"), header.index("Buyer name")]
    return {r[c] for r in rows[at + 1:] if len(r) == len(header) for c in cols if r[c] not in ("", "--")}


def output_text(path) -> str:
    """A report's text: a workbook's cell values, any other file as text."""
    if path.suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        return "\n".join(" ".join(str(c) for c in row if c is not None)
                          for ws in wb.worksheets for row in ws.iter_rows(values_only=True))
    return path.read_text(errors="ignore")


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def test_kill_9_while_the_fulfilment_is_in_flight_sends_each_package_once(world, daemon_factory):
    w = world
    world.ebay.delay_next("createShippingFulfillment", 3.0)
    fault = world.ebay.faults[-1]
    d1 = daemon_factory(w.config, env=w.env)
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    wait_for(lambda: fault.times == 0, 60, what="the first createShippingFulfillment reaching eBay")
    assert count(w.root, "select count(*) n from shipment_pushes where state = 'pushing'") == 1
    d1.kill()  # SIGKILL between the 'pushing' commit and eBay's answer
    assert d1.proc.returncode == -signal.SIGKILL
    wait_for(lambda: len(w.ebay.created_fulfillments) == 1, 10, what="eBay applying the dead daemon's fulfilment")
    assert w.pushed() == 0

    daemon_factory(w.config, env=w.env)
    wait_for(lambda: w.pushed() == 3, 60, what="all pushes recorded")
    assert w.posts() == 3  # the interrupted one was read back, not sent again
    verified = db_dicts(w.root, "select error from shipment_pushes where error like 'verified%'")
    assert len(verified) == 1
    assert w.ebay.count("getShippingFulfillments") >= 1
    w.check_exactly_once()
    w.check_no_buyer_data_in_logs()


def test_kill_9_after_a_recorded_push_and_a_500_after_success(world, daemon_factory):
    w = world
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": "tracking_after_push"})
    w.wait_orders_synced()
    drop_file(w.root / "inbox" / "shipments", "day.csv", w.shipment_file())
    wait_for(lambda: d1.proc.poll() is not None, 60, what="the kill after the first recorded push")
    assert d1.proc.returncode == -signal.SIGKILL
    assert w.posts() == 1 and w.pushed() == 1

    w.ebay.succeed_then(500)  # the next fulfilment is made, and eBay answers 500 all the same
    daemon_factory(w.config, env=w.env)
    wait_for(lambda: w.pushed() == 3, 60, what="the other pushes")
    assert w.posts() == 3  # neither the recorded one nor the one answered 500 was sent twice
    assert w.ebay.count("createShippingFulfillment", 500) == 1
    w.check_exactly_once()
    w.check_no_buyer_data_in_logs()


def test_payouts_fetched_and_dropped_reach_the_settlement_tables_with_buyer_data_kept_private(tmp_path,
                                                                                             daemon_factory):
    """The ebay-payouts job writes the Finances payout into inbox/settlements/, the daemon takes it
    (payout check ok); the Transaction report with the same payout and one more is dropped: the
    known one is a duplicate, the new one is applied. The fetched file is 0600 (a dropped one keeps
    its owner and group bits, none for others); the log has no buyer name, e-mail or user name, and
    the buyers the dropped report names (read from the file itself) are in no log line and no
    report, CSV or workbook."""
    import stat

    w = World(tmp_path)
    try:
        for o in w.orders:
            w.ebay.touch(o["orderId"], at=datetime.now(timezone.utc) - timedelta(hours=1),
                         orderFulfillmentStatus="FULFILLED")
        fetched = w.ebay.make_payout(w.order_ids[:2])
        cfg = w.config.read_text().replace('orders_sync = true', 'orders_sync = true\nsettlements_fetch = true')
        w.config.write_text(cfg + '\n[jobs.ebay-payouts]\nseconds = 2\n')
        d = daemon_factory(w.config, env=w.env)
        w.wait_orders_synced()
        key = f"ebay:{ACCOUNT}:payout:{fetched['payoutId']}"
        wait_for(lambda: db_dicts(w.root, "select status from payouts where payout_key = ?", [key]), 60,
                 what="the fetched payout applied")
        assert db_dicts(w.root, "select status from payouts where payout_key = ?", [key])[0]["status"] == "ok"
        only_in_report = w.ebay.make_payout(w.order_ids[2:])
        w.ebay.payouts.pop(only_in_report["payoutId"])  # the API does not list it (yet): only the report has it
        w.ebay.payouts[only_in_report["payoutId"]] = only_in_report
        report = w.ebay.transaction_report_csv([fetched["payoutId"], only_in_report["payoutId"]])
        drop_file(w.root / "inbox" / "settlements", "Transaction_report.csv", report)
        key2 = f"ebay:{ACCOUNT}:payout:{only_in_report['payoutId']}"
        wait_for(lambda: db_dicts(w.root, "select status from payouts where payout_key = ?", [key2]), 60,
                 what="the report's new payout applied")
        statuses = {r["payout_key"]: r["status"] for r in db_dicts(w.root, "select payout_key, status from payouts")}
        assert statuses[key] == "ok" and statuses[key2] == "ok"
        assert count(w.root, "select count(*) n from payouts where channel_type = 'ebay'") == 2
        d.stop()
        archived = [p for p in (w.root / "inbox" / "settlements").rglob("*") if p.is_file()
                    and (p.suffix in (".json", ".csv"))]
        modes = {p.suffix: stat.S_IMODE(p.stat().st_mode) for p in archived}
        assert set(modes) == {".json", ".csv"}, archived
        assert modes[".json"] == 0o600  # written by marketd: buyer user names, the owner only
        assert modes[".csv"] & 0o007 == 0  # a drop keeps its owner/group bits, never any for others (inbox rule)
        w.check_no_buyer_data_in_logs()
        # the buyers named in the dropped file itself: nowhere in the log or in any report
        buyers = buyer_cells(report)
        assert buyers == {o["buyer"]["username"] for o in w.orders} | \
            {o["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["fullName"] for o in w.orders}
        log = "".join(p.read_text(errors="replace") for p in w.root.glob("daemon-*.log"))
        outputs = sorted(p for p in (w.root / "outbox").rglob("*") if p.is_file())
        assert {p.suffix for p in outputs} >= {".csv", ".xlsx"}, outputs
        text = "\n".join(output_text(p) for p in outputs)
        for value in buyers:
            assert value not in log, f"buyer data in the log: {value}"
            assert value not in text, f"buyer data in a report: {value}"
        assert all(stat.S_IMODE(p.stat().st_mode) & 0o007 == 0 for p in outputs)  # never for others
    finally:
        w.close()
