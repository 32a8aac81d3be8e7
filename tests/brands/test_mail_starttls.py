"""STARTTLS with AUTH against a real aiosmtpd on loopback: the password comes from the environment
(a secret's name in the config), the server's certificate is verified, and a server that does not
offer STARTTLS is never sent the credentials."""
from __future__ import annotations

import ssl

import pytest

from marketd.clock import FakeClock
from marketd.plugins.brands import mailq, monitoring
from marketd.plugins.brands.settings import brand_of

from tests.smtp_servers import self_signed

from .conftest import Inbox, free_port
from .test_monitoring_mail import TUESDAY, setup


class Auth:
    def __init__(self):
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"reports" and auth_data.password == b"s3cret")


@pytest.fixture
def tls_server(tmp_path):
    from aiosmtpd.controller import Controller

    cert, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    inbox, auth = Inbox(), Auth()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                     authenticator=auth, auth_require_tls=True, auth_required=True)
    ctl.start()
    yield port, cert, inbox, auth
    ctl.stop()


def _app(brands_app, port, cert, **extra):
    table = {"host": "127.0.0.1", "port": port, "security": "starttls", "username": "reports",
             "password_secret": "BRANDS_TEST_SMTP_PASSWORD", "sender": "reports@integrator.example",
             "ca_file": str(cert), "timeout": 5.0, **extra}
    table = {k: v for k, v in table.items() if v is not None}
    return brands_app(clock=FakeClock(TUESDAY), mail=table)


def test_starttls_auth_with_a_secret_from_the_environment(brands_app, tls_server, tmp_path, monkeypatch):
    port, cert, inbox, auth = tls_server
    monkeypatch.setenv("BRANDS_TEST_SMTP_PASSWORD", "s3cret")
    app = _app(brands_app, port, cert)
    setup(app, tmp_path)
    monitoring.run(app, "acme", brand_of(app, "acme"), TUESDAY.date())
    assert mailq.send_due(app)["sent"] == 1
    assert [m["To"] for m in inbox.messages] == ["carla@acme.example"] and auth.seen == [(b"reports", b"s3cret")]


def test_an_untrusted_certificate_is_refused_and_retried(brands_app, tls_server, tmp_path, monkeypatch):
    port, cert, inbox, auth = tls_server
    monkeypatch.setenv("BRANDS_TEST_SMTP_PASSWORD", "s3cret")
    app = _app(brands_app, port, cert, ca_file=None)
    setup(app, tmp_path)
    monitoring.run(app, "acme", brand_of(app, "acme"), TUESDAY.date())
    assert mailq.send_due(app)["retry"] == 1
    (err,) = app.store.db.execute("select last_error from mail_queue").fetchone()
    assert "CERTIFICATE_VERIFY_FAILED" in err and auth.seen == [] and inbox.messages == []


def test_security_none_is_only_for_loopback(brands_app):
    from marketd.sdk import ConfigError

    with pytest.raises(ConfigError, match="only for a server on loopback"):
        brands_app(mail={"host": "smtp.example.com", "security": "none"})
