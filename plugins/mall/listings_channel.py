"""The MALL channel's listings side (``capabilities.update_listings`` and ``fetch_listings``),
called by the content plugin through ``app.channel(name)``; JSON shapes are ``listings_mapper``.

Content (``kind = "content"``), per SKU, each call safe to repeat: the SKU is MALL's article
id, so a product the platform already lists (the last push's, or seen by the pull) is replaced
with ``PUT /v1/products/{id}`` and a new one created with ``POST /v1/products``; a 404 on the
PUT or a 409 on the POST switches to the other, so a batch resumed after a crash never makes a
second article. A parent goes as one product with its variants; a variant whose parent is not in
the batch goes alone (``PUT``/``POST /v1/products/{parent}/variants[/{id}]``). MALL's refusal
names each broken rule in ``errorCodes``: the SKU is ``invalid`` with one issue per code.

Price and stock (``kind = "offer"``): stock for many articles in one ``POST /v1/availability``
(``availability_batch`` per call; a refused call is resent without the articles MALL named);
a price only where it differs from what MALL showed at the last pull, one ``PUT …/pricing``
per article (MPAPI has no batch for prices). Both are in MALL's own quota groups
(``products``, ``availability``).

MPAPI is synchronous: ``submit_listings`` returns a finished handle; ``poll_listings`` reads it
back. The handle is saved every ``SAVE_EVERY`` (100) answers (saving it after each would rewrite a
growing document per SKU — quadratic in the batch); a crash repeats at most that many calls, and
each of them is safe to repeat. A LIMITED answer or a 5xx stops the batch (``RateLimited``/``TransientError``): what is
already in ``results`` is kept and the next run continues.
"""
from __future__ import annotations

from decimal import Decimal

from . import listings_mapper as m

ACCEPTED = (200, 201, 204)
SAVE_EVERY = 100   # answers per handle save: a crash repeats at most these calls, each safe to repeat


def _outcome(status: int, msgs) -> dict:
    if status in ACCEPTED:
        return {"state": "accepted", "issues": []}
    return {"state": "invalid" if 400 <= status < 500 else "failed", "issues": m.issues_of(msgs)}


def _upsert(known: bool, put, post) -> tuple[int, list]:
    """PUT when MALL should have the article, else POST; switch once on 404 / 409."""
    status, msgs = put() if known else post()
    if known and status == 404:
        status, msgs = post()
    elif not known and status == 409:
        status, msgs = put()
    return status, msgs


def submit(ch, batch: dict, save) -> dict:
    handle = dict(batch.get("handle") or {})
    handle.setdefault("transport", "mpapi")
    results = handle.setdefault("results", {})
    try:
        if batch["kind"] == "offer":
            _offers(ch, batch["items"], handle, save)
        else:
            _content(ch, batch["items"], handle, save)
    finally:
        ch.save_quota()
    handle["done"] = True
    save(handle)
    return handle


def _content(ch, items: list[dict], handle: dict, save) -> None:
    results = handle["results"]
    api = ch.client
    in_batch = {i["sku"]: i for i in items}
    done = 0
    for item in sorted(items, key=lambda i: (bool(i.get("parent")), i["sku"])):
        sku = item["sku"]
        if sku in results:
            continue
        known = bool(item.get("known") or item.get("remote_ref"))
        if item.get("children"):
            body = m.product_with_variants(sku, item["payload"], item.get("variants") or {},
                                           item.get("variant_offers") or {}, ref=item.get("ref") or "",
                                           vat=ch.settings.vat)
            status, msgs = _upsert(known, lambda: api.update_product(sku, body), lambda: api.create_product(body))
            res = {**_outcome(status, msgs), "remote_ref": sku}
            results[sku] = res
            for v in item.get("variants") or {}:
                if v in in_batch and v not in results:
                    results[v] = {**res, "remote_ref": v}
        elif item.get("parent"):
            parent = item["parent"]
            if parent in in_batch and parent in results:
                continue        # went with its parent's product (above)
            body = m.article(sku, item["payload"], item.get("offer"), variant=True)
            status, msgs = _upsert(known, lambda: api.update_variant(parent, sku, body),
                                   lambda: api.create_variant(parent, body))
            results[sku] = {**_outcome(status, msgs), "remote_ref": sku}
        else:
            body = m.article(sku, item["payload"], item.get("offer"), ref=item.get("ref") or "", vat=ch.settings.vat)
            status, msgs = _upsert(known, lambda: api.update_product(sku, body), lambda: api.create_product(body))
            results[sku] = {**_outcome(status, msgs), "remote_ref": sku}
        done += 1
        if done % SAVE_EVERY == 0:
            save(handle)
    save(handle)


def _offers(ch, items: list[dict], handle: dict, save) -> None:
    results = handle["results"]
    api = ch.client
    todo = [i for i in sorted(items, key=lambda i: i["sku"]) if i["sku"] not in results]
    prices = handle.setdefault("priced", [])
    for item in todo:
        offer = item["offer"]
        if item["sku"] in prices or offer.get("price") in (None, ""):
            continue
        shown = item.get("shown_price")
        if shown not in (None, "") and Decimal(str(shown)) == Decimal(str(offer["price"])):
            prices.append(item["sku"])
            continue
        parent = item.get("parent")
        status, msgs = (api.update_pricing(parent, m.pricing(offer), variant_id=item["sku"]) if parent
                        else api.update_pricing(item["sku"], m.pricing(offer)))
        if status in ACCEPTED:
            prices.append(item["sku"])
        else:
            results[item["sku"]] = _outcome(status, msgs)
        if len(prices) % SAVE_EVERY == 0:
            save(handle)
    save(handle)
    stock = [i for i in todo if i["sku"] not in results and i["offer"].get("stock") is not None]
    size = ch.settings.availability_batch
    for start in range(0, len(stock), size):
        chunk = stock[start:start + size]
        for _attempt in (1, 2):
            status, msgs = api.batch_availability([m.availability_row(i["sku"], i["offer"]) for i in chunk])
            if status in ACCEPTED:
                break
            named = {str(c.get("value")) for msg in msgs for c in (msg.details or {}).get("errorCodes") or []
                     if isinstance(c, dict) and c.get("value") is not None}
            bad = [i for i in chunk if i["sku"] in named] or chunk
            for i in bad:
                results[i["sku"]] = _outcome(status, [x for x in msgs])
            chunk = [i for i in chunk if i not in bad]
            if not chunk:
                break
        for i in chunk:
            results.setdefault(i["sku"], {"state": "accepted", "issues": []})
        save(handle)
    for item in todo:
        results.setdefault(item["sku"], {"state": "accepted", "issues": []})
    save(handle)


def poll(ch, handle: dict, save) -> dict | None:
    return {"results": handle.get("results") or {}, "status": "DONE", "transport": handle.get("transport")}


def fetch(ch, skus: list[str] | None = None):
    wanted = set(skus or [])
    api = ch.client
    currency = ch.settings.currency
    try:
        for row in list(api.iter_products(ch.settings.page_size)):
            if row.get("has_variants"):
                for v in api.iter_variants(str(row["id"]), ch.settings.page_size):
                    if not wanted or v.get("id") in wanted:
                        yield m.remote_listing(v, currency=currency, parent=row)
            if not wanted or row.get("id") in wanted:
                yield m.remote_listing(row, currency=currency)
    finally:
        ch.save_quota()
