"""The eBay OpenAPI 3 contracts in ``shared/specs/ebay/`` as the fake eBay's ``contract``.

eBay's files are under the eBay API License and never shipped: the fake in
``marketd.plugins.ebay.fake`` takes a ``contract`` object and the tests plug this one in.
``ebay_contract()`` gives it when the files are there (None otherwise: a fake that checks
nothing), ``require_ebay_contract()`` skips locally and **fails under CI** without them.

How it validates (jsonschema ``Draft4Validator`` + a ``referencing`` registry holding the whole
document, so every ``#/components/schemas/...`` resolves — the same mechanism as
``tests/fakes/specs.py``; OpenAPI 3.0 schemas are a draft-4/5 dialect):

- **strict**: every object schema that lists ``properties`` is taken as closed
  (``additionalProperties: false``), so a field the contract does not define — a typo in the
  fake, or ``legacyOrderId``, which v1.20.7 no longer has — is a drift, not a pass;
- requests: query parameter names must be declared; a JSON body is checked against the
  ``requestBody`` schema;
- answers: the status must be declared for the operation (401, 403, 429 and 502–504 are eBay's
  gateway answers, undeclared in every operation: they are checked as error envelopes); a
  declared JSON schema is checked; an answer declared without content (204, 409) must be empty;
  error answers (4xx/5xx) are checked against ``{"errors": [Error]}`` and their ``errorId`` must
  be one the contract lists for that status (``x-response-codes``) when it lists any.
"""
from __future__ import annotations

import copy
import json
import os
import threading
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.fakes.specs import REPO, shared_dir

EBAY_FILES = {"fulfillment": "sell_fulfillment_v1_oas3.yaml", "finances": "sell_finances_v1_oas3.json",
              "inventory": "sell_inventory_v1_oas3.yaml", "compliance": "sell_compliance_v1_oas3.json",
              "taxonomy": "commerce_taxonomy_v1_oas3.json"}
OPERATIONS = {
    "getOrders": "fulfillment", "getOrder": "fulfillment", "createShippingFulfillment": "fulfillment",
    "getShippingFulfillments": "fulfillment", "getShippingFulfillment": "fulfillment", "issueRefund": "fulfillment",
    "getPayouts": "finances", "getPayout": "finances", "getTransactions": "finances",
    "getListingViolationsSummary": "compliance", "getListingViolations": "compliance",
    **{op: "inventory" for op in ("createOrReplaceInventoryItem", "getInventoryItem", "getInventoryItems", "getOffers",
                                  "createOffer", "updateOffer", "publishOffer", "bulkUpdatePriceQuantity",
                                  "bulkCreateOrReplaceInventoryItem", "bulkCreateOffer", "bulkPublishOffer",
                                  "createOrReplaceInventoryItemGroup", "getInventoryItemGroup",
                                  "publishOfferByInventoryItemGroup")},
    **{op: "taxonomy" for op in ("getDefaultCategoryTreeId", "getCategorySuggestions", "getItemAspectsForCategory")},
}
# Known defects of the vendored files, corrected before validating (each one named, none silent):
# Inventory 1.17.2 declares Product.aspects as a string, while its own description shows (and eBay
# takes) an object of name -> list of values.
# InventoryItemGroup.aspects has the same defect.
# GPSR overlay: Inventory 1.17.2 (the vendored file) predates eBay's GPSR fields; Inventory 1.18.0
# added ``manufacturer``, ``responsiblePersons``, ``productSafety`` and ``documents`` to
# ``Regulatory`` (field names and types as in that release; ``contactUrl`` as on eBay's
# ``slr:Manufacturer``/``slr:ResponsiblePerson`` type pages, research content-and-health §2.3).
# Written here by hand, field by field, so the strict check still refuses anything else.
_ASPECTS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
_STR = {"type": "string"}
_PARTY = {"addressLine1": _STR, "addressLine2": _STR, "city": _STR, "companyName": _STR, "contactUrl": _STR,
          "country": _STR, "email": _STR, "phone": _STR, "postalCode": _STR, "stateOrProvince": _STR}
GPSR_OVERLAY = [
    (("Manufacturer",), {"type": "object", "properties": dict(_PARTY)}),
    (("ResponsiblePerson",), {"type": "object", "properties": {**_PARTY, "types": {"type": "array", "items": _STR}}}),
    (("ProductSafety",), {"type": "object", "properties": {"component": _STR, "pictograms": {"type": "array", "items": _STR},
                                                           "statements": {"type": "array", "items": _STR}}}),
    (("Document",), {"type": "object", "properties": {"documentId": _STR}}),
    (("Regulatory", "properties", "manufacturer"), {"$ref": "#/components/schemas/Manufacturer"}),
    (("Regulatory", "properties", "responsiblePersons"),
     {"type": "array", "items": {"$ref": "#/components/schemas/ResponsiblePerson"}}),
    (("Regulatory", "properties", "productSafety"), {"$ref": "#/components/schemas/ProductSafety"}),
    (("Regulatory", "properties", "documents"), {"type": "array", "items": {"$ref": "#/components/schemas/Document"}}),
]
SPEC_FIXES = {"sell_inventory_v1_oas3": [(("Product", "properties", "aspects"), _ASPECTS),
                                         (("InventoryItemGroup", "properties", "aspects"), _ASPECTS),
                                         *GPSR_OVERLAY]}
# Answers of eBay's gateway that no operation declares: token/scope refusals, the call limit, and
# the 502/503/504 of an outage (checked as error envelopes).
PLATFORM_STATUSES = {401, 403, 429, 502, 503, 504}
# eBay's gateway answers these for any operation (token, scope, call limit, routing, and the
# digital-signature check in front of the Finances API [215120: the fake's choice, unverified]).
PLATFORM_ERROR_IDS = {1001, 1100, 2001, 2002, 2003, 215120}


def ebay_specs_dir() -> Path | None:
    base = shared_dir()
    d = base / "specs" / "ebay" if base else None
    return d if d is not None and all((d / f).is_file() for f in EBAY_FILES.values()) else None


def require_ebay_specs() -> Path:
    d = ebay_specs_dir()
    if d is None:
        from tests.needs import unavailable

        where = (shared_dir() or Path(os.environ.get("MARKETD_SHARED") or (REPO.parent / "shared"))) / "specs" / "ebay"
        unavailable(f"{where} not found (or incomplete: {', '.join(EBAY_FILES.values())}): eBay contract tests need "
                    "the official OpenAPI files (set MARKETD_SHARED to the folder holding specs/ebay/)")
    return d


def _close_objects(node):
    """Every schema object with ``properties`` and no ``additionalProperties`` becomes closed."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for v in node.values():
            _close_objects(v)
    elif isinstance(node, list):
        for v in node:
            _close_objects(v)


def _load(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


class OpenApiDoc:
    """One OpenAPI 3 file: its operations and validators for its component schemas."""

    def __init__(self, path: Path, strict: bool = True):
        self.path = Path(path)
        self.doc = _load(self.path)
        self.schemas_doc = copy.deepcopy(self.doc)
        for where, schema in SPEC_FIXES.get(self.path.stem, []):
            node = self.schemas_doc["components"]["schemas"]
            for key in where[:-1]:
                node = node[key]
            node[where[-1]] = schema
        if strict:
            _close_objects(self.schemas_doc.get("components", {}).get("schemas", {}))
        self.uri = f"urn:marketd-ebay-spec:{self.path.stem}"
        self.registry = Registry().with_resource(self.uri, Resource.from_contents(self.schemas_doc,
                                                                                 default_specification=DRAFT4))
        self.ops: dict[str, tuple[str, str, dict]] = {}
        for p, methods in self.doc["paths"].items():
            for method, op in methods.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.ops[op["operationId"]] = (method.upper(), p, op)
        self._validators: dict[str, Draft4Validator] = {}
        self._lock = threading.Lock()

    def validator(self, schema: dict) -> Draft4Validator:
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            v = self._validators.get(key)
            if v is None:
                # references inside the schema point into this document
                schema = json.loads(key.replace('"#/components/', f'"{self.uri}#/components/'))
                v = self._validators[key] = Draft4Validator(schema, registry=self.registry)
            return v

    def component(self, name: str) -> dict:
        if name not in self.doc["components"]["schemas"]:
            raise KeyError(f"{self.path.name} has no schema {name}")
        return {"$ref": f"#/components/schemas/{name}"}

    def validate(self, schema: dict | str, instance) -> list[str]:
        if isinstance(schema, str):
            schema = self.component(schema)
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in self.validator(schema).iter_errors(instance)]

    def error_envelope(self, instance) -> list[str]:
        envelope = {"type": "object", "properties": {"errors": {"type": "array", "items": self.component("Error")},
                                                     "warnings": {"type": "array", "items": self.component("Error")}},
                    "required": ["errors"], "additionalProperties": False}
        return self.validate(envelope, instance)


class EbayContract:
    """What the fake eBay takes as ``contract``."""

    def __init__(self, specs_dir: Path):
        self.specs_dir = Path(specs_dir)

    def doc(self, operation: str) -> OpenApiDoc:
        return ebay_doc(OPERATIONS[operation], str(self.specs_dir))

    def request_problems(self, operation: str, query: dict, body) -> list[str]:
        if operation not in OPERATIONS:
            return []
        doc = self.doc(operation)
        _, _, op = doc.ops[operation]
        declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        problems = [f"query parameter {name!r} is not defined for {operation} (known: {', '.join(sorted(declared))})"
                    for name in query if name not in declared]
        content = _json_content((op.get("requestBody") or {}).get("content"))
        if content:
            if body is None:
                problems.append("a JSON body is required")
            else:
                problems += [f"body {p}" for p in doc.validate(content["schema"], body)]
        elif body is not None:
            problems.append(f"{operation} takes no body")
        return problems

    def response_problems(self, operation: str, status: int, body) -> list[str]:
        if operation not in OPERATIONS:
            return []
        doc = self.doc(operation)
        _, _, op = doc.ops[operation]
        declared = op.get("responses", {}).get(str(status))
        if declared is None and status not in PLATFORM_STATUSES:
            return [f"HTTP {status} is not an answer {operation} declares ({', '.join(op.get('responses', {}))})"]
        content = _json_content((declared or {}).get("content"))
        if status == 207 and not content:
            # Known defect: Inventory 1.17.2 declares the bulk calls' 207 without a body, while the
            # operation's text (and eBay) answer the same per-SKU responses as the 200.
            content = ((op.get("responses", {}).get("200") or {}).get("content") or {}).get("application/json")
        if content:
            return doc.validate(content["schema"], body)
        if status < 400:
            return [] if body in (None, b"", "", {}) and (status != 204 or body in (None, b"", "")) else \
                [f"HTTP {status} of {operation} must have no body"]
        if body in (None, b"", ""):
            return [] if status in (404, 409) else [f"HTTP {status} of {operation} has no error body"]
        problems = doc.error_envelope(body)
        listed = {int(k) for k in (((declared or {}).get("x-response-codes") or {}).get("errors") or {})}
        if not problems and listed:
            ids = {e.get("errorId") for e in body["errors"]} - PLATFORM_ERROR_IDS
            unknown = sorted(i for i in ids if i not in listed)
            if unknown:
                problems.append(f"errorId {unknown} is not among the codes {operation} lists for HTTP {status} "
                                f"({sorted(listed)})")
        return problems


def _json_content(content: dict | None) -> dict | None:
    """The JSON media type of a response: ``application/json``, or with parameters as the
    Compliance contract declares it (``application/json;charset=UTF-8``)."""
    for media, value in (content or {}).items():
        if media.split(";")[0].strip() == "application/json":
            return value
    return None


@lru_cache(maxsize=None)
def ebay_doc(key: str, specs_dir: str) -> OpenApiDoc:
    return OpenApiDoc(Path(specs_dir) / EBAY_FILES[key])


def ebay_contract() -> EbayContract | None:
    d = ebay_specs_dir()
    return EbayContract(d) if d is not None else None


def require_ebay_contract() -> EbayContract:
    return EbayContract(require_ebay_specs())
