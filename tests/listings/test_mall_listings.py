"""MALL products and offers (issue 12 items 5–7): products pushed through MPAPI (create, replace,
variants as one product), price and stock (batch availability, per-article pricing only when the
price changed), the products pulled back and audited. Against the fake MPAPI checked by the
hand-written contract (tests/contracts/mall); the mapper's shapes are tested without HTTP."""
from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

import marketd.plugins.catalog as catalog_plugin
import marketd.plugins.mall as mall_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.mall import listings_mapper as m
from marketd.plugins.mall.fake import MallFake
from marketd.plugins.mall.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import run_job

from tests.content.conftest import ContentWorld, table
from tests.fakes.mall_contract import MallContract

CLIENT_ID = "mall-test-client-id"
MODEL = """[model]
platform = "mall"
name = "EG115"
version = "2026-11-30"

[attributes.title]
required = true
per_locale = true
max_length = 200

[attributes.longdesc]
required = true
per_locale = true
from = "description"

[attributes.shortdesc]
per_locale = true
from = "bullet_1"

[attributes.vat]
required = true
type = "number"

[attributes.barcode]
from = "ean"

[attributes.image_1]
required = true
type = "url"
variants = "children"        # a product with variants: the variants carry the images

[attributes.image_2]
type = "url"

[attributes.barva]
from = "color"

[attributes.velikost]
from = "size"
"""


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    f = MallFake(clock, client_id=CLIENT_ID, contract=MallContract(), review_delay=3600)
    yield f
    assert f.violations == [] and f.response_violations == []


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch):
    monkeypatch.setenv(env_name("mall"), CLIENT_ID)
    platforms = {"mall_cz": {"type": "file", "folder": "mall", "locales": ["cs_CZ"], "marketplace": "CZ",
                             "channel": "mall", "gpsr": False}}
    inbox = {"locales": ["cs_CZ"], "images": {"download": False}, "listings": {"allow": {"mall_cz": ["ACME"]}}}
    w = ContentWorld(tmp_path, platforms=platforms, inbox=inbox, clock=clock,
                     extra_plugins={"mall": mall_plugin, "settlements": settlements_plugin, "catalog": catalog_plugin},
                     channels={"mall": {"type": "mall", "base_url": "https://mpapi.mallgroup.com", "currency": "CZK",
                                        "transport": httpx.WSGITransport(app=fake)}})
    w.write_model("mapping.toml", '[categories."Kufr"]\nmall = "EG115"\n')
    w.write_model("mall/EG115.toml", MODEL)
    yield w
    w.close()


def row(n: int, **over) -> dict:
    return {"sku": f"C{n:03d}", "brand": "ACME", "category": "Kufr", "title_cs": f"Kufr skořepinový 55 cm modrý {n}",
            "description_cs": "Lehký kufr", "bullet_1_cs": "Lehký", "vat": "21", "color": "modrý",
            "ean": "", "image_1": f"https://img.example/c{n}.jpg", "image_2": f"https://img.example/c{n}-b.jpg",
            "price": "1299.00", "currency": "CZK", "stock": "5", **over}


def pushes(w, kind="content") -> dict:
    return {r["sku"]: r for r in w.app.store.db.query("select * from listing_pushes where kind = ?", [kind])}


# -- the mapper, without HTTP -----------------------------------------------------------------------
def payload(**values) -> dict:
    return {"model": "mall/EG115", "locales": {"cs_CZ": values}}


def test_article_body_from_a_payload():
    body = m.article("C001", payload(title="Kufr", longdesc="Lehký", vat="21", barcode="4006381333931",
                                     image_2="https://i/2.jpg", image_1="https://i/1.jpg", image_10="https://i/10.jpg",
                                     barva="modrá|černá", package_size="bigbox", free_delivery="ano"),
                     {"price": "1299.00", "currency": "CZK", "stock": 5}, ref="EG115")
    assert body == {"id": "C001", "title": "Kufr", "longdesc": "Lehký", "vat": Decimal("21"), "barcode": "4006381333931",
                    "package_size": "bigbox", "free_delivery": True, "category_id": "EG115", "priority": 1,
                    "media": [{"url": "https://i/1.jpg", "main": True}, {"url": "https://i/2.jpg", "main": False},
                              {"url": "https://i/10.jpg", "main": False}],
                    "parameters": {"barva": ["modrá", "černá"]}, "price": Decimal("1299.00"),
                    "availability": {"status": "A", "in_stock": 5}}
    assert isinstance(body["price"], Decimal)
    # the account's VAT rate fills in for content that names none; a variant never carries one
    assert m.article("C2", payload(title="K"), None, ref="EG115", vat=Decimal("21"))["vat"] == Decimal("21")
    assert m.article("C2", payload(title="K", vat="12"), None, vat=Decimal("21"))["vat"] == Decimal("12")
    assert "vat" not in m.article("C2", payload(title="K"), None, variant=True, vat=Decimal("21"))


def test_product_with_variants_names_the_varying_parameters():
    parent = payload(title="Kufr", longdesc="Lehký", vat="21", barva="modrá")
    variants = {s: payload(title=f"Kufr {s}", image_1=f"https://i/{s}.jpg", barva="modrá", velikost=s)
                for s in ("S", "M")}
    body = m.product_with_variants("P1", parent, variants, {"S": {"price": "10", "stock": 1}, "M": None}, ref="EG115")
    assert body["variable_parameters"] == ["velikost"] and "media" not in body and "price" not in body
    assert [v["id"] for v in body["variants"]] == ["M", "S"]
    assert body["variants"][1]["price"] == Decimal("10") and "price" not in body["variants"][0]
    assert "category_id" not in body["variants"][0] and body["parameters"] == {"barva": ["modrá"]}


def test_remote_listing_of_a_variant_takes_the_products_stage_and_category():
    product = {"id": "P1", "product_id": 100001, "title": "Kufr", "status": "A", "stage": "live", "in_stock": 3,
               "category_id": "EG115", "price": 0, "purchase_price": 0, "rrp": 0, "variants_count": 1,
               "has_variants": True}
    variant = {"id": "S", "product_id": 100001, "variant_id": 100002, "title": "Kufr S", "status": "A", "in_stock": 3,
               "price": 1299.0, "purchase_price": 0, "rrp": 1299.0}
    r = m.remote_listing(json.loads(json.dumps(variant), parse_float=Decimal), currency="CZK", parent=product)
    assert r["live"] and r["category"] == "EG115" and r["price"] == Decimal("1299.0") and r["quantity"] == 3
    assert r["url"] == "https://www.mall.cz/id/100001" and "main_image" not in r["shows"]
    draft = m.remote_listing({**product, "has_variants": False, "stage": "draft"}, currency="CZK")
    assert not draft["live"] and draft["status"] == ["A", "draft"]


# -- against the fake ---------------------------------------------------------------------------------
def test_products_created_then_replaced_and_refusals_per_rule(world, fake, clock):
    world.drop(table([row(1), row(2), row(3, vat="")]))
    run_job(world.app, "listings-push")
    got = pushes(world)
    # C003 has no VAT: the content check holds it back (a required attribute), nothing is sent for it
    assert set(got) == {"C001", "C002"} and {r["state"] for r in got.values()} == {"accepted"}
    assert fake.count("mall.create_product") == 2 and fake.count("mall.update_product") == 0
    body = fake.calls_of("mall.create_product")[0].body
    assert b'"price":1299.00' in body and b'"vat":21' in body          # exact numbers, no float
    p = fake.articles.products["C001"]
    assert p["category_id"] == "EG115" and p["media"][0] == {"url": "https://img.example/c1.jpg", "main": True}
    assert p["parameters"] == {"barva": ["modrý"]}
    # a changed title: the known product is replaced (PUT), nothing created
    world.drop(table([row(1, title_cs="Kufr skořepinový 55 cm modrý nový"), row(2)]))
    run_job(world.app, "listings-push")
    assert fake.count("mall.update_product") == 1 and fake.count("mall.create_product") == 2
    assert fake.articles.products["C001"]["title"] == "Kufr skořepinový 55 cm modrý nový"
    # MALL's own rule (an unknown category): invalid, one issue per errorCode
    fake.articles.categories.discard("EG115")
    world.drop(table([row(1, title_cs="Kufr skořepinový 55 cm modrý nový 2"), row(2)]))
    run_job(world.app, "listings-push")
    bad = pushes(world)["C001"]
    assert bad["state"] == "invalid"
    assert [(i["code"], i["attribute"]) for i in json.loads(bad["issues"])] == [("INVALID_CATEGORY", "category_id")]


def test_a_create_after_a_crash_finds_the_product_and_replaces_it(world, fake, clock):
    """The product was created but the answer never arrived: the POST of the resumed batch gets a
    409 and the product is replaced instead — one article at MALL."""
    fake.fail_next("mall.create_product", 503, times=4)      # every try of the client (4) answers 503
    world.drop(table([row(1)]))
    run_job(world.app, "listings-push")
    assert pushes(world)["C001"]["state"] == "pending" and fake.count("mall.create_product") == 4
    # ... but the first of them had created the article at MALL
    fake.articles._store({"id": "C001", "title": "old", "shortdesc": "", "longdesc": "x", "category_id": "EG115",
                          "vat": 21.0, "priority": 1, "media": [{"url": "https://img.example/c1.jpg", "main": True}],
                          "price": 1299.0, "availability": {"status": "A", "in_stock": 5}}, None)
    run_job(world.app, "listings-push")
    assert pushes(world)["C001"]["state"] == "accepted"
    assert fake.count("mall.create_product") == 5 and fake.count("mall.update_product") == 1      # 409, then PUT
    assert len(fake.articles.products) == 1
    assert fake.articles.products["C001"]["title"].startswith("Kufr skořepinový")


def test_variants_go_as_one_product(world, fake, clock):
    rows = [row(100, sku="P100", price="", stock="", image_1="", image_2="")]
    rows += [row(100, sku=f"P100-{s}", parent_sku="P100", size=s, title_cs=f"Kufr skořepinový 55 cm modrý {s}",
                 image_1=f"https://img.example/p100-{s}.jpg") for s in ("S", "M")]
    world.drop(table(rows))
    run_job(world.app, "listings-push")
    got = pushes(world)
    assert {s: r["state"] for s, r in got.items()} == {"P100": "accepted", "P100-S": "accepted", "P100-M": "accepted"}
    assert fake.count("mall.create_product") == 1 and fake.count("mall.create_variant") == 0
    p = fake.articles.products["P100"]
    assert [v["id"] for v in p["variants"]] == ["P100-M", "P100-S"] and p["variable_parameters"] == ["velikost"]
    # one variant's title changes alone: only that variant is replaced
    rows[1]["title_cs"] = "Kufr skořepinový 55 cm modrý S nový"      # P100-S
    world.drop(table(rows))
    run_job(world.app, "listings-push")
    assert fake.count("mall.update_variant") == 1 and fake.count("mall.update_product") == 0
    assert next(v for v in fake.articles.products["P100"]["variants"] if v["id"] == "P100-S")["title"].endswith("nový")


def test_stock_in_batches_prices_only_when_changed_pull_and_audit(world, fake, clock):
    world.drop(table([row(n) for n in range(1, 151)]))
    run_job(world.app, "listings-push")
    assert len(pushes(world)) == 150
    clock.advance(3601)                                   # MALL's review is over: the products are live
    assert run_job(world.app, "listings-pull") is None
    assert fake.count("mall.list_products") == 2          # 150 products, 100 per page
    remote = {r["sku"]: r for r in world.app.store.db.query("select * from remote_listings")}
    assert remote["C007"]["live"] == 1 and remote["C007"]["price"] == "1299.0" and remote["C007"]["category"] == "EG115"
    # new stock for every SKU, a new price for three
    with world.app.store.transaction() as tx:
        for n in range(1, 151):
            tx["products"].upsert({"sku": f"C{n:03d}", "price": "999.00" if n <= 3 else "1299.00", "currency": "CZK",
                                   "stock": 2}, pk="sku")
    run_job(world.app, "listings-push")
    offers = pushes(world, "offer")
    assert len(offers) == 150 and {r["state"] for r in offers.values()} == {"accepted"}
    assert fake.articles.availability_calls == [100, 50]
    assert [sku for sku, _ in fake.articles.price_puts] == ["C001", "C002", "C003"]
    assert b'"price":999.00' in fake.calls_of("mall.update_pricing")[0].body
    assert fake.articles.products["C004"]["availability"] == {"status": "A", "in_stock": 2}
    # MALL shows another price for C010 (changed in its portal): the audit reports it
    fake.articles.products["C010"]["price"] = 1199.0
    run_job(world.app, "listings-pull")
    devs = list(world.app.store.db.query("select * from listing_deviations where open = 1"))
    assert [(d["sku"], d["rule"], d["platform_shows"]) for d in devs] == [("C010", "audit.price", "1199.0 CZK")]


def test_a_stock_batch_with_an_unknown_article_is_resent_without_it(world, fake, clock):
    world.drop(table([row(n) for n in range(1, 4)]))
    run_job(world.app, "listings-push")
    run_job(world.app, "listings-pull")                    # MALL shows the price the catalog has: no pricing call
    del fake.articles.products["C002"]                     # deleted in MALL's portal
    with world.app.store.transaction() as tx:
        for n in range(1, 4):
            tx["products"].upsert({"sku": f"C{n:03d}", "price": "1299.00", "currency": "CZK", "stock": 9}, pk="sku")
    run_job(world.app, "listings-push")
    offers = {s: r["state"] for s, r in pushes(world, "offer").items()}
    assert offers == {"C001": "accepted", "C002": "invalid", "C003": "accepted"}
    assert fake.articles.availability_calls == [3, 2] and fake.count("mall.update_pricing") == 0
    issues = json.loads(pushes(world, "offer")["C002"]["issues"])
    assert [(i["code"], i["attribute"]) for i in issues] == [("NOT_FOUND", "id")]
    assert fake.articles.products["C003"]["availability"]["in_stock"] == 9


def test_a_limited_answer_stops_the_batch_and_the_next_run_finishes_it(world, fake, clock):
    world.drop(table([row(n) for n in range(1, 4)]))
    fake.limited_next("mall.create_product", times=1, http=200)    # MALL's LIMITED with HTTP 200
    run_job(world.app, "listings-push")
    assert {r["state"] for r in pushes(world).values()} == {"pending"}
    clock.advance(3601)                                   # the group's pause (limited_pause) is over
    run_job(world.app, "listings-push")
    assert {r["state"] for r in pushes(world).values()} == {"accepted"} and len(fake.articles.products) == 3


def test_a_sku_held_back_stays_held_back_when_a_later_file_leaves_it_out(world, fake, clock):
    """Reproducer: C003 had an ERROR (no VAT) in the first file; the second file of the brand holds
    only C001 and C002. The gate read the brand's latest run only, so C003 counted as clean and its
    incomplete product went to MALL. A SKU keeps the verdict of the last run that checked it."""
    world.drop(table([row(1), row(2), row(3, vat="")]))
    run_job(world.app, "listings-push")
    world.drop(table([row(1, title_cs="Kufr skořepinový 55 cm modrý 1 nový"), row(2)]))
    run_job(world.app, "listings-push")
    assert "C003" not in pushes(world) and "C003" not in fake.articles.products
    world.drop(table([row(3)]))                              # fixed: now it goes
    run_job(world.app, "listings-push")
    assert pushes(world)["C003"]["state"] == "accepted"
