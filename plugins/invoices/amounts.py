"""What an invoice or credit note says, built from an order: lines, VAT per rate, totals.

A pure function of the order and the settings, so the snapshot stored with the number can be
rendered again after a crash and give the same document. Marketplace prices include VAT, and the
document must add up to what the buyer paid: per line ``net = round(gross / (1 + rate), 2)``
(half up); per rate the VAT is computed on the sum of the nets (:func:`summarise`). Money is
Decimal throughout and stored as text.

A problem is a :class:`Blocked` (reason, message, fix): the order gets no number until it is fixed.
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class Blocked(Exception):
    def __init__(self, reason: str, message: str, fix: str = ""):
        super().__init__(message)
        self.reason, self.message, self.fix = reason, message, fix


def dec(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def percent(value) -> Decimal | None:
    """A VAT rate in percent. Channels hand over ``20``, ``"21"`` or a fraction ``0.2``; no EU
    rate is below 1 %, so a value between 0 and 1 (exclusive) is a fraction."""
    d = dec(value)
    if d is None or d < 0 or d >= 100:
        return None
    return d * 100 if 0 < d < 1 else d


def split(gross: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    net = (gross / (1 + rate / 100)).quantize(CENT, ROUND_HALF_UP)
    return net, gross - net


def _items(order: dict) -> list[dict]:
    items = order.get("items")
    if isinstance(items, str):
        items = json.loads(items or "[]")
    return [i for i in items or [] if isinstance(i, dict)]


def _line_gross(item: dict) -> Decimal | None:
    total = dec(item.get("total"))
    if total is not None:
        return total
    unit, qty = dec(item.get("unit_price")), dec(item.get("quantity"))
    if unit is not None and qty is not None:
        return unit * qty
    return dec(item.get("proceeds"))


def _fmt(d: Decimal) -> str:
    return format(d.quantize(CENT, ROUND_HALF_UP), "f")


def order_lines(order: dict, default_rate: str | None) -> list[dict]:
    """The invoice lines of ``order``: its items, then shipping (or a discount) for the difference
    between what the buyer paid (``orders.total``) and the items."""
    fallback = percent(default_rate) if default_rate is not None else None
    lines = []
    for n, item in enumerate(_items(order), 1):
        gross = _line_gross(item)
        if gross is None:
            raise Blocked("no_price", f"item {n} ({item.get('sku') or '?'}) has no price in the order",
                          "wait for the next order sync, or issue it by hand")
        rate = percent(item.get("vat_rate"))
        if rate is None:
            rate = fallback
        if rate is None:
            raise Blocked("no_vat_rate", f"item {n} ({item.get('sku') or '?'}) has no VAT rate",
                          "set vat_rate in [jobs.invoices.channels.<account>] or [jobs.invoices]")
        qty = dec(item.get("quantity")) or Decimal(1)
        lines.append({"description": str(item.get("title") or item.get("sku") or f"item {n}"),
                      "sku": str(item.get("sku") or ""), "quantity": format(qty.normalize(), "f"),
                      "gross": gross.quantize(CENT, ROUND_HALF_UP), "rate": rate})
    if not lines:
        raise Blocked("no_lines", "the order has no items", "wait for the next order sync")
    paid = dec(order.get("total"))
    rest = (paid - sum(l["gross"] for l in lines)).quantize(CENT, ROUND_HALF_UP) if paid is not None else Decimal(0)
    if rest:
        # Shipping (or a discount) follows the main supply's rate.
        main = max(lines, key=lambda l: l["gross"])["rate"]
        lines.append({"description": "Shipping" if rest > 0 else "Discount", "sku": "", "quantity": "1",
                      "gross": rest, "rate": main})
    return lines


def summarise(lines: list[dict]) -> dict:
    """Net per line, then per rate the sum of its lines' net and ``VAT = round(net × rate)`` (the
    EN 16931 rule the Factur-X XML must follow, BR-CO-17), and the totals. What the buyer paid
    may differ from net + VAT by a cent per rate; that difference is the ``rounding`` amount
    (EN 16931 BT-114), so the document still adds up to the amount paid. Every amount as text."""
    out, groups = [], {}
    for line in lines:
        net, _vat = split(line["gross"], line["rate"])
        out.append({**line, "gross": _fmt(line["gross"]), "rate": format(line["rate"].normalize(), "f"),
                    "net": _fmt(net)})
        g = groups.setdefault(line["rate"], [Decimal(0), Decimal(0)])
        g[0] += net
        g[1] += line["gross"]
    vat_rows = []
    for rate, (net, _gross) in sorted(groups.items()):
        vat = (net * rate / 100).quantize(CENT, ROUND_HALF_UP)
        vat_rows.append({"rate": format(rate.normalize(), "f"), "net": _fmt(net), "vat": _fmt(vat),
                         "gross": _fmt(net + vat)})
    net = sum((Decimal(v["net"]) for v in vat_rows), Decimal(0))
    vat = sum((Decimal(v["vat"]) for v in vat_rows), Decimal(0))
    paid = sum((line["gross"] for line in lines), Decimal(0))
    return {"lines": out, "vat": vat_rows,
            "totals": {"net": _fmt(net), "vat": _fmt(vat), "rounding": _fmt(paid - net - vat), "gross": _fmt(paid)}}


def refund_lines(invoice: dict, amount: Decimal | None, already: Decimal) -> list[dict]:
    """The lines of a credit note against ``invoice`` (its snapshot): all of it when ``amount`` is
    None, else ``amount`` split over the invoice's VAT rates in proportion to their gross (the
    last rate takes the rounding cent). ``already`` is what earlier credit notes gave back."""
    total = Decimal(invoice["totals"]["gross"])
    left = total - already
    if amount is None:
        amount = left
    if amount <= 0:
        raise Blocked("nothing_to_credit", f"nothing left to credit on {invoice['doc_no']} "
                      f"({_fmt(already)} of {_fmt(total)} credited already)", "")
    if amount > left:
        raise Blocked("credit_exceeds_invoice", f"a credit of {_fmt(amount)} exceeds what is left on "
                      f"{invoice['doc_no']} ({_fmt(left)} of {_fmt(total)})", "give a smaller amount")
    if amount == total:
        return [{**l, "gross": Decimal(l["gross"]), "rate": Decimal(l["rate"])} for l in invoice["lines"]]
    by_rate: dict[Decimal, Decimal] = {}
    for line in invoice["lines"]:
        by_rate[Decimal(line["rate"])] = by_rate.get(Decimal(line["rate"]), Decimal(0)) + Decimal(line["gross"])
    groups = [(rate, gross) for rate, gross in sorted(by_rate.items()) if gross]
    lines, given = [], Decimal(0)
    for i, (rate, gross) in enumerate(groups):
        part = amount - given if i == len(groups) - 1 else (amount * gross / total).quantize(CENT, ROUND_HALF_UP)
        given += part
        lines.append({"description": f"Refund (VAT {format(rate.normalize(), 'f')} %)", "sku": "", "quantity": "1",
                      "gross": part, "rate": rate})
    return lines
