"""Fixtures for the brands plugin: apps with brands on a fake clock, a real SMTP server on loopback."""
from __future__ import annotations

import socket
import threading
from datetime import datetime, timezone

import pytest

BRANDS = {
    "acme": {"name": "Acme GmbH", "sku_prefixes": ["ACM-"], "country": "DE", "subdivision": "NW",
             "timezone": "Europe/Berlin", "platforms": ["amazon-de", "ebay-de"],
             "commission": {"default": "12", "amazon-de": "15"}},
    "roma": {"name": "Roma Srl", "sku_prefixes": ["ROM-"], "country": "IT", "timezone": "Europe/Rome",
             "platforms": ["amazon-it"]},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What a real SMTP server (aiosmtpd on loopback) received."""

    def __init__(self):
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK queued as test"


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.inbox = Inbox()
        self.controller = None

    def start(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.inbox.messages


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def mail_table(port: int) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "none", "sender": "reports@integrator.example",
            "timeout": 5.0}


@pytest.fixture
def brands_app(app_factory):
    """``make(clock, smtp_port=None, **brand_overrides)``: an App with brands acme and roma."""
    from marketd.clock import FakeClock

    def make(clock=None, smtp_port=None, brands=None, jobs=None, mail=None):
        jobs = dict(jobs or {})
        if smtp_port:
            mail = mail_table(smtp_port)
        jobs.setdefault("brands-links", {"serve": False})
        return app_factory(clock=clock or FakeClock(datetime(2025, 1, 7, 9, 0, tzinfo=timezone.utc)),
                           brands=brands or BRANDS, jobs=jobs, **({"mail": mail} if mail else {}))

    return make
