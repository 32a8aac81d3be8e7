"""Validating listing attributes against an Amazon product type schema (JSON Schema 2019-09 with
Amazon's own vocabulary), turning each error into an issue an operator can act on.

Why a validator of our own making rather than ``jsonschema.validators.validator_for``: that
returns None for Amazon's ``$schema`` URI, and jsonschema ignores unknown keywords silently, so
Amazon's validating keywords would pass unchecked. The class here is Draft 2019-09 plus:

- ``maxUniqueItems`` with its sibling ``selectors``: items grouped by the values of the selector
  properties (all properties when no selectors are given); each combination may occur at most N
  times (one ``item_name`` per marketplace and language);
- ``maxUtf8ByteLength`` / ``minUtf8ByteLength``: the length in UTF-8 bytes (``grün`` is 5);
- ``required`` that names the missing property on the error (a missing-required error has an
  empty path, and the name otherwise only appears inside the message).

``editable``, ``hidden``, ``enumNames`` (and the lifecycle annotations) are informational. Any
other keyword outside 2019-09 is reported once per model as INFO ``model.unsupported_keyword``,
never a crash. External ``$ref``s are never fetched: Amazon says its URIs are not network
addressable; one that is not the stored meta-schema is reported as INFO ``model.external_ref``.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter

from jsonschema import Draft201909Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT201909

from . import issues as I
from .values import short

# Draft 2019-09 vocabularies (core, applicator, validation, meta-data, format, content) plus the
# pre-2019 spellings jsonschema still reads in 2019-09 schemas.
DRAFT_2019_09 = frozenset("""
$schema $id $anchor $ref $recursiveRef $recursiveAnchor $vocabulary $comment $defs definitions
allOf anyOf oneOf not if then else dependentSchemas items additionalItems unevaluatedItems contains
properties patternProperties additionalProperties unevaluatedProperties propertyNames
type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength minLength pattern
maxItems minItems uniqueItems maxContains minContains maxProperties minProperties required dependentRequired
dependencies title description default deprecated readOnly writeOnly examples format contentMediaType
contentEncoding contentSchema
""".split())
AMAZON_VALIDATING = frozenset({"selectors", "maxUniqueItems", "maxUtf8ByteLength", "minUtf8ByteLength"})
AMAZON_INFORMATIONAL = frozenset({"editable", "hidden", "enumNames", "$lifecycle", "enumDeprecated",
                                  "enumReplacement", "replacedBy", "replaces"})
KNOWN_KEYWORDS = DRAFT_2019_09 | AMAZON_VALIDATING | AMAZON_INFORMATIONAL
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_ONE = ("additionalItems", "additionalProperties", "unevaluatedItems", "unevaluatedProperties", "contains",
               "propertyNames", "not", "if", "then", "else", "contentSchema")
_SCHEMA_LIST = ("allOf", "anyOf", "oneOf")


def _max_unique_items(validator, limit, instance, schema):
    if not validator.is_type(instance, "array"):
        return
    selectors = schema.get("selectors")
    counts: Counter = Counter()
    for item in instance:
        if isinstance(item, dict):
            keys = selectors if selectors else sorted(item)
            combo = json.dumps([item.get(k) for k in keys], sort_keys=True, default=str)
        else:
            combo = json.dumps(item, sort_keys=True, default=str)
        counts[combo] += 1
    worst = max(counts.values(), default=0)
    if worst > limit:
        what = f"the selectors {', '.join(selectors)}" if selectors else "all properties"
        yield ValidationError(f"each combination of {what} may occur at most {limit} time(s); one occurs {worst} times")


def _max_utf8(validator, limit, instance, schema):
    if validator.is_type(instance, "string"):
        n = len(instance.encode("utf-8"))
        if n > limit:
            yield ValidationError(f"{instance!r} is {n} UTF-8 bytes long; at most {limit} are allowed")


def _min_utf8(validator, limit, instance, schema):
    if validator.is_type(instance, "string"):
        n = len(instance.encode("utf-8"))
        if n < limit:
            yield ValidationError(f"{instance!r} is {n} UTF-8 bytes long; at least {limit} are needed")


def _required(validator, required, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for prop in required:
        if prop not in instance:
            err = ValidationError(f"{prop!r} is a required property")
            err.missing_property = prop  # kept through allOf/then descents: the same object travels up
            yield err


AmazonValidator = validators.extend(Draft201909Validator, {
    "maxUniqueItems": _max_unique_items, "maxUtf8ByteLength": _max_utf8, "minUtf8ByteLength": _min_utf8,
    "required": _required,
})


def unsupported_keywords(schema) -> list[str]:
    """Keywords of ``schema`` (recursively) that neither Draft 2019-09 nor Amazon's vocabulary defines."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, list):
            for n in node:
                walk(n)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key not in KNOWN_KEYWORDS:
                found.add(key)
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                for sub in value.values():
                    walk(sub)
            elif key in _SCHEMA_ONE:
                walk(value)
            elif key in _SCHEMA_LIST or key == "items":
                walk(value)

    walk(schema)
    return sorted(found)


def _path(error) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "<root>"


def _conditional(error) -> bool:
    return any(p in ("then", "else", "dependentRequired", "dependencies") for p in error.absolute_schema_path)


class ProductTypeSchema:
    """One product type schema: its validator (built once) and a result cache keyed by the
    schema's checksum and the instance's hash, so unchanged SKUs cost nothing on a re-run."""

    def __init__(self, schema: dict, *, meta_schema: dict | None = None, name: str = "", checksum: str = ""):
        self.schema = schema
        self.name = name
        self.checksum = checksum or hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        resources = []
        if meta_schema and isinstance(meta_schema.get("$id"), str):
            resources.append((meta_schema["$id"], Resource.from_contents(meta_schema,
                                                                         default_specification=DRAFT201909)))
        self.external_refs: set[str] = set()

        def retrieve(uri: str):
            self.external_refs.add(uri)
            raise NoSuchResource(ref=uri)

        registry = Registry(retrieve=retrieve).with_resources(resources)
        self.validator = AmazonValidator(schema, registry=registry)
        self.unsupported = unsupported_keywords(schema)
        props = schema.get("properties") or {}
        self.properties: set[str] = set(props)
        self.required: list[str] = [r for r in schema.get("required") or [] if isinstance(r, str)]
        self._cache: dict[str, list[tuple]] = {}
        self._lock = threading.Lock()

    def item_schema(self, attribute: str) -> dict:
        """The schema of one item of ``attribute`` (``properties.<a>.items``, local ``$ref`` resolved)."""
        node = (self.schema.get("properties") or {}).get(attribute) or {}
        node = self._deref(node)
        items = node.get("items") if isinstance(node, dict) else None
        return self._deref(items) if isinstance(items, dict) else {}

    def _deref(self, node):
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and seen < 10:
            target = self.schema
            for part in node["$ref"][2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node, seen = target, seen + 1
        return node

    def errors(self, instance: dict) -> list[tuple]:
        """``(rule, attribute, message, value, expected, missing)`` per problem, cached."""
        key = hashlib.sha256(json.dumps(instance, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = []
        try:
            errs = list(self.validator.iter_errors(instance))
        except Unresolvable as exc:
            self.external_refs.add(str(getattr(exc, "ref", exc)))
            errs = []
        for e in errs:
            if e.validator in ("oneOf", "anyOf") and e.context:
                e = best_match(e.context)
            prop = getattr(e, "missing_property", None)
            attribute = str(e.absolute_path[0]) if e.absolute_path else (prop or "")
            if e.validator == "required":
                rule = "amazon.schema.conditional_required" if _conditional(e) else "amazon.schema.required"
            elif e.validator in ("dependentRequired", "dependencies"):
                rule = "amazon.schema.conditional_required"
            else:
                rule = f"amazon.schema.{e.validator}"
            message = f"{_path(e)}: {e.message}"
            value = "" if e.validator == "required" else short(json.dumps(e.instance, ensure_ascii=False, default=str), 120)
            expected = "" if e.validator == "required" else short(json.dumps(e.validator_value, ensure_ascii=False,
                                                                             default=str), 120)
            out.append((rule, attribute, message, value, expected, e.validator == "required"))
        out.sort()
        with self._lock:
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = out
        return out


def schema_issues(errors: list[tuple], *, sku: str, platform: str, locale: str, parent: str = "") -> list:
    return [I.make(rule, I.ERROR, sku=sku, platform=platform, locale=locale, attribute=attribute, value=value,
                   expected=expected, parent=parent, missing=missing, detail=message)
            for rule, attribute, message, value, expected, missing in errors]
