"""The hand-written MPAPI contract (``tests/contracts/mall/*.json``) as the MALL fake's ``contract``.

MALL has no machine-readable model, so these schemas are written from the research notes (see
that folder's README: weaker than a vendor model). ``check_request(operation, body)`` checks
what our client sends, ``check_response(operation, status, envelope)`` every answer of the fake:
the envelope always, ``data`` by operation.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

FOLDER = Path(__file__).resolve().parents[1] / "contracts" / "mall"

ROW_INVOICE = {"type": "object", "required": ["id", "invoiceNumber"],
               "properties": {"id": {"type": "integer"}, "invoiceNumber": {"type": "string", "pattern": r"^\d{10}$"},
                              "createdAt": {"type": "string"}, "dueDate": {"type": ["string", "null"]},
                              "total": {"type": "number"}, "currency": {"type": "string"},
                              "documentType": {"type": ["string", "null"]}}, "additionalProperties": False}
ROW_OFFSET = {"type": "object", "required": ["id", "documentNumber"],
              "properties": {"id": {"type": "integer"}, "documentNumber": {"type": "string"},
                             "createdAt": {"type": "string"}, "dueDate": {"type": ["string", "null"]},
                             "diffPrice": {"type": "number"}, "currency": {"type": "string"}},
              "additionalProperties": False}

EMPTY = {"type": "object", "maxProperties": 0, "$comment": "a write MPAPI answers with an empty data [PHP]"}

# operation -> schema of `data` in a 200 answer ("[...]" = a list of those)
RESPONSES = {
    "mall.list_orders": ("list", "order_basic.json"),
    "mall.unconfirmed": ("list", "order.json"),
    "mall.get_order": ("one", "order.json"),
    "mall.update_order": ("one", "order.json"),
    "mall.put_tracking": ("one", "order.json"),
    "mall.labels": ("one", "labels.json"),
    "mall.list_invoices": ("list", ROW_INVOICE),
    "mall.get_invoice": ("one", "invoice.json"),
    "mall.list_offsets": ("list", ROW_OFFSET),
    "mall.get_offset": ("one", "offset.json"),
    "mall.list_products": ("list", "product_basic.json"),
    "mall.get_product": ("one", "product.json"),
    "mall.create_product": ("one", "product.json"),
    "mall.update_product": ("one", "product.json"),
    "mall.get_pricing": ("one", "pricing.json"),
    "mall.list_variants": ("list", "variant_basic.json"),
    "mall.get_variant": ("one", "variant.json"),
    "mall.create_variant": ("one", "variant.json"),
    "mall.update_variant": ("one", "variant.json"),
    "mall.update_pricing": ("one", EMPTY),
    "mall.update_variant_pricing": ("one", EMPTY),
    "mall.availability": ("one", EMPTY),
}
REQUESTS = {"mall.update_order": "order_update.json", "mall.put_tracking": "tracking_update.json",
            "mall.labels": "labels_request.json", "mall.create_product": "product_request.json",
            "mall.update_product": "product_request.json", "mall.create_variant": "variant_request.json",
            "mall.update_variant": "variant_request.json", "mall.update_pricing": "pricing.json",
            "mall.update_variant_pricing": "pricing.json", "mall.availability": "availability_request.json"}


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resources = []
    for path in FOLDER.glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        resources.append((f"mall/{path.name}", Resource.from_contents(doc)))
    return Registry().with_resources(resources)


def _validator(schema) -> Draft202012Validator:
    if isinstance(schema, str):
        schema = {"$ref": f"mall/{schema}"}
    return Draft202012Validator(schema, registry=_registry())


def _problems(schema, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"[:300]
            for e in _validator(schema).iter_errors(instance)]


class MallContract:
    def check_request(self, operation: str, body) -> list[str]:
        schema = REQUESTS.get(operation)
        return _problems(schema, body) if schema else []

    def check_response(self, operation: str, status: int, envelope) -> list[str]:
        problems = _problems("envelope.json", envelope)
        if problems or status != 200 or operation not in RESPONSES:
            return problems
        shape, schema = RESPONSES[operation]
        data = envelope.get("data")
        if shape == "list":
            if not isinstance(data, list):
                return [f"data: a list expected, got {type(data).__name__}"]
            if "paging" not in envelope:
                return ["paging: missing on a listing"]
            if operation == "mall.list_orders" and all(type(r) is int for r in data):
                return []   # without filter=basic MPAPI lists order ids [AC §4]
            return [f"data/{i}/{p}" for i, row in enumerate(data) for p in _problems(schema, row)]
        return [f"data/{p}" for p in _problems(schema, data)]
