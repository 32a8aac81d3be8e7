"""Data models people write as TOML or JSON (ManoMano, MALL, Otto-style category groups).

```toml
[model]
platform = "manomano"
name = "tools-drill"
version = "2026-11-01"
locales = ["fr_FR", "de_DE"]           # optional: the model applies to these locales only

[attributes.title]
required = true
per_locale = true
max_length = 150

[attributes.color]
required = true
allowed = ["rouge", "bleu"]

[[rules]]
when = { attribute = "batteries_included", equals = true }
require = ["battery_type"]
```

Attribute keys: ``required``, ``per_locale``, ``max_length``, ``min_length``, ``allowed``,
``type`` (text, integer, number, boolean, url, ean, date), ``pattern`` (a regular expression the
whole value must match), ``max_values`` (values split on ``|``), ``from`` (our column, when the
platform's name differs), ``variants`` (``all``, ``children``, ``parents``). A rule's ``when``
takes ``equals``, ``in`` or ``filled``. Conditional requirements are issues
(``model.conditional_required``) but stay out of the completeness ratio, which counts the
unconditional requirements only, as Akeneo's does.
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from . import issues as I
from .model_base import Evaluation, Model, sha12
from .values import ean_problem, short, split_list, truthy

ATTRIBUTE_KEYS = {"required", "per_locale", "max_length", "min_length", "allowed", "type", "pattern", "max_values",
                  "from", "variants", "description"}
TYPES = {"text", "integer", "number", "boolean", "url", "ean", "date"}


class ModelFileError(ValueError):
    pass


def load_document(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    try:
        doc = tomllib.loads(data.decode("utf-8")) if path.suffix == ".toml" else json.loads(data)
    except (tomllib.TOMLDecodeError, ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelFileError("the file must hold a table/object")
    return doc, data


def check_document(doc: dict) -> None:
    attrs = doc.get("attributes")
    if not isinstance(attrs, dict) or not attrs:
        raise ModelFileError("it needs an [attributes.<name>] table per attribute")
    for name, spec in attrs.items():
        if not isinstance(spec, dict):
            raise ModelFileError(f"attributes.{name} must be a table")
        unknown = set(spec) - ATTRIBUTE_KEYS
        if unknown:
            raise ModelFileError(f"attributes.{name}: unknown key {sorted(unknown)[0]!r} "
                                 f"(known: {', '.join(sorted(ATTRIBUTE_KEYS))})")
        if spec.get("type", "text") not in TYPES:
            raise ModelFileError(f"attributes.{name}.type = {spec['type']!r}: use {', '.join(sorted(TYPES))}")
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except re.error as exc:
                raise ModelFileError(f"attributes.{name}.pattern is not a regular expression: {exc}") from None
    for i, rule in enumerate(doc.get("rules") or []):
        if not isinstance(rule, dict) or not isinstance(rule.get("when"), dict) or "attribute" not in rule["when"] \
                or not isinstance(rule.get("require"), list):
            raise ModelFileError(f"rules[{i}] needs when = {{ attribute = \"…\", equals = … }} and require = [\"…\"]")


def lookup(product, name: str, locale: str, source: str | None = None) -> str:
    """A platform attribute's value: an ``attr.<name>`` column first, then our field."""
    v = product.get("attr." + name, locale)
    if v:
        return v
    field = source or name
    if field.startswith("image_") and field[6:].isdigit():
        n = int(field[6:])
        return product.images[n - 1] if len(product.images) >= n else ""
    if field == "images":
        return " | ".join(product.images)
    return product.get(field, locale)


def _type_ok(kind: str, value: str) -> bool:
    if kind == "integer":
        return re.fullmatch(r"[+-]?\d+", value) is not None
    if kind == "number":
        return re.fullmatch(r"[+-]?(\d+([.,]\d+)?|[.,]\d+)", value) is not None
    if kind == "boolean":
        return truthy(value) is not None
    if kind == "url":
        return re.fullmatch(r"https?://\S+", value) is not None
    if kind == "ean":
        return ean_problem(value) is None
    if kind == "date":
        return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    return True


def _holds(when: dict, product, locale: str) -> bool:
    value = lookup(product, when["attribute"], locale)
    if "equals" in when:
        want = when["equals"]
        if isinstance(want, bool):
            return truthy(value) is want
        return value.casefold() == str(want).casefold()
    if "in" in when:
        return value.casefold() in {str(x).casefold() for x in when["in"]}
    if "filled" in when:
        return bool(value) is bool(when["filled"])
    return bool(value)


def _condition_text(when: dict) -> str:
    if "equals" in when:
        return f"{when['attribute']} = {json.dumps(when['equals'], ensure_ascii=False)}"
    if "in" in when:
        return f"{when['attribute']} in {json.dumps(when['in'], ensure_ascii=False)}"
    return f"{when['attribute']} is filled"


class FileModel(Model):
    platform_type = "file"

    def __init__(self, key: str, path: Path, doc: dict | None = None, data: bytes = b"", error: str | None = None):
        meta = (doc or {}).get("model") or {}
        version = str(meta.get("version", "")) or "unversioned"
        stamp = f"{version}+{sha12(data)}" if data else "unreadable"
        super().__init__(key, str(meta.get("name") or Path(key).name), path, stamp, error)
        self.version = version
        self.locales = list(meta.get("locales") or [])
        self.spec: dict = (doc or {}).get("attributes") or {}
        self.rules: list = (doc or {}).get("rules") or []

    @classmethod
    def load(cls, key: str, path: Path) -> "FileModel":
        try:
            doc, data = load_document(path)
            check_document(doc)
        except (OSError, ModelFileError) as exc:
            data = path.read_bytes() if path.is_file() else b""
            m = cls(key, path, None, data, error=str(exc))
            m.stamp = f"unreadable+{sha12(data)}" if data else "unreadable"
            return m
        return cls(key, path, doc, data)

    def attributes(self) -> set[str]:
        out = set()
        for name, spec in self.spec.items():
            out.add(spec.get("from") or name)
        for rule in self.rules:
            out.add(rule["when"]["attribute"])
            out.update(rule["require"])
        return out

    def applies(self, locale: str) -> bool:
        return not self.locales or locale in self.locales

    def evaluate(self, product, locale: str, ctx) -> Evaluation:
        required, missing, issues, payload = [], [], [], {}
        plat, sku, parent = ctx.platform, product.sku, product.parent
        for name, spec in self.spec.items():
            variants = spec.get("variants", "all")
            if (variants == "children" and product.is_parent) or (variants == "parents" and not product.is_parent):
                continue
            per_locale = bool(spec.get("per_locale"))
            loc = locale if per_locale else ""
            value = lookup(product, name, locale, spec.get("from"))
            if spec.get("required"):
                required.append(name)
                if not value:
                    missing.append(name)
                    issues.append(I.make("model.required", I.ERROR, sku=sku, platform=plat, locale=loc, attribute=name,
                                         parent=parent, missing=True))
            if not value:
                continue
            payload[name] = value
            issues.extend(self._values(name, spec, value, sku=sku, platform=plat, locale=loc, parent=parent))
        for rule in self.rules:
            if not _holds(rule["when"], product, locale):
                continue
            for name in rule["require"]:
                spec = self.spec.get(name, {})
                if not lookup(product, name, locale, spec.get("from")):
                    issues.append(I.make("model.conditional_required", I.ERROR, sku=sku, platform=plat,
                                         locale=locale if spec.get("per_locale") else "", attribute=name, parent=parent,
                                         condition=_condition_text(rule["when"])))
        return Evaluation(required, missing, issues, payload)

    @staticmethod
    def _values(name: str, spec: dict, value: str, **where) -> list:
        out = []
        values = split_list(value, "|") if spec.get("max_values") or spec.get("allowed") else [value]
        if spec.get("max_values") and len(values) > int(spec["max_values"]):
            out.append(I.make("model.max_values", I.ERROR, attribute=name, value=short(value),
                              expected=str(spec["max_values"]), count=len(values), **where))
        for v in values:
            if "max_length" in spec and len(v) > int(spec["max_length"]):
                out.append(I.make("model.max_length", I.ERROR, attribute=name, value=short(v),
                                  expected=str(spec["max_length"]), length=len(v), **where))
            if "min_length" in spec and len(v) < int(spec["min_length"]):
                out.append(I.make("model.min_length", I.ERROR, attribute=name, value=short(v),
                                  expected=str(spec["min_length"]), length=len(v), **where))
            if spec.get("allowed") and v not in [str(a) for a in spec["allowed"]]:
                out.append(I.make("model.allowed", I.ERROR, attribute=name, value=short(v),
                                  expected=short(" | ".join(str(a) for a in spec["allowed"])), **where))
            kind = spec.get("type", "text")
            if not _type_ok(kind, v):
                out.append(I.make("model.type", I.ERROR, attribute=name, value=short(v), expected=kind, **where))
            if spec.get("pattern") and not re.fullmatch(spec["pattern"], v):
                out.append(I.make("model.pattern", I.ERROR, attribute=name, value=short(v), expected=spec["pattern"],
                                  **where))
        return out
