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


def _conditional(error) -> bool:
    return any(p in ("then", "else", "dependentRequired", "dependencies") for p in error.absolute_schema_path)


class ProductTypeSchema:
    """One product type schema: validators built once, results cached per attribute value (a
    brand or colour shared by thousands of SKUs is checked once), and a fast path.

    The fast path (:mod:`.fastcheck`): local ``$ref``s are inlined, the schema is split into its
    top level (``required``, the conditionals; ``properties`` reduced to their names) and one
    subschema per attribute — exactly how ``properties`` applies them — and each part is compiled
    into a quick valid/invalid check. jsonschema then runs only on the parts found invalid (per
    attribute, cached by value: a brand or colour shared by thousands of SKUs is validated once),
    and gives the errors. A schema whose references cannot be inlined is validated whole."""

    def __init__(self, schema: dict, *, meta_schema: dict | None = None, name: str = "", checksum: str = ""):
        from .fastcheck import Unsupported, compile_schema, inline_refs

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

        self.registry = Registry(retrieve=retrieve).with_resources(resources)
        self.validator = AmazonValidator(schema, registry=self.registry)
        self.unsupported = unsupported_keywords(schema)
        props = schema.get("properties") or {}
        self.properties: set[str] = set(props)
        self.required: list[str] = [r for r in schema.get("required") or [] if isinstance(r, str)]
        self._cache: dict[str, list[tuple]] = {}
        self._attr_cache: dict[tuple[str, str], list[tuple]] = {}
        self._items: dict[str, dict] = {}
        self._fast_hits: dict[tuple, bool] = {}   # (attribute, flat value) -> valid: shared brands, colours, tags
        self._lock = threading.Lock()
        inlined = inline_refs(schema)
        self.split = isinstance(inlined, dict) and isinstance(inlined.get("properties"), dict)
        if self.split:
            self._props = inlined["properties"]
            top = {k: v for k, v in inlined.items() if k not in ("properties", "$defs", "definitions")}
            top["properties"] = {k: True for k in self._props}
            self._top = AmazonValidator(top, registry=self.registry)
            self._attr: dict[str, object] = {}
            self._fast_top = _compiled(compile_schema, Unsupported, top)
            self._fast_attr = {k: _compiled(compile_schema, Unsupported, v) for k, v in self._props.items()}

    def item_schema(self, attribute: str) -> dict:
        """The schema of one item of ``attribute`` (``properties.<a>.items``, local ``$ref`` resolved)."""
        hit = self._items.get(attribute)
        if hit is None:
            node = (self.schema.get("properties") or {}).get(attribute) or {}
            node = self._deref(node)
            items = node.get("items") if isinstance(node, dict) else None
            hit = self._items[attribute] = self._deref(items) if isinstance(items, dict) else {}
        return hit

    def _deref(self, node):
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and seen < 10:
            target = self.schema
            for part in node["$ref"][2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node, seen = target, seen + 1
        return node

    def errors(self, instance: dict) -> list[tuple]:
        """``(rule, attribute, message, value, expected, missing)`` per problem, sorted."""
        if self.split:
            out = self._split_errors(instance)
        else:
            key = json.dumps(instance, sort_keys=True, ensure_ascii=False, default=str)
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None:
                return hit
            out = [_convert(e) for e in self._iter(self.validator, instance)]
            with self._lock:
                if len(self._cache) > 100_000:
                    self._cache.clear()
                self._cache[key] = out
        out.sort()
        return out

    def _iter(self, validator, instance) -> list:
        try:
            return list(validator.iter_errors(instance))
        except Unresolvable as exc:
            self.external_refs.add(str(getattr(exc, "ref", exc)))
            return []

    def _split_errors(self, instance: dict) -> list[tuple]:
        out = []
        if self._fast_top is None or not self._fast_top(instance):
            out += [_convert(e) for e in self._iter(self._top, instance)]
        if not isinstance(instance, dict):
            return out
        for attr, value in instance.items():
            if attr not in self._props:
                continue
            fast = self._fast_attr.get(attr)
            if fast is not None:
                fkey = _flat_key(attr, value)
                ok = self._fast_hits.get(fkey) if fkey is not None else None
                if ok is None:
                    ok = fast(value)
                    if fkey is not None and len(self._fast_hits) < 500_000:
                        self._fast_hits[fkey] = ok
                if ok:
                    continue
            vkey = (attr, json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))
            with self._lock:
                hit = self._attr_cache.get(vkey)
            if hit is None:
                v = self._attr.get(attr)
                if v is None:
                    v = self._attr[attr] = AmazonValidator(self._props[attr], registry=self.registry)
                hit = [_convert(e, attr) for e in self._iter(v, value)]
                with self._lock:
                    if len(self._attr_cache) > 500_000:
                        self._attr_cache.clear()
                    self._attr_cache[vkey] = hit
            out += hit
        return out


def _flat_key(attr: str, value):
    """A cheap hashable key for a list of flat items (``[{"value": "Blau", "language_tag": …}]``),
    or None for anything nested. Types are part of it: ``True`` and ``1`` must not share a result."""
    if value.__class__ is not list:
        return None
    out: list = [attr]
    for item in value:
        if item.__class__ is not dict:
            return None
        for k, v in item.items():
            c = v.__class__
            if c is dict or c is list:
                return None
            out.append((k, c, v))
        out.append(None)
    key = tuple(out)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _compiled(compile_schema, unsupported, node):
    try:
        return compile_schema(node)
    except unsupported:
        return None


def _convert(e, prefix: str | None = None) -> tuple:
    """One jsonschema error as ``(rule, attribute, message, value, expected, missing)``; ``prefix``
    is the attribute whose subschema was validated on its own."""
    if e.validator in ("oneOf", "anyOf") and e.context:
        e = best_match(e.context)
    rel = [str(p) for p in e.absolute_path]
    path = ([prefix] if prefix is not None else []) + rel
    prop = getattr(e, "missing_property", None)
    attribute = path[0] if path else (prop or "")
    if e.validator == "required":
        rule = "amazon.schema.conditional_required" if _conditional(e) else "amazon.schema.required"
    elif e.validator in ("dependentRequired", "dependencies"):
        rule = "amazon.schema.conditional_required"
    else:
        rule = f"amazon.schema.{e.validator}"
    message = f"{'/'.join(path) or '<root>'}: {e.message}"
    value = "" if e.validator == "required" else short(json.dumps(e.instance, ensure_ascii=False, default=str), 120)
    expected = "" if e.validator == "required" else short(json.dumps(e.validator_value, ensure_ascii=False,
                                                                     default=str), 120)
    return (rule, attribute, message, value, expected, e.validator == "required")


def schema_issues(errors: list[tuple], *, sku: str, platform: str, locale: str, parent: str = "") -> list:
    return [I.make(rule, I.ERROR, sku=sku, platform=platform, locale=locale, attribute=attribute, value=value,
                   expected=expected, parent=parent, missing=missing, detail=message)
            for rule, attribute, message, value, expected, missing in errors]
