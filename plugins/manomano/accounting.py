"""ManoMano's accounting CSVs as the SDK's settlement models. Pure functions on rows already read
(``formats.py`` reads the files): no file, no store, so each rule is tested on plain data.

ManoMano has **no settlement API** ("ManoMano does not provide settlement information via the
API"); the seller downloads two files from Toolbox › Administrative › Accounting documents
(research settlement-formats §4; column names from the open-source ``compta-ecom`` parser, whose
fixtures are synthetic, so names are matched case-insensitively and with its aliases):

- **sales/commission** "CA Manomano*.csv": one row per order or refund with what the buyer paid
  (``amountVatIncl``), the commission (``commissionVatIncl``, positive on orders) and the net
  (``netAmount``). Not a payout: it becomes :class:`Breakdown` s, which let the ``settlements``
  plugin split a payout's net line into revenue and commission.
- **payout detail** "Detail versement Manomano*.csv": one row per order, refund, fee or
  adjustment with the ``PAYOUT_REFERENCE`` and ``PAYOUT_DATE`` it was paid in and its net
  ``AMOUNT``. One :class:`Payout` per ``PAYOUT_REFERENCE``. The file states no payout total, so
  the payout is ``unchecked``: its computed sum is what the bank should have received.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from marketd.sdk.settlements import (Breakdown, Category, CheckRule, FeeSubtype, Payout, PayoutKind, PayoutLine,
                                     SourceRow, VocabularyRow)

CHANNEL_TYPE = "manomano"
CURRENCY = "EUR"            # the files carry no currency; ManoMano sells and pays in euro
NET_OF_FEES = "net_of_fees"  # the settlements plugin splits such revenue lines by a breakdown
SALES_FORMAT = "manomano-sales-csv"
PAYOUT_FORMAT = "manomano-payout-csv"

# canonical name -> accepted header spellings, normalised (lower case, letters and digits only)
SALES_COLUMNS = {
    "reference": ("reference", "orderreference", "referencecommande"),
    "type": ("type", "operationtype"),
    "created_at": ("createdat", "operationdate", "date"),
    "amount_vat_incl": ("amountvatincl", "amountttc"),
    "commission_vat_incl": ("commissionvatincl", "commissionttc"),
    "commission_vat_excl": ("commissionvatexcl", "commissionht"),
    "vat_on_commission": ("vatoncommission",),
    "net_amount": ("netamount",),
    "product_price_vat_excl": ("productpricevatexcl",),
    "vat_on_product": ("vatonproduct",),
    "shipping_price_vat_excl": ("shippingpricevatexcl",),
    "vat_on_shipping": ("vatonshipping",),
}
SALES_REQUIRED = ("reference", "type", "created_at", "amount_vat_incl", "commission_vat_incl", "net_amount")
SALES_AMOUNTS = ("amount_vat_incl", "commission_vat_incl", "commission_vat_excl", "vat_on_commission", "net_amount",
                 "product_price_vat_excl", "vat_on_product", "shipping_price_vat_excl", "vat_on_shipping")

PAYOUT_COLUMNS = {
    "reference": ("reference", "orderreference"),
    "type": ("type",),
    "payout_reference": ("payoutreference",),
    "payout_date": ("payoutdate",),
    "amount": ("amount", "netamount"),
    "amount_vat_excl": ("amountvatexcl", "amountht"),
}
PAYOUT_REQUIRED = ("reference", "type", "payout_reference", "payout_date", "amount")
PAYOUT_AMOUNTS = ("amount", "amount_vat_excl")

# payout detail TYPE -> (category, subtype). Signs are taken as the file gives them.
PAYOUT_TYPES = {
    "ORDER": (Category.REVENUE, NET_OF_FEES),
    "REFUND": (Category.REFUND, None),
    "REFUND_PENALTY": (Category.MARKETPLACE_FEE, FeeSubtype.REFUND_PENALTY),
    "SUBSCRIPTION": (Category.MARKETPLACE_FEE, FeeSubtype.SUBSCRIPTION),
    "ECO_CONTRIBUTION": (Category.OTHER, "eco_contribution"),
    "ECO_CONTRIBUTION_SERVICE": (Category.OTHER, "eco_contribution"),
    "ADJUSTMENT": (Category.OTHER, "adjustment"),
}
SALES_KINDS = ("ORDER", "REFUND")


def norm(name: str) -> str:
    """A header as compared: BOM, quotes, case, spaces and punctuation gone (``PAYOUT_REFERENCE``
    and ``payoutReference`` are the same column)."""
    return re.sub(r"[^a-z0-9]", "", str(name or "").replace("\ufeff", "").lower())


def header_map(header: list[str], columns: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """Canonical name -> position in ``header``, for the columns present (first spelling wins)."""
    found: dict[str, int] = {}
    normed = [norm(h) for h in header]
    for canonical, spellings in columns.items():
        for i, h in enumerate(normed):
            if h in spellings:
                found.setdefault(canonical, i)
                break
    return found


def missing(found: dict[str, int], required: tuple[str, ...]) -> list[str]:
    return [c for c in required if c not in found]


def is_sales_header(header: list[str]) -> bool:
    return not missing(header_map(header, SALES_COLUMNS), SALES_REQUIRED)


def is_payout_header(header: list[str]) -> bool:
    return not missing(header_map(header, PAYOUT_COLUMNS), PAYOUT_REQUIRED)


@dataclass(frozen=True)
class SalesRow:
    line: int
    reference: str
    type: str
    created_at: datetime
    gross: Decimal
    commission: Decimal
    net: Decimal
    commission_vat: Decimal | None = None


@dataclass(frozen=True)
class PayoutRow:
    line: int
    reference: str | None
    type: str
    payout_reference: str
    payout_date: datetime
    amount: Decimal
    amount_vat_excl: Decimal | None = None


def breakdowns(rows: list[SalesRow], channel: str | None) -> tuple[list[Breakdown], list[str]]:
    """One breakdown per (order, ORDER|REFUND, date): ``gross = amountVatIncl``, ``fee =
    −commissionVatIncl``, ``net = netAmount``. A row whose pieces do not add up is kept and
    warned about (the split then refuses it and says so); other types are skipped with a warning."""
    out: dict[tuple, Breakdown] = {}
    warnings: list[str] = []
    for r in rows:
        kind = r.type.upper()
        if kind not in SALES_KINDS:
            warnings.append(f"line {r.line}: type {r.type!r} is neither ORDER nor REFUND; the row is not used")
            continue
        if r.gross - r.commission != r.net:
            warnings.append(f"line {r.line}: order {r.reference}: amountVatIncl {r.gross} - commissionVatIncl "
                            f"{r.commission} is not netAmount {r.net}")
        key = (r.reference, kind, r.created_at.date().isoformat())
        b = out.get(key)
        if b is not None:  # two rows of one order on one day: one breakdown of their sums
            out[key] = Breakdown(CHANNEL_TYPE, r.reference, b.gross + r.gross, b.fee - r.commission, b.net + r.net,
                                 CURRENCY, channel=channel, kind=kind, tax=None, source_key=key[2])
        else:
            out[key] = Breakdown(CHANNEL_TYPE, r.reference, r.gross, -r.commission, r.net, CURRENCY,
                                 channel=channel, kind=kind, fee_subtype=FeeSubtype.COMMISSION, source_key=key[2])
    return list(out.values()), warnings


def payouts(rows: list[PayoutRow], *, channel: str | None, match_channels: tuple[str, ...] | None,
            source_name: str = "") -> list[Payout]:
    """One payout per ``PAYOUT_REFERENCE``: lines aggregated per (order reference, TYPE)."""
    groups: dict[str, list[PayoutRow]] = defaultdict(list)
    for r in rows:
        groups[r.payout_reference].append(r)
    return [_payout(ref, group, channel, match_channels, source_name) for ref, group in groups.items()]


def _payout(payout_ref: str, rows: list[PayoutRow], channel, match_channels, source_name: str) -> Payout:
    sums: dict[tuple, list] = {}
    vocabulary: dict[str, list] = {}
    source_rows: list[SourceRow] = []
    warnings: list[str] = []
    unknown: set[str] = set()
    dates = sorted({r.payout_date for r in rows})
    for r in rows:
        kind = r.type.upper()
        category, subtype = PAYOUT_TYPES.get(kind, (Category.UNCLASSIFIED, FeeSubtype.normalise(kind) or None))
        if kind not in PAYOUT_TYPES:
            unknown.add(kind)
            source_rows.append(SourceRow("unclassified", r.line, (r.type,), r.amount, category.value,
                                         order_ref=r.reference, posted_at=r.payout_date))
        elif r.reference is None:
            source_rows.append(SourceRow("no_order", r.line, (r.type,), r.amount, category.value,
                                         posted_at=r.payout_date))
        if kind == "REFUND" and r.amount > 0:
            warnings.append(f"line {r.line}: REFUND of {r.reference or 'no order'} is positive ({r.amount}); "
                            "taken as given (ManoMano's sign convention for refunds is unverified)")
        k = (r.reference, category.value, subtype, kind)
        acc = sums.setdefault(k, [Decimal(0), 0, r.payout_date, r.payout_date])
        acc[0] += r.amount
        acc[1] += 1
        acc[2], acc[3] = min(acc[2], r.payout_date), max(acc[3], r.payout_date)
        v = vocabulary.setdefault(kind, [category.value, subtype, 0, Decimal(0)])
        v[2] += 1
        v[3] += r.amount
    if unknown:
        warnings.append(f"unknown TYPE(s) {', '.join(sorted(unknown))}: kept as unclassified lines, in every sum")
    if len(dates) > 1:
        warnings.append(f"PAYOUT_DATE differs inside payout {payout_ref} ({dates[0].date()} .. {dates[-1].date()}); "
                        "the latest is taken as the payout date")
    lines = [PayoutLine(category, amount, CURRENCY, order_ref=ref, subtype=subtype, description=kind,
                        posted_first=first, posted_last=last, rows=n)
             for (ref, category, subtype, kind), (amount, n, first, last) in sums.items()]
    total = sum((ln.amount for ln in lines), Decimal(0))
    paid = sorted({(r.reference, "ORDER") for r in rows if r.reference and r.type.upper() == "ORDER"})
    return Payout(
        CHANNEL_TYPE, payout_ref, PAYOUT_FORMAT, CURRENCY, lines=lines, channel=channel,
        match_channels=match_channels, kind=PayoutKind.PAYOUT, period_start=dates[0], period_end=dates[-1],
        paid_at=dates[-1], stated_total=None, check_rule=CheckRule.SUM_EQUALS_STATED,
        meta={"file": source_name, "rows": len(rows)}, warnings=warnings,
        payout_key=f"{CHANNEL_TYPE}:payout:{payout_ref}", business_key=f"{CHANNEL_TYPE}-payout:{payout_ref}",
        paid_items=paid, source_rows=source_rows, source_columns=("type",),
        vocabulary=[VocabularyRow((kind,), c, s, n, a) for kind, (c, s, n, a) in sorted(vocabulary.items())],
        summary_lines=[("Payout (computed)", total),
                       ("Payout check", "ManoMano's payout detail states no total: compare 'Payout (computed)' with "
                                        "the bank transfer of this PAYOUT_REFERENCE"),
                       ("Settlement API", "ManoMano has none: the files come from Toolbox > Administrative > "
                                          "Accounting documents")])
