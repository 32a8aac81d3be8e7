"""Fixtures for the eBay tests: the fake eBay on a shared FakeClock, in-process through
``httpx.WSGITransport``, and an App with eBay accounts wired to it."""
from __future__ import annotations

import httpx
import pytest

from marketd.app import App
from marketd.clock import FakeClock
from marketd.config import default_config
from marketd.plugins.ebay.fake import EbayFake

from tests.fakes.ebay_specs import ebay_contract

ENDPOINT = "https://api.ebay.com"
FINANCES = "https://apiz.ebay.com"
CREDS = ("Shop-Marketd-PRD-1a2b3c4d5", "PRD-test-cert-id-0123", "v^1.1#i^1#test-refresh-token")
CHANNEL = {"type": "ebay", "marketplace": "EBAY_IT"}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    """The fake eBay, checking the OpenAPI contracts when they are there (tests that assert on
    its request violations also take ``ebay_contract``, which skips or fails without them)."""
    f = EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], contract=ebay_contract())
    yield f
    if f.contract is not None:
        assert f.response_violations == [], f"the fake answered outside the contract: {f.response_violations}"


@pytest.fixture
def transport(fake):
    return httpx.WSGITransport(app=fake)


@pytest.fixture
def creds_env(monkeypatch):
    def set_for(account: str, creds=CREDS):
        from marketd.plugins.ebay.settings import env_name

        for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), creds):
            monkeypatch.setenv(env_name(account, what), value)
    return set_for


@pytest.fixture
def make_app(tmp_path, clock, transport, creds_env):
    """``make_app(shop={...settings})``: an App with eBay accounts wired to the fake (and the
    settlements plugin, which reads the eBay payout formats: marketd does not start without it)."""
    import marketd.plugins.ebay as ebay_plugin
    import marketd.plugins.settlements as settlements_plugin

    apps = []

    def make(with_transport=True, creds=True, extra_plugins=None, **channels):
        cfg = default_config(tmp_path / f"app{len(apps)}")
        for name, settings in channels.items():
            cfg["channels"][name] = {**CHANNEL, **settings}
            if with_transport:
                cfg["channels"][name]["transport"] = transport
            if creds:
                creds_env(name)
        app = App(cfg, clock=clock, load_entry_points=False,
                  extra_plugins={"ebay": ebay_plugin, "settlements": settlements_plugin, **(extra_plugins or {})})
        apps.append(app)
        return app

    yield make
    for a in apps:
        a.close()


@pytest.fixture
def keypair(fake, monkeypatch):
    """An EU/UK seller's Ed25519 signing key: the account's env has it, the fake checks signatures with it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from marketd.plugins.ebay.settings import env_name

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fake.register_signing_key("eyJ.shop.jwe", public)
    fake.require_signatures = True
    monkeypatch.setenv(env_name("shop", "SIGNING_KEY"), pem)
    monkeypatch.setenv(env_name("shop", "SIGNING_JWE"), "eyJ.shop.jwe")
    return pem
