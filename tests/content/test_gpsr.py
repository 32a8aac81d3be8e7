"""GPSR per SKU and EU platform (Art. 19) and each platform's shape of one record (research §7
items 6 and 7). Golden files: tests/content/golden/gpsr-*.json."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from marketd.plugins.content import gpsr
from marketd.plugins.content.gpsr_record import build
from marketd.plugins.content.records import Product

GOLDEN = Path(__file__).parent / "golden"

RECORD = {
    "manufacturer": {"name": "Shenzhen Travelgoods Co., Ltd.", "street": "88 Keyuan Road", "postal_code": "518057",
                     "city": "Shenzhen", "country": "CN", "email": "compliance@travelgoods.example",
                     "phone": "+86 755 1234567"},
    "responsible_persons": [{"name": "EU Rep GmbH", "street": "Hauptstraße 1", "postal_code": "10115",
                             "city": "Berlin", "country": "DE", "email": "gpsr@eurep.example",
                             "url": "https://eurep.example/contact"}],
    "identifiers": {"ean": "4006381333931", "model": "TR-55"},
    "images": ["https://img.example/tr55-1.jpg"],
    "safety": {"texts": {"de": "Nicht für Kinder unter 3 Jahren.", "fr": "Ne convient pas aux enfants de moins de 3 ans."},
               "docs": [{"type": "Safety Information", "language": "de_DE",
                         "url": "https://docs.example/tr55-sicherheit.pdf"}],
               "pictograms": ["PICTOGRAM_1"], "statements": {"de": ["STATEMENT_3"]}, "component": "Rollen"},
    "attestation": None,
}


def rules(issues):
    return sorted(i.rule for i in issues)


def test_complete_record_passes_in_germany():
    assert gpsr.check(RECORD, sku="S", platform="amazon_de", country="DE") == []


def test_non_eu_manufacturer_without_rp_is_an_error():
    rec = {**RECORD, "responsible_persons": []}
    issues = gpsr.check(rec, sku="S", platform="amazon_de", country="DE")
    assert rules(issues) == ["gpsr.rp.required"]
    assert issues[0].severity == "ERROR" and "no responsible person" in issues[0].message_en


def test_eu_manufacturer_without_rp_is_fine():
    rec = {**RECORD, "responsible_persons": [],
           "manufacturer": {**RECORD["manufacturer"], "country": "IT", "street": "Via Roma 1", "city": "Milano"}}
    assert gpsr.check(rec, sku="S", platform="amazon_de", country="DE") == []


def test_northern_ireland_counts_as_eu():
    rec = {**RECORD, "responsible_persons": [], "manufacturer": {**RECORD["manufacturer"], "country": "XI"}}
    assert gpsr.check(rec, sku="S", platform="amazon_de", country="DE") == []


def test_rp_outside_the_eu_is_an_error():
    rec = copy.deepcopy(RECORD)
    rec["responsible_persons"][0]["country"] = "GB"
    assert "gpsr.rp.not_eu" in rules(gpsr.check(rec, sku="S", platform="amazon_de", country="DE"))


def test_attestation_with_documents_is_an_inconsistency_warning():
    rec = {**RECORD, "attestation": True}
    issues = gpsr.check(rec, sku="S", platform="amazon_de", country="DE")
    assert [(i.rule, i.severity) for i in issues] == [("gpsr.safety.xor_conflict", "WARNING")]


def test_neither_attestation_nor_safety_information_is_an_error():
    rec = {**RECORD, "safety": {"texts": {}, "docs": [], "pictograms": [], "statements": {}}}
    assert rules(gpsr.check(rec, sku="S", platform="amazon_de", country="DE")) == ["gpsr.safety.missing"]
    rec["attestation"] = True
    assert gpsr.check(rec, sku="S", platform="amazon_de", country="DE") == []


def test_safety_information_only_in_italian_fails_amazon_de():
    rec = {**RECORD, "safety": {"texts": {"it": "Non adatto ai bambini."}, "docs": [], "pictograms": [],
                                "statements": {}}}
    issues = gpsr.check(rec, sku="S", platform="amazon_de", country="DE")
    assert rules(issues) == ["gpsr.safety.language"]
    assert gpsr.check(rec, sku="S", platform="amazon_it", country="IT") == []


def test_belgium_takes_french_or_dutch():
    rec = {**RECORD, "safety": {"texts": {"nl": "Niet voor kinderen."}, "docs": [], "pictograms": [], "statements": {}}}
    assert gpsr.check(rec, sku="S", platform="amazon_be", country="BE") == []


@pytest.mark.parametrize("street", ["Postfach 12 34", "P.O. Box 77", "PO Box 5", "Casella postale 9", "BP 123"])
def test_po_box_is_a_warning(street):
    rec = copy.deepcopy(RECORD)
    rec["responsible_persons"][0]["street"] = street
    issues = gpsr.check(rec, sku="S", platform="amazon_de", country="DE")
    assert [(i.rule, i.severity) for i in issues] == [("gpsr.po_box", "WARNING")]


def test_identifier_image_and_manufacturer_address():
    rec = {**RECORD, "identifiers": {"ean": "4006381333932"}, "images": [],
           "manufacturer": {"name": "X", "street": "a", "city": "b", "country": "China"}}
    got = rules(gpsr.check(rec, sku="S", platform="amazon_de", country="DE"))
    assert got == ["gpsr.identifier", "gpsr.image", "gpsr.manufacturer.electronic", "gpsr.manufacturer.postal"]


def _golden(name: str, doc) -> None:
    path = GOLDEN / name
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


LUGGAGE_PROPS = {"gpsr_manufacturer_reference", "dsa_responsible_party_address", "gpsr_safety_attestation",
                 "compliance_media", "manufacturer", "item_name"}


def test_golden_amazon_de():
    doc = gpsr.render_amazon(RECORD, LUGGAGE_PROPS, "A1PA6795UKMFR9", "de_DE")
    _golden("gpsr-amazon-de.json", doc)


def test_amazon_renders_only_attributes_the_product_type_defines():
    doc = gpsr.render_amazon(RECORD, {"item_name", "manufacturer"}, "A1PA6795UKMFR9", "de_DE")
    assert set(doc) == {"manufacturer"}
    assert "manufacturer_contact_information" not in gpsr.render_amazon(RECORD, LUGGAGE_PROPS, "M", "de_DE")
    with_contact = gpsr.render_amazon(RECORD, LUGGAGE_PROPS | {"manufacturer_contact_information"}, "M", "de_DE")
    assert with_contact["manufacturer_contact_information"][0]["value"].startswith("Shenzhen Travelgoods")


def test_golden_ebay():
    doc, problems = gpsr.render_ebay(RECORD)
    assert problems == []
    _golden("gpsr-ebay.json", doc)


def test_golden_otto():
    doc, problems = gpsr.render_otto(RECORD)
    assert problems == []
    _golden("gpsr-otto.json", doc)


def test_ebay_limits():
    rec = copy.deepcopy(RECORD)
    rec["responsible_persons"] = [dict(RECORD["responsible_persons"][0], name=f"RP {i}") for i in range(6)]
    rec["safety"]["component"] = "x" * 121
    _, problems = gpsr.render_ebay(rec, sku="S", platform="ebay_de")
    assert [p.rule for p in problems] == ["gpsr.render.limit", "gpsr.render.limit"]
    assert {p.attribute for p in problems} == {"regulatory.responsiblePersons", "regulatory.productSafety.component"}
    rec = copy.deepcopy(RECORD)
    rec["safety"] = {"texts": {"de": "x"}, "docs": [], "pictograms": [], "statements": {}, "component": "Akku"}
    _, problems = gpsr.render_ebay(rec)
    assert [p.attribute for p in problems] == ["regulatory.productSafety.component"]


def test_otto_needs_email_or_url_and_one_line_address():
    rec = copy.deepcopy(RECORD)
    rec["responsible_persons"][0].update(email="", url="", street="Hauptstraße 1\nHinterhaus")
    doc, problems = gpsr.render_otto(rec)
    assert "\n" not in doc["productSafety"]["address"]
    assert [p.attribute for p in problems] == ["productSafety.email"]


def test_record_from_a_row_with_party_references():
    p = Product("S1", 2, common={"manufacturer_id": "M1", "rp_id": "R1|R2", "ean": "4006381333931",
                                 "gpsr_manufacturer_email": "override@maker.example",
                                 "gpsr_safety_docs": "Safety Information:de:https://d.example/a.pdf | bad entry",
                                 "gpsr_attestation": "nein"},
                local={"de_DE": {"gpsr_safety_info": "Achtung"}}, images=["a.jpg"])
    parties = {"M1": {"party_id": "M1", "name": "Maker", "country": "cn", "email": "m@maker.example"},
               "R1": {"party_id": "R1", "name": "Rep", "country": "DE"}}
    rec, problems = build(p, parties)
    assert rec["manufacturer"]["email"] == "override@maker.example" and rec["manufacturer"]["country"] == "CN"
    assert [r["name"] for r in rec["responsible_persons"]] == ["Rep"]
    assert rec["safety"]["docs"] == [{"type": "Safety Information", "language": "de",
                                      "url": "https://d.example/a.pdf"}]
    assert rec["attestation"] is False and rec["safety"]["texts"] == {"de": "Achtung"}
    assert sorted(i.rule for i in problems) == ["content.gpsr.doc", "content.gpsr.party"]
