"""A product as the content checks see it: values that hold for every locale (``common``) and
values per locale (``local``), its images in order, its parent.

A value is looked up in the locale first, then in the common values: a long-layout file puts a
colour on each locale row, a wide one in one column, and both read the same. Children inherit
what their own row leaves empty from the parent (a PIM's product-model semantics), except what
must be the child's own (SKU, EAN, offer, the variation theme's attributes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Per-locale text (design A2 "text (per locale)" plus the GPSR texts).
TEXT_FIELDS = frozenset({"title", "description", "keywords", "gpsr_safety_info", "gpsr_statements"}
                        | {f"bullet_{i}" for i in range(1, 11)})
IDENTITY = frozenset({"sku", "parent_sku", "variation_theme", "brand", "ean", "mpn", "model", "batch", "serial"})
MAPPING = frozenset({"category", "amazon_product_type", "ebay_category_id"})
OFFER = frozenset({"price", "currency", "stock"})
GPSR_PARTY_FIELDS = ("name", "street", "postal_code", "city", "country", "email", "url", "phone")
GPSR = frozenset({"manufacturer_id", "rp_id", "gpsr_safety_docs", "gpsr_attestation", "gpsr_pictograms",
                  "gpsr_component"}
                 | {f"gpsr_manufacturer_{f}" for f in GPSR_PARTY_FIELDS} | {f"gpsr_rp_{f}" for f in GPSR_PARTY_FIELDS})
IMAGE_COLUMNS = frozenset({"images"} | {f"image_{i}" for i in range(1, 10)})
COMMON_ATTRIBUTES = frozenset({"color", "size", "material", "manufacturer", "weight", "width", "height", "depth",
                               "length", "volume", "pattern", "style", "target_gender", "age_group", "department",
                               "country_of_origin", "batteries_included", "battery_type", "item_type_keyword",
                               "product_type_keyword", "title_keywords", "bullets"})
# Known columns whose value holds for every locale (a long-layout conflict between locale rows is an issue).
GLOBAL_FIELDS = IDENTITY | MAPPING | OFFER | GPSR | IMAGE_COLUMNS
KNOWN = GLOBAL_FIELDS | TEXT_FIELDS | COMMON_ATTRIBUTES | {"locale"}
NOT_INHERITED = frozenset({"sku", "parent_sku", "variation_theme", "ean", "price", "stock", "serial", "batch"})


@dataclass
class Product:
    sku: str
    line: int
    common: dict[str, str] = field(default_factory=dict)
    local: dict[str, dict[str, str]] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    own: dict[str, str] = field(default_factory=dict)   # the child's own values before inheritance (theme check)
    children: list[str] = field(default_factory=list)
    # locale -> common values overlaid with that locale's non-empty ones: the checks read ~300
    # values per SKU, one dict lookup each instead of two. Built on first read, so only valid once
    # the product is complete (reading and inheritance done); ``forget`` frees them after a check.
    _views: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def parent(self) -> str:
        return self.common.get("parent_sku", "")

    @property
    def brand(self) -> str:
        return self.common.get("brand", "")

    @property
    def is_parent(self) -> bool:
        return bool(self.children)

    def get(self, name: str, locale: str | None = None) -> str:
        """The locale's value when it has one, else the common value, else ``""``."""
        if locale is None:
            return self.common.get(name, "")
        view = self._views.get(locale)
        if view is None:
            view = dict(self.common)
            for k, v in self.local.get(locale, {}).items():
                if v:
                    view[k] = v
            self._views[locale] = view
        return view.get(name, "")

    def forget(self) -> None:
        self._views.clear()

    def bullets(self, locale: str) -> list[str]:
        out = []
        for i in range(1, 11):
            v = self.get(f"bullet_{i}", locale)
            if v:
                out.append(v)
        return out

    def locales(self) -> list[str]:
        return sorted(self.local)

    def as_json(self) -> dict:
        return {"sku": self.sku, "line": self.line, "common": self.common, "local": self.local,
                "images": self.images, "own": self.own, "children": self.children}

    @classmethod
    def from_json(cls, doc: dict) -> "Product":
        return cls(doc["sku"], int(doc.get("line") or 0), dict(doc.get("common") or {}),
                   {k: dict(v) for k, v in (doc.get("local") or {}).items()}, list(doc.get("images") or []),
                   dict(doc.get("own") or {}), list(doc.get("children") or []))


def theme_attributes(theme: str) -> list[str]:
    """``SIZE/COLOR``, ``size-color``, ``Size, Colour`` → ``["size", "color"]`` (``_name`` suffixes of
    Amazon's themes dropped: ``SIZE_NAME/COLOR_NAME`` names the same attributes)."""
    out = []
    for part in re.split(r"[/,+&\s-]+", theme.strip().lower()):
        part = part.removesuffix("_name")
        part = {"colour": "color"}.get(part, part)
        if part and part not in out:
            out.append(part)
    return out


def inherit(products: dict[str, Product]) -> None:
    """Fill children from their parents (in place) and record each parent's children."""
    for p in products.values():
        parent = products.get(p.parent) if p.parent else None
        if parent is None or parent is p:
            continue
        parent.children.append(p.sku)
        for k, v in parent.common.items():
            if k not in NOT_INHERITED and not p.common.get(k):
                p.common[k] = v
        for loc, values in parent.local.items():
            mine = p.local.setdefault(loc, {})
            for k, v in values.items():
                if not mine.get(k):
                    mine[k] = v
        if not p.images:
            p.images = list(parent.images)
    for p in products.values():
        p.children.sort()
        p.forget()
