"""eBay's data model per category through the Taxonomy API (issue 12 item 2, "Fakes and tests":
the eBay fake gains Taxonomy): the content-models job fetches a category's item aspects with an
application token into models/ebay/<marketplace>/<tree>/<category>.aspects.json, the content
check uses them, and a changed model shows as newly missing attributes; category suggestions.
Against the fake eBay checked by eBay's Taxonomy OpenAPI contract."""
from __future__ import annotations

import json

import httpx
import pytest

import marketd.plugins.ebay as ebay_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.ebay.fake import SCOPE_FINANCES, SCOPE_FULFILLMENT, SCOPE_INVENTORY, EbayFake
from marketd.plugins.ebay.fake_taxonomy import _aspect
from marketd.plugins.ebay.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import run_job

from tests.content.conftest import ContentWorld, table

CREDS = ("Shop-Marketd-PRD-1a2b3c4d5", "PRD-test-cert-id-0123", "v^1.1#i^1#test-refresh-token")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock, ebay_contract):
    f = EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], contract=ebay_contract,
                 granted_scopes=(SCOPE_FULFILLMENT, SCOPE_FINANCES, SCOPE_INVENTORY), marketplace="EBAY_DE")
    yield f
    assert f.violations == [] and f.response_violations == []


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch):
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("shop", what), value)
    platforms = {"ebay_de": {"type": "ebay", "marketplace": "EBAY_DE", "locales": ["de_DE"], "channel": "shop",
                             "gpsr": False}}
    w = ContentWorld(tmp_path, platforms=platforms, inbox={"images": {"download": False}}, clock=clock,
                     extra_plugins={"ebay": ebay_plugin, "settlements": settlements_plugin},
                     channels={"shop": {"type": "ebay", "marketplace": "EBAY_DE", "endpoint": "https://api.ebay.com",
                                        "transport": httpx.WSGITransport(app=fake)}})
    w.write_model("mapping.toml", '[categories."Koffer"]\nebay = "16080"\n'
                                  '[aspects.EBAY_DE]\nbrand = "Marke"\ncolor = "Farbe"\nsize = "Größe"\n'
                                  'material = "Material"\n')
    yield w
    w.close()


def row(n: int, **over) -> dict:
    return {"sku": f"T{n:03d}", "brand": "ACME", "category": "Koffer", "title_de": f"Koffer Hartschale {n}",
            "description_de": "Leicht", "color": "Blau", "image_1": f"https://img.example/t{n}.jpg", **over}


def issues(w) -> list[tuple]:
    return sorted((i["sku"], i["rule"], i["attribute"], i["severity"])
                  for i in w.read_csv(w.last_dir("ACME") / "issues.csv") if i["platform"] == "ebay_de")


def test_the_models_job_fetches_item_aspects_with_an_application_token(world, fake, clock):
    world.drop(table([row(1), row(2, size="XL")]))
    assert run_job(world.app, "content-models") is None
    path = world.models / "ebay" / "EBAY_DE" / "77" / "16080.aspects.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert [a["localizedAspectName"] for a in doc["aspects"]] == ["Marke", "Farbe", "Größe", "Material"]
    assert json.loads((world.models / "ebay" / "EBAY_DE" / "tree.json").read_text()) == \
        {"categoryTreeId": "77", "categoryTreeVersion": "129"}
    token_calls = [c for c in fake.journal if c.operation == "oauth.token"]
    assert token_calls and all(b"grant_type=client_credentials" in c.body for c in token_calls)
    assert fake.count("getDefaultCategoryTreeId") >= 1 and fake.count("getItemAspectsForCategory") >= 1
    # the content check read the model: XL is not one of Größe's values (SELECTION_ONLY)
    world.drop(table([row(1), row(2, size="XL")]))
    got = issues(world)
    assert ("T002", "ebay.aspect.selection_only", "Größe", "ERROR") in got
    assert not [i for i in got if i[0] == "T001" and i[3] == "ERROR"]


def test_a_changed_category_model_reports_the_newly_required_aspect(world, fake, clock):
    world.drop(table([row(1)]))
    run_job(world.app, "content-models")
    world.drop(table([row(1)]))
    assert not [i for i in issues(world) if i[3] == "ERROR"]
    aspects = json.loads(json.dumps(fake.categories["16080"]["aspects"]))
    aspects[3] = _aspect("Material", True)                 # eBay now requires Material
    fake.set_aspects("16080", aspects)
    clock.advance(86400)                                  # the daily refresh is due
    run_job(world.app, "content-models")                  # fetches the new model and re-checks the SKUs using it
    reports = sorted((world.app.outbox_dir / "reports" / "content" / "ACME").glob("model-change-ebay_de-*.csv"))
    rows = world.read_csv(reports[-1])
    assert [(r["sku"], r["attribute"]) for r in rows] == [("T001", "Material")]
    assert json.loads((world.models / "ebay" / "EBAY_DE" / "tree.json").read_text())["categoryTreeVersion"] == "130"


def test_category_suggestions_for_a_product_text(world, fake):
    ch = world.app.channel("shop")
    got = ch.search_data_models(["Hartschale", "Koffer", "blau"])
    assert got == [{"name": "16080", "displayName": "Reisegepäck > Koffer"}]
    assert ch.search_data_models(["Gartenschlauch"]) == []          # eBay's 204


@pytest.mark.parametrize("query,code", [("", 62003), ("marketplace_id=EBAY_XX", 62002)])
def test_default_tree_refusals(fake, query, code):
    r = _app_get(fake, "/commerce/taxonomy/v1/get_default_category_tree_id" + (f"?{query}" if query else ""))
    assert r.status_code == 400 and r.json()["errors"][0]["errorId"] == code


@pytest.mark.parametrize("path,code", [
    ("/commerce/taxonomy/v1/category_tree/999/get_item_aspects_for_category?category_id=16080", 62004),
    ("/commerce/taxonomy/v1/category_tree/77/get_item_aspects_for_category?category_id=1", 62005),
    ("/commerce/taxonomy/v1/category_tree/77/get_item_aspects_for_category?category_id=11700", 62006),
    ("/commerce/taxonomy/v1/category_tree/77/get_item_aspects_for_category", 62008),
    ("/commerce/taxonomy/v1/category_tree/77/get_category_suggestions", 62007),
])
def test_aspect_and_suggestion_refusals_carry_the_contracts_codes(fake, path, code):
    r = _app_get(fake, path)
    assert r.status_code == 400 and r.json()["errors"][0]["errorId"] == code


def test_a_seller_token_without_the_public_scope_is_refused(fake):
    import base64

    http = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.ebay.com")
    basic = base64.b64encode(f"{CREDS[0]}:{CREDS[1]}".encode()).decode()
    tok = http.post("/identity/v1/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": CREDS[2],
                                                         "scope": SCOPE_INVENTORY},
                    headers={"Authorization": f"Basic {basic}"}).json()["access_token"]
    r = http.get("/commerce/taxonomy/v1/get_default_category_tree_id?marketplace_id=EBAY_DE",
                 headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 403 and r.json()["errors"][0]["errorId"] == 1100


def _app_get(fake, path: str) -> httpx.Response:
    import base64

    http = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.ebay.com")
    basic = base64.b64encode(f"{CREDS[0]}:{CREDS[1]}".encode()).decode()
    tok = http.post("/identity/v1/oauth2/token", data={"grant_type": "client_credentials",
                                                         "scope": "https://api.ebay.com/oauth/api_scope"},
                    headers={"Authorization": f"Basic {basic}"}).json()["access_token"]
    return http.get(path, headers={"Authorization": f"Bearer {tok}"})
