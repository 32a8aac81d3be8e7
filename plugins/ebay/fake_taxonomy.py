"""The Taxonomy API side of the fake eBay (``fake.py``), under ``/commerce/taxonomy/v1``, for an
**application** token (``client_credentials``, scope ``https://api.ebay.com/oauth/api_scope``):

- ``GET /get_default_category_tree_id?marketplace_id=`` → ``{categoryTreeId, categoryTreeVersion}``
  (an unknown marketplace: 400 ``62002``; the parameter missing: 400 ``62003``);
- ``GET /category_tree/{id}/get_category_suggestions?q=`` → ``categorySuggestions`` (leaf
  categories whose name or keywords share a word with ``q``, most shared words first, with their
  ancestors), 204 when nothing matches; ``q`` missing: 400 ``62007``; an unknown tree: 400 ``62004``;
- ``GET /category_tree/{id}/get_item_aspects_for_category?category_id=`` → ``AspectMetadata``
  (``aspects[]`` with ``aspectConstraint`` and ``aspectValues``); not a leaf: 400 ``62006``;
  unknown: 400 ``62005``; missing: 400 ``62008``; a leaf without aspects: 204.

``categories`` holds the tree (id → name, parent, keywords, aspects); ``set_aspects`` replaces a
category's aspects and moves the tree version on, as eBay does when its model changes.
"""
from __future__ import annotations

import json
import re

from .fake_orders import Reply, error

TAX = "/commerce/taxonomy/v1"
TAXONOMY_ROUTES = [
    ("GET", TAX + r"/get_default_category_tree_id", "getDefaultCategoryTreeId"),
    ("GET", TAX + r"/category_tree/(?P<category_tree_id>[^/]+)/get_category_suggestions", "getCategorySuggestions"),
    ("GET", TAX + r"/category_tree/(?P<category_tree_id>[^/]+)/get_item_aspects_for_category",
     "getItemAspectsForCategory"),
]
TAXONOMY_OPS = {op for _, _, op in TAXONOMY_ROUTES}
TREES = {"EBAY_DE": "77", "EBAY_AT": "16", "EBAY_IT": "101", "EBAY_FR": "71", "EBAY_ES": "186", "EBAY_GB": "3",
         "EBAY_US": "0"}


def _tax_error(error_id: int, message: str, **params) -> dict:
    return error(error_id, message, domain="API_TAXONOMY", parameters=params or None)


def _aspect(name: str, required: bool, *, values=(), mode: str = "FREE_TEXT", usage: str | None = None,
            variations: bool = False) -> dict:
    return {"localizedAspectName": name,
            "aspectConstraint": {"aspectDataType": "STRING", "aspectMode": mode, "aspectRequired": required,
                                 "aspectUsage": usage or ("RECOMMENDED" if required else "OPTIONAL"),
                                 "aspectEnabledForVariations": variations, "itemToAspectCardinality": "SINGLE",
                                 "aspectApplicableTo": ["ITEM"]},
            **({"aspectValues": [{"localizedValue": v} for v in values]} if values else {})}


def default_categories() -> dict[str, dict]:
    """A small German tree: Reisegepäck > Koffer (a leaf with aspects), Küche > Töpfe."""
    return {
        "11700": {"name": "Reisegepäck", "parent": None, "leaf": False, "keywords": []},
        "16080": {"name": "Koffer", "parent": "11700", "leaf": True, "keywords": ["koffer", "hartschale", "trolley"],
                  "aspects": [_aspect("Marke", True), _aspect("Farbe", False, values=("Blau", "Grün", "Schwarz"),
                                                                          usage="RECOMMENDED", variations=True),
                              _aspect("Größe", False, values=("S", "M", "L"), mode="SELECTION_ONLY", variations=True),
                              _aspect("Material", False)]},
        "20625": {"name": "Küche, Haushalt & Wohnen", "parent": None, "leaf": False, "keywords": []},
        "20652": {"name": "Töpfe", "parent": "20625", "leaf": True, "keywords": ["topf", "kochtopf"],
                  "aspects": [_aspect("Marke", True), _aspect("Material", True, values=("Edelstahl", "Gusseisen"))]},
    }


class TaxonomyApi:
    """Mixin of :class:`~marketd.plugins.ebay.fake.EbayFake`."""

    def _init_taxonomy(self) -> None:
        self.categories: dict[str, dict] = default_categories()
        self.tree_version = 129

    def set_aspects(self, category_id: str, aspects: list[dict]) -> None:
        with self.lock:
            self.categories[category_id]["aspects"] = json.loads(json.dumps(aspects))
            self.tree_version += 1

    def _tree(self, tree_id: str) -> Reply | None:
        if tree_id not in TREES.values():
            return Reply(400, _tax_error(62004, "The specified category tree ID was not found.",
                                         categoryTreeId=tree_id))
        return None

    def _op_getDefaultCategoryTreeId(self, req) -> Reply:
        market = req.q("marketplace_id")
        if not market:
            return Reply(400, _tax_error(62003, "Missing marketplace ID."))
        if market not in TREES:
            return Reply(400, _tax_error(62002, "The specified marketplace ID was not found.", marketplaceId=market))
        return Reply(200, {"categoryTreeId": TREES[market], "categoryTreeVersion": str(self.tree_version)})

    def _ancestors(self, cid: str) -> list[dict]:
        out, level = [], 0
        parent = self.categories[cid]["parent"]
        chain = []
        while parent:
            chain.append(parent)
            parent = self.categories[parent]["parent"]
        for level, pid in enumerate(reversed(chain), start=1):
            out.append({"categoryId": pid, "categoryName": self.categories[pid]["name"], "categoryTreeNodeLevel": level})
        return list(reversed(out))

    def _op_getCategorySuggestions(self, req, category_tree_id: str) -> Reply:
        bad = self._tree(category_tree_id)
        if bad:
            return bad
        q = req.q("q")
        if not q:
            return Reply(400, _tax_error(62007, "Missing or invalid query (q) parameter."))
        words = set(re.findall(r"\w+", q.casefold()))
        scored = []
        for cid, c in self.categories.items():
            if not c["leaf"]:
                continue
            hits = len(words & (set(c["keywords"]) | set(re.findall(r"\w+", c["name"].casefold()))))
            if hits:
                scored.append((-hits, cid))
        if not scored:
            return Reply(204, b"")
        out = [{"category": {"categoryId": cid, "categoryName": self.categories[cid]["name"]},
                "categoryTreeNodeAncestors": self._ancestors(cid),
                "categoryTreeNodeLevel": len(self._ancestors(cid)) + 1, "relevancy": "HIGH" if -h > 1 else "MEDIUM"}
               for h, cid in sorted(scored)]
        return Reply(200, {"categorySuggestions": out, "categoryTreeId": category_tree_id,
                           "categoryTreeVersion": str(self.tree_version)})

    def _op_getItemAspectsForCategory(self, req, category_tree_id: str) -> Reply:
        bad = self._tree(category_tree_id)
        if bad:
            return bad
        cid = req.q("category_id")
        if not cid:
            return Reply(400, _tax_error(62008, "Missing category ID."))
        c = self.categories.get(cid)
        if c is None:
            return Reply(400, _tax_error(62005, "The specified category ID was not found.", categoryId=cid))
        if not c["leaf"]:
            return Reply(400, _tax_error(62006, "The specified category ID is not a leaf category.", categoryId=cid))
        if not c.get("aspects"):
            return Reply(204, b"")
        return Reply(200, {"aspects": c["aspects"]})
