"""eBay Finances API payouts — the files the ``ebay-payouts`` job writes
(``ebay-<account>-payout-<id>.json``) — as the settlement format ``ebay-finances-api``.

The money rules (design §2.5; OAS-$ ``Transaction``): a transaction's sign is its
``bookingEntry`` (CREDIT +, DEBIT −) and every transaction's lines add up to its signed
``amount`` exactly:

- ``SALE``: one ``marketplace_fee`` line per ``orderLineItems[].marketplaceFees[]`` (``feeType`` →
  subtype), an ``other`` fee line for any difference to ``totalFeeAmount``, and ``revenue`` =
  signed amount − the fee lines (whether ``amount`` is net of fees is unverified: the lines add
  up either way and the payout check shows a mismatch);
- ``REFUND`` → ``refund`` (fee credits, when listed, as positive ``marketplace_fee``);
  ``DISPUTE`` → ``refund/dispute``; ``SHIPPING_LABEL`` → ``shipping_label``; ``NON_SALE_CHARGE``
  → ``marketplace_fee`` with its ``feeType``; ``CREDIT`` → ``other/credit``; ``TRANSFER`` →
  ``transfer``; anything else ``unclassified``. The order is ``orderId``, else a reference of
  type ``ORDER_ID``.

The payout check: the lines add up to ``Payout.amount`` (and the number of transactions is
``transactionCount``: a warning when not). The payout's keys are the ones the Transaction report
uses for the same payout, so a payout fetched here and found again in a report is one payout.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from marketd.sdk import FileRejected
from marketd.sdk.settlements import (Category, CheckRule, FeeSubtype, ParsedSettlement, Payout, PayoutKind,
                                     PayoutLine, SourceRow, VocabularyRow)

NAME = "ebay-finances-api"
SOURCE_TAG = "ebay-finances-v1"
FEE_TYPES = {
    "FINAL_VALUE_FEE": FeeSubtype.FINAL_VALUE_FEE_VARIABLE,
    "FINAL_VALUE_FEE_FIXED_PER_ORDER": FeeSubtype.FINAL_VALUE_FEE_FIXED,
    "FINAL_VALUE_FEE_FIXED": FeeSubtype.FINAL_VALUE_FEE_FIXED,
    "INTERNATIONAL_FEE": FeeSubtype.INTERNATIONAL,
    "AD_FEE": FeeSubtype.AD_FEE,
    "PROMOTED_LISTING_FEE": FeeSubtype.PROMOTED_LISTINGS,
    "REGULATORY_OPERATING_FEE": FeeSubtype.REGULATORY_OPERATING,
    "HIGH_ITEM_NOT_AS_DESCRIBED_FEE": FeeSubtype.INAD_VERY_HIGH,
    "BELOW_STANDARD_SHIPPING_FEE": FeeSubtype.BELOW_STANDARD,
    "BELOW_STANDARD_PERFORMANCE_FEE": FeeSubtype.BELOW_STANDARD,
    "DEPOSIT_PROCESSING_FEE": FeeSubtype.DEPOSIT_PROCESSING,
    "SUBSCRIPTION_FEE": FeeSubtype.SUBSCRIPTION,
}
ONE_LINE = {
    "REFUND": (Category.REFUND, None), "DISPUTE": (Category.REFUND, "dispute"),
    "SHIPPING_LABEL": (Category.SHIPPING_LABEL, None), "CREDIT": (Category.OTHER, "credit"),
    "TRANSFER": (Category.TRANSFER, None), "NON_SALE_CHARGE": (Category.MARKETPLACE_FEE, None),
}


def _money(value, where: str) -> Decimal:
    try:
        d = Decimal(str(value["value"]))
    except (KeyError, TypeError, InvalidOperation):
        raise FileRejected("bad_amount", f"{where} has no amount value", where=where,
                           fix="fetch the payout again (delete the file; the ebay-payouts job writes it anew)") from None
    if not d.is_finite() or d.scaleb(4) != d.scaleb(4).to_integral_value():
        raise FileRejected("bad_amount", f"{where}: {value['value']!r} is not an amount with at most 4 decimals",
                           where=where, fix="fetch the payout again")
    return d


def _time(text) -> datetime | None:
    if not text:
        return None
    try:
        d = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def fee_subtype(fee_type: str | None, warnings: set) -> str:
    if not fee_type:
        return FeeSubtype.OTHER
    sub = FEE_TYPES.get(str(fee_type).upper())
    if sub is None:
        sub = FeeSubtype.normalise(fee_type)
        warnings.add(f"unknown eBay feeType {fee_type!r}: counted as marketplace fee {sub!r}")
    return sub


def order_of(t: dict) -> str | None:
    if t.get("orderId"):
        return str(t["orderId"])
    for ref in t.get("references") or []:
        if str(ref.get("referenceType") or "").upper() == "ORDER_ID" and ref.get("referenceId"):
            return str(ref["referenceId"])
    return None


def transaction_lines(t: dict, where: str, warnings: set) -> list[PayoutLine]:
    """The lines of one transaction; they add up to its signed amount, exactly."""
    amount = _money(t.get("amount"), f"{where} amount")
    sign = -1 if str(t.get("bookingEntry") or "").upper() == "DEBIT" else 1
    signed = sign * amount
    cur = (t.get("amount") or {}).get("currency") or "EUR"
    kind = str(t.get("transactionType") or "").upper()
    ref = order_of(t)
    when = _time(t.get("transactionDate"))
    base = dict(currency=cur, order_ref=ref, posted_first=when, posted_last=when)
    fee_lines = []
    for li in t.get("orderLineItems") or []:
        for k, fee in enumerate(li.get("marketplaceFees") or []):
            value = _money(fee.get("amount"), f"{where} fee {k + 1} of line item {li.get('lineItemId')}")
            if value:
                # a fee is money eBay kept: negative on a sale; on a refund or a DEBIT it comes back
                fee_lines.append(PayoutLine(category=Category.MARKETPLACE_FEE.value, amount=-sign * value,
                                            subtype=fee_subtype(fee.get("feeType"), warnings),
                                            description=f"{kind}/{fee.get('feeType') or 'fee'}",
                                            sku=None, **base))
    lines: list[PayoutLine] = []
    if kind == "SALE" or (kind in ("REFUND", "DISPUTE") and fee_lines):
        listed = sum((ln.amount for ln in fee_lines), Decimal(0))
        total_fee = t.get("totalFeeAmount")
        if kind == "SALE" and isinstance(total_fee, dict) and total_fee.get("value") not in (None, ""):
            stated = -_money(total_fee, f"{where} totalFeeAmount")
            if stated != listed:
                fee_lines.append(PayoutLine(category=Category.MARKETPLACE_FEE.value, amount=stated - listed,
                                            subtype=FeeSubtype.OTHER, description=f"{kind}/totalFeeAmount rest",
                                            **base))
                listed = stated
        main = Category.REVENUE if kind == "SALE" else Category.REFUND
        lines += fee_lines
        lines.append(PayoutLine(category=main.value, amount=signed - listed,
                                subtype="dispute" if kind == "DISPUTE" else None, description=kind, **base))
        return lines
    cat, sub = ONE_LINE.get(kind, (Category.UNCLASSIFIED, FeeSubtype.normalise(kind) if kind else None))
    if cat == Category.MARKETPLACE_FEE:
        sub = fee_subtype(t.get("feeType"), warnings)
    if cat == Category.UNCLASSIFIED:
        warnings.add(f"unknown transactionType {kind!r}: kept as unclassified (in every sum)")
    return [PayoutLine(category=cat.value, amount=signed, subtype=sub,
                       description=kind + (f"/{t['feeType']}" if t.get("feeType") else ""), **base)]


class EbayFinancesFormat:
    name = NAME
    channel_type = "ebay"
    describe = "eBay payout from the Finances API (ebay-<account>-payout-<id>.json, written by the ebay-payouts job)"

    def sniff(self, head: bytes, name: str) -> bool:
        text = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        return text.startswith(b"{") and f'"marketd_source": "{SOURCE_TAG}"'.encode() in head[:4096]

    def peek_keys(self, ctx) -> list[str] | None:
        doc = self._load(ctx)
        account = self._account(ctx, doc)
        pid = (doc.get("payout") or {}).get("payoutId")
        return [f"ebay-payout:{account}:{pid}"] if pid else None

    def _load(self, ctx) -> dict:
        try:
            doc = json.loads(ctx.path.read_bytes().decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise FileRejected("bad_json", f"the payout file is not valid JSON: {exc}", where="the file",
                               fix="delete it; the ebay-payouts job fetches the payout again") from None
        if not isinstance(doc, dict) or doc.get("marketd_source") != SOURCE_TAG or not isinstance(doc.get("payout"),
                                                                                                     dict):
            raise FileRejected("not_an_ebay_payout", "the file is not an eBay payout written by the ebay-payouts job",
                               where="the file", fix="drop eBay's Transaction report CSV, or let the job fetch payouts")
        return doc

    def _account(self, ctx, doc: dict) -> str:
        accounts = ctx.accounts("ebay")
        if doc.get("account") in accounts:
            return doc["account"]
        configured = ctx.configured_channels("ebay")
        if configured and len(configured) == 1:
            return configured[0]
        if len(accounts) == 1:
            return accounts[0]
        raise FileRejected("ebay_account_unknown", f"the payout names account {doc.get('account')!r}, which is not "
                           "an eBay account of this instance", where="the file's account",
                           fix="add that [channels.<name>] type = \"ebay\" account, or set [inbox.settlements] channel")

    def parse(self, ctx) -> ParsedSettlement:
        doc = self._load(ctx)
        account = self._account(ctx, doc)
        payout = doc["payout"]
        pid = str(payout.get("payoutId") or "")
        if not pid:
            raise FileRejected("bad_payout", "the payout has no payoutId", where="payout", fix="fetch it again")
        stated = _money(payout.get("amount"), "payout amount")
        currency = (payout.get("amount") or {}).get("currency") or "EUR"
        warnings: set[str] = set()
        lines: list[PayoutLine] = []
        sources: list[SourceRow] = []
        vocab: dict[tuple, list] = {}
        transactions = doc.get("transactions") or []
        for n, t in enumerate(transactions, 1):
            where = f"transaction {n} ({t.get('transactionType')} {t.get('transactionId')})"
            made = transaction_lines(t, where, warnings)
            lines += made
            total = sum((ln.amount for ln in made), Decimal(0))
            key = (str(t.get("transactionType") or ""), str(t.get("feeType") or ""))
            v = vocab.setdefault(key, [made[-1].category, made[-1].subtype, 0, Decimal(0)])
            v[2] += 1
            v[3] += total
            if made[-1].order_ref is None or made[-1].category == Category.UNCLASSIFIED.value:
                sources.append(SourceRow(reason="unclassified" if made[-1].category == Category.UNCLASSIFIED.value
                                         else "no_order", line=None, fields=key, amount=total,
                                         category=made[-1].category, posted_at=made[-1].posted_first))
        count = payout.get("transactionCount")
        if isinstance(count, int) and count != len(transactions):
            warnings.add(f"the payout states {count} transaction(s); the file holds {len(transactions)}")
        status = str(payout.get("payoutStatus") or "")
        if status and status != "SUCCEEDED":
            warnings.add(f"payout status {status} ({payout.get('payoutStatusDescription') or ''})".strip())
        paid = {(str(order_of(t)), str(li.get("lineItemId"))) for t in transactions
                if str(t.get("transactionType")).upper() == "SALE" and order_of(t)
                for li in t.get("orderLineItems") or [] if li.get("lineItemId")}
        ctx.prefetch(order_refs=sorted({ln.order_ref for ln in lines if ln.order_ref}), channels=(account,))
        out = Payout(
            channel_type="ebay", payout_id=pid, source=NAME, currency=currency, lines=lines, channel=account,
            match_channels=(account,), kind=PayoutKind.PAYOUT, paid_at=_time(payout.get("payoutDate")),
            stated_total=stated, check_rule=CheckRule.SUM_EQUALS_STATED, warnings=sorted(warnings),
            paid_items=sorted(paid), source_rows=sources, source_columns=("transactionType", "feeType"),
            vocabulary=[VocabularyRow(fields=k, category=c, subtype=s, rows=r, amount=a)
                        for k, (c, s, r, a) in vocab.items()],
            meta={"payout_status": status, "transactions": len(transactions), "transaction_count": count,
                  "marketplace": doc.get("marketplace"), "fetched_at": doc.get("fetched_at"),
                  "payout_instrument": (payout.get("payoutInstrument") or {}).get("instrumentType")},
            summary_lines=[("Source", "eBay Finances API (getPayout, getTransactions)"),
                           ("Payout status", status), ("Transactions", len(transactions)),
                           ("Fetched at", doc.get("fetched_at") or "")])
        return ParsedSettlement(payouts=[out])


FORMATS = (EbayFinancesFormat(),)
