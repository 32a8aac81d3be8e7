"""MALL's Financial API documents as payouts of the unified settlement model (pure: no store, no
HTTP; ``formats.py`` reads the files and the stored orders, ``finance_fetch.py`` fetches them).

How MALL pays (settlement-formats §5): MALL *buys* the goods. A **self-billing invoice** lists
the delivered orders at the price excluding VAT minus the contractual margin, plus VAT: the
commission is inside the price, never a line. So per order the invoice gives one *net* amount,
the ``revenue/net_of_fees`` line; with the order's gross (what the buyer paid, VAT included)
from the stored order it becomes ``revenue = gross`` and ``marketplace_fee/margin = invoiced −
gross`` (a :class:`Breakdown` the settlements plugin applies only when it adds up exactly).
A **credit note** (a return; ``9`` in the 5th digit of the number) takes the invoiced amount
back: one ``refund/credit_note`` line per order. An **offset** (zápočet) pays the invoices minus
the cash-on-delivery money the partner collected for MALL: per invoice an account-level
``other/offset_invoice`` line (+offsetPrice), per COD order a ``transfer/cod_offset`` line
(−offsetPrice): money the seller already holds and hands to MALL, not something the order
earned or cost, so it stays out of the order's net (the design's ``other`` would have taken it
from the order's earnings).

Checks (never a rejection; the payout is applied and marked):

- invoice / credit note: ``total`` == Σ ``items[].totalPrice`` == ``taxRecap.total``;
- offset: per document ``sumPrice == offsetPrice + remainPrice``, and ``diffPrice`` ==
  Σ invoices' ``offsetPrice`` − Σ orders' ``offsetPrice`` (the sign rule is unverified: a
  real offset that disagrees shows as ``inconsistent`` with the difference).

Fields are camelCase; money is Decimal (the JSON is read with ``parse_float=Decimal``).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketd.sdk import FileRejected
from marketd.sdk.settlements import (Breakdown, Category, CheckRule, FeeSubtype, Payout, PayoutKind, PayoutLine,
                                     PayoutStatus)

from .mapper import PRAGUE, decimal, parse_time

SOURCE_INVOICE = "mall-invoice"
SOURCE_OFFSET = "mall-offset"
NET_OF_FEES = "net_of_fees"


def is_credit_note(doc: dict) -> bool:
    """MALL's credit notes carry ``9`` in the 5th position of the number (``3000900001``);
    a ``documentType`` naming a credit note says so too."""
    number = str(doc.get("invoiceNumber") or "")
    kind = str(doc.get("documentType") or "").lower()
    return (len(number) >= 5 and number[4] == "9") or "credit" in kind or "dobropis" in kind


def money(value, where: str) -> Decimal:
    d = decimal(value)
    if d is None:
        raise FileRejected("mall_amount", f"{where} is not an amount: {value!r}", where=where,
                           fix="drop the document exactly as MALL's API or portal gave it")
    if d.as_tuple().exponent < -4:
        raise FileRejected("mall_amount", f"{where} has more than 4 decimals: {value}", where=where,
                           fix="drop the document exactly as MALL's API or portal gave it")
    return d


def _need(doc: dict, key: str, where: str):
    if doc.get(key) in (None, ""):
        raise FileRejected("mall_document", f"the MALL document has no {key}", where=f"{where}.{key}",
                           fix="drop the JSON document exactly as MALL's API or portal gave it (invoice or offset)")
    return doc[key]


def _time(value, tz: ZoneInfo) -> datetime | None:
    return parse_time(value, tz) if value else None


def invoice_payout(doc: dict, channel: str, tz: ZoneInfo = PRAGUE, *, where: str = "data") -> Payout:
    """A self-billing invoice or credit note -> one payout with a line per order."""
    number = str(_need(doc, "invoiceNumber", where))
    currency = str(_need(doc, "currency", where)).upper()
    items = _need(doc, "items", where)
    if not isinstance(items, list) or not items:
        raise FileRejected("mall_document", f"invoice {number} has no items", where=f"{where}.items",
                           fix="drop the complete document")
    credit = is_credit_note(doc)
    sign = Decimal(-1) if credit else Decimal(1)
    created = _time(doc.get("createdAt"), tz)
    posted = _time(doc.get("deliveryAt"), tz) or created
    per_order: dict[str, list] = defaultdict(lambda: [Decimal(0), 0, Decimal(0), []])
    items_total = Decimal(0)
    for i, it in enumerate(items):
        at = f"{where}.items[{i}]"
        if not isinstance(it, dict):
            raise FileRejected("mall_document", f"item {i + 1} of invoice {number} is not an object", where=at,
                               fix="drop the document exactly as MALL gave it")
        order = it.get("orderId")
        if order in (None, ""):
            raise FileRejected("mall_document", f"item {i + 1} of invoice {number} names no order (orderId)",
                               where=f"{at}.orderId", fix="drop the document exactly as MALL gave it")
        total = money(it.get("totalPrice"), f"{at}.totalPrice")
        items_total += total
        row = per_order[str(order)]
        row[0] += abs(total)
        row[1] += 1
        row[2] += decimal(it.get("quantity")) or Decimal(0)
        if it.get("articleId") not in (None, ""):
            row[3].append(str(it["articleId"]))
    stated = money(_need(doc, "total", where), f"{where}.total")
    lines = [PayoutLine(category=(Category.REFUND if credit else Category.REVENUE).value, amount=sign * amount,
                        currency=currency, order_ref=ref, subtype="credit_note" if credit else NET_OF_FEES,
                        description=f"MALL {'credit note' if credit else 'self-billing invoice'} {number}",
                        posted_first=posted, posted_last=posted, quantity=qty, rows=rows)
             for ref, (amount, rows, qty, _) in per_order.items()]
    problems = []
    if abs(items_total) != abs(stated):
        problems.append(f"total {stated} but the items add up to {items_total}")
    recap = doc.get("taxRecap") if isinstance(doc.get("taxRecap"), dict) else None
    if recap and recap.get("total") is not None and abs(money(recap["total"], f"{where}.taxRecap.total")) != abs(stated):
        problems.append(f"total {stated} but the tax recap says {recap['total']}")
    kind = PayoutKind.CREDIT_NOTE if credit else PayoutKind.INVOICE
    return Payout(
        channel_type="mall", channel=channel, match_channels=(channel,), payout_id=number, source=SOURCE_INVOICE,
        currency=currency, lines=lines, kind=kind, period_start=posted, period_end=posted, paid_at=created,
        stated_total=sign * abs(stated), check_rule=CheckRule.BY_FORMAT,
        status=PayoutStatus.INCONSISTENT if problems else PayoutStatus.OK,
        check_detail="; ".join(problems) or "total = items = tax recap",
        meta={"invoice_number": number, "document_type": doc.get("documentType"),
              "invoice_type": doc.get("invoiceType"), "origin_document": doc.get("originDocumentId"),
              "due_date": doc.get("dueDate")},
        paid_items=() if credit else tuple((ref, a) for ref, row in per_order.items() for a in row[3]),
        source_columns=("description",),
        summary_lines=[("MALL document", "credit note (a return)" if credit else "self-billing invoice"),
                       ("number", number), ("orders", len(per_order))])


def offset_payout(doc: dict, channel: str, tz: ZoneInfo = PRAGUE, *, where: str = "data") -> Payout:
    """An offset (zápočet) -> one payout: invoices paid minus COD the partner collected."""
    number = str(_need(doc, "documentNumber", where))
    currency = str(_need(doc, "currency", where)).upper()
    diff = money(_need(doc, "diffPrice", where), f"{where}.diffPrice")
    created = _time(doc.get("createdAt"), tz)
    lines, problems, invoices = [], [], []
    inv_sum, ord_sum = Decimal(0), Decimal(0)
    for part, key in (("invoices", "invoiceNumber"), ("orders", "id")):
        rows = doc.get(part) or []
        if not isinstance(rows, list):
            raise FileRejected("mall_document", f"offset {number}: {part} is not a list", where=f"{where}.{part}",
                               fix="drop the document exactly as MALL gave it")
        for i, row in enumerate(rows):
            at = f"{where}.{part}[{i}]"
            ref = row.get(key) if isinstance(row, dict) else None
            if ref in (None, ""):
                raise FileRejected("mall_document", f"offset {number}: {part} entry {i + 1} has no {key}",
                                   where=f"{at}.{key}", fix="drop the document exactly as MALL gave it")
            offset = money(row.get("offsetPrice"), f"{at}.offsetPrice")
            total = money(row.get("sumPrice"), f"{at}.sumPrice")
            remain = money(row.get("remainPrice") or 0, f"{at}.remainPrice")
            if total != offset + remain:
                problems.append(f"{part} {ref}: sumPrice {total} != offsetPrice {offset} + remainPrice {remain}")
            cur = str(row.get("currency") or currency).upper()
            if part == "invoices":
                inv_sum += offset
                invoices.append(str(ref))
                lines.append(PayoutLine(category=Category.OTHER.value, amount=offset, currency=cur, order_ref=None,
                                        subtype="offset_invoice", description=f"invoice {ref} paid by offset {number}",
                                        posted_first=created, posted_last=created))
            else:
                ord_sum += offset
                lines.append(PayoutLine(category=Category.TRANSFER.value, amount=-offset, currency=cur,
                                        order_ref=str(ref), subtype="cod_offset",
                                        description=f"cash on delivery collected by the seller, offset {number}",
                                        posted_first=created, posted_last=created))
    if diff != inv_sum - ord_sum:
        problems.append(f"diffPrice {diff} but invoices {inv_sum} - COD orders {ord_sum} = {inv_sum - ord_sum}")
    return Payout(
        channel_type="mall", channel=channel, match_channels=(channel,), payout_id=number, source=SOURCE_OFFSET,
        currency=currency, lines=lines, kind=PayoutKind.OFFSET, period_start=created, period_end=created,
        paid_at=created, stated_total=diff, check_rule=CheckRule.BY_FORMAT,
        status=PayoutStatus.INCONSISTENT if problems else PayoutStatus.OK,
        check_detail="; ".join(problems) or "diffPrice = invoices - COD orders; each sumPrice = offset + remain",
        meta={"invoice_numbers": invoices, "variable_symbol": doc.get("variableSymbol"), "due_date": doc.get("dueDate")},
        summary_lines=[("MALL document", "offset (invoices minus cash on delivery)"), ("number", number),
                       ("invoices", len(invoices))])


def breakdowns(payout: Payout, gross: dict[str, tuple[Decimal, str]]) -> list[Breakdown]:
    """Gross/fee/net per order of an invoice, for the orders whose gross is known
    (``gross``: order ref -> (total, currency)): ``fee = invoiced - gross`` (MALL's margin)."""
    if payout.kind != PayoutKind.INVOICE:
        return []
    out = []
    for line in payout.lines:
        known = gross.get(line.order_ref or "")
        if known is None or known[1] != line.currency:
            continue
        total = known[0]
        out.append(Breakdown(channel_type="mall", channel=payout.channel, order_ref=line.order_ref, gross=total,
                             fee=line.amount - total, net=line.amount, currency=line.currency,
                             fee_subtype=FeeSubtype.MARGIN, source_key=f"invoice:{payout.payout_id}"))
    return out
