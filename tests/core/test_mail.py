"""The one mail door (``marketd.sdk.mail``) against real aiosmtpd servers on loopback: STARTTLS
and SMTPS (implicit TLS, port-465 style) with AUTH and a certificate made here, retries, refusal,
and what a crash in the middle of a send leaves behind."""
from __future__ import annotations

import os
import stat
from datetime import datetime, timezone

import pytest

from marketd.errors import ConfigError
from marketd.sdk import mail
from marketd.sdk.testing import FakeClock, make_app

from tests.smtp_servers import SmtpServer, free_port

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def server(tmp_path):
    started = []

    def start(mode="plain", **kw):
        s = SmtpServer(tmp_path, mode, **kw).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def _app(tmp_path, **table):
    return make_app(tmp_path / "inst", {}, clock=FakeClock(T0), mail={"sender": "ops@seller.example", "timeout": 5,
                                                                        **table})


def _queue(app, to="buyer-care@brand.example", key="k1", on_crash="hold"):
    msg = mail.compose(app, to=to, subject="weekly", text="numbers", html="<p>numbers</p>", key=key)
    with app.store.transaction() as db:
        return mail.enqueue(app, db, msg, key=key, origin="tests", kind="weekly", ref="acme 2026-W48",
                            on_crash=on_crash)


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_with_login_and_the_password_from_the_environment(mode, server, tmp_path, monkeypatch):
    s = server(mode, login="reports", password="s3cret")
    monkeypatch.setenv("MARKETD_SMTP_PASSWORD", "s3cret")
    app = _app(tmp_path, host="127.0.0.1", port=s.port, security=mode, username="reports", ca_file=str(s.cert))
    try:
        assert _queue(app)
        assert not _queue(app)     # the same key twice: one mail
        assert mail.send_due(app)["sent"] == 1
        (got,) = s.messages
        assert got["tls"] and got["to"] == ["buyer-care@brand.example"] and s.auth_seen == [("reports", "s3cret")]
        assert "Subject: weekly" in got["data"] and "@marketd>" in got["data"]
        assert mail.counts(app.store.db, "tests") == {"sent": 1}
        assert not list((app.state_dir / "mail").glob("*.eml"))    # the address is not kept once sent
        assert mail.send_due(app)["sent"] == 0
    finally:
        app.close()


def test_smtps_refuses_a_certificate_it_was_not_told_to_trust(server, tmp_path):
    s = server("smtps")
    app = _app(tmp_path, host="127.0.0.1", port=s.port, security="smtps")   # no ca_file: system CAs
    try:
        _queue(app)
        assert mail.send_due(app)["retry"] == 1 and s.messages == []
        (err,) = app.store.db.execute("select last_error from mail_queue").fetchone()
        assert "CERTIFICATE_VERIFY_FAILED" in err
    finally:
        app.close()


def test_starttls_is_required_no_login_in_clear(server, tmp_path, monkeypatch):
    s = server("plain")   # offers no STARTTLS
    monkeypatch.setenv("MARKETD_SMTP_PASSWORD", "s3cret")
    app = _app(tmp_path, host="127.0.0.1", port=s.port, security="starttls", username="reports")
    try:
        _queue(app)
        assert mail.send_due(app)["retry"] == 1
        assert s.messages == [] and s.auth_seen == []
        (err,) = app.store.db.execute("select last_error from mail_queue").fetchone()
        assert "STARTTLS" in err
    finally:
        app.close()


def test_the_queued_message_is_owner_only_and_the_row_has_no_address(tmp_path):
    app = _app(tmp_path, host="127.0.0.1", port=free_port(), security="none")
    try:
        _queue(app)
        (path, rh) = app.store.db.execute("select eml_path, recipient_hash from mail_queue").fetchone()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert rh == mail.recipient_hash("Buyer-Care@brand.example ")
        dump = "\n".join(str(r) for r in app.store.db.execute("select * from mail_queue"))
        assert "brand.example" not in dump
    finally:
        app.close()


def test_down_server_retried_with_backoff_then_given_up(server, tmp_path):
    port = free_port()
    app = _app(tmp_path, host="127.0.0.1", port=port, security="none", max_age_hours=2)
    try:
        _queue(app)
        assert mail.send_due(app)["retry"] == 1
        assert mail.send_due(app)["retry"] == 0          # not due again before its backoff
        app.clock.advance(60)
        assert mail.send_due(app)["retry"] == 1
        app.clock.advance(3 * 3600)
        assert mail.send_due(app)["gave_up"] == 1
        assert mail.counts(app.store.db, "tests") == {"gave_up": 1}
        s = SmtpServer(tmp_path, "plain")
        s.port = port
        from aiosmtpd.controller import Controller

        s.controller = Controller(s.controller.handler, hostname="127.0.0.1", port=port)
        s.start()
        try:
            (mid,) = app.store.db.execute("select id from mail_queue").fetchone()
            assert not mail.release(app, mid, origin="someone-else")
            assert mail.release(app, mid, origin="tests")
            assert mail.send_due(app)["sent"] == 1 and len(s.messages) == 1
        finally:
            s.stop()
    finally:
        app.close()


def test_a_5xx_is_rejected_and_not_retried(server, tmp_path):
    s = server("plain")
    s.refuse_with = "550 mailbox unavailable"
    app = _app(tmp_path, host="127.0.0.1", port=s.port, security="none")
    try:
        _queue(app)
        assert mail.send_due(app)["rejected"] == 1
        app.clock.advance(3600)
        assert mail.send_due(app) == {"sent": 0, "retry": 0, "rejected": 0, "gave_up": 0, "uncertain": 0,
                                      "resent": 0}
    finally:
        app.close()


@pytest.mark.parametrize("on_crash, after", [("hold", "uncertain"), ("resend", "retry")])
def test_a_send_cut_by_a_dead_process_is_held_or_resent(on_crash, after, server, tmp_path):
    s = server("plain")
    app = _app(tmp_path, host="127.0.0.1", port=s.port, security="none")
    try:
        _queue(app, on_crash=on_crash)
        with app.store.transaction() as db:   # what a daemon killed during the SMTP exchange leaves
            db.execute("update mail_queue set state = 'sending', owner = 'gone-host:12345'")
        got = mail.send_due(app)
        assert got["uncertain" if on_crash == "hold" else "resent"] == 1
        assert app.store.db.execute("select state from mail_queue").fetchone()[0] in (after, "sent")
        assert got["sent"] == (1 if on_crash == "resend" else 0) == len(s.messages)
    finally:
        app.close()


def test_a_wrong_password_is_retried_not_rejected(server, tmp_path, monkeypatch):
    s = server("starttls", login="reports", password="right")
    monkeypatch.setenv("MARKETD_SMTP_PASSWORD", "wrong")
    app = _app(tmp_path, host="127.0.0.1", port=s.port, security="starttls", username="reports", ca_file=str(s.cert))
    try:
        _queue(app)
        assert mail.send_due(app)["retry"] == 1     # 535 is the setting's fault, not the message's
        (err,) = app.store.db.execute("select last_error from mail_queue").fetchone()
        assert "wrong" not in err
        monkeypatch.setenv("MARKETD_SMTP_PASSWORD", "right")
        app.clock.advance(60)
        assert mail.send_due(app)["sent"] == 1 and len(s.messages) == 1
    finally:
        app.close()


def test_a_missing_password_is_a_config_error_and_the_mail_stays_queued(server, tmp_path, monkeypatch):
    s = server("starttls", login="reports", password="x")
    monkeypatch.delenv("MARKETD_SMTP_PASSWORD", raising=False)
    app = _app(tmp_path, host="127.0.0.1", port=s.port, security="starttls", username="reports", ca_file=str(s.cert))
    try:
        _queue(app)
        with pytest.raises(ConfigError, match="MARKETD_SMTP_PASSWORD"):
            mail.send_due(app)
        assert app.store.db.execute("select state from mail_queue").fetchone()[0] == "retry"
    finally:
        app.close()


@pytest.mark.parametrize("table, words", [
    ({"host": "smtp.example.com", "security": "none"}, "only for a server on loopback"),
    ({"host": "smtp.example.com", "security": "ssl"}, "smtps"),
    ({"host": "smtp.example.com", "port": 0}, "port"),
])
def test_bad_mail_settings_are_config_errors(table, words, tmp_path):
    with pytest.raises(ConfigError, match=words):
        _app(tmp_path, **table)


def test_the_default_port_follows_the_security():
    assert mail.MailSettings(host="h", security="smtps").smtp_port == 465
    assert mail.MailSettings(host="h").smtp_port == 587
    assert mail.MailSettings(host="h", security="smtps", port=2465).smtp_port == 2465


def test_an_old_brands_queue_is_kept_and_gains_the_new_columns(tmp_path):
    import sqlite3

    folder = tmp_path / "inst" / "var"
    folder.mkdir(parents=True)
    con = sqlite3.connect(folder / "marketd.sqlite")
    con.execute("CREATE TABLE mail_queue (id INTEGER PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, brand TEXT, kind TEXT, "
                "period TEXT, recipient_hash TEXT NOT NULL, eml_path TEXT NOT NULL, message_id TEXT NOT NULL, "
                "state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL, claimed_at TEXT, "
                "owner TEXT, sent_at TEXT, smtp_reply TEXT, last_error TEXT, created_at TEXT NOT NULL)")
    con.execute("insert into mail_queue (idem_key, brand, kind, period, recipient_hash, eml_path, message_id, state, "
                "next_attempt_at, created_at) values ('weekly:acme:2026-W48:abc', 'acme', 'weekly', '2026-W48', 'abc', "
                "'/nowhere.eml', '<x@marketd>', 'queued', '2026-11-30', '2026-11-30')")
    con.commit()
    con.close()
    app = _app(tmp_path)
    try:
        assert mail.listing(app.store.db, "brands")[0]["ref"] == "acme 2026-W48"
    finally:
        app.close()
