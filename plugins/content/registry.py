"""The data-model folder: which model applies to a product on a platform, and each model's
version stamp.

```
models/
  mapping.toml                                   brand category -> model per platform
  amazon/<MKT>/<PRODUCT_TYPE>/definition.json    getDefinitionsProductType answer (links removed)
  amazon/<MKT>/<PRODUCT_TYPE>/schema.json        the product type's JSON Schema
  amazon/<MKT>/<PRODUCT_TYPE>/history/<stamp>/   earlier versions, kept on every change
  amazon/_meta/meta-schema.json                  Amazon's meta-schema (registered for $refs)
  ebay/<EBAY_DE>/tree.json                       {categoryTreeId, categoryTreeVersion}
  ebay/<EBAY_DE>/<treeId>/<categoryId>.aspects.json
  <platform>/<model>.toml | .json                models people write (ManoMano, MALL, Otto)
```

``mapping.toml``::

    [categories."Koffer"]            # the brand's own category (column category)
    amazon = "LUGGAGE"               # by platform type / folder …
    ebay_de = "11700"                # … or by platform name (wins)
    manomano = "suitcases"

    [brands."BrandX".categories."Koffer"]   # a brand's own mapping wins over the shared one
    amazon = "SUITCASE"

    [attributes.amazon]              # our field -> the platform's attribute name
    model = "model_name"

    [aspects.EBAY_DE]                # our field -> eBay's localised aspect name
    brand = "Marke"

A row can override the mapping: ``amazon_product_type``, ``ebay_category_id``, or
``<platform>_model`` / ``<platform>_category`` (platform name or folder).

A stamp changes whenever the model file's bytes change (sha256), and also carries the platform's
own version (Amazon ``productTypeVersion`` + schema checksum, eBay ``categoryTreeVersion``, a
TOML model's ``version``), so every report can name exactly what it was checked against.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from .model_base import Model
from .model_ebay import EbayModel
from .model_file import FileModel

ROW_OVERRIDES = {"amazon": ("amazon_product_type",), "ebay": ("ebay_category_id",)}


class MappingError(ValueError):
    pass


def instance_path(app, text: str) -> Path:
    """A configured path: absolute as written, else relative to the config file's folder (the
    instance folder when the config has no file, as in tests and embedding)."""
    p = Path(text).expanduser()
    if p.is_absolute():
        return p
    cfg_path = (app.config or {}).get("_path")
    base = Path(cfg_path).parent if cfg_path else Path(app.config["daemon"]["state_dir"]).parent
    return base / p


def models_root(app, settings) -> Path:
    return instance_path(app, settings.models_dir)


class Registry:
    def __init__(self, root: Path, settings):
        self.root = Path(root)
        self.settings = settings
        self._models: dict[str, Model] = {}
        self.used: dict[str, str] = {}        # "platform:model key" -> stamp, for the report header
        self.mapping_error: str | None = None
        self.mapping = self._load_mapping()

    def _load_mapping(self) -> dict:
        path = self.root / "mapping.toml"
        if not path.is_file():
            return {}
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            self.mapping_error = f"{path}: {exc}"
            return {}
        return doc

    # -- which model ------------------------------------------------------------------------------
    def reference(self, platform: str, ps, product) -> tuple[str, str]:
        """(model reference, category) for a product on a platform; "" when none applies."""
        folder = ps.model_folder(platform)
        for col in ROW_OVERRIDES.get(ps.type, ()) + (f"{platform}_model", f"{folder}_model", f"{platform}_category",
                                                      f"{folder}_category"):
            v = product.get(col)
            if v:
                return v, product.get("category")
        category = product.get("category")
        if not category:
            return "", ""
        brand_map = ((self.mapping.get("brands") or {}).get(product.brand) or {}).get("categories") or {}
        shared = (self.mapping.get("categories") or {})
        for table in (brand_map.get(category) or {}, shared.get(category) or {}):
            for key in (platform, folder, ps.type):
                v = table.get(key)
                if v:
                    return str(v), category
        return "", category

    def attribute_map(self, platform: str, ps) -> dict:
        tables = self.mapping.get("aspects" if ps.type == "ebay" else "attributes") or {}
        out: dict = {}
        for key in (ps.type, ps.model_folder(platform), ps.marketplace, platform):
            if key and isinstance(tables.get(key), dict):
                out.update({str(k): str(v) for k, v in tables[key].items()})
        return out

    @staticmethod
    def key_for(platform: str, ps, ref: str) -> str:
        folder = ps.model_folder(platform)
        if ps.type in ("amazon", "ebay"):
            return f"{folder}/{ps.marketplace or platform}/{ref}"
        return f"{folder}/{ref}"

    def model(self, platform: str, ps, ref: str) -> Model | None:
        """The model, or None when its file is not there; either way the stamp is noted for the
        run (``missing`` for an absent model, so its arrival later counts as a change)."""
        key = self.key_for(platform, ps, ref)
        if key in self._models:
            m = self._models[key]
        else:
            m = self._models[key] = self._load(key, ps)
        self.used[f"{platform}:{key}"] = m.stamp if m is not None else "missing"
        return m

    def _load(self, key: str, ps) -> Model | None:
        base = self.root / key
        if ps.type == "amazon":
            if not (base / "schema.json").is_file():
                return None
            from .model_amazon import AmazonModel  # jsonschema: imported when an Amazon model is read

            return AmazonModel.load(key, base, self.root / key.split("/")[0] / "_meta")
        if ps.type == "ebay":
            folder, market, category = key.split("/", 2)
            mdir = self.root / folder / market
            tree = {}
            if (mdir / "tree.json").is_file():
                try:
                    tree = json.loads((mdir / "tree.json").read_bytes())
                except ValueError:
                    tree = {}
            tree_id = str(tree.get("categoryTreeId") or "")
            candidates = ([mdir / tree_id / f"{category}.aspects.json"] if tree_id else []) + \
                sorted(mdir.glob(f"*/{category}.aspects.json"))
            for path in candidates:
                if path.is_file():
                    return EbayModel.load(key, path, str(tree.get("categoryTreeVersion") or ""))
            return None
        for ext in (".toml", ".json"):
            path = base.with_name(base.name + ext)
            if path.is_file():
                return FileModel.load(key, path)
        return None

    def known_attributes(self) -> set[str]:
        """Our fields that models or the mapping read (not reported as unknown columns): every
        file model's attributes and every mapping entry's field."""
        out: set[str] = set()
        for table in ("attributes", "aspects"):
            for mp in (self.mapping.get(table) or {}).values():
                if isinstance(mp, dict):
                    out.update(mp)
        for path in sorted(self.root.glob("*/*.toml")) + sorted(self.root.glob("*/*.json")):
            if path.name == "mapping.toml" or path.parent.name.startswith("_"):
                continue
            m = FileModel.load(f"{path.parent.name}/{path.stem}", path)
            out |= m.attributes()
        return out

    def stamps_for(self, keys) -> dict:
        return {k: self.used[k] for k in sorted(keys) if k in self.used}
