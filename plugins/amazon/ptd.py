"""Product Type Definitions API v2020-09-01: the data models the content plugin checks listings
against, fetched for it through the Amazon channel (``capabilities.data_models``; plugins never
import each other, so the content plugin calls ``app.channel(name).fetch_data_model(...)``).

- ``getDefinitionsProductType``: ``GET /definitions/2020-09-01/productTypes/{productType}`` with
  exactly one ``marketplaceIds`` ("limited to one marketplaceId"), ``requirements``,
  ``requirementsEnforced``, ``locale`` and optionally ``sellerId``. The answer links the schema and
  the meta-schema as presigned URLs (valid seven days): they are fetched with a plain GET without
  SP-API headers, like report documents, and never stored (the links are removed from the stored
  definition).
- ``searchDefinitionsProductTypes``: ``keywords`` or ``itemName`` (not both).

Default usage plan of both operations: 5 requests/s, burst 10 (the model's "Usage Plan" table).
The schema ``checksum`` is documented as "Base64 MD5" but the sandbox answers 32 hex characters,
so it is compared for equality only: an unchanged checksum skips the download.
"""
from __future__ import annotations

import json

from .client import SpApiClient, SpApiError

PTD = "/definitions/2020-09-01/productTypes"
PTD_LIMITS = {"searchDefinitionsProductTypes": (5.0, 10.0), "getDefinitionsProductType": (5.0, 10.0)}


def _limits(api: SpApiClient) -> None:
    for op, lim in PTD_LIMITS.items():  # the channel's own `limits` overrides stay as they are
        api.limiter.limits.setdefault(op, lim)


def get_definition(api: SpApiClient, product_type: str, marketplace_id: str, *, requirements: str = "LISTING",
                   enforced: str = "ENFORCED", locale: str = "DEFAULT", seller_id: str | None = None,
                   version: str | None = None) -> dict:
    _limits(api)
    params = {"marketplaceIds": [marketplace_id], "requirements": requirements, "requirementsEnforced": enforced,
              "locale": locale, "sellerId": seller_id, "productTypeVersion": version}
    resp = api.call("GET", f"{PTD}/{product_type}", "getDefinitionsProductType", params=params)
    return api._json(resp, "getDefinitionsProductType")


def search(api: SpApiClient, marketplace_id: str, *, keywords: list[str] | None = None,
           item_name: str | None = None, locale: str | None = None) -> list[dict]:
    if bool(keywords) == bool(item_name):
        raise ValueError("give keywords or item_name, not both")
    _limits(api)
    params = {"marketplaceIds": [marketplace_id], "keywords": keywords, "itemName": item_name, "locale": locale}
    doc = api._json(api.call("GET", PTD, "searchDefinitionsProductTypes", params=params),
                    "searchDefinitionsProductTypes")
    return list(doc.get("productTypes") or [])


def download(api: SpApiClient, link: dict, what: str) -> bytes:
    url = (link or {}).get("resource")
    if not url:
        raise SpApiError("getDefinitionsProductType", 200, [{"code": "NoLink", "message": f"the {what} has no link"}])
    resp = api.download_http.request("GET", url, operation="download")
    if resp.status_code != 200:
        raise SpApiError("download", resp.status_code, [{"code": "Download", "message": f"{what}: HTTP {resp.status_code}"}],
                         hint="the presigned link is valid seven days; the definition is asked for again next time")
    try:
        json.loads(resp.content)
    except ValueError:
        raise SpApiError("download", resp.status_code, [{"code": "Download", "message": f"{what} is not JSON"}]) from None
    return resp.content


def data_model(api: SpApiClient, product_type: str, marketplace_id: str, country: str, *,
               known_checksum: str | None = None, requirements: str = "LISTING", seller_id: str | None = None) -> dict | None:
    """The content plugin's model document for a product type, or None when its schema checksum
    equals ``known_checksum`` (nothing is downloaded then)."""
    definition = get_definition(api, product_type, marketplace_id, requirements=requirements, seller_id=seller_id)
    checksum = ((definition.get("schema") or {}).get("checksum")) or ""
    if known_checksum and checksum == known_checksum:
        return None
    schema = download(api, (definition.get("schema") or {}).get("link"), "schema")
    meta = None
    if definition.get("metaSchema"):
        meta = download(api, definition["metaSchema"].get("link"), "meta-schema")
    stored = json.loads(json.dumps(definition))
    for key in ("schema", "metaSchema"):  # presigned URLs carry signatures and expire: never stored
        if isinstance((stored.get(key) or {}).get("link"), dict):
            stored[key]["link"]["resource"] = ""
    return {"format": "amazon.ptd", "model": product_type, "marketplace": country,
            "version": (definition.get("productTypeVersion") or {}).get("version", ""), "checksum": checksum,
            "files": {"definition.json": json.dumps(stored, indent=1, sort_keys=True).encode(), "schema.json": schema},
            "meta_schema": meta}
