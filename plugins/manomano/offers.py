"""ManoMano offers (price and stock): the calls behind the channel's listings side. HTTP only.

- ``PATCH /api/v2/offer-information/offers`` ``{content: [{seller_contract_id, items: [{sku,
  price{price_vat_included}, stock{quantity}}]}]}`` → 200, or 207 with a result per SKU
  [research api-contracts §3, third party; the 207 item shape is unverified]. ManoMano freezes
  values patched this way against its later feed imports.
- ``GET /api/v1/offer-information/offers?seller_contract_id&skus&page&limit`` (pages of at most
  100; follow ``pagination.links.next``).

Both take tokens from the key's hourly budget (``client.KeyBudget``, 250 an hour shared by every
contract of the key), like every other call.
"""
from __future__ import annotations

from typing import Iterator

from .client import ManoManoClient, decode

OFFERS_V1 = "/api/v1/offer-information/offers"
OFFERS_V2 = "/api/v2/offer-information/offers"
BATCH = 100          # items per PATCH (ManoMano's maximum is unknown: design Q7)


def patch_offers(api: ManoManoClient, contract_id: int, items: list[dict]) -> tuple[int, object]:
    """(status, decoded body) of one PATCH of at most :data:`BATCH` items."""
    if not 0 < len(items) <= BATCH:
        raise ValueError(f"a PATCH carries 1 to {BATCH} items, not {len(items)}")
    resp = api.call("PATCH", OFFERS_V2, "patchOffers", body={"content": [{"seller_contract_id": contract_id,
                                                                          "items": items}]})
    if resp.status_code not in (200, 204, 207):
        raise api._refused(resp, "patchOffers")
    try:
        return resp.status_code, decode(resp) if resp.content else None
    except ValueError:
        return resp.status_code, None


def offers(api: ManoManoClient, contract_id: int, skus: list[str], limit: int = 100) -> Iterator[dict]:
    """Every offer ManoMano has for ``skus``, asked ``limit`` SKUs at a time with a page of the same
    size, so one page answers each question (no page links to follow)."""
    for start in range(0, len(skus), limit):
        chunk = skus[start:start + limit]
        params = {"seller_contract_id": contract_id, "skus": ",".join(chunk), "page": 1, "limit": limit}
        doc = api._json(api.call("GET", OFFERS_V1, "listOffers", params=params), "listOffers") or {}
        yield from doc.get("content") or []
