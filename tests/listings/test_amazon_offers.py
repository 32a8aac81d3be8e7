"""Price and stock from the catalog flow out after the content is live: a few changes as
patchListingsItem, many as one PATCH feed; the same values are never sent twice."""
from __future__ import annotations

import json


import marketd.plugins.catalog as catalog_plugin
from marketd.sdk.testing import run_job

from .conftest import checked, make_world, sku_row


def _catalog(w, prices: dict[str, tuple[str, int]]) -> None:
    with w.app.store.transaction() as tx:
        for sku, (price, stock) in prices.items():
            tx["products"].upsert({"sku": sku, "price": price, "currency": "EUR", "stock": stock}, pk="sku")


def _world(tmp_path, fake, clock, monkeypatch, **channel):
    from tests.content import conftest as cc

    orig = cc.ContentWorld.__init__

    def init(self, *a, extra_plugins=None, **kw):
        orig(self, *a, extra_plugins={**(extra_plugins or {}), "catalog": catalog_plugin}, **kw)
    monkeypatch.setattr(cc.ContentWorld, "__init__", init)
    return make_world(tmp_path, fake, clock, monkeypatch, **channel)


def _live(w, fake, clock, n):
    checked(w, [sku_row(i) for i in range(1, n + 1)])
    run_job(w.app, "listings-push")
    clock.advance(120)
    run_job(w.app, "listings-push")
    assert len(fake.listings) == n


def test_few_price_changes_go_as_patches(tmp_path, fake, clock, monkeypatch):
    w = _world(tmp_path, fake, clock, monkeypatch)
    try:
        _live(w, fake, clock, 3)
        _catalog(w, {"K001": ("99.50", 7), "K002": ("129.90", 5), "K003": ("10.00", 0)})
        assert run_job(w.app, "listings-push") is None
        assert fake.count("patchListingsItem") == 3 and fake.count("createFeed") == 1
        body = next(c.body for c in fake.calls_of("patchListingsItem") if b"99.50" in c.body)
        assert b'"value_with_tax":99.50' in body                 # the exact Decimal on the wire, no float
        assert fake.listings["K003"]["attributes"]["fulfillment_availability"][0]["quantity"] == 0
        states = {r["sku"]: r["state"] for r in w.app.store.db.query("select * from listing_pushes where kind='offer'")}
        assert states == {"K001": "accepted", "K002": "accepted", "K003": "accepted"}
        assert run_job(w.app, "listings-push") is None          # the same values: nothing sent
        assert fake.count("patchListingsItem") == 3
        _catalog(w, {"K002": ("119.90", 5)})
        run_job(w.app, "listings-push")
        assert fake.count("patchListingsItem") == 4
    finally:
        w.close()


def test_many_price_changes_go_as_one_patch_feed(tmp_path, fake, clock, monkeypatch):
    w = _world(tmp_path, fake, clock, monkeypatch, patch_threshold=2)
    try:
        _live(w, fake, clock, 4)
        _catalog(w, {f"K{i:03d}": ("88.00", 1) for i in range(1, 5)})
        run_job(w.app, "listings-push")
        assert fake.count("patchListingsItem") == 0 and fake.count("createFeed") == 2
        feed = json.loads(list(fake.feed_uploads.values())[-1]["data"])
        assert {m["operationType"] for m in feed["messages"]} == {"PATCH"}
        assert feed["messages"][0]["patches"][0]["path"] == "/attributes/purchasable_offer"
        clock.advance(120)
        run_job(w.app, "listings-push")
        assert str(fake.listings["K004"]["attributes"]["purchasable_offer"][0]["our_price"][0]["schedule"][0][
            "value_with_tax"]) == "88.00"
    finally:
        w.close()
