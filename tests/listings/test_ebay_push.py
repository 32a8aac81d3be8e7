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


def ebay_world(tmp_path, fake, clock, monkeypatch, gpsr=False):
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("shop", what), value)
    platforms = {"ebay_de": {"type": "ebay", "marketplace": "EBAY_DE", "locales": ["de_DE"], "channel": "shop",
                             "gpsr": gpsr}}
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
    return w


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch):
    w = ebay_world(tmp_path, fake, clock, monkeypatch)
    yield w
    w.close()


@pytest.fixture
def gpsr_world(tmp_path, fake, clock, monkeypatch):
    w = ebay_world(tmp_path, fake, clock, monkeypatch, gpsr=True)
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
    # three SKUs, one call per step: items, offers, publish (eBay's bulk calls take 25 each)
    put = fake.calls_of("bulkCreateOrReplaceInventoryItem")
    assert len(put) == 1 and put[0].headers.get("content-language") == "de-DE"
    assert fake.bulk_calls == [("bulkCreateOrReplaceInventoryItem", 3), ("bulkCreateOffer", 3), ("bulkPublishOffer", 3)]
    assert fake.count("createOrReplaceInventoryItem") == fake.count("createOffer") == fake.count("publishOffer") == 0
    item = fake.inventory_items["E001"]
    assert item["locale"] == "de_DE"
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
    assert fake.count("bulkCreateOffer") == 1 and fake.count("createOffer") == 0 and len(fake.offers) == 1
    assert fake.count("updateOffer") == 1          # the saved offer id: updated, not looked up
    assert fake.count("getOffers") == 0


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


GPSR = {"gpsr_manufacturer_name": "Shenzhen Travelgoods Co., Ltd.", "gpsr_manufacturer_street": "88 Keyuan Road",
        "gpsr_manufacturer_postal_code": "518057", "gpsr_manufacturer_city": "Shenzhen",
        "gpsr_manufacturer_country": "CN", "gpsr_manufacturer_email": "info@travelgoods.example",
        "gpsr_rp_name": "ACME GmbH", "gpsr_rp_street": "Hauptstr. 1", "gpsr_rp_postal_code": "10115",
        "gpsr_rp_city": "Berlin", "gpsr_rp_country": "DE", "gpsr_rp_email": "gpsr@acme.example",
        "gpsr_pictograms": "PG01", "gpsr_statements_de": "Nicht für Kinder unter 3 Jahren", "ean": "4006381333931"}


def test_thirty_new_skus_go_in_calls_of_25_and_a_refused_one_stays_alone(world, fake, clock):
    """Items, offers and publish each in two calls (25 + 5) instead of one call per SKU and step;
    the publish of E013 fails inside a 207 (a required aspect) and only E013 is invalid; E020 had
    an offer at eBay already (made in Seller Hub): its create is refused, it is looked up, updated
    and published."""
    fake.required_aspects = {"11700": ["Marke", "Material"]}
    fake.offers["5000000020"] = {"offerId": "5000000020", "sku": "E020", "marketplaceId": "EBAY_DE",
                                 "format": "FIXED_PRICE", "categoryId": "11700", "status": "UNPUBLISHED"}
    world.drop(table([row(n, material="" if n == 13 else "ABS") for n in range(1, 31)]))
    run_job(world.app, "listings-push")
    got = states(world)
    assert got.pop("E013") == "invalid" and set(got.values()) == {"accepted"} and len(got) == 29
    assert fake.bulk_calls == [("bulkCreateOrReplaceInventoryItem", 25), ("bulkCreateOrReplaceInventoryItem", 5),
                               ("bulkCreateOffer", 25), ("bulkCreateOffer", 5),
                               ("bulkPublishOffer", 25), ("bulkPublishOffer", 5)]
    assert fake.count("bulkCreateOffer", 207) == 1 and fake.count("bulkPublishOffer", 207) == 1
    assert fake.count("getOffers") == 1 and fake.count("updateOffer") == 1          # E020 only
    assert fake.offers["5000000020"]["status"] == "PUBLISHED" and len(fake.offers) == 30
    push = {r["sku"]: r for r in world.app.store.db.query("select * from listing_pushes where kind = 'content'")}
    assert [(i["code"], i["attribute"]) for i in json.loads(push["E013"]["issues"])] == [("25029", "Material")]
    assert push["E020"]["remote_ref"] == "5000000020"
    requests = sum(1 for c in fake.journal if c.operation != "oauth.token")
    assert requests == 8                 # 6 bulk calls + E020's lookup and update, for 30 SKUs


def test_a_lost_bulk_create_answer_is_looked_up_not_created_twice(world, fake, clock):
    """bulkCreateOffer made the offers but its answer was a 500: it is never retried blindly (a
    second create would be refused for every SKU); the next run looks the SKUs up and publishes."""
    fake.succeed_then(500, target="bulkCreateOffer")
    world.drop(table([row(n) for n in range(1, 4)]))
    run_job(world.app, "listings-push")
    assert fake.count("bulkCreateOffer") == 1 and len(fake.offers) == 3
    assert set(states(world).values()) == {"pending"}      # the batch waits for the next run
    run_job(world.app, "listings-push")
    assert states(world) == {"E001": "accepted", "E002": "accepted", "E003": "accepted"}
    assert fake.count("bulkCreateOffer") == 1 and fake.count("getOffers") == 3 and len(fake.offers) == 3
    assert all(o["status"] == "PUBLISHED" for o in fake.offers.values())


def test_gpsr_regulatory_goes_with_the_offer(gpsr_world, fake, clock):
    world = gpsr_world
    world.drop(table([row(1, **GPSR)]))
    run_job(world.app, "listings-push")
    assert states(world) == {"E001": "accepted"}
    offer = next(o for o in fake.offers.values() if o["sku"] == "E001")
    reg = offer["regulatory"]
    assert reg["manufacturer"] == {"companyName": "Shenzhen Travelgoods Co., Ltd.", "addressLine1": "88 Keyuan Road",
                                   "city": "Shenzhen", "postalCode": "518057", "country": "CN",
                                   "email": "info@travelgoods.example"}
    assert reg["responsiblePersons"] == [{"companyName": "ACME GmbH", "addressLine1": "Hauptstr. 1", "city": "Berlin",
                                          "postalCode": "10115", "country": "DE", "email": "gpsr@acme.example",
                                          "types": ["EU_RESPONSIBLE_PERSON"]}]
    assert reg["productSafety"] == {"pictograms": ["PG01"], "statements": ["Nicht für Kinder unter 3 Jahren"]}


def test_variants_are_one_group_listing(world, fake, clock):
    """A parent and its three sizes: the sizes get items and offers (never published alone), the
    parent becomes an inventory item group varying by Größe, published as one listing."""
    rows = [row(100, sku="P100", title_de="Koffer Hartschale 55 cm Blau", price="", stock="")]
    rows += [row(100, sku=f"P100-{s}", parent_sku="P100", size=s, title_de=f"Koffer Hartschale 55 cm Blau {s}")
             for s in ("S", "M", "L")]
    world.drop(table(rows))
    run_job(world.app, "listings-push")
    assert states(world) == {"P100": "accepted", "P100-S": "accepted", "P100-M": "accepted", "P100-L": "accepted"}
    assert fake.count("bulkPublishOffer") == 0 and fake.count("publishOffer") == 0
    assert fake.count("publishOfferByInventoryItemGroup") == 1
    group = fake.groups["P100"]
    assert group["variantSKUs"] == ["P100-L", "P100-M", "P100-S"]
    assert group["variesBy"] == {"specifications": [{"name": "Größe", "values": ["L", "M", "S"]}]}
    assert "Größe" not in group.get("aspects", {}) and group["aspects"]["Marke"] == ["ACME"]
    offers = [o for o in fake.offers.values()]
    assert len(offers) == 3 and len({o["listing"]["listingId"] for o in offers}) == 1
    assert "P100" not in fake.inventory_items                # the parent is a group, not an item
    # the pull shows the parent as its group: the group's title, the variants' one listing
    assert run_job(world.app, "listings-pull") is None
    remote = {r["sku"]: r for r in world.app.store.db.query("select * from remote_listings")}
    assert remote["P100"]["live"] == 1 and remote["P100"]["title"] == "Koffer Hartschale 55 cm Blau"
    assert remote["P100"]["remote_id"] == offers[0]["listing"]["listingId"] == remote["P100-S"]["remote_id"]
    assert fake.count("getInventoryItemGroup") == 1
    # a new price for one size: price and stock go by bulk update to its own offer
    with world.app.store.transaction() as tx:
        tx["products"].upsert({"sku": "P100-M", "price": "64.90", "currency": "EUR", "stock": 1}, pk="sku")
    run_job(world.app, "listings-push")
    assert states(world, "offer")["P100-M"] == "accepted"
    assert next(o for o in fake.offers.values() if o["sku"] == "P100-M")["pricingSummary"]["price"]["value"] == "64.90"


def _inventory_http(fake):
    import base64

    http = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.ebay.com")
    basic = base64.b64encode(f"{CREDS[0]}:{CREDS[1]}".encode()).decode()
    tok = http.post("/identity/v1/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": CREDS[2],
                                                         "scope": SCOPE_INVENTORY},
                    headers={"Authorization": f"Basic {basic}"}).json()["access_token"]
    return http, {"Authorization": f"Bearer {tok}", "Content-Language": "de-DE"}


def test_the_contract_holds_the_gpsr_fields_and_the_limits_of_25(fake):
    http, headers = _inventory_http(fake)
    inv = "/sell/inventory/v1"
    offer = {"sku": "X1", "marketplaceId": "EBAY_DE", "format": "FIXED_PRICE", "categoryId": "11700",
             "regulatory": {"manufacturer": {"companyName": "Maker", "country": "CN", "email": "a@b.example"},
                            "responsiblePersons": [{"companyName": f"RP {i}", "types": ["EU_RESPONSIBLE_PERSON"]}
                                                   for i in range(6)],
                            "productSafety": {"pictograms": ["PG01"], "statements": ["Achtung"]}}}
    r = http.post(inv + "/bulk_create_offer", json={"requests": [offer]}, headers=headers)
    assert r.status_code == 207
    entry = r.json()["responses"][0]
    assert entry["statusCode"] == 400 and entry["errors"][0]["errorId"] == 25709      # at most 5 persons
    assert entry["errors"][0]["parameters"] == [{"name": "fieldName", "value": "regulatory.responsiblePersons"}]
    # a GPSR field eBay does not define is a contract violation (the overlay is closed, as the spec is)
    offer["regulatory"]["manufacturer"]["fax"] = "+86 0"
    r = http.post(inv + "/bulk_create_offer", json={"requests": [offer]}, headers=headers)
    assert r.status_code == 400 and "fax" in str(fake.violations)
    fake.violations.clear()
    items = [{"sku": f"X{i}", "locale": "de_DE", "product": {"title": "t"}} for i in range(26)]
    r = http.post(inv + "/bulk_create_or_replace_inventory_item", json={"requests": items}, headers=headers)
    assert r.status_code == 400 and r.json()["errors"][0]["errorId"] == 25709
    r = http.post(inv + "/bulk_publish_offer", json={"requests": [{"offerId": "1"}] * 26}, headers=headers)
    assert r.status_code == 400 and fake.bulk_calls[-1] == ("bulkPublishOffer", 26)
