"""An in-process App with the MALL plugin on a FakeClock, its channel account ``mall-cz`` wired to
the MALL fake through ``httpx.WSGITransport``; the fake checks every request and answer against
the hand-written MPAPI contract (tests/contracts/mall)."""
from __future__ import annotations

import httpx
import pytest

import marketd.plugins.mall as mall_plugin
import marketd.plugins.settlements as settlements_plugin
import marketd.plugins.shipments as shipments_plugin
from marketd.plugins.mall.fake import MallFake
from marketd.plugins.mall.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import make_app
from tests.fakes.mall_contract import MallContract

ACCOUNT = "mall-cz"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    return MallFake(clock, contract=MallContract())


@pytest.fixture
def mall_app(tmp_path, clock, fake, monkeypatch):
    monkeypatch.setenv(env_name(ACCOUNT), fake.client_id)
    apps = []

    def make(root=None, carriers=None, jobs=None, **channel):
        settings = {"type": "mall", "base_url": "http://mall.test", "orders_sync": True, "requests_per_second": 1000,
                    "transport": httpx.WSGITransport(app=fake), **channel}
        app = make_app(root or tmp_path / "inst", {"mall": mall_plugin, "shipments": shipments_plugin,
                                                    "settlements": settlements_plugin}, clock=clock,
                       channels={ACCOUNT: settings}, carriers=carriers or {}, jobs=jobs or {})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def stored(app, order_id) -> dict | None:
    return app.store.get_order(f"{ACCOUNT}:{order_id}")
