"""The hand-written ManoMano contract (``tests/contracts/manomano/*.json``) as the fake's ``contract``.

ManoMano publishes no machine-readable API description (shared/specs/SOURCES.md, "Not
vendored"), so these schemas were written from the research notes, each field citing its
source. They are weaker than a vendor's file: they pin what the research saw, and keep the fake
and the client honest against *that*. Because they live in the repository, the contract tests
never skip.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

FOLDER = Path(__file__).resolve().parents[1] / "contracts" / "manomano"

# operation -> (query schema, body schema, {status: response schema}); None = no body
OPERATIONS = {
    "listOrders": ("list_orders_query.json", None, {200: "list_orders.json"}),
    "getOrder": ("get_order_query.json", None, {200: "get_order.json"}),
    "acceptOrders": (None, "decision_request.json", {204: None, 207: "batch_result.json"}),
    "refuseOrders": (None, "decision_request.json", {204: None, 207: "batch_result.json"}),
    "createShippings": (None, "shippings_request.json", {204: None, 207: "batch_result.json"}),
    "listOffers": ("list_offers_query.json", None, {200: "list_offers.json"}),
    "patchOffers": (None, "patch_offers_request.json", {200: None, 207: "offers_result.json"}),
}


@lru_cache(maxsize=1)
def registry() -> Registry:
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text(encoding="utf-8")), DRAFT202012))
                 for p in sorted(FOLDER.glob("*.json"))]
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    schema = registry().contents(name)
    return Draft202012Validator(schema, registry=registry(), format_checker=FormatChecker())


def problems(name: str, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))]


class ManoManoContract:
    """What the fake asks: ``request_problems(operation, query, body)`` and
    ``response_problems(operation, status, body)``, lists of readable problems."""

    def request_problems(self, operation: str, query: dict, body) -> list[str]:
        spec = OPERATIONS.get(operation)
        if spec is None:
            return [f"operation {operation} is not in the contract"]
        query_schema, body_schema, _ = spec
        out = []
        if query_schema:
            out += problems(query_schema, query)
        elif query:
            out.append(f"no query parameters expected, got {sorted(query)}")
        if body_schema:
            out += problems(body_schema, body)
        elif body is not None:
            out.append("no body expected")
        return out

    def response_problems(self, operation: str, status: int, body) -> list[str]:
        spec = OPERATIONS.get(operation)
        if spec is None:
            return []
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body) if body else None
            except ValueError:
                return [f"HTTP {status}: the body is not JSON"]
        if status >= 400:
            return problems("error.json", body)
        declared = spec[2]
        if status not in declared:
            return [f"HTTP {status} is not an answer of {operation} (declared: {sorted(declared)})"]
        if declared[status] is None:
            return [] if body in (None, b"", "") else [f"HTTP {status} must have no body"]
        return problems(declared[status], body)
