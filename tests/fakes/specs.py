"""Finding and using the official API models in ``shared/specs/`` (Swagger 2.0 JSON).

``shared_dir()`` is ``$MARKETD_SHARED`` or ``<repo>/../shared``. The models are never shipped: the
fakes in the plugins take a ``contract`` and the tests plug :class:`AmazonContract` in.
``amazon_contract()`` gives it when the models are there (None otherwise: a fake that checks
nothing, for tests about behaviour only). A test whose assertions mean something only when
the contract was checked (``fake.violations == []``) takes the ``amazon_contract`` fixture
(``tests/conftest.py``) or calls ``require_amazon_contract()``: without the models it skips with
the reason locally and **fails under CI** (:func:`tests.needs.unavailable`).

:class:`SwaggerModel` validates instances against ``#/definitions/<Name>`` of a model with
``jsonschema.Draft4Validator`` and a ``referencing`` registry holding the whole document, so
every internal ``$ref`` resolves; query parameters are checked against the operation's declared
parameters (type, enum, bounds, date-time format; unknown names are errors too).
"""
from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

REPO = Path(__file__).resolve().parents[2]
AMAZON_MODELS = {
    "orders2026": "orders_2026-01-01.json",
    "ordersV0": "ordersV0.json",
    "reports": "reports_2021-06-30.json",
    "tokens": "tokens_2021-03-01.json",
    "ptd": "definitionsProductTypes_2020-09-01.json",
    "listings": "listingsItems_2021-08-01.json",
    "feeds": "feeds_2021-06-30.json",
}
# Plain JSON Schemas (draft-07) of the listings feed and its processing report.
AMAZON_JSON_SCHEMAS = {
    "listings_feed": "listings-feed-schema-v2.json",
    "processing_report": "listings-feed-processing-report-schema-v2.json",
}


def shared_dir() -> Path | None:
    p = Path(os.environ.get("MARKETD_SHARED") or (REPO.parent / "shared"))
    return p if p.is_dir() else None


def amazon_specs_dir() -> Path | None:
    base = shared_dir()
    d = base / "specs" / "amazon" if base else None
    return d if d is not None and all((d / f).is_file() for f in [*AMAZON_MODELS.values(),
                                                                  *AMAZON_JSON_SCHEMAS.values()]) else None


def require_amazon_specs() -> Path:
    """The models' folder; without it: skip locally, fail under CI."""
    d = amazon_specs_dir()
    if d is None:
        from tests.needs import unavailable

        where = (shared_dir() or Path(os.environ.get("MARKETD_SHARED") or (REPO.parent / "shared"))) / "specs" / "amazon"
        unavailable(f"{where} not found (or incomplete: {', '.join(AMAZON_MODELS.values())}): contract tests "
                    "need the official models (set MARKETD_SHARED to the folder holding specs/amazon/)")
    return d


# SP-API operation -> the model file (AMAZON_MODELS key) that defines it
MODEL_OF = {
    "searchOrders": "orders2026", "getOrder": "orders2026", "confirmShipment": "ordersV0",
    "getReports": "reports", "createReport": "reports", "cancelReport": "reports", "getReport": "reports",
    "getReportDocument": "reports",
    "getDefinitionsProductType": "ptd", "searchDefinitionsProductTypes": "ptd",
    **{op: "listings" for op in ("getListingsItem", "putListingsItem", "patchListingsItem", "deleteListingsItem",
                                 "searchListingsItems")},
    **{op: "feeds" for op in ("createFeedDocument", "createFeed", "getFeed", "getFeeds", "cancelFeed",
                              "getFeedDocument")},
}


@lru_cache(maxsize=None)
def json_schema_validator(key: str, specs_dir: str):
    """A Draft7Validator for one of :data:`AMAZON_JSON_SCHEMAS` (the feed and its report)."""
    from jsonschema import Draft7Validator

    return Draft7Validator(json.loads((Path(specs_dir) / AMAZON_JSON_SCHEMAS[key]).read_text(encoding="utf-8")))


def json_schema_problems(key: str, specs_dir: str, doc) -> list[str]:
    return [f"{_path(e)}: {e.message}" for e in json_schema_validator(key, specs_dir).iter_errors(doc)]


class AmazonContract:
    """The validator the fake SP-API takes as ``contract``: the official model of each operation."""

    def __init__(self, specs_dir: Path):
        self.specs_dir = Path(specs_dir)

    def model(self, operation: str) -> "SwaggerModel | None":
        key = MODEL_OF.get(operation)
        return amazon_model(key, str(self.specs_dir)) if key else None

    def listings_feed_problems(self, doc) -> list[str]:
        """What is wrong with an uploaded JSON_LISTINGS_FEED (listings-feed-schema-v2.json)."""
        return json_schema_problems("listings_feed", str(self.specs_dir), doc)

    def processing_report_problems(self, doc) -> list[str]:
        """What is wrong with a processing report (listings-feed-processing-report-schema-v2.json)."""
        return json_schema_problems("processing_report", str(self.specs_dir), doc)


def amazon_contract() -> AmazonContract | None:
    """The contract when the models are there, else None (the fake then checks nothing)."""
    d = amazon_specs_dir()
    return AmazonContract(d) if d is not None else None


def require_amazon_contract() -> AmazonContract:
    """The contract; without the models: skip locally with the reason, fail under CI."""
    return AmazonContract(require_amazon_specs())


FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value and " " not in value:
        raise ValueError("not an ISO 8601 date-time")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("an ISO 8601 date-time needs a time zone (Z or +hh:mm)")
    return True


def _path(error) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "<root>"


class SwaggerModel:
    """One Swagger 2.0 model file: definitions, operations, parameter and body validation."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.doc = json.loads(self.path.read_text(encoding="utf-8"))
        self.uri = f"urn:marketd-spec:{self.path.stem}"
        self.registry = Registry().with_resource(self.uri, Resource.from_contents(self.doc, default_specification=DRAFT4))
        self.ops: dict[str, tuple[str, str, dict]] = {}
        for p, methods in self.doc["paths"].items():
            common = methods.get("parameters", [])
            for method, op in methods.items():
                if method == "parameters":
                    continue
                op = dict(op)
                op["parameters"] = list(common) + list(op.get("parameters", []))
                self.ops[op["operationId"]] = (method.upper(), p, op)
        self._validators: dict[str, Draft4Validator] = {}
        self._lock = threading.Lock()

    def validator(self, definition: str) -> Draft4Validator:
        with self._lock:
            v = self._validators.get(definition)
            if v is None:
                if definition not in self.doc["definitions"]:
                    raise KeyError(f"{self.path.name} has no definition {definition}")
                v = Draft4Validator({"$ref": f"{self.uri}#/definitions/{definition}"}, registry=self.registry,
                                    format_checker=FORMATS)
                self._validators[definition] = v
            return v

    def validate(self, definition: str, instance) -> list[str]:
        """Messages (``path: problem``) of everything wrong with ``instance``; [] when valid."""
        return [f"{_path(e)}: {e.message}" for e in self.validator(definition).iter_errors(instance)]

    def _ref_name(self, schema: dict | None) -> str | None:
        if not schema or "$ref" not in schema:
            return None
        return schema["$ref"].rsplit("/", 1)[-1]

    def response_definition(self, operation: str, status: int) -> str | None:
        op = self.ops[operation][2]
        resp = op.get("responses", {}).get(str(status))
        return self._ref_name((resp or {}).get("schema"))

    def body_definition(self, operation: str) -> str | None:
        for p in self.ops[operation][2]["parameters"]:
            if p.get("in") == "body":
                return self._ref_name(p.get("schema"))
        return None

    def usage_plan(self, operation: str) -> tuple[float, float] | None:
        """(rate, burst) from the operation description's "Usage Plan" table."""
        import re

        m = re.search(r"\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|", self.ops[operation][2].get("description", ""))
        return (float(m.group(1)), float(m.group(2))) if m else None

    def parse_query(self, operation: str, query: dict[str, list[str]]) -> tuple[dict, list[str]]:
        """Convert and check query parameters; returns (values, problems)."""
        declared = {p["name"]: p for p in self.ops[operation][2]["parameters"] if p.get("in") == "query"}
        values, problems = {}, []
        for name in query:
            if name not in declared:
                problems.append(f"query parameter {name!r} is not defined for {operation} "
                                f"(known: {', '.join(sorted(declared)) or 'none'})")
        for name, p in declared.items():
            raw = query.get(name)
            if not raw:
                if p.get("required"):
                    problems.append(f"query parameter {name!r} is required")
                continue
            typ = p.get("type", "string")
            try:
                if typ == "array":
                    items = [v for r in raw for v in r.split(",")] if p.get("collectionFormat", "csv") in ("csv", "multi") else raw
                    itype = (p.get("items") or {}).get("type", "string")
                    value = [int(v) if itype == "integer" else v for v in items]
                elif typ == "integer":
                    value = int(raw[-1])
                elif typ == "number":
                    value = float(raw[-1])
                elif typ == "boolean":
                    if raw[-1].lower() not in ("true", "false"):
                        raise ValueError("not true/false")
                    value = raw[-1].lower() == "true"
                else:
                    value = raw[-1]
            except ValueError as exc:
                problems.append(f"query parameter {name!r}: {exc}")
                continue
            schema = {k: v for k, v in p.items() if k in ("type", "enum", "items", "minimum", "maximum", "minItems",
                                                          "maxItems", "format", "pattern", "minLength", "maxLength")}
            for e in Draft4Validator(schema, format_checker=FORMATS).iter_errors(value):
                problems.append(f"query parameter {name!r}: {e.message}")
            values[name] = value
        return values, problems


@lru_cache(maxsize=None)
def amazon_model(key: str, specs_dir: str) -> SwaggerModel:
    return SwaggerModel(Path(specs_dir) / AMAZON_MODELS[key])
