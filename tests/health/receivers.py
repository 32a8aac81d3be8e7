"""Real receivers on loopback for alert deliveries: an HTTP webhook endpoint that checks the HMAC
signature the way a receiver should, and an aiosmtpd SMTP server."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.smtp_servers import self_signed


class WebhookReceiver:
    """Collects POSTs; answers ``fail_status`` while ``failing`` is set; rejects a bad signature (401)."""

    def __init__(self, secret: str):
        self.secret = secret.encode()
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.attempts = 0
        self.failing = False
        self.fail_status = 500
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.attempts += 1
                ts = self.headers.get("X-Marketd-Timestamp", "")
                want = "sha256=" + hmac.new(outer.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, self.headers.get("X-Marketd-Signature", "")):
                    outer.bad_signatures += 1
                    self.send_response(401)
                elif outer.failing:
                    self.send_response(outer.fail_status)
                else:
                    outer.received.append({"delivery": self.headers.get("X-Marketd-Delivery"),
                                           "body": json.loads(body)})
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[dict] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "data": envelope.content.decode("utf-8", "replace")})
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self):
        self.controller.stop()


class TlsSmtpReceiver(SmtpReceiver):
    """STARTTLS required, AUTH LOGIN/PLAIN checked against one user and password."""

    def __init__(self, tmp_path, user: str, password: str):
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages = []
        self.logins: list[str] = []
        outer = self
        self.cert, key = self_signed(tmp_path)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, key)

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "data": envelope.content.decode("utf-8", "replace"), "tls": session.ssl is not None})
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, data):
            ok = data.login.decode() == user and data.password.decode() == password
            outer.logins.append(f"{data.login.decode()}:{'ok' if ok else 'refused'}")
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=ctx,
                                     require_starttls=True, auth_required=True, authenticator=authenticator)
        self.controller.start()
