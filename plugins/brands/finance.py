"""What the marketplaces' payouts moved for a brand's orders, from the settlements plugin through
the ``order_finance`` hook (no import of that plugin; without it there is no finance data and the
reports say so).

An order can hold SKUs of several brands: its money is shared by the brand's part of the order's
item gross (a share of 1 for a one-brand order, so nothing is rounded there). Amounts are Decimal;
a shared amount is rounded half-even to the cent per order.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

from . import sales

CENT = Decimal("0.01")
FIELDS = ("revenue", "refund", "marketplace_fee", "shipping_label", "promotion", "withheld_tax", "other")

# Fee types (statement, report 6), from the payout lines' fee subtypes (``marketd.sdk.settlements.FeeSubtype``,
# an open set): a subtype not named here is an "other" fee, never dropped.
FEE_TYPES = (("fee_commission", "  marketplace commission"), ("fee_fulfilment", "  fulfilment (FBA)"),
             ("fee_advertising", "  advertising"), ("fee_other", "  other marketplace fees"))
_COMMISSION = {"commission", "refund_commission", "final_value_fee_fixed", "final_value_fee_variable", "closing_fee",
               "margin", "referral_fee", "variable_closing_fee"}
_ADVERTISING = {"promoted_listings", "ad_fee"}


def fee_type(subtype: str | None) -> str:
    """The statement's fee type of a ``marketplace_fee`` subtype."""
    s = (subtype or "").lower()
    if s in _COMMISSION:
        return "fee_commission"
    if s == "fulfilment" or s.startswith("fba") or "fulfil" in s:
        return "fee_fulfilment"
    if s in _ADVERTISING or s.startswith("promoted_listing"):
        return "fee_advertising"
    return "fee_other"


def order_gross(db, keys: list[str]) -> dict[str, Decimal]:
    """Every order's item gross over all its lines (all brands)."""
    import json as _json

    out: dict[str, Decimal] = defaultdict(Decimal)
    if not keys:
        return out
    for key, total, unit, qty in db.execute(
            "select o.key, json_extract(j.value, '$.total'), json_extract(j.value, '$.unit_price'), "
            "json_extract(j.value, '$.quantity') from json_each(?) k join orders o on o.key = k.value, "
            "json_each(o.items) j", [_json.dumps(keys)]):
        g = sales._dec(total)
        if g is None:
            u = sales._dec(unit)
            g = u * int(qty or 0) if u is not None else Decimal(0)
        out[key] += g
    return out


def shares(db, ls: list[sales.Line]) -> dict[str, Decimal]:
    mine: dict[str, Decimal] = defaultdict(Decimal)
    for ln in ls:
        mine[ln.order_key] += ln.gross
    whole = order_gross(db, list(mine))
    return {k: (Decimal(1) if whole.get(k, 0) in (0, v) else v / whole[k]) for k, v in mine.items()}


def prefetch(app, pre: sales.Prefetch) -> dict:
    """The ``order_finance`` answer for every brand's orders of a prefetched window, in one call.

    Why one call: the settlements plugin answers from its ``order_finance`` view, which SQLite
    materialises whole (every matched payout line) for each call whatever keys are asked; a job
    that asked once per brand aggregated the whole payout history 200 times."""
    keys = sorted({r[0] for rows in pre.rows.values() for r in rows})
    if not keys or not available(app):
        return {}
    return app.hook.order_finance(app=app, order_keys=keys, refs=[]) or {}


def brand_orders(app, ls: list[sales.Line], answer: dict | None = None) -> dict[str, dict]:
    """{order_key: {"platform", "currency", field: Decimal, "payouts": [...]}} for orders with payout money.
    ``answer``: a :func:`prefetch` holding these orders (else the hook is asked for them)."""
    keys = sorted({ln.order_key for ln in ls})
    if not keys:
        return {}
    if answer is None:
        answer = app.hook.order_finance(app=app, order_keys=keys, refs=[]) or {}
    share = shares(app.store.db, ls)
    platform = {ln.order_key: ln.platform for ln in ls}
    out = {}
    for key in keys:
        fin = answer.get(key)
        if not fin:
            continue
        for t in fin.get("totals", []):
            row = {"platform": platform[key], "currency": t["currency"], "share": share[key],
                   "payouts": [p.get("payout_id") for p in fin.get("payouts", [])]}
            for f in FIELDS:
                amount = Decimal(t.get(f) or "0")
                row[f] = amount if share[key] == 1 else (amount * share[key]).quantize(CENT, ROUND_HALF_EVEN)
            typed = {k: Decimal(0) for k, _ in FEE_TYPES}
            for fee in fin.get("fees", []):
                if fee.get("category") == "marketplace_fee" and fee.get("currency") == t["currency"]:
                    kind = fee_type(fee.get("subtype"))
                    if kind != "fee_other":
                        amount = Decimal(fee.get("amount") or "0")
                        typed[kind] += amount if share[key] == 1 else (amount * share[key]).quantize(CENT,
                                                                                                     ROUND_HALF_EVEN)
            typed["fee_other"] = row["marketplace_fee"] - sum(typed.values())   # the types add up to the total
            out[f"{key}|{t['currency']}"] = row | typed | {"order_key": key}
    return out


def available(app) -> bool:
    """Whether any plugin answers ``order_finance`` (the settlements plugin is loaded)."""
    return bool(app.hook.order_finance.get_hookimpls())
