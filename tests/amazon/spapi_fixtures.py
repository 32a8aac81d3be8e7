"""Fixtures for the SP-API tests: the fake SP-API on a shared FakeClock, in-process through
``httpx.WSGITransport``, and an App with an Amazon channel pointed at it.

Imported by each SP-API test module (``from .spapi_fixtures import *``) rather than living in
``conftest.py``, which the settlement tests of the same folder own.
"""
from __future__ import annotations

import httpx
import pytest

from marketd.app import App
from marketd.clock import FakeClock
from marketd.config import default_config

from marketd.plugins.amazon.fake import SpApiFake

from tests.fakes.specs import amazon_contract

ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
LWA = "https://api.amazon.com/auth/o2/token"
CREDS = ("amzn1.application-oa2-client.test", "test-lwa-client-secret-123", "Atzr|fake-token-456")
__all__ = ["CREDS", "ENDPOINT", "LWA", "CHANNEL", "clock", "fake", "transport", "creds_env", "make_app", "api"]

CHANNEL = {"type": "amazon", "marketplace": "IT", "endpoint": ENDPOINT, "lwa_endpoint": LWA}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    """The fake, checking the official models when they are there (tests that assert on its
    violations take the ``amazon_contract`` fixture too, which skips or fails without them)."""
    f = SpApiFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                  contract=amazon_contract())
    yield f
    if f.contract is not None:
        assert f.response_violations == [], f"the fake answered outside the official models: {f.response_violations}"


@pytest.fixture
def transport(fake):
    return httpx.WSGITransport(app=fake)


@pytest.fixture
def creds_env(monkeypatch):
    def set_for(account: str):
        from marketd.plugins.amazon.settings import env_name

        monkeypatch.setenv(env_name(account, "CLIENT_ID"), CREDS[0])
        monkeypatch.setenv(env_name(account, "CLIENT_SECRET"), CREDS[1])
        monkeypatch.setenv(env_name(account, "REFRESH_TOKEN"), CREDS[2])
    return set_for


@pytest.fixture
def make_app(tmp_path, clock, transport, creds_env):
    """``make_app(amz={...settings})``: an App with Amazon accounts wired to the fake."""
    import marketd.plugins.amazon as amazon_plugin
    import marketd.plugins.settlements as settlements_plugin  # reads the payout files the Amazon format parses

    apps = []

    def make(with_transport=True, creds=True, **channels):
        cfg = default_config(tmp_path / f"app{len(apps)}")
        for name, settings in channels.items():
            cfg["channels"][name] = {**CHANNEL, **settings}
            if with_transport:
                cfg["channels"][name]["transport"] = transport
            if creds:
                creds_env(name)
        app = App(cfg, clock=clock, load_entry_points=False, extra_plugins={"amazon": amazon_plugin,
                                                                              "settlements": settlements_plugin})
        apps.append(app)
        return app

    yield make
    for a in apps:
        for ch in (a._channels or {}).values():
            if hasattr(ch, "close"):
                ch.close()
        a.close()


@pytest.fixture
def api(fake, transport, clock):
    """A bare SpApiClient on the fake (official default limits)."""
    from marketd.plugins.amazon.lwa import LwaClient
    from marketd.plugins.amazon.client import SpApiClient

    lwa = LwaClient(lambda: CREDS, endpoint=LWA, transport=transport, clock=clock, account="test")
    client = SpApiClient(ENDPOINT, lwa, transport=transport, clock=clock, account="test")
    yield client
    client.close()
