"""Alert delivery: a signed webhook that is down for an hour gets every alert afterwards exactly
once; e-mail through a real SMTP server; an alert storm of 10,000 notifications gives one storm
message and one digest, never an alert twice."""
from __future__ import annotations

import json

import pytest

from marketd.plugins.health.delivery import deliver
from marketd.plugins.health.digest import make_digest
from marketd.plugins.health.status import section as status_section

from .notification_examples import envelope
from .receivers import SmtpReceiver, WebhookReceiver

SECRET = "whsec-test-0123456789"


@pytest.fixture
def hook(monkeypatch):
    r = WebhookReceiver(SECRET)
    monkeypatch.setenv("MARKETD_ALERTS_WEBHOOK_SECRET", SECRET)
    yield r
    r.close()


def type_change(i: int) -> dict:
    return envelope("ITEM_PRODUCT_TYPE_CHANGE", {"MarketplaceId": "A1PA6795UKMFR9", "Asin": f"B0{i:08d}",
                                                 "PreviousProductType": "LUGGAGE", "CurrentProductType": "BAG"}, f"n-{i}")


def test_a_webhook_down_for_an_hour_gets_every_alert_afterwards_exactly_once(world, hook):
    w = world(jobs={"health-alerts": {"webhook_url": hook.url}})
    w.drop("n.json", json.dumps([type_change(i) for i in range(5)]), kind="notifications")
    hook.failing = True
    for minute in range(60):                       # the health-alerts job, every minute, for an hour
        deliver(w.app)
        w.clock.advance(60)
    assert hook.received == [] and hook.attempts >= 5 * 5
    hook.failing = False
    for minute in range(40):                       # backoff is at most 30 minutes
        deliver(w.app)
        w.clock.advance(60)
    asins = sorted(m["body"]["alert"]["asin"] for m in hook.received)
    assert asins == [f"B0{i:08d}" for i in range(5)]
    ids = [m["delivery"] for m in hook.received]
    assert len(set(ids)) == 5 and all(m["body"]["delivery_id"] == m["delivery"] for m in hook.received)
    assert hook.bad_signatures == 0
    states = [r[0] for r in w.app.store.db.execute("select state from health_deliveries")]
    assert states == ["sent"] * 5


def test_a_delivery_failing_past_give_up_is_dead_and_status_says_so(world, hook):
    from marketd.plugins.health.status import section

    w = world(jobs={"health-alerts": {"webhook_url": hook.url, "give_up_hours": 1}})
    w.drop("n.json", json.dumps([type_change(1)]), kind="notifications")
    hook.failing = True
    for _ in range(70):
        deliver(w.app)
        w.clock.advance(60)
    assert w.app.store.db.execute("select state from health_deliveries").fetchone()[0] == "dead"
    assert any("1 dead" in line for line in section(w.app)["health"])


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(world, hook, monkeypatch):
    w = world(jobs={"health-alerts": {"webhook_url": hook.url}})
    monkeypatch.setenv("MARKETD_ALERTS_WEBHOOK_SECRET", "not-the-secret")
    w.drop("n.json", json.dumps([type_change(1)]), kind="notifications")
    deliver(w.app)
    assert hook.bad_signatures == 1 and hook.received == []
    assert w.app.store.db.execute("select state from health_deliveries").fetchone()[0] == "pending"


def test_alerts_by_email_through_a_real_smtp_server(world):
    smtp = SmtpReceiver()
    try:
        w = world(jobs={"health-alerts": {"mail_to": ["ops@example.com"]}},
                  mail={"host": "127.0.0.1", "port": smtp.port, "security": "none", "sender": "marketd@example.com"})
        w.drop("n.json", json.dumps([type_change(7)]), kind="notifications")
        w.drop("low.json", json.dumps([envelope("BRANDED_ITEM_CONTENT_CHANGE", {
            "MarketplaceId": "M", "BrandName": "B", "Asin": "B0X", "AttributesChanged": ["bullet_point"]}, "lo")]),
            kind="notifications")
        out = deliver(w.app)
        assert out["mail"]["sent"] == 1              # the low one waits for the digest
        assert deliver(w.app)["mail"]["sent"] == 0   # handed to the mail door once
        (m,) = smtp.messages
        did = w.app.store.db.execute("select delivery_id from health_deliveries").fetchone()[0]
        assert m["to"] == ["ops@example.com"] and f"Message-ID: <{did}@marketd>" in m["data"]
        assert "HIGH: Amazon changed the product type of B000000007" in m["data"]
        make_digest(w.app)
        deliver(w.app)
        assert len(smtp.messages) == 2 and "health digest" in smtp.messages[1]["data"]
        assert "B0X" in smtp.messages[1]["data"]    # the low alert is in the digest
    finally:
        smtp.close()


def test_an_alert_storm_gives_one_storm_message_and_one_digest(world, hook):
    w = world(jobs={"health-alerts": {"webhook_url": hook.url}})
    storm = json.dumps([type_change(i) for i in range(10_000)])
    assert w.drop("storm.json", storm, kind="notifications")["summary"]["new"] == 10_000
    assert w.drop("storm-again.json", storm.replace("[", "[ ", 1), kind="notifications")["summary"]["new"] == 0
    deliver(w.app)
    deliver(w.app)
    w.clock.advance(3600)
    make_digest(w.app)
    make_digest(w.app)                               # once a day
    deliver(w.app)
    kinds = [m["body"]["type"] for m in hook.received]
    assert sorted(kinds) == ["digest", "storm"]
    assert w.app.store.db.execute("select count(*) from health_alerts").fetchone()[0] == 10_000
    assert w.app.store.db.execute("select count(*) from health_deliveries where kind = 'alert'").fetchone()[0] == 0
    digest = next(m for m in hook.received if m["body"]["type"] == "digest")["body"]
    assert digest["counts"]["new"] == 10_000 and digest["counts"]["open"] == 10_000
    files = sorted(p.name for p in (w.app.outbox_dir / "health").glob("digest-*"))
    assert [f.rsplit(".", 1)[1] for f in files] == ["csv", "txt", "xlsx"]


def test_email_over_starttls_with_login_to_a_relay_with_its_own_ca(world, tmp_path, monkeypatch):
    from .receivers import TlsSmtpReceiver

    smtp = TlsSmtpReceiver(tmp_path, "alerts", "relay-pass-123")
    try:
        monkeypatch.setenv("MARKETD_SMTP_PASSWORD", "relay-pass-123")
        w = world(jobs={"health-alerts": {"mail_to": ["ops@example.com"]}},
                  mail={"host": "127.0.0.1", "port": smtp.port, "username": "alerts", "ca_file": str(smtp.cert)})
        w.drop("n.json", json.dumps([type_change(3)]), kind="notifications")
        assert deliver(w.app)["mail"]["sent"] == 1
        (m,) = smtp.messages
        assert m["tls"] and smtp.logins == ["alerts:ok"]
        # a wrong password: refused by the relay, kept pending for a retry (not lost, not dead)
        monkeypatch.setenv("MARKETD_SMTP_PASSWORD", "wrong")
        w.drop("n2.json", json.dumps([type_change(4)]), kind="notifications")
        out = deliver(w.app)
        assert out["mail"]["retry"] == 1 and smtp.logins[-1] == "alerts:refused"
        state = w.app.store.db.execute("select state, last_error from mail_queue where state != 'sent'").fetchone()
        assert state[0] == "retry" and "relay-pass" not in (state[1] or "") and "wrong" not in (state[1] or "")
        assert "alert mails: 1 retry" in "\n".join(status_section(w.app)["health"])
    finally:
        smtp.close()
