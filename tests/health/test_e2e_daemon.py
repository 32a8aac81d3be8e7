"""Account health end to end on the real daemon (``marketd run`` subprocess): the fake SP-API
and a signed-webhook receiver on loopback. The health-reports job fetches the performance report
(the fake says AT_RISK with a BAD late-shipment rate), the inbox takes it, the alerts reach the
webhook once each, ``marketd status`` and ``marketd health`` show them, the health page is
written; a dropped notification file adds its alert. Then the daemon is killed (kill -9) right
after a webhook answered and before the delivery was recorded: after the restart the receiver
gets that delivery again with the *same* id (it dedupes on it), and every alert is delivered."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.amazon.fake import SpApiFake
from marketd.plugins.amazon.settings import env_name
from marketd.sdk.fakes import serve
from tests.conftest import wait_for, write_config
from tests.fakes.specs import amazon_contract
from tests.helpers import db_rows

from .notification_examples import envelope
from .receivers import WebhookReceiver

pytestmark = pytest.mark.e2e
ACCOUNT = "amz-de"
CREDS = ("amzn1.application-oa2-client.e2e", "e2e-lwa-client-secret", "Atzr|e2e-refresh")
SECRET = "whsec-e2e-secret-4242"


class World:
    def __init__(self, tmp_path):
        self.fake = SpApiFake(SYSTEM_CLOCK, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                              marketplace_id="A1PA6795UKMFR9", report_delays=(0.2, 0.2), contract=amazon_contract())
        self.fake.set_account_status("AT_RISK")
        self.fake.set_metric("lateShipmentRate", status="BAD", rate=0.081)
        self.served = serve(self.fake)
        self.hook = WebhookReceiver(SECRET)
        self.root = tmp_path / "inst"
        self.config = write_config(
            self.root,
            channels={ACCOUNT: {"type": "amazon", "marketplace": "DE", "endpoint": self.served.url,
                                "lwa_endpoint": f"{self.served.url}/auth/o2/token"}},
            jobs={"health-reports": {"seconds": 2, "accounts": [ACCOUNT], "kinds": ["performance"]},
                  "health-alerts": {"seconds": 1, "webhook_url": self.hook.url},
                  "health-page": {"seconds": 2}})
        self.env = {"MARKETD_ALERTS_WEBHOOK_SECRET": SECRET,
                    **{env_name(ACCOUNT, w): v for w, v in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS)}}

    def close(self):
        self.hook.close()
        self.served.shutdown()

    def cli(self, *args) -> str:
        res = subprocess.run([sys.executable, "-m", "marketd", "--config", str(self.config), *args],
                             capture_output=True, text=True, timeout=120, env={**__import__("os").environ, **self.env})
        assert res.returncode == 0, res.stderr
        return res.stdout

    def open_alerts(self) -> list:
        return db_rows(self.root, "select id, severity, title from health_alerts where state != 'resolved'")


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def test_performance_report_to_alerts_webhook_status_and_page(world, daemon_factory):
    w = world
    d = daemon_factory(w.config, env=w.env)
    wait_for(lambda: len(w.hook.received) >= 2, 90, what="the two high alerts at the webhook")
    titles = sorted(m["body"]["alert"]["title"] for m in w.hook.received)
    assert titles[0].startswith("account status AT_RISK") and titles[1].startswith("lateShipmentRate is BAD")
    # a notification dropped by hand adds its alert
    note = envelope("LISTINGS_ITEM_STATUS_CHANGE", {"SellerId": "S", "MarketplaceId": "A1PA6795UKMFR9",
                                                    "Asin": "B0E2E00001", "Sku": "E2E-1", "Status": ["DISCOVERABLE"]},
                    "e2e-1")
    inbox = w.root / "inbox" / "notifications"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "n.json").write_text(json.dumps(note))
    wait_for(lambda: len(w.hook.received) >= 3, 60, what="the notification's alert at the webhook")
    wait_for(lambda: (w.root / "outbox" / "health" / ACCOUNT / "index.html").exists(), 60, what="the health page")
    page = (w.root / "outbox" / "health" / ACCOUNT / "index.html").read_text()
    assert "lateShipmentRate" in page and "account status AT_RISK" in page and "E2E-1" in page
    status = w.cli("status")
    assert "3 open alert(s): 3 high" in status
    listing = w.cli("health")
    assert "E2E-1" in listing and "AT_RISK" in listing
    import httpx  # the fake's control door, as `marketd sandbox` prints it
    assert httpx.post(f"{w.served.url}/__control/account_status?status=DEACTIVATED").json() == {"status": "DEACTIVATED"}
    d.stop()
    ids = [m["delivery"] for m in w.hook.received]
    assert len(ids) == len(set(ids)) == 3 and w.hook.bad_signatures == 0
    assert w.fake.violations == [] and w.fake.response_violations == []
    assert w.fake.count("createReport") == 1          # every 24 h, not every run
    log = "".join(p.read_text(errors="replace") for p in w.root.glob("daemon-*.log"))
    assert CREDS[1] not in log and CREDS[2] not in log and SECRET not in log


def test_kill_9_between_webhook_success_and_commit_resends_the_same_delivery(world, daemon_factory):
    w = world
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": "health_delivery_sent"})
    wait_for(lambda: d1.proc.poll() is not None, 90, what="the kill after the first webhook success")
    assert d1.proc.returncode == -signal.SIGKILL
    assert len(w.hook.received) == 1
    first = w.hook.received[0]["delivery"]
    daemon_factory(w.config, env=w.env)
    wait_for(lambda: len({m["delivery"] for m in w.hook.received}) >= 2, 90, what="the other alert")
    wait_for(lambda: db_rows(w.root, "select count(*) from health_deliveries where state = 'sent'")[0][0] == 2, 60,
             what="both deliveries recorded")
    ids = [m["delivery"] for m in w.hook.received]
    assert ids.count(first) == 2                      # sent again after the crash, with the same id
    assert len(set(ids)) == 2                         # and nothing else twice
    bodies = {m["delivery"]: m["body"] for m in w.hook.received}
    assert len({b["alert"]["id"] for b in bodies.values()}) == 2


def test_kill_9_after_the_report_file_is_written_before_it_is_recorded(world, daemon_factory):
    """The crash point between writing the fetched report into inbox/health/ and marking the
    request fetched: after the restart the request is polled again and the same file written
    again (a duplicate, or the same file replaced before its claim); the alerts exist once."""
    w = world
    d1 = daemon_factory(w.config, env={**w.env, "MARKETD_CRASHPOINT": "health_report_written"})
    wait_for(lambda: d1.proc.poll() is not None, 90, what="the kill after the report file was written")
    assert d1.proc.returncode == -signal.SIGKILL
    assert db_rows(w.root, "select state from health_requests") == [("pending",)]
    daemon_factory(w.config, env=w.env)
    wait_for(lambda: db_rows(w.root, "select state from health_requests") == [("fetched",)], 90,
             what="the request collected after the restart")
    wait_for(lambda: len(w.hook.received) >= 2, 90, what="the alerts at the webhook")
    # the same name is written again with the same bytes: a duplicate if the first copy was taken
    # already, else the same file replaced in place before its claim (both are fine: one report)
    wait_for(lambda: sorted(s for (s,) in db_rows(w.root, "select state from files where kind = 'health'"))
             in (["done"], ["done", "duplicate"]), 90, what="the report taken once")
    assert len(w.open_alerts()) == 2
    assert w.fake.count("createReport") == 1
    assert len({m["delivery"] for m in w.hook.received}) == 2
