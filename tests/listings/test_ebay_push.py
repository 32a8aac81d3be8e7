"""Listings out to eBay through the Inventory API (issue 12 item 5): inventory item with
Content-Language, offer, publish; price/stock in bulk calls of at most 25 with 207 handling; the
remote listings pulled back and audited. Against the fake eBay checked by the OpenAPI contract."""
from __future__ import annotations

import json
import shutil

import httpx
import pytest

import marketd.plugins.catalog as catalog_plugin
import marketd.plugins.ebay as ebay_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.ebay.fake import SCOPE_FINANCES, SCOPE_FULFILLMENT, SCOPE_INVENTORY, EbayFake
from marketd.plugins.ebay.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import run_job

from tests.content.conftest import FIXTURES, ContentWorld, table

CREDS = ("Shop-Marketd-PRD-1a2b3c4d5", "PRD-test-cert-id-0123", "v^1.1#i^1#test-refresh-token")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock, ebay_contract):
    f = EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], contract=ebay_contract,
                 granted_scopes=(SCOPE_FULFILLMENT, SCOPE_FINANCES, SCOPE_INVENTORY), marketplace="EBAY_DE")
    f.required_aspects = {"11700": ["Marke"]}
    yield f
    assert f.violations == [] and f.response_violations == []


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch):
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("shop", what), value)
    platforms = {"ebay_de": {"type": "ebay", "marketplace": "EBAY_DE", "locales": ["de_DE"], "channel": "shop",
                             "gpsr": False}}
    inbox = {"images": {"download": False}, "listings": {"allow": {"ebay_de": ["*"]}}}
    w = ContentWorld(tmp_path, platforms=platforms, inbox=inbox, clock=clock,
                     extra_plugins={"ebay": ebay_plugin, "settlements": settlements_plugin, "catalog": catalog_plugin},
                     channels={"shop": {"type": "ebay", "marketplace": "EBAY_DE", "listings": True,
                                        "endpoint": "https://api.ebay.com", "merchant_location_key": "lager-1",
                                        "fulfillment_policy_id": "F1", "payment_policy_id": "P1", "return_policy_id": "R1",
                                        "transport": httpx.WSGITransport(app=fake)}})
    folder = w.models / "ebay" / "EBAY_DE"
    (folder / "77").mkdir(parents=True)
    shutil.copy(FIXTURES / "ebay-11700.aspects.json", folder / "77" / "11700.aspects.json")
    (folder / "tree.json").write_text(json.dumps({"categoryTreeId": "77", "categoryTreeVersion": "129"}))
    yield w
    w.close()


def row(n: int, **over) -> dict:
    return {"sku": f"E{n:03d}", "brand": "ACME", "category": "Koffer", "title_de": f"Koffer Hartschale 55 cm Blau {n}",
            "description_de": "Leichter Koffer", "color": "Blau", "image_1": f"https://img.example/e{n}.jpg",
            "price": "59.90", "stock": "4", **over}


def states(w, kind="content") -> dict:
    return {r["sku"]: r["state"] for r in w.app.store.db.query("select * from listing_pushes where kind = ?", [kind])}


def test_inventory_item_offer_publish_and_audit(world, fake, clock):
    world.drop(table([row(n) for n in range(1, 4)]))
    assert run_job(world.app, "listings-push") is None
    assert states(world) == {"E001": "accepted", "E002": "accepted", "E003": "accepted"}
    put = fake.calls_of("createOrReplaceInventoryItem")
    assert len(put) == 3 and all(c.headers.get("content-language") == "de-DE" for c in put)
    item = fake.inventory_items["E001"]
    assert item["product"]["aspects"]["Marke"] == ["ACME"] and item["availability"]["shipToLocationAvailability"]["quantity"] == 4
    offer = next(o for o in fake.offers.values() if o["sku"] == "E001")
    assert offer["status"] == "PUBLISHED" and offer["pricingSummary"]["price"] == {"value": "59.90", "currency": "EUR"}
    assert offer["categoryId"] == "11700" and offer["listingPolicies"]["returnPolicyId"] == "R1"
    # nothing changed: nothing sent again
    n = len(fake.journal)
    run_job(world.app, "listings-push")
    assert len([c for c in fake.journal[n:] if c.operation != "oauth.token"]) == 0

    fake.offers[offer["offerId"]]["categoryId"] = "99999"          # eBay shows it in another category
    assert run_job(world.app, "listings-pull") is None
    remote = {r["sku"]: r for r in world.app.store.db.query("select * from remote_listings")}
    assert len(remote) == 3 and remote["E002"]["live"] == 1 and remote["E002"]["price"] == "59.90"
    files = sorted((world.app.outbox_dir / "reports" / "listings" / "ACME" / "ebay_de").glob("deviations-*.csv"))
    text = files[-1].read_text(encoding="utf-8")
    assert "E001" in text and "audit.category" in text and "E002" not in text


def test_missing_required_aspect_is_invalid_with_its_field(world, fake, clock):
    fake.required_aspects = {"11700": ["Marke", "Abteilung"]}
    world.drop(table([row(1)]))
    run_job(world.app, "listings-push")
    push = next(iter(world.app.store.db.query("select * from listing_pushes")))
    assert push["state"] == "invalid"
    assert [(i["code"], i["attribute"]) for i in json.loads(push["issues"])] == [("25029", "Abteilung")]
    # the offer was created once and its id kept: fixing the content re-uses it
    fake.required_aspects = {"11700": ["Marke"]}
    world.drop(table([row(1, title_de="Koffer Hartschale 55 cm Blau neu")]))
    run_job(world.app, "listings-push")
    assert states(world) == {"E001": "accepted"}
    assert fake.count("createOffer") == 1 and len(fake.offers) == 1


def test_thirty_price_changes_are_two_bulk_calls_and_207_per_sku(world, fake, clock):
    world.drop(table([row(n) for n in range(1, 31)]))
    run_job(world.app, "listings-push")
    assert set(states(world).values()) == {"accepted"}
    # one listing ended at eBay: its price update fails inside a 207, the others go through
    gone = next(o for o in fake.offers.values() if o["sku"] == "E007")
    gone["status"] = "UNPUBLISHED"
    with world.app.store.transaction() as tx:
        for n in range(1, 31):
            tx["products"].upsert({"sku": f"E{n:03d}", "price": "49.90", "currency": "EUR", "stock": 2}, pk="sku")
    run_job(world.app, "listings-push")
    assert fake.bulk_sizes == [25, 5] and fake.count("bulkUpdatePriceQuantity", 207) == 1
    offers = states(world, "offer")
    assert offers["E007"] == "invalid" and sum(s == "accepted" for s in offers.values()) == 29
    assert next(o for o in fake.offers.values() if o["sku"] == "E012")["pricingSummary"]["price"]["value"] == "49.90"
    run_job(world.app, "listings-push")                     # the same values: nothing more
    assert fake.bulk_sizes == [25, 5]
