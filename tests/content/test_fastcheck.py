"""The compiled valid/invalid check agrees with jsonschema: it may only send an instance to
jsonschema, never wave an invalid one through."""
from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from marketd.plugins.amazon.fake_ptd import kitchen_schema, luggage_schema
from marketd.plugins.content.fastcheck import Unsupported, compile_schema, equal, inline_refs
from marketd.plugins.content.ptd_validator import AmazonValidator, ProductTypeSchema

import pytest

SCHEMAS = [luggage_schema(), kitchen_schema()]
TEXTS = ["", "a", "grün", "x" * 199, "ü" * 101, "ok value", 5, None, True]
M = ["A1PA6795UKMFR9", "APJ6JRA9NG5V4"]
L = ["de_DE", "fr_FR"]


def item(rng, kind):
    if kind == "text":
        out = {"value": rng.choice(TEXTS)}
        if rng.random() < 0.8:
            out["language_tag"] = rng.choice(L)
        if rng.random() < 0.8:
            out["marketplace_id"] = rng.choice(M)
        if rng.random() < 0.1:
            out.pop("value")
        return out
    if kind == "bool":
        return {"value": rng.choice([True, False, "true", 1])}
    if kind == "image":
        return {"media_location": rng.choice(["https://x/a.jpg", "", 3])}
    if kind == "ean":
        return {"type": rng.choice(["ean", "EAN", "gtin"]), "value": rng.choice(["4006381333931", "12", "abc"])}
    return rng.choice([{}, {"value": "parent"}, {"value": "x"}, {"name": "SIZE"}, "scalar"])


KINDS = {"item_name": "text", "brand": "text", "product_description": "text", "bullet_point": "text",
         "color": "text", "batteries_required": "bool", "main_product_image_locator": "image",
         "externally_assigned_product_identifier": "ean", "battery": "other", "parentage_level": "other",
         "variation_theme": "other", "gpsr_safety_attestation": "bool", "manufacturer_contact_information": "text"}


VALID = {"item_name": [{"value": "Koffer", "language_tag": "de_DE", "marketplace_id": M[0]}],
         "brand": [{"value": "ACME", "language_tag": "de_DE", "marketplace_id": M[0]}],
         "bullet_point": [{"value": "leicht", "language_tag": "de_DE", "marketplace_id": M[0]}],
         "externally_assigned_product_identifier": [{"type": "ean", "value": "4006381333931"}],
         "main_product_image_locator": [{"media_location": "https://x/a.jpg"}]}


def instance(rng) -> dict:
    """A valid instance with 0-3 random changes (an attribute added, replaced or dropped)."""
    out = {k: [dict(i) for i in v] for k, v in VALID.items()}
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        attr = rng.choice(list(KINDS))
        roll = rng.random()
        if roll < 0.15:
            out.pop(attr, None)
        elif roll < 0.2:
            out[attr] = "not a list"
        else:
            n = rng.choice([0, 1, 1, 1, 2, 6])
            out[attr] = [item(rng, KINDS[attr]) for _ in range(n)]
    return out


@pytest.mark.parametrize("schema", SCHEMAS, ids=["LUGGAGE", "KITCHEN"])
def test_compiled_check_agrees_with_jsonschema(schema):
    rng = random.Random(12)
    full = AmazonValidator(schema)
    fast = ProductTypeSchema(schema)
    assert fast.split
    invalid = 0
    for _ in range(3000):
        inst = instance(rng)
        expected = not list(full.iter_errors(inst))
        assert (fast.errors(inst) == []) == expected, inst
        invalid += not expected
    assert 300 < invalid < 2700    # both kinds were tried


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                    max_leaves=8))
@settings(max_examples=300, deadline=None)
def test_compiled_keywords_match_jsonschema_on_any_json(value):
    schema = {"anyOf": [{"type": "integer", "minimum": 2, "exclusiveMaximum": 9},
                        {"type": "string", "minLength": 2, "maxUtf8ByteLength": 4, "pattern": "^[a-z]"},
                        {"type": "array", "maxItems": 2, "uniqueItems": True, "items": {"not": {"type": "null"}}},
                        {"type": "object", "required": ["a"], "additionalProperties": {"type": "boolean"},
                         "properties": {"a": {"enum": [1, "1", [True]]}}},
                        {"const": False}]}
    assert compile_schema(schema)(value) == AmazonValidator(schema).is_valid(value)


def test_unsupported_keywords_and_json_equality():
    for kw in ({"multipleOf": 2}, {"patternProperties": {}}, {"$ref": "#/x"}, {"dependentRequired": {}}):
        with pytest.raises(Unsupported):
            compile_schema(kw)
    assert not equal(True, 1) and equal(1, 1.0) and equal([1, {"a": False}], [1, {"a": False}])
    assert compile_schema({"type": "number"})(Decimal("1.5"))


def test_recursive_refs_are_not_inlined():
    s = {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
         "properties": {"n": {"$ref": "#/$defs/node"}}}
    assert inline_refs(s) is None
    assert inline_refs({"$defs": {"a": {"type": "string"}}, "properties": {"x": {"$ref": "#/$defs/a", "maxLength": 2}}}) \
        == {"$defs": {"a": {"type": "string"}}, "properties": {"x": {"allOf": [{"type": "string"}, {"maxLength": 2}]}}}
