"""An instance with the ``settlements`` and ``ebay`` plugins (the real engine and store), an eBay
account wired to the fake eBay, and helpers to drop payout files and read what they moved."""
from __future__ import annotations

import itertools
import json
from datetime import timedelta

import httpx
import pytest

from marketd.clock import FakeClock
from marketd.plugins.ebay.fake import EbayFake
from marketd.plugins.ebay.settings import env_name

from .conftest import CREDS

_n = itertools.count()
ACCOUNT = "ebay-it"


class Env:
    def __init__(self, app, fake, tmp_path):
        self.app, self.fake, self.tmp = app, fake, tmp_path
        self.reports = app.outbox_dir / "reports"

    @property
    def db(self):
        return self.app.store.db

    @property
    def channel(self):
        return self.app.channel(ACCOUNT)

    def drop(self, data: bytes | str, name: str | None = None) -> dict:
        from marketd.sdk.testing import process_file

        if isinstance(data, str):
            data = data.encode("utf-8")
        path = self.tmp / "drops" / (name or f"report-{next(_n)}.csv")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        self.app.clock.advance(2)
        return process_file(self.app, "settlements", path)

    def shipped_orders(self, n: int, **kw) -> list[dict]:
        """``n`` orders, shipped at the fake and synced into the store."""
        orders = self.fake.populate(n, days=3, **kw)
        for o in orders:
            self.fake.touch(o["orderId"], at=self.app.clock.now() - timedelta(hours=1),
                            orderFulfillmentStatus="FULFILLED")
        self.channel.sync_orders(None, resync=True)
        return orders

    def finance(self, order_id: str) -> list[dict] | None:
        """The order's totals per currency (``order_finance``: revenue, marketplace_fee … net)."""
        key = f"{ACCOUNT}:{order_id}"
        got = self.app.hook.order_finance(app=self.app, order_keys=[key], refs=[])
        return ((got or {}).get(key) or {}).get("totals")

    def payouts(self) -> dict:
        return {r["payout_key"]: r for r in self.db.query("select * from payouts")}

    def lines(self, order_ref: str) -> list[dict]:
        return list(self.db.query(
            "select l.* from payout_refs r join payout_lines l on l.pid = r.pid and l.ref_no = r.ref_no "
            "where r.order_ref = ? order by l.category, l.subtype", [order_ref]))


def summary(row) -> dict:
    return row["summary"] if isinstance(row["summary"], dict) else json.loads(row["summary"] or "{}")


@pytest.fixture
def make_env(tmp_path, monkeypatch):
    import marketd.plugins.ebay as ebay_plugin
    import marketd.plugins.settlements as settlements
    from marketd.sdk.testing import make_app

    from tests.fakes.ebay_specs import ebay_contract

    apps = []

    def make(channel: dict | None = None, inbox: dict | None = None, fake: EbayFake | None = None,
             accounts: dict | None = None) -> Env:
        clock = fake.clock if fake is not None else FakeClock()
        fake = fake or EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                                contract=ebay_contract())
        for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
            monkeypatch.setenv(env_name(ACCOUNT, what), value)
        channels = {ACCOUNT: {"type": "ebay", "marketplace": "EBAY_IT", "orders_sync": True,
                              "transport": httpx.WSGITransport(app=fake), **(channel or {})}, **(accounts or {})}
        app = make_app(tmp_path / f"i{len(apps)}", {"settlements": settlements, "ebay": ebay_plugin}, clock=clock,
                       channels=channels, inbox={"settlements": inbox} if inbox else None)
        apps.append(app)
        return Env(app, fake, tmp_path)

    yield make
    for a in apps:
        a.close()


@pytest.fixture
def env(make_env):
    return make_env()
