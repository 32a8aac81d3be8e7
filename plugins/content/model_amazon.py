"""An Amazon product type (``models/amazon/<MKT>/<PRODUCT_TYPE>/{definition,schema}.json``): the
listing attributes built from a product in Amazon's shape, checked by the product type's JSON
Schema (:mod:`.ptd_validator`).

The instance follows Amazon's listing attribute shape (``{attr: [{value, language_tag,
marketplace_id}]}``, as in the JSON_LISTINGS_FEED example); an item gets ``language_tag`` and
``marketplace_id`` only where the schema's item defines them. Only attributes the schema defines
are emitted, so a field the product type does not know is never sent. ``attr.<name>`` columns pass
a value through (JSON text — ``[{"value": …}]`` — is taken as the whole attribute). Parents carry
``parentage_level = parent`` and children their ``child_parent_sku_relationship``, so the schema's
conditionals for variations apply.
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

from . import gpsr
from .model_base import Evaluation, Model, sha12
from .ptd_validator import ProductTypeSchema, schema_issues
from .values import truthy

# Our field -> Amazon attribute (overridable per attribute in mapping.toml [attributes.amazon]).
DEFAULT_ATTRIBUTES = {
    "title": "item_name", "description": "product_description", "keywords": "generic_keyword", "brand": "brand",
    "color": "color", "size": "size", "material": "material", "model": "model_number", "mpn": "part_number",
    "manufacturer": "manufacturer", "item_type_keyword": "item_type_keyword", "country_of_origin": "country_of_origin",
    "department": "department", "target_gender": "target_gender", "style": "style", "pattern": "pattern",
    "batteries_included": "batteries_required", "battery_type": "battery",
}


def _coerce(item_schema: dict, text: str):
    kind = ((item_schema.get("properties") or {}).get("value") or {}).get("type")
    if kind == "boolean":
        b = truthy(text)
        return text if b is None else b
    if kind in ("number", "integer"):
        try:
            d = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return text
        return int(d) if kind == "integer" and d == d.to_integral_value() else d
    return text


class AmazonModel(Model):
    platform_type = "amazon"

    def __init__(self, key: str, path: Path, schema: ProductTypeSchema | None, definition: dict, stamp: str,
                 error: str | None = None):
        super().__init__(key, Path(key).name, path, stamp, error)
        self.ptd = schema
        self.definition = definition
        self.version = ((definition.get("productTypeVersion") or {}).get("version")) or ""
        ids = definition.get("marketplaceIds") or []
        self.marketplace_id = ids[0] if ids else ""
        self._item_flags: dict[str, tuple[bool, bool]] = {}
        self._plan_for: dict | None = None
        self._plan_list: list[tuple[str, str]] = []

    @classmethod
    def load(cls, key: str, folder: Path, meta_dir: Path | None = None) -> "AmazonModel":
        schema_path = folder / "schema.json"
        try:
            data = schema_path.read_bytes()
            schema = json.loads(data)
            definition = json.loads((folder / "definition.json").read_bytes()) if (folder / "definition.json").is_file() else {}
            if not isinstance(schema, dict):
                raise ValueError("schema.json is not a JSON object")
        except (OSError, ValueError) as exc:
            data = schema_path.read_bytes() if schema_path.is_file() else b""
            return cls(key, folder, None, {}, f"unreadable+{sha12(data)}" if data else "unreadable", error=str(exc))
        checksum = ((definition.get("schema") or {}).get("checksum")) or ""
        version = ((definition.get("productTypeVersion") or {}).get("version")) or "local"
        meta = None
        if meta_dir is not None:
            mpath = meta_dir / "meta-schema.json"
            if mpath.is_file():
                try:
                    meta = json.loads(mpath.read_bytes())
                except ValueError:
                    meta = None
        stamp = f"{version}+{checksum[:8] or '-'}+{sha12(data)}"
        return cls(key, folder, ProductTypeSchema(schema, meta_schema=meta, name=key, checksum=checksum or sha12(data)),
                   definition, stamp)

    def attributes(self) -> set[str]:
        return set(DEFAULT_ATTRIBUTES) | (self.ptd.properties if self.ptd else set())

    def notices(self) -> list:
        from . import issues as I

        out = [I.make("model.unsupported_keyword", I.INFO, attribute="schema", value=kw, model=self.key)
               for kw in (self.ptd.unsupported if self.ptd else [])]
        out += [I.make("model.external_ref", I.INFO, attribute="schema", value=ref, model=self.key)
                for ref in sorted(self.ptd.external_refs if self.ptd else [])]
        return out

    # -- the instance ----------------------------------------------------------------------------
    def _plan(self, attribute_map: dict) -> list[tuple[str, str]]:
        """Our field -> Amazon attribute, only for attributes this product type defines (the others
        are never emitted), worked out once per mapping table rather than per cell."""
        if self._plan_for is not attribute_map:
            props = self.ptd.properties
            self._plan_list = [(o, t) for o, t in {**DEFAULT_ATTRIBUTES, **attribute_map}.items() if t in props]
            self._plan_for = attribute_map
        return self._plan_list

    def instance(self, product, locale: str, ctx) -> dict:
        ptd = self.ptd
        props = ptd.properties
        mid = ctx.settings.marketplace_id or self.marketplace_id

        flags = self._item_flags

        def item(attr: str, fields: dict) -> dict:
            f = flags.get(attr)
            if f is None:  # which of the two the attribute's item defines, worked out once per attribute
                names = ptd.item_schema(attr).get("properties") or {}
                f = flags[attr] = ("language_tag" in names, "marketplace_id" in names)
            out = dict(fields)
            if f[0]:
                out["language_tag"] = locale
            if f[1] and mid:
                out["marketplace_id"] = mid
            return out

        def put(attr: str, values: list[str]):
            if attr not in props or not values:
                return
            spec = ptd.item_schema(attr)
            if "value" not in (spec.get("properties") or {}) and spec:
                return  # a structured attribute: only an attr.<name> JSON column can fill it
            inst[attr] = [item(attr, {"value": _coerce(spec, v)}) for v in values]

        inst: dict = {}
        for ours, theirs in self._plan(ctx.attribute_map):
            v = product.get(ours, locale)
            if v:
                put(theirs, [v])
        put("bullet_point", product.bullets(locale))
        ean = product.get("ean")
        if ean:
            for attr in ("externally_assigned_product_identifier", "external_product_id"):
                if attr in props:
                    inst[attr] = [item(attr, {"type": "ean", "value": ean})]
                    break
        for i, ref in enumerate(product.images[:9]):
            attr = "main_product_image_locator" if i == 0 else f"other_product_image_locator_{i}"
            if attr in props:
                inst[attr] = [item(attr, {"media_location": ref})]
        theme = product.get("variation_theme")
        if product.is_parent and "parentage_level" in props:
            inst["parentage_level"] = [item("parentage_level", {"value": "parent"})]
            if theme and "variation_theme" in props:
                inst["variation_theme"] = [{"name": theme}]
        elif product.parent:
            if "parentage_level" in props:
                inst["parentage_level"] = [item("parentage_level", {"value": "child"})]
            if "child_parent_sku_relationship" in props:
                inst["child_parent_sku_relationship"] = [item("child_parent_sku_relationship", {
                    "child_relationship_type": "variation", "parent_sku": product.parent})]
        offer = ctx.offer or {}
        if offer.get("price") and "purchasable_offer" in props and not product.is_parent:
            inst["purchasable_offer"] = [item("purchasable_offer", {
                "currency": offer.get("currency") or "EUR",
                "our_price": [{"schedule": [{"value_with_tax": Decimal(str(offer["price"]))}]}]})]
        if offer.get("stock") not in (None, "") and "fulfillment_availability" in props and not product.is_parent:
            inst["fulfillment_availability"] = [{"fulfillment_channel_code": "DEFAULT", "quantity": int(offer["stock"])}]
        if ctx.gpsr_record is not None and ctx.settings.gpsr_kind() == "amazon":
            rendered = gpsr.render_amazon(ctx.gpsr_record, props, mid, locale,
                                          ctx.settings.safety_languages or None)
            for k, v in rendered.items():
                inst.setdefault(k, v)
        for key in list(product.common) + list(product.local.get(locale, {})):
            if key.startswith("attr.") and key[5:] in props:
                raw = product.get(key, locale)
                if raw[:1] in "[{":
                    try:
                        doc = json.loads(raw, parse_float=Decimal)
                    except ValueError:
                        doc = None
                    if doc is not None:
                        inst[key[5:]] = doc if isinstance(doc, list) else [doc]
                        continue
                put(key[5:], [raw])
        return inst

    def evaluate(self, product, locale: str, ctx) -> Evaluation:
        inst = self.instance(product, locale, ctx)
        required = list(self.ptd.required)
        missing = [r for r in required if not inst.get(r)]
        errors = self.ptd.errors(inst)
        issues = schema_issues(errors, sku=product.sku, platform=ctx.platform, locale=locale, parent=product.parent)
        return Evaluation(required, missing, issues, inst)
