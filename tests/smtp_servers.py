"""Real SMTP servers on loopback for the mail door's tests: aiosmtpd plain, STARTTLS and SMTPS
(implicit TLS, the port-465 style), with a self-signed certificate made in the test."""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from datetime import datetime, timezone


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder) -> tuple:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    c, k = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


class SmtpServer:
    """aiosmtpd on loopback. ``mode``: ``plain``, ``starttls`` (STARTTLS required before AUTH)
    or ``smtps`` (TLS from the first byte). ``login``/``password`` turn AUTH on (required)."""

    def __init__(self, folder, mode: str = "plain", login: str | None = None, password: str | None = None):
        from aiosmtpd.controller import Controller

        self.messages: list[dict] = []
        self.auth_seen: list[tuple] = []
        self.refuse_with: str | None = None   # e.g. "451 try later" / "550 no such user" for every DATA
        self.port = free_port()
        self.cert = None
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if outer.refuse_with:
                    return outer.refuse_with
                outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "data": envelope.content.decode("utf-8", "replace"),
                                       "tls": server.transport.get_extra_info("ssl_object") is not None})
                return "250 OK"

        def auth(server, session, envelope, mechanism, auth_data):
            from aiosmtpd.smtp import AuthResult

            outer.auth_seen.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=(auth_data.login.decode(), auth_data.password.decode()) == (login, password))

        kw: dict = {}
        if login:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; on SMTPS the socket is TLS from the start
            kw.update(authenticator=auth, auth_required=True, auth_require_tls=mode == "starttls")
        if mode != "plain":
            cert, key = self_signed(folder)
            self.cert = cert
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert, key)
            if mode == "starttls":
                kw.update(tls_context=ctx, require_starttls=True)
            else:
                kw.update(ssl_context=ctx)
        self.mode = mode
        if mode == "smtps" and login:
            import warnings

            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kw)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
