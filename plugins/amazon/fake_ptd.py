"""The Product Type Definitions side of the fake SP-API (``fake.py``): ``searchDefinitionsProductTypes``
and ``getDefinitionsProductType`` with schema documents behind presigned URLs on the fake S3 host
(valid seven days, as Amazon's).

Real product type schemas are not vendored (they are 1–3 MB each and change monthly), so the fake
serves hand-written mini schemas in Amazon's shape: JSON Schema 2019-09 with ``$defs``, top-level
``required``, an ``allOf`` + ``if``/``then`` conditional (``batteries_required`` → ``battery``),
``selectors``/``maxUniqueItems``, ``maxUtf8ByteLength``, the informational ``editable``/``hidden``/
``enumNames``, and GPSR attributes in one product type (LUGGAGE) but not in another (KITCHEN, which
has ``manufacturer_contact_information`` instead). ``set_product_type(name, schema)`` publishes a
new version (tests of model changes).
"""
from __future__ import annotations

import copy
import hashlib
import json
from urllib.parse import urlencode

from .fake_orders import Reply, _errors

META_SCHEMA_ID = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"
SCHEMA_LINK_SECONDS = 7 * 24 * 3600


def _text(max_bytes: int = 0, tags: bool = True, max_items: int = 1) -> dict:
    value: dict = {"type": "string", "minLength": 1, "editable": True, "hidden": False}
    if max_bytes:
        value["maxUtf8ByteLength"] = max_bytes
    props = {"value": value, "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}
    if tags:
        props["language_tag"] = {"$ref": "#/$defs/language_tag"}
    return {"type": "array", "minItems": 1, "maxItems": max_items,
            "selectors": ["marketplace_id", "language_tag"] if tags else ["marketplace_id"], "maxUniqueItems": 1,
            "items": {"type": "object", "required": ["value"], "properties": props}}


def _image() -> dict:
    return {"type": "array", "minItems": 1, "maxItems": 1, "selectors": ["marketplace_id"], "maxUniqueItems": 1,
            "items": {"type": "object", "required": ["media_location"],
                      "properties": {"media_location": {"type": "string", "minLength": 1, "format": "uri"},
                                     "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}}


def _base(name: str, title: str) -> dict:
    return {
        "$schema": META_SCHEMA_ID,
        "$id": f"https://schemas.amazon.com/selling-partners/definitions/product-types/schema/v1/{name}",
        "$comment": f"marketd's fake: a hand-written mini product type in Amazon's shape ({title})",
        "$defs": {
            "marketplace_id": {"type": "string", "editable": False, "hidden": True},
            "language_tag": {"type": "string", "editable": False, "hidden": True},
        },
        "type": "object",
        "required": ["item_name", "brand", "externally_assigned_product_identifier", "bullet_point",
                     "main_product_image_locator"],
        "properties": {
            "item_name": _text(200),
            "brand": _text(100),
            "product_description": _text(2000),
            "bullet_point": {**_text(500, max_items=5), "maxUniqueItems": 5},
            "generic_keyword": _text(250),
            "color": _text(100),
            "size": _text(100),
            "model_number": _text(40, tags=False),
            "part_number": _text(40, tags=False),
            "externally_assigned_product_identifier": {
                "type": "array", "minItems": 1, "maxItems": 1,
                "items": {"type": "object", "required": ["type", "value"],
                          "properties": {"type": {"type": "string", "enum": ["ean", "gtin", "upc", "isbn"],
                                                  "enumNames": ["EAN", "GTIN", "UPC", "ISBN"]},
                                         "value": {"type": "string", "pattern": "^[0-9]{8,14}$"},
                                         "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}},
            "main_product_image_locator": _image(),
            **{f"other_product_image_locator_{i}": _image() for i in range(1, 9)},
            "batteries_required": {"type": "array", "maxItems": 1, "items": {
                "type": "object", "required": ["value"],
                "properties": {"value": {"type": "boolean"}, "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}},
            "battery": {"type": "array", "maxItems": 1, "items": {
                "type": "object", "properties": {"cell_composition": {"type": "array"},
                                                 "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}},
            "parentage_level": {"type": "array", "maxItems": 1, "items": {
                "type": "object", "required": ["value"],
                "properties": {"value": {"type": "string", "enum": ["parent", "child"]},
                               "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}},
            "child_parent_sku_relationship": {"type": "array", "maxItems": 1, "items": {
                "type": "object", "required": ["child_relationship_type"],
                "properties": {"child_relationship_type": {"type": "string", "enum": ["variation"]},
                               "parent_sku": {"type": "string"},
                               "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}},
            "variation_theme": {"type": "array", "maxItems": 1, "items": {
                "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
            "manufacturer": _text(100),
            # the offer: shapes as in the JSON_LISTINGS_FEED example (fulfillment_availability) and
            # as sellers' integrations send purchasable_offer (unverified against a live schema)
            "purchasable_offer": {"type": "array", "maxItems": 1, "items": {
                "type": "object", "required": ["currency", "our_price"],
                "properties": {"currency": {"type": "string", "enum": ["EUR", "GBP", "PLN", "SEK"]},
                               "our_price": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
                                   "type": "object", "required": ["schedule"], "properties": {"schedule": {
                                       "type": "array", "minItems": 1, "items": {
                                           "type": "object", "required": ["value_with_tax"],
                                           "properties": {"value_with_tax": {"type": "number", "minimum": 0}}}}}}},
                               "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}},
            "fulfillment_availability": {"type": "array", "maxItems": 1, "items": {
                "type": "object", "required": ["fulfillment_channel_code"],
                "properties": {"fulfillment_channel_code": {"type": "string"},
                               "quantity": {"type": "integer", "minimum": 0}}}},
        },
        "allOf": [
            {"if": {"required": ["batteries_required"],
                    "properties": {"batteries_required": {"contains": {"required": ["value"],
                                                                        "properties": {"value": {"const": True}}}}}},
             "then": {"required": ["battery"]}},
        ],
    }


def luggage_schema() -> dict:
    s = _base("LUGGAGE", "Luggage")
    p = s["properties"]
    p["gpsr_manufacturer_reference"] = {"type": "array", "maxItems": 1, "items": {
        "type": "object", "required": ["gpsr_manufacturer_email_address"],
        "properties": {"gpsr_manufacturer_email_address": {"type": "string", "maxUtf8ByteLength": 250},
                       "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}}
    p["dsa_responsible_party_address"] = {"type": "array", "maxItems": 1, "items": {
        "type": "object", "required": ["value"],
        "properties": {"value": {"type": "string", "maxUtf8ByteLength": 250},
                       "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}}
    p["gpsr_safety_attestation"] = {"type": "array", "maxItems": 1, "items": {
        "type": "object", "required": ["value"],
        "properties": {"value": {"type": "boolean"}, "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}}
    p["compliance_media"] = {"type": "array", "items": {
        "type": "object", "required": ["content_type", "source_location"],
        "properties": {"content_type": {"type": "string", "enum": ["Safety Information", "User Manual",
                                                                   "Safety Data Sheet", "Warranty"]},
                       "content_language": {"type": "string"},
                       "source_location": {"type": "string", "format": "uri"},
                       "marketplace_id": {"$ref": "#/$defs/marketplace_id"}}}}
    return s


def kitchen_schema() -> dict:
    s = _base("KITCHEN", "Kitchen")
    s["properties"]["manufacturer_contact_information"] = _text(500)
    s["properties"]["safety_warning"] = _text(1000)
    return s


def default_product_types() -> dict:
    return {"LUGGAGE": {"schema": luggage_schema(), "display": "Luggage", "version": "U8L5Zr8yk1tAHpS6Z5c4Yw="},
            "KITCHEN": {"schema": kitchen_schema(), "display": "Kitchen", "version": "UkA2hE0Zpq8Z1kqoF4cOGg="}}


def meta_schema() -> dict:
    """A stand-in for Amazon's meta-schema (2019-09 plus the custom vocabulary's keywords)."""
    return {"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": META_SCHEMA_ID,
            "$comment": "marketd's fake: the keywords of Amazon's product type vocabulary",
            "$recursiveAnchor": True, "allOf": [{"$ref": "https://json-schema.org/draft/2019-09/schema"}],
            "properties": {"editable": {"type": "boolean"}, "hidden": {"type": "boolean"},
                           "enumNames": {"type": "array", "items": {"type": "string"}},
                           "selectors": {"type": "array", "items": {"type": "string"}},
                           "maxUniqueItems": {"type": "integer", "minimum": 0},
                           "maxUtf8ByteLength": {"type": "integer", "minimum": 0},
                           "minUtf8ByteLength": {"type": "integer", "minimum": 0}}}


def _not_enforced(schema: dict) -> dict:
    """``requirementsEnforced=NOT_ENFORCED``: structural checks only (no required, no conditionals)."""
    s = copy.deepcopy(schema)
    s.pop("required", None)
    s.pop("allOf", None)
    return s


class PtdApi:
    """Mixin of :class:`~marketd.plugins.amazon.fake.SpApiFake`; ``product_types`` is its state:
    name -> {schema, display, version}."""

    def set_product_type(self, name: str, schema: dict, *, display: str | None = None, version: str | None = None) -> str:
        """Publish ``schema`` as the new LATEST version of ``name``; returns the version id."""
        with self.lock:
            old = self.product_types.get(name) or {}
            if version is None:
                digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).digest()
                version = "U" + digest[:16].hex()
            self.product_types[name] = {"schema": schema, "display": display or old.get("display") or name.title(),
                                        "version": version}
            return version

    def _ptd_document(self, key: str, doc: dict) -> tuple[str, str]:
        """(presigned URL path+query, checksum) for a schema document kept on the fake S3."""
        data = json.dumps(doc, sort_keys=True, indent=1).encode()
        self.documents.setdefault(key, {"data": data, "compressed": False})
        date = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": date, "X-Amz-Expires": str(SCHEMA_LINK_SECONDS),
             "X-Amz-Signature": self._sign(key, date, "")}
        return f"/__s3/{key}?{urlencode(q)}", hashlib.md5(data).hexdigest()

    def _op_getDefinitionsProductType(self, params, body, base, productType) -> Reply:
        mkts = params.get("marketplaceIds") or []
        if len(mkts) != 1:
            return Reply(400, _errors("InvalidInput", "marketplaceIds is limited to one marketplaceId.",
                                      f"{len(mkts)} given"))
        pt = self.product_types.get(productType)
        if pt is None:
            return Reply(404, _errors("NotFound", f"Product type {productType} is not found in marketplace {mkts[0]}."))
        version = params.get("productTypeVersion") or "LATEST"
        if version not in ("LATEST", pt["version"]):
            return Reply(404, _errors("NotFound", f"Version {version} of {productType} is not found."))
        enforced = params.get("requirementsEnforced", "ENFORCED")
        doc = pt["schema"] if enforced == "ENFORCED" else _not_enforced(pt["schema"])
        key = f"ptd-{productType}-{pt['version']}-{enforced}".replace("=", "")
        path, checksum = self._ptd_document(key, doc)
        meta_path, meta_sum = self._ptd_document("ptd-meta-schema-v1", meta_schema())
        props = sorted(doc["properties"])
        return Reply(200, {
            "metaSchema": {"link": {"resource": f"{self.s3_base or base}{meta_path}", "verb": "GET"}, "checksum": meta_sum},
            "schema": {"link": {"resource": f"{self.s3_base or base}{path}", "verb": "GET"}, "checksum": checksum},
            "requirements": params.get("requirements", "LISTING"), "requirementsEnforced": enforced,
            "propertyGroups": {"product_identity": {"title": "Product Identity",
                                                    "description": "Information to uniquely identify your product",
                                                    "propertyNames": [p for p in props if p in (
                                                        "item_name", "brand", "externally_assigned_product_identifier")]},
                               "offer": {"title": "Offer", "propertyNames": []}},
            "locale": params.get("locale", "DEFAULT") if params.get("locale", "DEFAULT") != "DEFAULT" else "en_US",
            "marketplaceIds": [mkts[0]], "productType": productType, "displayName": pt["display"],
            "productTypeVersion": {"version": pt["version"], "latest": True, "releaseCandidate": False}})

    def _op_searchDefinitionsProductTypes(self, params, body, base) -> Reply:
        words = [w.lower() for w in params.get("keywords") or []]
        item = (params.get("itemName") or "").lower()
        if bool(words) == bool(item):
            return Reply(400, _errors("InvalidInput", "Provide either keywords or itemName, not both."))
        if not params.get("marketplaceIds"):
            return Reply(400, _errors("InvalidInput", "marketplaceIds is required."))
        found = []
        for name, pt in sorted(self.product_types.items()):
            hay = f"{name} {pt['display']}".lower()
            if (words and any(w in hay for w in words)) or (item and any(t in hay for t in item.split())):
                found.append({"name": name, "displayName": pt["display"], "marketplaceIds": list(params["marketplaceIds"])})
        return Reply(200, {"productTypes": found, "productTypeVersion": "LATEST"})
