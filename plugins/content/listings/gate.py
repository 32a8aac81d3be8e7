"""Which SKUs go to a platform now (design §A7 "Gate"):

(a) no ERROR for that platform (nor for the file itself) in the latest completeness run that
    checked the SKU (a run covers its file's SKUs, or a model re-check's, not the whole brand);
    the platforms' own push answers, ``push.*``, excepted: (c) decides when those are re-sent;
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


def blocked_skus(db, platform: str) -> set[str]:
    """SKUs with an ERROR for ``platform`` (or for no platform) in the latest finished run that
    checked *that SKU* for it. Not the brand's latest run: a run covers the SKUs of its file (or
    of a model re-check) only, and a SKU it did not look at keeps the verdict of its own last run."""
    return {r["sku"] for r in db.query(
        "with latest as (select c.sku, max(c.run_id) run_id from content_cells c join content_runs r "
        "on r.id = c.run_id where r.finished_at is not null and c.platform = ? group by c.sku) "
        "select distinct i.sku from content_issues i join latest l on l.sku = i.sku and l.run_id = i.run_id "
        "where i.severity = 'ERROR' and (i.platform = ? or i.platform = '' or i.platform is null) "
        "and i.rule not like 'push.%'",
        [platform, platform])}


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


def content_item(db, platform: str, row: dict, prev: dict | None, remote: set[str] | None = None) -> dict:
    """One SKU of a content batch as the channel gets it (also rebuilt from the store after a
    restart): the payload, the offer it carries, the remote reference of its last push
    (``remote_ref``, e.g. eBay's offer id), and for variants: ``parent`` (when the parent has a
    payload on this platform) or, for a parent, ``children`` and ``variants`` (sku -> payload of
    each child that can be listed: not held back by an ERROR)."""
    record = json.loads(row["record"] or "{}")
    item = {"sku": row["sku"], "model": row["model"], "ref": row["model"].rsplit("/", 1)[-1],
            "payload": json.loads(row["payload"]), "sha256": row.get("sha256"), "brand": row.get("brand"),
            "known": bool(prev and prev.get("accepted_sha256")) or row["sku"] in (remote or set()),
            "remote_ref": (prev or {}).get("remote_ref") or "",
            "offer": offer_for_sku(db, row["sku"], record)}
    parent = row.get("parent_sku") or record.get("common", {}).get("parent_sku") or ""
    if parent and parent != row["sku"] and next(iter(db.query(
            "select 1 from content_payloads where sku = ? and platform = ?", [parent, platform])), None):
        item["parent"] = parent
    children = list(record.get("children") or [])
    if children:
        item["children"] = children
        blocked = blocked_skus(db, platform)
        marks = ",".join("?" * len(children))
        rows = [r for r in db.query(
            f"select p.sku, p.payload, c.record from content_payloads p join content_products c on c.sku = p.sku "
            f"where p.platform = ? and p.sku in ({marks}) order by p.sku", [platform, *children])
            if r["sku"] not in blocked]
        item["variants"] = {r["sku"]: json.loads(r["payload"]) for r in rows}
        item["variant_offers"] = {r["sku"]: offer_for_sku(db, r["sku"], json.loads(r["record"] or "{}")) for r in rows}
    return item


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
        out.append(content_item(db, platform, dict(r), prev, remote))
        if len(out) >= limit:
            break
    return out


def shown_offer(db, platform: str, sku: str) -> dict:
    """What an offer push may need beyond the offer: the SKU's parent (a variant's price goes to
    the parent's variant at MALL) and the price the platform showed at the last pull
    (``shown_price``: a platform whose price and stock are separate calls skips an unchanged price)."""
    out: dict = {}
    row = next(iter(db.query("select parent_sku from content_products where sku = ?", [sku])), None)
    if row and row["parent_sku"] and row["parent_sku"] != sku:
        out["parent"] = row["parent_sku"]
    if db["remote_listings"].exists():
        rl = next(iter(db.query("select price from remote_listings where platform = ? and sku = ? and present = 1",
                                [platform, sku])), None)
        if rl and rl["price"] not in (None, ""):
            out["shown_price"] = rl["price"]
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
                    "sha256": sha, "brand": r["brand"], "remote_ref": (content.get(sku) or {}).get("remote_ref"),
                    **shown_offer(db, platform, sku)})
        if len(out) >= limit:
            break
    return out
