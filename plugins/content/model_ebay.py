"""eBay item aspects of one leaf category, as ``getItemAspectsForCategory`` answers them (the
``AspectMetadata`` object of the Taxonomy API), stored per marketplace and category tree:
``models/ebay/<EBAY_DE>/<categoryTreeId>/<categoryId>.aspects.json``, with the tree's version in
``models/ebay/<EBAY_DE>/tree.json``.

Aspect names are localised (``Marke``, ``Farbe``), so ``mapping.toml`` maps our fields to them per
marketplace (``[aspects.EBAY_DE] brand = "Marke"``); an ``attr.<Aspect name>`` column passes a value
through unchanged, and a field whose name matches the aspect (``Brand``/``brand``) needs no mapping.
Rules (research §1.3, Taxonomy ``AspectConstraint``): required → ERROR; recommended → WARNING;
SELECTION_ONLY outside the value list, cardinality SINGLE with several values, a value longer than
``aspectMaxLength``, a DATE/NUMBER that does not parse, a value whose ``valueConstraints`` the
control aspect does not meet → ERROR; ``expectedRequiredByDate`` → WARNING. The Inventory API
also limits the product: title ≤ 80, description ≤ 4000, aspect values ≤ 50 (WARNING where the
category gives no ``aspectMaxLength``). Title, description and a first image count as required.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import issues as I
from .model_base import Evaluation, Model, sha12
from .model_file import lookup
from .values import short, split_list

BASE_REQUIRED = ("title", "description", "image_1")
PRODUCT_LIMITS = {"title": 80, "description": 4000}
DEFAULT_VALUE_MAX = 50
_FORMATS = {"YYYY": r"\d{4}", "YYYYMM": r"\d{6}", "YYYYMMDD": r"\d{8}",
            "int32": r"[+-]?\d{1,10}", "double": r"[+-]?(\d+([.,]\d+)?|[.,]\d+)"}


class EbayModel(Model):
    platform_type = "ebay"

    def __init__(self, key: str, path: Path, doc: dict | None, data: bytes, tree_version: str = "",
                 error: str | None = None):
        stamp = f"{tree_version or 'untracked'}+{sha12(data)}" if data else "unreadable"
        super().__init__(key, Path(key).name, path, stamp, error)
        self.aspects: list[dict] = [a for a in (doc or {}).get("aspects") or [] if isinstance(a, dict)
                                    and a.get("localizedAspectName")]
        self.by_name = {a["localizedAspectName"]: a for a in self.aspects}
        self._allowed = [{v.get("localizedValue"): v for v in a.get("aspectValues") or [] if isinstance(v, dict)}
                         for a in self.aspects]
        self._sources_for: dict | None = None
        self._sources_list: list = []

    @classmethod
    def load(cls, key: str, path: Path, tree_version: str = "") -> "EbayModel":
        try:
            data = path.read_bytes()
            doc = json.loads(data)
            if not isinstance(doc, dict) or not isinstance(doc.get("aspects"), list):
                raise ValueError("it is not a getItemAspectsForCategory answer (no aspects list)")
        except (OSError, ValueError) as exc:
            data = path.read_bytes() if path.is_file() else b""
            return cls(key, path, None, data, tree_version, error=str(exc))
        return cls(key, path, doc, data, tree_version)

    def attributes(self) -> set[str]:
        return {a["localizedAspectName"].casefold() for a in self.aspects}

    def _sources(self, names: dict) -> list[tuple[str, list[str], str]]:
        """Per aspect: its name, our fields mapped to it (in mapping order) and the field named
        like it; worked out once per mapping table, not per cell."""
        if self._sources_for is not names:
            self._sources_list = [(a["localizedAspectName"], [o for o, t in names.items() if t == a["localizedAspectName"]],
                                   a["localizedAspectName"].casefold().replace(" ", "_")) for a in self.aspects]
            self._sources_for = names
        return self._sources_list

    @staticmethod
    def _values(product, aspect: str, locale: str, ours: list[str], own_name: str) -> list[str]:
        raw = product.get("attr." + aspect, locale)
        if not raw:
            for field in ours:
                raw = lookup(product, field, locale)
                if raw:
                    break
        if not raw:
            raw = product.get(own_name, locale)
        return split_list(raw, "|") if raw else []

    def evaluate(self, product, locale: str, ctx) -> Evaluation:
        plat, sku, parent = ctx.platform, product.sku, product.parent
        names = ctx.attribute_map
        required, missing, issues = [], [], []
        for field in BASE_REQUIRED:
            required.append(field)
            if not lookup(product, field, locale):
                missing.append(field)
                issues.append(I.make("model.required", I.ERROR, sku=sku, platform=plat,
                                     locale="" if field == "image_1" else locale, attribute=field, parent=parent,
                                     missing=True))
        for field, top in PRODUCT_LIMITS.items():
            v = product.get(field, locale)
            if len(v) > top:
                issues.append(I.make("ebay.product.max_length", I.ERROR, sku=sku, platform=plat, locale=locale,
                                     attribute=field, value=short(v, 80), expected=str(top), length=len(v), parent=parent))
        values = {name: self._values(product, name, locale, ours, own) for name, ours, own in self._sources(names)}
        for a, allowed in zip(self.aspects, self._allowed):
            name = a["localizedAspectName"]
            c = a.get("aspectConstraint") or {}
            got = values[name]
            where = dict(sku=sku, platform=plat, locale=locale, attribute=name, parent=parent, aspect=name)
            if c.get("aspectRequired"):
                required.append(name)
                if not got:
                    missing.append(name)
                    issues.append(I.make("ebay.aspect.required", I.ERROR, missing=True, **where))
            elif not got and c.get("expectedRequiredByDate"):
                issues.append(I.make("ebay.aspect.required_soon", I.WARNING, expected=str(c["expectedRequiredByDate"])[:10],
                                     **where))
            elif not got and c.get("aspectUsage") == "RECOMMENDED":
                issues.append(I.make("ebay.aspect.recommended", I.WARNING, **where))
            if not got:
                continue
            if c.get("itemToAspectCardinality") == "SINGLE" and len(got) > 1:
                issues.append(I.make("ebay.aspect.cardinality", I.ERROR, value=short(" | ".join(got)), count=len(got),
                                     **where))
            for v in got:
                if c.get("aspectMode") == "SELECTION_ONLY" and allowed and v not in allowed:
                    issues.append(I.make("ebay.aspect.selection_only", I.ERROR, value=short(v),
                                         expected=short(" | ".join(list(allowed)[:20])), **where))
                top = c.get("aspectMaxLength")
                if top and len(v) > int(top):
                    issues.append(I.make("ebay.aspect.max_length", I.ERROR, value=short(v), expected=str(top), **where))
                elif not top and len(v) > DEFAULT_VALUE_MAX:
                    issues.append(I.make("ebay.aspect.max_length", I.WARNING, value=short(v),
                                         expected=str(DEFAULT_VALUE_MAX), **where))
                fmt = c.get("aspectFormat") or ""
                kind = c.get("aspectDataType") or ""
                if kind in ("DATE", "NUMBER") and fmt in _FORMATS and not re.fullmatch(_FORMATS[fmt], v):
                    issues.append(I.make("ebay.aspect.format", I.ERROR, value=short(v), expected=f"{kind} {fmt}",
                                         **where))
                for vc in (allowed.get(v) or {}).get("valueConstraints") or []:
                    control = vc.get("applicableForLocalizedAspectName")
                    ok_values = vc.get("applicableForLocalizedAspectValues") or []
                    if control and not set(values.get(control, [])) & set(ok_values):
                        issues.append(I.make("ebay.aspect.value_constraint", I.ERROR, value=short(v),
                                             expected=short(f"{control} is {' or '.join(ok_values)}"), **where))
        payload = {"categoryId": self.name,
                   "product": {"title": product.get("title", locale), "description": product.get("description", locale),
                               "aspects": {k: v for k, v in sorted(values.items()) if v},
                               "imageUrls": [i for i in product.images if i.startswith(("http://", "https://"))],
                               **({"ean": [product.get("ean")]} if product.get("ean") else {}),
                               **({"mpn": product.get("mpn")} if product.get("mpn") else {}),
                               **({"brand": product.get("brand")} if product.get("brand") else {})}}
        return Evaluation(required, missing, issues, payload)
