"""Fixtures for the carrier tests: an in-process App on a FakeClock with the carrier plugins,
the BRT and MALL fakes wired in through ``httpx.WSGITransport``, and a fake channel that counts
``confirm_shipment`` calls."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from marketd.app import App
from marketd.clock import FakeClock
from marketd.config import default_config
from marketd.hookspecs import hookimpl
from marketd.models import Capabilities, Channel

from marketd.plugins.brt.fake import BrtFake
from marketd.plugins.mall.fake import MallFake

BRT_SETTINGS = {"type": "brt", "base_url": "http://brt.test/rest/v1", "user_id": "1020304",
                "departure_depot": 102, "sender_customer_code": 1020304, "label_format": "PDF",
                "requests_per_second": 1000}
MALL_SETTINGS = {"type": "mall_delivery", "base_url": "http://mall.test", "channels": ["mall-cz"],
                 "requests_per_second": 1000}
SENDER = {"name": "Negozio Srl", "street": "Via Milano 5", "postal_code": "20100", "city": "Milano",
          "province": "MI", "country": "IT", "phone": "+39021234567"}


class RecordingChannel(Channel):
    """A channel that confirms shipments and remembers every call."""

    type = "recording"
    capabilities = Capabilities(fetch_orders=True, confirm_shipment=True)
    calls: list = []

    def confirm_shipment(self, order_id, package):
        self.calls.append((self.name, order_id, dict(package)))
        return {"ok": True, "order_id": order_id}


class ReadOnlyChannel(Channel):
    type = "readonly"
    capabilities = Capabilities(fetch_orders=True)


class TestPlugin:
    @hookimpl
    def register_channels(self, register):
        register("recording", RecordingChannel)
        register("readonly", ReadOnlyChannel)


def plugin_modules():
    import marketd.plugins.brt as brt
    import marketd.plugins.mall as mall
    import marketd.plugins.settlements as settlements  # reads the MALL plugin's payout formats
    import marketd.plugins.manual as manual
    import marketd.plugins.shipments as shipments

    return {"shipments": shipments, "brt": brt, "mall": mall, "manual": manual, "settlements": settlements,
            "test-channels": TestPlugin()}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def brt_fake(clock):
    return BrtFake(clock, tracking_delay=3 * 3600)


@pytest.fixture
def mall_fake(clock):
    return MallFake(clock)


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("BRT_PASSWORD", "brt-secret")
    monkeypatch.setenv("MALL_CLIENT_ID", "mall-client-id")


@pytest.fixture
def make_app(tmp_path, clock, brt_fake, mall_fake, secrets_env):
    apps = []

    def make(carriers: dict | None = None, channels: dict | None = None, inbox: dict | None = None,
             jobs: dict | None = None, root: Path | None = None) -> App:
        cfg = default_config(root or tmp_path / "inst")
        cfg["carriers"] = carriers if carriers is not None else {
            "brt": {**BRT_SETTINGS, "transport": httpx.WSGITransport(app=brt_fake), "sender": SENDER},
            "mall": {**MALL_SETTINGS, "transport": httpx.WSGITransport(app=mall_fake)},
            "erp": {"type": "manual"},
        }
        cfg["channels"] = channels if channels is not None else {
            "amazon-it": {"type": "recording"}, "mall-cz": {"type": "readonly"}}
        cfg["inbox"]["shipments"] = {**cfg["inbox"]["defaults"], **(inbox or {})}
        cfg["inbox"]["tracking"] = dict(cfg["inbox"]["defaults"])
        cfg["jobs"] = jobs or {}
        app = App(cfg, clock=clock, load_entry_points=False, extra_plugins=plugin_modules())
        apps.append(app)
        return app

    RecordingChannel.calls = []
    yield make
    for app in apps:
        app.close()


def add_order(app, order_id: str, channel: str = "amazon-it", *, ship_to: dict | None = None, items=None, raw=None,
              channel_type: str = "amazon"):
    app.store.upsert_order({
        "channel": channel, "channel_type": channel_type, "order_id": order_id, "merchant_order_id": f"M-{order_id}",
        "status": "Unshipped", "purchased_at": "2026-11-01T10:00:00+00:00", "currency": "EUR", "total": "25.00",
        "buyer_name": "Mario Rossi",
        "ship_to": ship_to if ship_to is not None else {
            "name": "Mario Rossi", "addressLine1": "Via Roma 1", "city": "Roma", "postalCode": "00184",
            "stateOrRegion": "RM", "countryCode": "IT", "phone": "+39061234567"},
        "items": items if items is not None else [{"orderItemId": f"{order_id}-1", "sku": "SKU-1", "quantity": 1}],
        "raw": raw or {},
    })


def drop(app, tmp_path: Path, name: str, text: str, kind: str = "shipments") -> dict:
    from marketd.inbox import InboxEngine

    src = tmp_path / "drops" / name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(text, encoding="utf-8")
    record = InboxEngine(app).adopt(kind, src)
    if record.get("summary") and isinstance(record["summary"], str):
        record["summary_dict"] = json.loads(record["summary"])
    return record


def outputs(app, pattern: str) -> list[Path]:
    return sorted(app.outbox_dir.glob(pattern))
