"""Amazon product type schemas: Draft 2019-09 plus Amazon's keywords, errors as attribute + path
+ message (research §7 item 4, design trap 7)."""
from __future__ import annotations

from jsonschema import validators

from marketd.plugins.content.ptd_validator import ProductTypeSchema, schema_issues

AMAZON_SCHEMA_URI = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"


def schema(**extra):
    s = {"$schema": AMAZON_SCHEMA_URI, "type": "object", "required": ["item_name"],
         "properties": {"item_name": {"type": "array", "selectors": ["marketplace_id", "language_tag"],
                                      "maxUniqueItems": 1,
                                      "items": {"type": "object", "required": ["value"], "properties": {
                                          "value": {"type": "string", "maxUtf8ByteLength": 4, "editable": True,
                                                    "enumNames": ["x"]},
                                          "language_tag": {"type": "string"},
                                          "marketplace_id": {"type": "string"}}}},
                        "batteries_required": {"type": "array"}, "battery": {"type": "array"}}}
    s.update(extra)
    return s


def test_validator_for_does_not_know_amazons_schema_uri():
    """Why the validator class is chosen explicitly (trap 7)."""
    assert validators.validator_for({"$schema": AMAZON_SCHEMA_URI}, default=None) is None


def test_missing_required_is_one_error_on_the_attribute():
    errors = ProductTypeSchema(schema()).errors({})
    issues = schema_issues(errors, sku="S1", platform="amazon_de", locale="de_DE")
    assert len(issues) == 1
    i = issues[0]
    assert (i.attribute, i.rule, i.severity) == ("item_name", "amazon.schema.required", "ERROR")
    assert i.message_en == "<root>: 'item_name' is a required property"
    assert i.missing


def test_if_then_is_a_conditional_requirement_for_battery():
    s = schema(allOf=[{"if": {"required": ["batteries_required"], "properties": {"batteries_required": {
        "contains": {"required": ["value"], "properties": {"value": {"const": True}}}}}},
        "then": {"required": ["battery"]}}])
    ok = {"item_name": [{"value": "ab"}]}
    p = ProductTypeSchema(s)
    assert p.errors({**ok, "batteries_required": [{"value": False}]}) == []
    (rule, attribute, message, *_), = p.errors({**ok, "batteries_required": [{"value": True}]})
    assert (rule, attribute) == ("amazon.schema.conditional_required", "battery")


def test_utf8_byte_length_counts_bytes_not_characters():
    p = ProductTypeSchema(schema())
    assert p.errors({"item_name": [{"value": "grün"}]})[0][:2] == ("amazon.schema.maxUtf8ByteLength", "item_name")
    assert p.errors({"item_name": [{"value": "gru"}]}) == []      # 3 bytes
    assert p.errors({"item_name": [{"value": "abcd"}]}) == []     # 4 characters, 4 bytes


def test_max_unique_items_groups_by_selectors():
    p = ProductTypeSchema(schema())
    one_each = {"item_name": [{"value": "a", "language_tag": "de_DE", "marketplace_id": "X"},
                              {"value": "b", "language_tag": "fr_FR", "marketplace_id": "X"}]}
    assert p.errors(one_each) == []
    twice = {"item_name": [{"value": "a", "language_tag": "de_DE", "marketplace_id": "X"},
                           {"value": "b", "language_tag": "de_DE", "marketplace_id": "X"}]}
    (rule, attribute, *_), = p.errors(twice)
    assert (rule, attribute) == ("amazon.schema.maxUniqueItems", "item_name")


def test_unknown_keyword_is_listed_once_and_does_not_crash():
    s = schema()
    s["properties"]["item_name"]["fooBar"] = True
    s["properties"]["battery"]["fooBar"] = 2
    p = ProductTypeSchema(s)
    assert p.unsupported == ["fooBar"]
    assert p.errors({"item_name": [{"value": "a"}]}) == []


def test_informational_keywords_are_not_unsupported():
    assert ProductTypeSchema(schema()).unsupported == []


def test_external_ref_is_not_fetched_and_is_reported():
    s = schema()
    s["properties"]["battery"] = {"$ref": "https://example.invalid/battery.json"}
    p = ProductTypeSchema(s)
    assert p.errors({"item_name": [{"value": "a"}], "battery": []}) == []
    assert p.external_refs == {"https://example.invalid/battery.json"}


def test_one_of_reports_the_best_match():
    s = schema()
    s["properties"]["battery"] = {"type": "array", "items": {"oneOf": [{"type": "string", "maxLength": 2},
                                                                       {"type": "integer"}]}}
    (rule, attribute, message, *_), = ProductTypeSchema(s).errors({"item_name": [{"value": "a"}], "battery": ["abcd"]})
    assert attribute == "battery" and message.startswith("battery/0:")


def test_attribute_results_are_cached_per_value():
    p = ProductTypeSchema(schema())
    p.errors({"item_name": [{"value": "grün"}]})
    p.errors({"item_name": [{"value": "grün"}], "battery": []})
    assert list(p._attr_cache) == [("item_name", '[{"value": "grün"}]')]
