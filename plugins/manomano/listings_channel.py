"""The ManoMano channel's listings side: price and stock only (``listing_kinds = ("offer",)``).

ManoMano takes product content from the seller's catalogue feed, not through this API, so the
content plugin pushes no content here; an offer goes out for a SKU ManoMano already lists (seen
by the pull). ``submit_listings`` PATCHes 100 SKUs per call; a 200 accepts the whole call, a 207
is read SKU by SKU. A PATCH sets values, so a call repeated after a crash sets the same ones.
``fetch_listings`` reads the offers back for the audit (price, stock; ManoMano shows no category
or image here).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from . import offers as api_


def item_of(sku: str, offer: dict) -> dict:
    out: dict = {"sku": sku}
    if offer.get("price") not in (None, ""):
        out["price"] = {"price_vat_included": Decimal(str(offer["price"]))}
    if offer.get("stock") is not None:
        out["stock"] = {"quantity": int(offer["stock"])}
    return out


def results_of(status: int, doc, skus: list[str]) -> dict[str, dict]:
    if status in (200, 204):
        return {s: {"state": "accepted", "issues": []} for s in skus}
    out = {s: {"state": "failed", "issues": [{"code": "missing", "severity": "ERROR", "attribute": "",
                                              "message": "the 207 does not mention this SKU"}]} for s in skus}
    for r in (doc or {}).get("content") or [] if isinstance(doc, dict) else []:
        res = r.get("result") or {}
        if r.get("sku") in out:
            ok = res.get("status") == "SUCCESS"
            out[r["sku"]] = {"state": "accepted" if ok else "invalid",
                             "issues": [] if ok else [{"code": str(res.get("code") or ""), "severity": "ERROR",
                                                       "attribute": "", "message": str(res.get("message") or "")}]}
    return out


def submit(ch, batch: dict, save) -> dict:
    handle = dict(batch.get("handle") or {})
    handle.setdefault("transport", "patch")
    results = handle.setdefault("results", {})
    if batch["kind"] != "offer":
        for it in batch["items"]:
            results[it["sku"]] = {"state": "failed", "issues": [{"code": "unsupported", "severity": "ERROR", "attribute": "",
                                  "message": "ManoMano takes content from the catalogue feed, not from marketd"}]}
    todo = [i for i in sorted(batch["items"], key=lambda i: i["sku"]) if i["sku"] not in results]
    for start in range(0, len(todo), api_.BATCH):
        chunk = todo[start:start + api_.BATCH]
        status, doc = api_.patch_offers(ch.api, ch.contract_id, [item_of(i["sku"], i["offer"]) for i in chunk])
        results.update(results_of(status, doc, [i["sku"] for i in chunk]))
        save(handle)
    handle["done"] = True
    save(handle)
    return handle


def poll(ch, handle: dict, save) -> dict | None:
    return {"results": handle.get("results") or {}, "status": "DONE", "transport": handle.get("transport")}


def remote_listing(offer: dict) -> dict:
    price = offer.get("price") or {}
    try:
        amount = Decimal(str(price["price_vat_included"])) if price.get("price_vat_included") is not None else None
    except InvalidOperation:
        amount = None
    qty = (offer.get("stock") or {}).get("quantity")
    return {"sku": str(offer.get("sku") or ""), "remote_id": str(offer.get("sku") or ""),
            "status": [offer["status"]] if offer.get("status") else [], "live": bool(qty),
            "title": str(offer.get("title") or ""), "category": "", "price": amount,
            "currency": str(price.get("currency") or "EUR"), "quantity": int(qty) if qty is not None else None,
            "main_image_url": "", "issues": [], "url": "", "shows": ["title", "price", "quantity"]}


def fetch(ch, skus: list[str] | None = None):
    for offer in api_.offers(ch.api, ch.contract_id, list(skus or [])):
        yield remote_listing(offer)
