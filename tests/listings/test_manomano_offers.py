"""ManoMano offers (issue 12 items 5–6): ManoMano takes content from the seller's feed, so only
price and stock go out — 100 SKUs per PATCH, a 207 read SKU by SKU — and only for SKUs the pull
saw listed there; the offers are read back and audited (price)."""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

import marketd.plugins.catalog as catalog_plugin
import marketd.plugins.manomano as manomano_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.manomano.fake import ManoManoFake
from marketd.plugins.manomano.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import run_job

from tests.content.conftest import ContentWorld, table
from tests.fakes.manomano_contract import ManoManoContract

KEY = "mm-test-api-key-0123456789"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    f = ManoManoFake(clock, keys={KEY: [1001]}, contract=ManoManoContract())
    yield f
    assert f.violations == [] and f.response_violations == []


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch):
    monkeypatch.setenv(env_name("mm"), KEY)
    platforms = {"manomano_de": {"type": "file", "folder": "manomano", "locales": ["de_DE"], "marketplace": "DE",
                                 "channel": "mm", "gpsr": False}}
    inbox = {"images": {"download": False}, "listings": {"allow": {"manomano_de": ["ACME"]}}}
    w = ContentWorld(tmp_path, platforms=platforms, inbox=inbox, clock=clock,
                     extra_plugins={"manomano": manomano_plugin, "settlements": settlements_plugin,
                                    "catalog": catalog_plugin},
                     channels={"mm": {"type": "manomano", "contract_id": 1001, "endpoint": "https://partnersapi.manomano.com",
                                      "transport": httpx.WSGITransport(app=fake)}})
    yield w
    w.close()


def rows(n):
    return [{"sku": f"M{i:03d}", "brand": "ACME", "category": "Koffer", "title_de": f"Koffer {i} Blau", "color": "Blau",
             "description_de": "d", "image_1": f"https://img.example/m{i}.jpg"} for i in range(1, n + 1)]


def test_offers_patched_in_hundreds_only_where_listed_and_audited(world, fake, clock):
    world.drop(table(rows(150)))
    for i in range(1, 150):                       # M150 is not in ManoMano's feed yet
        fake.add_offer(f"M{i:03d}", price="10.00", stock=1, title=f"Koffer {i} Blau")
    with world.app.store.transaction() as tx:
        for i in range(1, 151):
            tx["products"].upsert({"sku": f"M{i:03d}", "price": "24.90", "currency": "EUR", "stock": 3}, pk="sku")
    assert run_job(world.app, "listings-push") is None
    assert fake.count("patchOffers") == 0         # nothing is known to be listed there before a pull
    assert run_job(world.app, "listings-pull") is None
    assert fake.count("listOffers") == 2          # 150 SKUs asked 100 at a time
    assert run_job(world.app, "listings-push") is None
    assert fake.patch_sizes == [100, 49]
    pushes = {r["sku"]: r["state"] for r in world.app.store.db.query("select * from listing_pushes")}
    assert len(pushes) == 149 and set(pushes.values()) == {"accepted"} and "M150" not in pushes
    assert fake.offers[(1001, "M007")]["price"] == Decimal("24.90") and (1001, "M007") in fake.frozen
    body = fake.calls_of("patchOffers")[0].body
    assert b'"price_vat_included":24.90' in body  # the exact Decimal, not a float or a string
    # ManoMano dropped one offer meanwhile: inside the next batch's 207 it is invalid, the rest goes
    del fake.offers[(1001, "M002")]
    with world.app.store.transaction() as tx:
        for i in (1, 2, 3):
            tx["products"].upsert({"sku": f"M{i:03d}", "price": "19.90", "currency": "EUR", "stock": 3}, pk="sku")
    run_job(world.app, "listings-push")
    states = {r["sku"]: r["state"] for r in world.app.store.db.query("select * from listing_pushes where sku in "
                                                                      "('M001','M002','M003')")}
    assert states == {"M001": "accepted", "M002": "invalid", "M003": "accepted"}
    # the audit compares ManoMano's price with the catalogue's
    fake.offers[(1001, "M005")]["price"] = fake.offers[(1001, "M005")]["price"] + 1
    clock.advance(86400)
    run_job(world.app, "listings-pull")
    files = sorted((world.app.outbox_dir / "reports" / "listings" / "ACME" / "manomano_de").glob("deviations-*.csv"))
    text = files[-1].read_text(encoding="utf-8")
    assert "M005" in text and "audit.price" in text and "M007" not in text
