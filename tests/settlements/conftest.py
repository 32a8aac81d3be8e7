"""An instance with the settlements plugin and the test-only ``demo`` payout format, through the
real engine and store (``marketd.sdk.testing``)."""
from __future__ import annotations

import itertools
import json

import pytest

from marketd.sdk.testing import make_app, process_file

from . import demo_format

_n = itertools.count()


class Env:
    def __init__(self, app, tmp_path):
        self.app, self.tmp = app, tmp_path
        self.reports = app.outbox_dir / "reports"

    @property
    def db(self):
        return self.app.store.db

    def drop(self, data: bytes, name: str | None = None) -> dict:
        path = self.tmp / "drops" / (name or f"payouts-{next(_n)}.csv")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        self.app.clock.advance(2)
        return process_file(self.app, "settlements", path)

    def order(self, order_id: str, *, channel: str = "demo-it", channel_type: str = "demo", status: str = "SHIPPED",
              purchased: str = "2026-10-01T10:00:00+00:00", **extra) -> str:
        self.app.store.upsert_order({"channel": channel, "channel_type": channel_type, "order_id": order_id,
                                     "status": status, "purchased_at": purchased, "updated_at": purchased,
                                     "currency": "EUR", "total": "20.00", "buyer_name": "Mario Rossi",
                                     "ship_to": {"city": "Milano"}, "items": [{"sku": "S-1", "quantity": 1}],
                                     **extra})
        return f"{channel}:{order_id}"

    def finance(self, key: str) -> dict | None:
        got = self.app.hook.order_finance(app=self.app, order_keys=[key], refs=[])
        return (got or {}).get(key)

    def payouts(self) -> dict:
        return {r["payout_key"]: r for r in self.db.query("select * from payouts")}

    def one(self, sql, params=()):
        rows = list(self.db.query(sql, list(params)))
        return rows[0] if rows else None


@pytest.fixture
def make_env(tmp_path):
    import marketd.plugins.settlements as settlements

    apps = []

    def make(plugins: dict | None = None, **kw):
        app = make_app(tmp_path / f"i{len(apps)}", {"settlements": settlements, "demo": demo_format, **(plugins or {})},
                       **kw)
        apps.append(app)
        return Env(app, tmp_path)

    yield make
    for a in apps:
        a.close()


@pytest.fixture
def env(make_env):
    return make_env()


def summary(row) -> dict:
    return row["summary"] if isinstance(row["summary"], dict) else json.loads(row["summary"] or "{}")
