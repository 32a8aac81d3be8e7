"""eBay aspects per category (research §7 item 5), TOML models and what a model change re-checks
(items 1 and 18)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketd.sdk.testing import run_job

from .conftest import FIXTURES, table

EBAY = {"ebay_de": {"type": "ebay", "marketplace": "EBAY_DE", "locales": ["de_DE"], "gpsr": False}}
OK = {"brand": "ACME", "category": "Koffer", "title_de": "Koffer", "description_de": "Hartschale",
      "image_1": "k.jpg", "color": "Blau", "size": "M"}


def taxonomy_validator():
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    from tests.fakes.specs import shared_dir

    base = shared_dir()
    spec = base / "specs" / "ebay" / "commerce_taxonomy_v1_oas3.json" if base else None
    if spec is None or not spec.is_file():
        from tests.needs import unavailable

        unavailable("shared/specs/ebay/commerce_taxonomy_v1_oas3.json not found")
    doc = json.loads(spec.read_text())
    reg = Registry().with_resource("urn:taxonomy", Resource.from_contents(doc, default_specification=DRAFT7))
    return Draft7Validator({"$ref": "urn:taxonomy#/components/schemas/AspectMetadata"}, registry=reg)


def test_aspect_fixture_is_a_taxonomy_answer():
    doc = json.loads((FIXTURES / "ebay-11700.aspects.json").read_text())
    assert [e.message for e in taxonomy_validator().iter_errors(doc)] == []


@pytest.fixture
def ebay_world(world_factory):
    w = world_factory(platforms=EBAY)
    w.write_model("ebay/EBAY_DE/tree.json", {"categoryTreeId": "77", "categoryTreeVersion": "129"})
    w.write_model("ebay/EBAY_DE/77/11700.aspects.json", (FIXTURES / "ebay-11700.aspects.json").read_text())
    return w


def ebay_issues(w, rows):
    row = w.drop(table(rows))
    assert row["state"] == "done", row["error"]
    return [i for i in w.issues(row) if i["platform"] == "ebay_de"], row


def test_required_brand_is_an_error_and_recommended_colour_a_warning(ebay_world):
    issues, _ = ebay_issues(ebay_world, [dict(OK, sku="A", brand="", color="")])
    got = {(i["attribute"], i["rule"], i["severity"]) for i in issues}
    assert ("Marke", "ebay.aspect.required", "ERROR") in got
    assert ("Farbe", "ebay.aspect.recommended", "WARNING") in got
    assert ("Material", "ebay.aspect.required_soon", "WARNING") in got


def test_selection_only_value_constraint_cardinality_and_format(ebay_world):
    rows = [dict(OK, sku="SEL", size="XXL"),
            dict(OK, sku="VC", color="Grün", size="L"),
            dict(OK, sku="CARD", **{"attr.Marke": "ACME | Other"}),
            dict(OK, sku="DATE", **{"attr.Herstellungsjahr": "03/2020"}),
            dict(OK, sku="FINE", color="Grün", size="S", **{"attr.Herstellungsjahr": "2020", "material": "ABS"})]
    issues, _ = ebay_issues(ebay_world, rows)
    errors = sorted((i["sku"], i["rule"]) for i in issues if i["severity"] == "ERROR")
    assert errors == [("CARD", "ebay.aspect.cardinality"), ("DATE", "ebay.aspect.format"),
                      ("SEL", "ebay.aspect.selection_only"), ("VC", "ebay.aspect.value_constraint")]
    assert [i for i in issues if i["sku"] == "FINE"] == []


def test_title_limit_and_base_requirements(ebay_world):
    issues, row = ebay_issues(ebay_world, [dict(OK, sku="LONG", title_de="x" * 81, description_de="", image_1="")])
    got = {(i["attribute"], i["rule"]) for i in issues}
    assert {("title", "ebay.product.max_length"), ("description", "model.required"),
            ("image_1", "model.required")} <= got
    matrix = ebay_world.read_csv(ebay_world.report_dir(row) / "matrix.csv")
    assert matrix[0]["ebay_de:de_DE"] == "50"     # title, description, image, Marke: 2 of 4 missing → 50
    payload = json.loads(ebay_world.app.store.db["content_payloads"].get(("LONG", "ebay_de"))["payload"])
    assert payload["locales"]["de_DE"]["product"]["aspects"] == {"Farbe": ["Blau"], "Größe": ["M"], "Marke": ["ACME"]}
    assert payload["model"] == "ebay/EBAY_DE/11700" and payload["stamp"].startswith("129+")


def test_a_model_byte_change_changes_the_stamp_and_an_unchanged_one_keeps_it(world):
    rows = [dict(OK, sku="A", color="rot"), dict(OK, sku="B", color="blau")]
    first = world.drop(table(rows))
    rows[0]["title_de"] = "neu"
    second = world.drop(table(rows))
    db = world.app.store.db
    stamps = [json.loads(db["content_runs"].get(r["summary"]["runs"][0]["run"])["model_versions"])
              for r in (first, second)]
    assert stamps[0] == stamps[1]
    path = world.models / "manomano" / "suitcases.toml"
    path.write_text(path.read_text() + "\n# a comment\n")
    third = world.drop(table(rows + [dict(OK, sku="C")]))
    after = json.loads(db["content_runs"].get(third["summary"]["runs"][0]["run"])["model_versions"])
    key = "manomano_de:manomano/suitcases"
    assert after[key] != stamps[0][key] and after[key].startswith("2026-11-01+")
    assert after[key] in (world.report_dir(third) / "summary.html").read_text()


def test_a_new_required_attribute_gives_each_sku_one_new_error(world):
    rows = [dict(OK, sku=s, color="rot") for s in ("A", "B", "C")]
    rows.append(dict(OK, sku="W", category="Werkzeug"))
    world.write_model("manomano/tools-drill.toml", '[model]\nversion = "1"\n[attributes.title]\nrequired = true\n'
                                                    "per_locale = true\n")
    world.drop(table(rows))
    path = world.models / "manomano" / "suitcases.toml"
    path.write_text(path.read_text() + "\n[attributes.material]\nrequired = true\n")
    assert run_job(world.app, "content-models") is None
    d = world.last_dir("ACME")
    diff = world.read_csv(d / "diff.csv")
    new = sorted((x["sku"], x["attribute"], x["severity"]) for x in diff if x["status"] == "new")
    assert new == [("A", "material", "ERROR"), ("B", "material", "ERROR"), ("C", "material", "ERROR")]
    run = list(world.app.store.db.query("select * from content_runs order by id desc limit 1"))[0]
    assert run["reason"] == "model_change" and json.loads(run["counts"])["checked_skus"] == 3
    assert {m["sku"] for m in world.read_csv(d / "matrix.csv")} == {"A", "B", "C", "W"}   # W carried over
    report = next(d.parent.glob("model-change-manomano_de-manomano_suitcases-*.csv"))
    assert [(r["sku"], r["attribute"]) for r in world.read_csv(report)] == [("A", "material"), ("B", "material"),
                                                                            ("C", "material")]
    assert run_job(world.app, "content-models") is None        # nothing changed since: no new run
    assert world.last_dir("ACME") == d


def test_conditional_rules_and_types(world):
    world.write_model("manomano/tools-drill.toml", """
[model]
version = "3"
[attributes.title]
required = true
per_locale = true
[attributes.voltage]
type = "number"
[attributes.batteries_included]
type = "boolean"
[[rules]]
when = { attribute = "batteries_included", equals = true }
require = ["battery_type"]
""")
    rows = [dict(OK, sku="D1", category="Werkzeug", batteries_included="ja", voltage="18,5"),
            dict(OK, sku="D2", category="Werkzeug", batteries_included="nein", voltage="viel")]
    row = world.drop(table(rows))
    got = sorted((i["sku"], i["attribute"], i["rule"]) for i in world.issues(row) if i["rule"].startswith("model."))
    assert got == [("D1", "battery_type", "model.conditional_required"), ("D2", "voltage", "model.type")]


def test_unreadable_model_is_an_issue_not_a_crash(world):
    world.write_model("manomano/suitcases.toml", "[model\nbroken")
    row = world.drop(table([dict(OK, sku="A")]))
    assert [(i["rule"], i["sku"]) for i in world.issues(row) if i["rule"] == "model.unreadable"] == \
        [("model.unreadable", "A")]
    assert world.read_csv(world.report_dir(row) / "matrix.csv")[0]["manomano_de:de_DE"] == "n/a"


def test_a_recheck_keeps_what_only_the_file_showed(world):
    rows = [dict(OK, sku="A", color="rot"), dict(OK, sku="A", color="rot"), dict(OK, sku="B", color="rot")]
    world.drop(table(rows))
    path = world.models / "manomano" / "suitcases.toml"
    path.write_text(path.read_text() + "\n[attributes.material]\nrequired = true\n")
    run_job(world.app, "content-models")
    diff = world.read_csv(world.last_dir("ACME") / "diff.csv")
    assert not [d for d in diff if d["status"] == "fixed"]           # the duplicate of A is still open
    assert ("still_open", "A", "content.sku.duplicate") in {(d["status"], d["sku"], d["rule"]) for d in diff}


def test_json_models_and_the_other_value_rules(world):
    world.write_model("manomano/kleider.json", {
        "model": {"version": "j1", "locales": ["de_DE"]},
        "attributes": {"title": {"required": True, "per_locale": True, "min_length": 3},
                       "ean": {"type": "ean"}, "farben": {"from": "color", "max_values": 2},
                       "code": {"pattern": "^[A-Z]{2}-\\d+$"},
                       "size": {"variants": "children", "required": True}}})
    world.write_model("mapping.toml", '[categories."Kleid"]\nmanomano = "kleider"\n')
    base = {"brand": "ACME", "category": "Kleid", "title_de": "Kleid", "ean": "4006381333931", "size": "M"}
    rows = [dict(base, sku="SHORT", title_de="Kl"),
            dict(base, sku="COLORS", color="rot | blau | grün"),
            dict(base, sku="CODE", code="ab-1", **{"attr.code": "ab-1"}),
            dict(base, sku="PARENT", variation_theme="SIZE", size=""),
            dict(base, sku="PARENT-S", parent_sku="PARENT", size="S", ean="4006381333948")]
    row = world.drop(table(rows))
    got = sorted((i["sku"], i["attribute"], i["rule"]) for i in world.issues(row) if i["rule"].startswith("model."))
    assert got == [("CODE", "code", "model.pattern"), ("COLORS", "farben", "model.max_values"),
                   ("SHORT", "title", "model.min_length")]
    matrix = {m["sku"]: m["manomano_de:de_DE"] for m in world.read_csv(world.report_dir(row) / "matrix.csv")}
    assert matrix["PARENT"] == "100" and matrix["PARENT-S"] == "100"    # size: required of children only
    versions = json.loads(world.app.store.db["content_runs"].get(row["summary"]["runs"][0]["run"])["model_versions"])
    assert versions["manomano_de:manomano/kleider"].startswith("j1+")
