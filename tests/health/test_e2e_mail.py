"""Alert e-mail through the core's mail door on the real daemon: a notification file raises a
high alert, the daemon mails it through a real SMTPS server (implicit TLS, a certificate made
here), and a kill -9 right after the server took the message and before it was recorded sends
it again after the restart with the same Message-ID (alerts: a copy rather than a loss), once."""
from __future__ import annotations

import json
import re
import signal

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import db_rows
from tests.smtp_servers import SmtpServer

from .notification_examples import envelope

pytestmark = pytest.mark.e2e


def test_kill_9_after_the_smtps_server_took_an_alert_mail_sends_it_again_with_the_same_id(tmp_path, daemon_factory):
    server = SmtpServer(tmp_path, "smtps", login="alerts", password="relay-secret-77").start()
    try:
        root = tmp_path / "inst"
        config = write_config(root, mail={"host": "127.0.0.1", "port": server.port, "security": "smtps",
                                          "username": "alerts", "ca_file": str(server.cert),
                                          "sender": "marketd@seller.example"},
                              jobs={"health-alerts": {"seconds": 1, "mail_to": ["ops@seller.example"]}},
                              inbox={"notifications": {"account": "amz-de"}})
        env = {"MARKETD_SMTP_PASSWORD": "relay-secret-77"}
        d1 = daemon_factory(config, env={**env, "MARKETD_CRASHPOINT": "mail.after_data"})
        (root / "inbox" / "notifications").mkdir(parents=True, exist_ok=True)
        (root / "inbox" / "notifications" / "n.json").write_text(json.dumps([envelope(
            "ITEM_PRODUCT_TYPE_CHANGE", {"MarketplaceId": "A1PA6795UKMFR9", "Asin": "B0MAIL0001",
                                         "PreviousProductType": "LUGGAGE", "CurrentProductType": "BAG"}, "mail-1")]))
        wait_for(lambda: d1.proc.poll() is not None, 90, what="the kill after the server took the mail")
        assert d1.proc.returncode == -signal.SIGKILL
        assert len(server.messages) == 1
        assert db_rows(root, "select state from mail_queue") == [("sending",)]
        d2 = daemon_factory(config, env=env)
        wait_for(lambda: db_rows(root, "select state from mail_queue") == [("sent",)], 90, what="sent again")
        ids = [re.search(r"Message-ID: (<[^>]+>)", m["data"]).group(1) for m in server.messages]
        assert len(ids) == 2 and ids[0] == ids[1]            # the copy carries the same id
        assert all(m["tls"] for m in server.messages) and server.auth_seen[-1] == ("alerts", "relay-secret-77")
        (did,) = db_rows(root, "select delivery_id from health_deliveries where channel = 'email'")[0]
        assert ids[0] == f"<{did}@marketd>"
        assert not list((root / "var" / "mail").glob("*.eml"))   # the address is gone once sent
        log = "".join(p.read_text(errors="replace") for p in root.glob("daemon-*.log"))
        assert "relay-secret-77" not in log and "ops@seller.example" not in log
        d2.stop()
        assert len(server.messages) == 2
    finally:
        server.stop()
