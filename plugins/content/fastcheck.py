"""A fast "is this valid?" for the keywords product type schemas use, compiled once per schema.

jsonschema is exact but costs milliseconds per listing instance (a new validator object per
subschema visited, ``$ref`` lookups through ``referencing``): 200,000 instances (50,000 SKUs in
four marketplaces) took minutes. Most instances, and most attributes of the others, are valid,
and proving that needs none of jsonschema's error machinery. So each attribute's subschema is
compiled here into nested closures that answer only valid/invalid; jsonschema runs only where this
says "invalid" (to produce the exact errors) or where a subschema uses a keyword this module does
not implement (:class:`Unsupported`: that attribute always goes to jsonschema). It never decides
an error on its own, so a gap here can cost time, not correctness; the tests compare it with
jsonschema on generated instances.
"""
from __future__ import annotations

import numbers
import re
from typing import Callable

from .ptd_validator import AMAZON_INFORMATIONAL

Check = Callable[[object], bool]


class Unsupported(Exception):
    pass


ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
                         "writeOnly", "format", "contentMediaType", "contentEncoding", "contentSchema", "$schema",
                         "$id", "$anchor", "$defs", "definitions", "$vocabulary", "selectors"}) | AMAZON_INFORMATIONAL
SUPPORTED = frozenset({"type", "enum", "const", "minLength", "maxLength", "pattern", "minimum", "maximum",
                       "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "items", "contains",
                       "properties", "required", "additionalProperties", "minProperties", "maxProperties", "allOf",
                       "anyOf", "oneOf", "not", "if", "then", "else", "maxUtf8ByteLength", "minUtf8ByteLength",
                       "maxUniqueItems", "uniqueItems"})
# Keywords of 2019-09 this module leaves to jsonschema (the whole subschema then goes there).
UNSUPPORTED = frozenset({"$ref", "$recursiveRef", "$recursiveAnchor", "dependentSchemas", "dependentRequired",
                         "dependencies", "additionalItems", "unevaluatedItems", "unevaluatedProperties",
                         "patternProperties", "propertyNames", "multipleOf", "maxContains", "minContains",
                         "minUniqueItems"})


def _is_int(x) -> bool:
    return (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and x.is_integer())


def _is_num(x) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


TYPES = {"string": lambda x: isinstance(x, str), "object": lambda x: isinstance(x, dict),
         "array": lambda x: isinstance(x, list), "boolean": lambda x: isinstance(x, bool),
         "null": lambda x: x is None, "integer": _is_int, "number": _is_num}


def equal(a, b) -> bool:
    """JSON equality: ``True`` is not ``1``, lists and objects compared element by element."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a == b


def _always(x) -> bool:
    return True


def compile_schema(node) -> Check:
    """A function answering whether an instance is valid against ``node`` (raises Unsupported)."""
    if node is True:
        return _always
    if node is False:
        return lambda x: False
    if not isinstance(node, dict):
        raise Unsupported("not a schema")
    checks: list[Check] = []
    for key in node:
        if key in UNSUPPORTED:
            raise Unsupported(key)
    if "type" in node:
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        fns = [TYPES[k] for k in kinds if k in TYPES]
        if len(fns) != len(kinds):
            raise Unsupported("type")
        checks.append(lambda x, fns=fns: any(f(x) for f in fns))
    if "enum" in node:
        options = list(node["enum"])
        texts = frozenset(v for v in options if isinstance(v, str))  # JSON equality of strings is ==

        def in_enum(x, o=options, t=texts):
            if isinstance(x, str):
                return x in t
            return any(equal(x, v) for v in o)

        checks.append(in_enum)
    if "const" in node:
        c = node["const"]
        checks.append(lambda x, c=c: equal(x, c))
    s_checks = []
    if "minLength" in node:
        s_checks.append(lambda x, n=node["minLength"]: len(x) >= n)
    if "maxLength" in node:
        s_checks.append(lambda x, n=node["maxLength"]: len(x) <= n)
    if "pattern" in node:
        rx = re.compile(node["pattern"])
        s_checks.append(lambda x, rx=rx: rx.search(x) is not None)
    if "maxUtf8ByteLength" in node:
        s_checks.append(lambda x, n=node["maxUtf8ByteLength"]: len(x.encode("utf-8")) <= n)
    if "minUtf8ByteLength" in node:
        s_checks.append(lambda x, n=node["minUtf8ByteLength"]: len(x.encode("utf-8")) >= n)
    if s_checks:
        checks.append(lambda x, cs=s_checks: not isinstance(x, str) or all(c(x) for c in cs))
    n_checks = []
    if "minimum" in node:
        n_checks.append(lambda x, n=node["minimum"]: x >= n)
    if "maximum" in node:
        n_checks.append(lambda x, n=node["maximum"]: x <= n)
    if "exclusiveMinimum" in node:
        n_checks.append(lambda x, n=node["exclusiveMinimum"]: x > n)
    if "exclusiveMaximum" in node:
        n_checks.append(lambda x, n=node["exclusiveMaximum"]: x < n)
    if n_checks:
        checks.append(lambda x, cs=n_checks: not _is_num(x) or all(c(x) for c in cs))
    a_checks = []
    if "minItems" in node:
        a_checks.append(lambda x, n=node["minItems"]: len(x) >= n)
    if "maxItems" in node:
        a_checks.append(lambda x, n=node["maxItems"]: len(x) <= n)
    if node.get("uniqueItems") is True:
        a_checks.append(lambda x: all(not equal(x[i], x[j]) for i in range(len(x)) for j in range(i + 1, len(x))))
    if "items" in node:
        if isinstance(node["items"], list):
            raise Unsupported("items as a list")
        item = compile_schema(node["items"])
        a_checks.append(lambda x, f=item: all(f(i) for i in x))
    if "contains" in node:
        inner = compile_schema(node["contains"])
        a_checks.append(lambda x, f=inner: any(f(i) for i in x))
    if "maxUniqueItems" in node:
        limit, selectors = node["maxUniqueItems"], node.get("selectors")
        a_checks.append(lambda x, n=limit, sel=selectors: _unique_ok(x, n, sel))
    if a_checks:
        checks.append(lambda x, cs=a_checks: not isinstance(x, list) or all(c(x) for c in cs))
    o_checks = []
    if "required" in node:
        req = list(node["required"])
        o_checks.append(lambda x, r=req: all(k in x for k in r))
    if "minProperties" in node:
        o_checks.append(lambda x, n=node["minProperties"]: len(x) >= n)
    if "maxProperties" in node:
        o_checks.append(lambda x, n=node["maxProperties"]: len(x) <= n)
    props = {k: compile_schema(v) for k, v in (node.get("properties") or {}).items()}
    live = {k: f for k, f in props.items() if f is not _always}  # ``true`` subschemas: nothing to call
    if live:
        o_checks.append(lambda x, p=live: all(p[k](v) for k, v in x.items() if k in p))
    if "additionalProperties" in node:
        extra = compile_schema(node["additionalProperties"])
        o_checks.append(lambda x, p=props, f=extra: all(f(v) for k, v in x.items() if k not in p))
    if o_checks:
        checks.append(lambda x, cs=o_checks: not isinstance(x, dict) or all(c(x) for c in cs))
    if "allOf" in node:
        subs = [compile_schema(s) for s in node["allOf"]]
        checks.append(lambda x, ss=subs: all(s(x) for s in ss))
    if "anyOf" in node:
        subs = [compile_schema(s) for s in node["anyOf"]]
        checks.append(lambda x, ss=subs: any(s(x) for s in ss))
    if "oneOf" in node:
        subs = [compile_schema(s) for s in node["oneOf"]]
        checks.append(lambda x, ss=subs: sum(1 for s in ss if s(x)) == 1)
    if "not" in node:
        inner = compile_schema(node["not"])
        checks.append(lambda x, f=inner: not f(x))
    if "if" in node:
        cond = compile_schema(node["if"])
        then = compile_schema(node["then"]) if "then" in node else None
        other = compile_schema(node["else"]) if "else" in node else None

        def conditional(x, cond=cond, then=then, other=other):
            if cond(x):
                return then is None or then(x)
            return other is None or other(x)

        checks.append(conditional)
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda x, cs=checks: all(c(x) for c in cs)


def _unique_ok(items: list, limit: int, selectors) -> bool:
    if len(items) <= limit:  # no combination can occur more often than there are items
        return True
    seen: dict = {}
    for item in items:
        if isinstance(item, dict):
            keys = selectors if selectors else sorted(item)
            combo = repr([_freeze(item.get(k)) for k in keys])
        else:
            combo = repr(_freeze(item))
        seen[combo] = seen.get(combo, 0) + 1
        if seen[combo] > limit:
            return False
    return True


def _freeze(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    return (type(v).__name__ if isinstance(v, bool) else "", v)


def inline_refs(schema: dict, limit: int = 40):
    """``schema`` with every local ``$ref`` replaced by (a copy of) its target, so subschemas stand
    alone; None when a reference is recursive or goes outside the document."""
    def target(ref: str):
        if not ref.startswith("#"):
            return None
        node = schema
        for part in [p.replace("~1", "/").replace("~0", "~") for p in ref[1:].split("/") if p]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return None
        return node

    def walk(node, depth):
        if depth > limit:
            raise RecursionError
        if isinstance(node, list):
            return [walk(n, depth) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            t = target(node["$ref"])
            if t is None:
                raise LookupError(node["$ref"])
            rest = {k: v for k, v in node.items() if k != "$ref"}
            resolved = walk(t, depth + 1)
            if rest:  # 2019-09: $ref beside other keywords applies both
                return {"allOf": [resolved, walk(rest, depth + 1)]}
            return resolved
        return {k: (v if k in ("enum", "const", "default", "examples", "required", "selectors") else walk(v, depth))
                for k, v in node.items()}

    try:
        return walk(schema, 0)
    except (RecursionError, LookupError):
        return None
