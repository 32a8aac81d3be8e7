"""The Go Live Monitoring on Tuesdays and Thursdays, mailed through a real SMTP server on loopback
(aiosmtpd): attachments arrive with their bytes, a rerun does not mail twice, a failed send is
retried after a restart and delivered once, a send cut by a crash is held, never resent."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from marketd.clock import FakeClock
from marketd.plugins.brands import jobs, mailq
from marketd.sdk import process_file

from .conftest import SmtpServer, free_port

ACTIVATIONS = """sku,platform,activated_at,live_at
ACM-1,amazon-de,2024-12-18T09:00:00+01:00,
ACM-2,amazon-de,2024-12-18,2025-01-03T11:00:00+01:00
ACM-3,ebay-de,2024-12-30,
ROM-1,amazon-it,2024-12-18,
XYZ-1,amazon-de,2024-12-18,
"""
CONTACTS = """brand,role,name,email
acme,golive,Carla,carla@acme.example
acme,reports,Anna,anna@acme.example
roma,reports,Rita,rita@roma.example
"""
TUESDAY = datetime(2025, 1, 7, 9, 0, tzinfo=timezone.utc)   # 10:00 in Berlin and Rome


def setup(app, tmp_path):
    for name, text, kind in (("act.csv", ACTIVATIONS, "golive"), ("contacts.csv", CONTACTS, "onboarding")):
        p = tmp_path / name
        p.write_text(text)
        row = process_file(app, kind, p)
        assert row["state"] == "done", row


def test_tuesday_report_mailed_once_with_its_workbook(brands_app, smtp, tmp_path):
    clock = FakeClock(TUESDAY)
    app = brands_app(clock=clock, smtp_port=smtp.port)
    setup(app, tmp_path)
    made = jobs.golive_job(app)
    assert made == {"acme": "2025-01-07", "roma": "2025-01-07"}
    by_to = {m["To"]: m for m in smtp.messages}
    assert set(by_to) == {"carla@acme.example", "rita@roma.example"}   # golive role first, else reports
    msg = by_to["carla@acme.example"]
    assert msg["Subject"] == "Go Live Monitoring Acme GmbH 2025-01-07"
    att = [p for p in msg.iter_attachments()]
    assert [a.get_filename() for a in att] == ["golive-acme-2025-01-07.xlsx"]
    xlsx = app.outbox_dir / "brands/acme/golive/2025-01-07/golive-acme-2025-01-07.xlsx"
    assert hashlib.sha256(att[0].get_content()).digest() == hashlib.sha256(xlsx.read_bytes()).digest()
    body = msg.get_body(("plain",)).get_content()
    assert "amazon-de: 1 live, 0 pending, 1 overdue of 2 activated" in body
    assert "ebay-de: 0 live, 1 pending, 0 overdue of 1 activated" in body
    csv = (app.outbox_dir / "brands/acme/golive/2025-01-07/golive-acme-2025-01-07.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf") and b"ACM-1,amazon-de,overdue,2024-12-18,2025-01-06,,1," in csv
    # the same day again: no second report, no second mail
    clock.advance(3600)
    assert jobs.golive_job(app) == {}
    assert len(smtp.messages) == 2
    # Wednesday: not a monitoring day
    clock.advance(24 * 3600)
    assert jobs.golive_job(app) == {}
    # Thursday: ACM-1 went live on Wednesday -> "newly live since the last report"
    p = tmp_path / "live.csv"
    p.write_text("sku,platform,live_at\nACM-1,amazon-de,2025-01-08T15:00:00+01:00\n")
    assert process_file(app, "golive", p)["summary"]["live"] == 1
    clock.advance(24 * 3600)
    assert jobs.golive_job(app)["acme"] == "2025-01-09"
    thu = [m for m in smtp.messages if m["To"] == "carla@acme.example"][-1]
    assert "Newly live since the last report: 1" in thu.get_body(("plain",)).get_content()
    rows = app.store.db.execute("select state, count(*) from mail_queue group by state").fetchall()
    assert rows == [("sent", 4)]


def test_before_monitoring_time_nothing_is_made(brands_app, smtp, tmp_path):
    app = brands_app(clock=FakeClock(datetime(2025, 1, 7, 5, 0, tzinfo=timezone.utc)), smtp_port=smtp.port)
    setup(app, tmp_path)
    assert jobs.golive_job(app) == {}      # 06:00 in Berlin, the default time is 07:00
    assert smtp.messages == []


def test_failed_send_is_retried_after_a_restart_and_delivered_once(brands_app, tmp_path, app_factory):
    port = free_port()            # nothing listens there yet
    clock = FakeClock(TUESDAY)
    app = brands_app(clock=clock, smtp_port=port)
    setup(app, tmp_path)
    jobs.golive_job(app)
    states = app.store.db.execute("select state, attempts, last_error from mail_queue").fetchall()
    assert {s for s, _, _ in states} == {"retry"} and all(a == 1 for _, a, _ in states)
    assert "carla" not in " ".join(e for _, _, e in states)
    cfg = app.config["_path"]
    app.close()
    server = SmtpServer(port).start()
    try:
        from marketd.app import App
        from marketd import config as config_mod

        clock.advance(30)    # backoff not over yet: nothing is sent
        again = App(config_mod.load(cfg), clock=clock)
        assert mailq.send_due(again)["sent"] == 0 and server.messages == []
        clock.advance(61)
        assert mailq.send_due(again)["sent"] == 2
        assert mailq.send_due(again)["sent"] == 0
        clock.advance(3600)
        jobs.golive_job(again)
        assert sorted(m["To"] for m in server.messages) == ["carla@acme.example", "rita@roma.example"]
        again.close()
    finally:
        server.stop()


def test_a_claim_left_by_a_dead_process_is_held_not_resent(brands_app, smtp, tmp_path):
    clock = FakeClock(TUESDAY)
    app = brands_app(clock=clock, smtp_port=smtp.port)
    setup(app, tmp_path)
    from marketd.plugins.brands import monitoring
    from marketd.plugins.brands.settings import brand_of

    monitoring.run(app, "acme", brand_of(app, "acme"), TUESDAY.date())
    with app.store.transaction() as db:
        db.execute("update mail_queue set state='sending', owner='12345:deadbeef'")
    counts = mailq.send_due(app)
    assert counts["uncertain"] == 1 and counts["sent"] == 0 and smtp.messages == []
    mid = app.store.db.execute("select id from mail_queue").fetchone()[0]
    assert mailq.release(app, mid)
    assert mailq.send_due(app)["sent"] == 1 and len(smtp.messages) == 1
    assert not mailq.release(app, mid)     # a sent mail is not released again


def test_a_5xx_reply_is_rejected_and_kept(brands_app, tmp_path):
    class Refuse:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 no such user"

    from aiosmtpd.controller import Controller

    port = free_port()
    ctl = Controller(Refuse(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        app = brands_app(clock=FakeClock(TUESDAY), smtp_port=port)
        setup(app, tmp_path)
        jobs.golive_job(app)
        assert {s for (s,) in app.store.db.execute("select state from mail_queue")} == {"rejected"}
    finally:
        ctl.stop()


def test_sent_message_file_is_removed_and_the_list_shows_no_address(brands_app, smtp, tmp_path):
    from click.testing import CliRunner

    from marketd.cli import cli

    app = brands_app(clock=FakeClock(TUESDAY), smtp_port=smtp.port)
    setup(app, tmp_path)
    jobs.golive_job(app)
    assert len(smtp.messages) == 2
    assert list((app.state_dir / "mail").glob("*.eml")) == []
    out = CliRunner().invoke(cli, ["--config", app.config["_path"], "brands", "mail", "list"]).output
    assert out.count(" sent ") == 2 and "to#" in out and "@" not in out


def test_a_platform_export_with_a_status_column_sets_live_once(brands_app, tmp_path):
    app = brands_app(clock=FakeClock(TUESDAY))
    setup(app, tmp_path)
    p = tmp_path / "listings.csv"
    p.write_text("sku,platform,status\nACM-1,amazon-de,BUYABLE\nACM-3,ebay-de,INACTIVE\nROM-1,amazon-it,Active\n")
    row = process_file(app, "golive", p)
    assert row["summary"]["live"] == 2
    live = dict(app.store.db.execute("select sku, live_at from golive where live_at is not null").fetchall())
    assert set(live) == {"ACM-1", "ACM-2", "ROM-1"}
    first = live["ACM-1"]
    app.clock.advance(86400)
    p2 = tmp_path / "listings2.csv"
    p2.write_text("sku,platform,status\nACM-1,amazon-de,BUYABLE\n")
    assert process_file(app, "golive", p2)["summary"]["live"] == 0
    assert app.store.db.execute("select live_at from golive where sku='ACM-1'").fetchone()[0] == first


def test_activation_and_live_come_from_the_listings_work(brands_app, tmp_path):
    """The content plugin's listings push (accepted) activates, its pull (first_live_at) sets live."""
    from marketd.plugins.brands import listings_sync
    from marketd.plugins.brands.settings import brands_of

    app = brands_app(clock=FakeClock(TUESDAY))
    with app.store.transaction() as db:
        db["products"].insert_all([{"sku": "ACM-7", "stock": 1}, {"sku": "ACM-8", "stock": 1}], pk="sku", alter=True)
        db["listing_pushes"].insert_all([
            {"platform": "amazon-de", "sku": "ACM-7", "kind": "content", "channel": "amazon-de", "state": "accepted",
             "accepted_at": "2024-12-18T10:00:00+00:00"},
            {"platform": "amazon-de", "sku": "ACM-8", "kind": "content", "channel": "amazon-de", "state": "invalid"},
            {"platform": "otto", "sku": "ACM-8", "kind": "content", "channel": "otto", "state": "accepted",
             "accepted_at": "2024-12-18T10:00:00+00:00"}])
        db["remote_listings"].insert({"platform": "amazon-de", "sku": "ACM-7", "channel": "amazon-de", "live": 1,
                                      "first_live_at": "2025-01-02T08:00:00+00:00"})
    jobs.refresh_skus(app)
    assert listings_sync.sync(app, brands_of(app)) == {"activated": 1, "live": 1}
    assert listings_sync.sync(app, brands_of(app)) == {"activated": 0, "live": 0}
    rows = app.store.db.execute("select sku, platform, activated_at, live_at, activation_source from golive").fetchall()
    assert rows == [("ACM-7", "amazon-de", "2024-12-18T10:00:00+00:00", "2025-01-02T08:00:00+00:00", "listings")]
