"""Why an order line was returned or cancelled, for report 5, from what the channels supplied.

Sources, first match wins per (order, SKU):

- ``returns report``: Amazon's returns report (``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``,
  ``Return Reason`` such as ``AMZ-PG-BAD-DESC``), stored by the health plugin in ``health_returns``
  (read here as a table, like the content tables: no import of that plugin);
- ``order``: the order as the channel sent it (``orders.raw``): Amazon's per-item
  ``cancellation.cancellationExecution/cancellationRequest.cancelReason``, eBay's
  ``cancelStatus.cancelRequests[].cancelReason``.

No other channel sends a reason (eBay's return reasons live in the Post-Order API, which marketd
does not call; ManoMano's and MALL's orders carry none), so a line without one says ``unknown``
and names what was looked at, rather than leaving the cell empty as if the reason were blank.
"""
from __future__ import annotations

import json

UNKNOWN = "unknown"


def _amazon(raw: dict, sku: str) -> str | None:
    for it in raw.get("orderItems") or []:
        if ((it.get("product") or {}).get("sellerSku") or "") != sku:
            continue
        c = it.get("cancellation") or {}
        for part in ("cancellationExecution", "cancellationRequest"):
            reason = ((c.get(part) or {}).get("cancelReason") or "").strip()
            if reason:
                return reason
    return None


def _ebay(raw: dict, sku: str) -> str | None:
    for req in (raw.get("cancelStatus") or {}).get("cancelRequests") or []:
        reason = str((req or {}).get("cancelReason") or "").strip()
        if reason:
            return reason
    return None


FROM_ORDER = {"amazon": _amazon, "ebay": _ebay}


def for_lines(db, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """``{(order_key, sku): (reason, source)}`` for every key; ``(UNKNOWN, why)`` where no channel said."""
    if not keys:
        return {}
    order_keys = sorted({k for k, _ in keys})
    orders = {}
    for key, channel, ctype, oid, raw in db.execute(
            "select o.key, o.channel, o.channel_type, o.order_id, o.raw from json_each(?) j join orders o "
            "on o.key = j.value", [json.dumps(order_keys)]):
        orders[key] = (channel, ctype or "", oid or "", raw)
    returned = {}
    if "health_returns" in db.table_names():
        ids = sorted({o[2] for o in orders.values() if o[2]})
        for account, oid, sku, reason in db.execute(
                "select h.account, h.order_id, h.sku, h.reason from json_each(?) j join health_returns h "
                "on h.order_id = j.value where coalesce(h.reason, '') != '' order by h.requested, h.rma",
                [json.dumps(ids)]):
            returned.setdefault((oid, sku), {}).setdefault(account, reason)
    out = {}
    for key, sku in keys:
        channel, ctype, oid, raw = orders.get(key, ("", "", "", None))
        got = returned.get((oid, sku))
        if got:
            out[(key, sku)] = (got.get(channel) or next(iter(got.values())), "returns report")
            continue
        reader = FROM_ORDER.get(ctype)
        reason = None
        if reader and raw:
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            reason = reader(doc, sku) if isinstance(doc, dict) else None
        if reason:
            out[(key, sku)] = (reason, "order")
        else:
            out[(key, sku)] = (UNKNOWN, f"no reason from {ctype or 'the channel'}")
    return out
