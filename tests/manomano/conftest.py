"""An in-process ManoMano world: the fake (checked against the hand-written contract) behind
``httpx.WSGITransport``, and the real core with the manomano plugin on the same FakeClock."""
from __future__ import annotations

import httpx
import pytest

import marketd.plugins.manomano as manomano_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.manomano.fake import ManoManoFake
from marketd.plugins.manomano.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import make_app
from tests.fakes.manomano_contract import ManoManoContract

KEY = "mm-test-api-key-0123456789"
CONTRACTS = (1001, 1002)


class World:
    def __init__(self, root, monkeypatch, **fake_kw):
        self.root = root
        self.monkeypatch = monkeypatch
        self.clock = FakeClock()
        self.fake = ManoManoFake(self.clock, keys={KEY: list(CONTRACTS)}, contract=ManoManoContract(), **fake_kw)
        self.apps = []

    def app(self, accounts: dict | None = None, plugins: dict | None = None, **kw):
        """An App whose ``[channels]`` are ``accounts`` (name -> extra settings), all on the fake."""
        accounts = accounts if accounts is not None else {"mm-fr": {}}
        channels = {}
        for name, extra in accounts.items():
            self.monkeypatch.setenv(env_name(name), KEY)
            channels[name] = {"type": "manomano", "contract_id": CONTRACTS[0], "orders_sync": True,
                              "transport": httpx.WSGITransport(app=self.fake), **extra}
        plugins = plugins or {"manomano": manomano_plugin, "settlements": settlements_plugin}
        app = make_app(self.root / f"app{len(self.apps)}", plugins, clock=self.clock,
                       channels=channels, **kw)
        self.apps.append(app)
        return app

    def close(self):
        for app in self.apps:
            for ch in app.channels.values():
                getattr(ch, "close", lambda: None)()
            app.close()


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = World(tmp_path, monkeypatch)
    yield w
    w.close()
    assert w.fake.violations == [] and w.fake.response_violations == [], (w.fake.violations,
                                                                            w.fake.response_violations)
