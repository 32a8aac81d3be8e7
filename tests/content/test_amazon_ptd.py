"""Product Type Definitions: the fake SP-API against the official model, the channel's
``fetch_data_model``, and the content plugin using the fetched schema (design §A3, §A11)."""
from __future__ import annotations

import json

import httpx
import pytest

import marketd.plugins.amazon as amazon_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.amazon.fake import SpApiFake
from marketd.plugins.amazon.fake_ptd import luggage_schema
from marketd.plugins.amazon.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import run_job

from .conftest import ContentWorld, table

CREDS = ("amzn1.application-oa2-client.test", "test-secret", "Atzr|refresh")
ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
DE = "A1PA6795UKMFR9"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock, amazon_contract):
    f = SpApiFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                  marketplace_id=DE, contract=amazon_contract)
    yield f
    assert f.violations == [] and f.response_violations == []


@pytest.fixture
def amazon_world(tmp_path, fake, clock, monkeypatch):
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("amz", what), value)
    platforms = {"amazon_de": {"type": "amazon", "marketplace": "DE", "locales": ["de_DE"], "channel": "amz"}}
    w = ContentWorld(tmp_path, platforms=platforms, extra_plugins={"amazon": amazon_plugin, "settlements": settlements_plugin},
                     clock=clock,
                     channels={"amz": {"type": "amazon", "marketplace": "DE", "endpoint": ENDPOINT,
                                       "lwa_endpoint": "https://api.amazon.com/auth/o2/token",
                                       "transport": httpx.WSGITransport(app=fake)}})
    yield w
    w.close()


def test_channel_fetches_a_product_type_and_skips_an_unchanged_one(amazon_world, fake):
    ch = amazon_world.app.channel("amz")
    assert ch.capabilities.data_models
    doc = ch.fetch_data_model("LUGGAGE")
    assert doc["format"] == "amazon.ptd" and doc["marketplace"] == "DE"
    definition = json.loads(doc["files"]["definition.json"])
    assert definition["productType"] == "LUGGAGE" and definition["marketplaceIds"] == [DE]
    assert definition["schema"]["link"]["resource"] == ""          # presigned links are not stored
    assert json.loads(doc["files"]["schema.json"])["properties"]["item_name"]["maxUniqueItems"] == 1
    assert json.loads(doc["meta_schema"])["$id"].endswith("/meta-schema/v1")
    call = fake.calls_of("getDefinitionsProductType")[-1]
    assert call.query["marketplaceIds"] == [DE] and call.query["requirements"] == ["LISTING"]
    assert fake.s3_requests_with_token == 0
    downloads = fake.count("s3.get")
    assert ch.fetch_data_model("LUGGAGE", known_checksum=doc["checksum"]) is None
    assert fake.count("s3.get") == downloads                      # unchanged checksum: nothing downloaded


def test_search_and_one_marketplace_only(amazon_world, fake):
    ch = amazon_world.app.channel("amz")
    assert [p["name"] for p in ch.search_data_models(["lugg"])] == ["LUGGAGE"]
    from marketd.plugins.amazon import ptd
    from marketd.plugins.amazon.client import SpApiError

    with pytest.raises(SpApiError) as exc:
        ptd.get_definition(ch.api, "NOPE", DE)
    assert exc.value.status == 404
    resp = ch.api.call("GET", ptd.PTD + "/LUGGAGE", "getDefinitionsProductType",
                       params={"marketplaceIds": [DE, "APJ6JRA9NG5V4"]})
    assert resp.status_code == 400


ROWS = [{"sku": "K1", "brand": "ACME", "category": "Koffer", "ean": "4006381333931", "title_de": "Koffer Blau",
         "bullet_1_de": "Leicht", "image_1": "https://img.invalid/k1.jpg", "batteries_included": "ja",
         "gpsr_attestation": "true"},
        {"sku": "K2", "brand": "ACME", "category": "Koffer", "ean": "4006381333948", "title_de": "x" * 201,
         "brand_x": "", "bullet_1_de": "a"}]


def test_refresh_job_writes_the_model_and_the_check_uses_it(amazon_world, fake):
    w = amazon_world
    row = w.drop(table(ROWS))
    assert {(i["sku"], i["rule"]) for i in w.issues(row) if i["rule"] == "model.missing"} == \
        {("K1", "model.missing"), ("K2", "model.missing")}
    assert run_job(w.app, "content-models") is None
    folder = w.models / "amazon" / "DE" / "LUGGAGE"
    assert (folder / "schema.json").is_file() and (folder / "definition.json").is_file()
    assert (w.models / "amazon" / "_meta" / "meta-schema.json").is_file()
    runs = w.run_dirs("ACME")
    assert len(runs) == 2                                           # the job re-checked with the new model
    issues = w.read_csv(runs[-1] / "issues.csv")
    k1 = {(i["attribute"], i["rule"]) for i in issues if i["sku"] == "K1" and i["platform"] == "amazon_de"}
    assert ("battery", "amazon.schema.conditional_required") in k1
    assert not any(a in ("item_name", "brand", "bullet_point") for a, _ in k1)
    k2 = {(i["attribute"], i["rule"]) for i in issues if i["sku"] == "K2" and i["platform"] == "amazon_de"}
    assert ("item_name", "amazon.schema.maxUtf8ByteLength") in k2
    assert ("main_product_image_locator", "amazon.schema.required") in k2
    header = (runs[-1] / "summary.html").read_text()
    assert "amazon_de:amazon/DE/LUGGAGE" in header
    payload = json.loads(w.app.store.db["content_payloads"].get(("K1", "amazon_de"))["payload"])
    inst = payload["locales"]["de_DE"]
    assert inst["item_name"] == [{"value": "Koffer Blau", "language_tag": "de_DE", "marketplace_id": DE}]
    assert inst["batteries_required"] == [{"value": True, "marketplace_id": DE}]
    assert inst["gpsr_safety_attestation"] == [{"value": True, "marketplace_id": DE}]
    assert inst["externally_assigned_product_identifier"] == [{"type": "ean", "value": "4006381333931",
                                                               "marketplace_id": DE}]


def test_gpsr_attributes_only_where_the_product_type_has_them(amazon_world, fake):
    w = amazon_world
    w.write_model("mapping.toml", '[categories."Koffer"]\namazon = "LUGGAGE"\n[categories."Topf"]\namazon = "KITCHEN"\n')
    rows = [{"sku": "A", "brand": "B", "category": "Koffer", "gpsr_manufacturer_name": "Maker",
             "gpsr_manufacturer_email": "m@maker.example", "title_de": "t"},
            {"sku": "B", "brand": "B", "category": "Topf", "gpsr_manufacturer_name": "Maker",
             "gpsr_manufacturer_email": "m@maker.example", "gpsr_manufacturer_street": "Weg 1",
             "gpsr_manufacturer_postal_code": "1", "gpsr_manufacturer_city": "X", "gpsr_manufacturer_country": "DE",
             "title_de": "t"}]
    w.drop(table(rows))
    run_job(w.app, "content-models")
    db = w.app.store.db
    a = json.loads(db["content_payloads"].get(("A", "amazon_de"))["payload"])["locales"]["de_DE"]
    b = json.loads(db["content_payloads"].get(("B", "amazon_de"))["payload"])["locales"]["de_DE"]
    assert "gpsr_manufacturer_reference" in a and "manufacturer_contact_information" not in a
    assert "gpsr_manufacturer_reference" not in b and b["manufacturer_contact_information"][0]["value"].startswith(
        "Maker; Weg 1, 1 X, DE")


def test_version_bump_and_notification_recheck_only_that_type(amazon_world, fake):
    w = amazon_world
    w.write_model("mapping.toml", '[categories."Koffer"]\namazon = "LUGGAGE"\n[categories."Topf"]\namazon = "KITCHEN"\n')
    rows = [{"sku": "L1", "brand": "ACME", "category": "Koffer", "title_de": "t", "color": "blau"},
            {"sku": "L2", "brand": "ACME", "category": "Koffer", "title_de": "t"},
            {"sku": "T1", "brand": "ACME", "category": "Topf", "title_de": "t"}]
    w.drop(table(rows))
    run_job(w.app, "content-models")
    before = len(w.run_dirs("ACME"))
    schema = luggage_schema()
    schema["required"].append("color")
    fake.set_product_type("LUGGAGE", schema)
    note = {"NotificationVersion": "1.0", "NotificationType": "PRODUCT_TYPE_DEFINITIONS_CHANGE",
            "PayloadVersion": "1.0", "EventTime": "2026-11-02T09:00:00Z",
            "Payload": {"AccountId": "AXXXXXXXXXXX", "MarketplaceId": DE, "ProductTypeVersion": "Uyp-Z6z",
                        "NewProductTypes": ["SHOES"]},
            "NotificationMetadata": {"ApplicationId": "amzn1.sellerapps.app.x", "SubscriptionId": "s",
                                     "PublishTime": "2026-11-02T09:00:00Z", "NotificationId": "n-1"}}
    row = w.drop(json.dumps(note), "ptd-change.json")
    assert row["summary"]["recorded"] is True
    again = w.drop(json.dumps(note).replace('"1.0"', '"1.0" '), "ptd-change-again.json")  # other bytes, same id
    assert again["summary"]["recorded"] is False
    w.app.clock.advance(3600)
    assert run_job(w.app, "content-models") is None
    dirs = w.run_dirs("ACME")
    assert len(dirs) == before + 1
    run = list(w.app.store.db.query("select * from content_runs order by id desc limit 1"))[0]
    assert json.loads(run["counts"])["checked_skus"] == 2            # L1, L2; T1 (KITCHEN) not re-checked
    diff = w.read_csv(dirs[-1] / "diff.csv")
    new = [(d["sku"], d["attribute"]) for d in diff if d["status"] == "new"]
    assert new == [("L2", "color")]
    change = sorted(dirs[-1].parent.glob("model-change-amazon_de-amazon_DE_LUGGAGE-*.csv"))
    assert len(change) == 2    # the first fetch (no model → LUGGAGE) and the version bump
    rows = w.read_csv(change[-1])
    assert [(r["sku"], r["attribute"]) for r in rows] == [("L2", "color")]
    assert rows[0]["old_stamp"] != rows[0]["new_stamp"]
    hist = list((w.models / "amazon" / "DE" / "LUGGAGE" / "history").iterdir())
    assert len(hist) == 1 and (hist[0] / "schema.json").is_file()


def test_data_models_changed_hook_records_once(amazon_world):
    app = amazon_world.app
    app.emit("data_models_changed", platform="amazon", marketplace=DE, models=[], source="PTD:abc")
    app.emit("data_models_changed", platform="amazon", marketplace=DE, models=[], source="PTD:abc")
    n = app.store.db.execute("select count(*) from content_model_events where source = 'PTD:abc'").fetchone()[0]
    assert n == 1
