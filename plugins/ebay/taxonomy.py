"""Taxonomy API v1 (``/commerce/taxonomy/v1``): eBay's data model per category — what the
content check reads as ``models/ebay/<marketplace>/<tree>/<category>.aspects.json``
(``content/model_ebay.py``) — fetched for the content-models job (``fetch_data_model``) and
category suggestions for a product text. HTTP only.

The Taxonomy API takes an **application** token (``client_credentials`` with the public scope
``https://api.ebay.com/oauth/api_scope``; ``oauth.EbayAppTokens``), not the seller's. A 204 means
"nothing": no suggestion for the text, no aspects for the leaf.
"""
from __future__ import annotations

import json
from urllib.parse import quote

from .client import EbayApiError, EbayClient, errors_of

TAXONOMY = "/commerce/taxonomy/v1"


def _get(api: EbayClient, path: str, operation: str, query: dict):
    resp = api.call("GET", api.url(api.endpoint, f"{TAXONOMY}{path}", query), operation)
    if resp.status_code == 204:
        return None
    if resp.status_code != 200:
        raise EbayApiError(operation, resp.status_code, errors_of(resp))
    return resp.json()


def default_tree(api: EbayClient, marketplace: str) -> dict:
    """``{categoryTreeId, categoryTreeVersion}`` of the marketplace."""
    return _get(api, "/get_default_category_tree_id", "getDefaultCategoryTreeId", {"marketplace_id": marketplace}) or {}


def suggestions(api: EbayClient, tree_id: str, text: str) -> list[dict]:
    """Leaf categories for a product text, best first: ``{categoryId, categoryName, path}``."""
    doc = _get(api, f"/category_tree/{quote(tree_id, safe='')}/get_category_suggestions",
               "getCategorySuggestions", {"q": text}) or {}
    out = []
    for s in doc.get("categorySuggestions") or []:
        cat = s.get("category") or {}
        path = [a.get("categoryName", "") for a in reversed(s.get("categoryTreeNodeAncestors") or [])]
        out.append({"categoryId": str(cat.get("categoryId") or ""), "categoryName": cat.get("categoryName") or "",
                    "path": " > ".join(path + [cat.get("categoryName") or ""])})
    return out


def aspects(api: EbayClient, tree_id: str, category_id: str) -> dict | None:
    """The category's ``AspectMetadata`` as eBay sends it (None: the leaf has no aspects)."""
    return _get(api, f"/category_tree/{quote(tree_id, safe='')}/get_item_aspects_for_category",
                "getItemAspectsForCategory", {"category_id": category_id})


def data_model(api: EbayClient, marketplace: str, category_id: str) -> dict:
    """The content plugin's ``ebay.aspects`` model document for one category."""
    tree = default_tree(api, marketplace)
    doc = aspects(api, str(tree.get("categoryTreeId") or ""), category_id) or {"aspects": []}
    return {"format": "ebay.aspects", "version": str(tree.get("categoryTreeVersion") or ""),
            "tree": {"categoryTreeId": str(tree.get("categoryTreeId") or ""),
                     "categoryTreeVersion": str(tree.get("categoryTreeVersion") or "")},
            "files": {f"{category_id}.aspects.json": json.dumps(doc, sort_keys=True, indent=1,
                                                                ensure_ascii=False).encode("utf-8")}}
