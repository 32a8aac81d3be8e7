"""Which SKUs go to a platform now (design §A7 "Gate"):

(a) no ERROR for that platform (nor for the file itself) in its brand's latest completeness run
    (the platforms' own push answers, ``push.*``, excepted: (c) decides when those are re-sent);
(b) the brand is approved for the platform (``[inbox.content.listings] allow``; nothing by default);
(c) what would be sent differs from what the platform last accepted, and nothing for the SKU is in
    flight. Content is the stored platform payload (``content_payloads``, its sha256); an offer is
    the catalog's price, currency and stock (the ``products`` table wins over the content file),
    sent only for SKUs whose content the platform has accepted, and never for parents.
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal


def latest_runs(db) -> list[int]:
    return [r["id"] for r in db.query("select max(id) id from content_runs where finished_at is not null "
                                      "group by brand")]


def blocked_skus(db, platform: str) -> set[str]:
    runs = latest_runs(db)
    if not runs:
        return set()
    marks = ",".join("?" * len(runs))
    return {r["sku"] for r in db.query(
        f"select distinct sku from content_issues where run_id in ({marks}) and severity = 'ERROR' "
        "and (platform = ? or platform = '' or platform is null) and rule not like 'push.%'", [*runs, platform])}


def _pushes(db, platform: str, kind: str) -> dict[str, dict]:
    return {r["sku"]: r for r in db.query("select * from listing_pushes where platform = ? and kind = ?",
                                          [platform, kind])}


def offer_for_sku(db, sku: str, record: dict | None = None) -> dict | None:
    """The offer a content push carries (a platform that needs one to list, eBay): the catalog's
    price and stock, else the content file's."""
    if db["products"].exists():
        row = next(iter(db.query("select price, currency, stock from products where sku = ?", [sku])), None)
        if row is not None:
            return offer_of(row)
    common = (record or {}).get("common") or {}
    return offer_of(common) if common.get("price") else None


def content_candidates(db, platform: str, settings, limit: int) -> list[dict]:
    blocked = blocked_skus(db, platform)
    pushed = _pushes(db, platform, "content")
    remote = {r["sku"] for r in db.query("select sku from remote_listings where platform = ? and present = 1",
                                         [platform])}
    out = []
    for r in db.query("select p.sku, p.model, p.payload, p.sha256, c.brand, c.parent_sku, c.record "
                      "from content_payloads p "
                      "join content_products c on c.sku = p.sku where p.platform = ? order by p.sku", [platform]):
        if r["sku"] in blocked or not settings.allowed(platform, r["brand"] or ""):
            continue
        prev = pushed.get(r["sku"])
        if prev and (prev["state"] in ("pending", "submitted") or prev["accepted_sha256"] == r["sha256"]
                     or (prev["state"] == "invalid" and prev["sha256"] == r["sha256"])):
            continue
        out.append({"sku": r["sku"], "model": r["model"], "ref": r["model"].rsplit("/", 1)[-1],
                    "payload": json.loads(r["payload"]), "sha256": r["sha256"], "brand": r["brand"],
                    "known": bool(prev and prev["accepted_sha256"]) or r["sku"] in remote,
                    "offer": offer_for_sku(db, r["sku"], json.loads(r["record"] or "{}"))})
        if len(out) >= limit:
            break
    return out


def offer_of(row: dict) -> dict | None:
    price = row.get("price")
    if price in (None, ""):
        return None
    stock = row.get("stock")
    return {"price": str(Decimal(str(price))), "currency": row.get("currency") or "EUR",
            "stock": int(stock) if stock not in (None, "") else None}


def offer_sha(offer: dict) -> str:
    return hashlib.sha256(json.dumps(offer, sort_keys=True).encode()).hexdigest()


def offer_candidates(db, platform: str, settings, limit: int, listed_by: str = "content") -> list[dict]:
    """``listed_by``: "content" — the platform accepted our content push; "remote" — the pull saw
    the SKU there (a platform whose content comes from elsewhere, e.g. ManoMano's feed)."""
    if not db["products"].exists():
        return []
    blocked = blocked_skus(db, platform)
    content = _pushes(db, platform, "content")
    offers = _pushes(db, platform, "offer")
    remote = {r["sku"] for r in db.query("select sku from remote_listings where platform = ? and present = 1",
                                         [platform])} if db["remote_listings"].exists() else set()
    catalog = {r["sku"]: r for r in db.query("select sku, price, currency, stock from products")}
    out = []
    for r in db.query("select p.sku, p.model, c.brand, c.record from content_payloads p join content_products c "
                      "on c.sku = p.sku where p.platform = ? order by p.sku", [platform]):
        sku = r["sku"]
        if sku in blocked or not settings.allowed(platform, r["brand"] or "") or sku not in catalog:
            continue
        if listed_by == "content" and not (content.get(sku) or {}).get("accepted_sha256"):
            continue  # the listing does not exist there yet: its content push carries the offer
        if listed_by == "remote" and sku not in remote:
            continue  # the platform does not list it (yet)
        if json.loads(r["record"] or "{}").get("children"):
            continue  # a parent is never buyable
        offer = offer_of(catalog[sku])
        if offer is None:
            continue
        sha = offer_sha(offer)
        prev = offers.get(sku)
        if prev and (prev["state"] in ("pending", "submitted") or prev["accepted_sha256"] == sha
                     or (prev["state"] == "invalid" and prev["sha256"] == sha)):
            continue
        out.append({"sku": sku, "model": r["model"], "ref": r["model"].rsplit("/", 1)[-1], "offer": offer,
                    "sha256": sha, "brand": r["brand"], "remote_ref": (content.get(sku) or {}).get("remote_ref")})
        if len(out) >= limit:
            break
    return out
