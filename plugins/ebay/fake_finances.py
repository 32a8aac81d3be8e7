"""The fake eBay's money side: payouts made from the orders it holds, and the Finances API
(``getPayouts``, ``getPayout``, ``getTransactions``) over them (see ``fake.py``).

A payout is built the way eBay's money moves [design §5.1; the sign rules are OAS-$'s
``bookingEntry``]: one ``SALE`` per order (``amount`` = the order total minus its fees, CREDIT;
``orderLineItems[].marketplaceFees`` adding up to ``totalFeeAmount``), ``SHIPPING_LABEL`` and
``NON_SALE_CHARGE`` (promoted listings, ``feeType`` ``AD_FEE``, referencing the order) debits,
optionally a ``REFUND``; the payout's amount is the signed sum and ``transactionCount`` their number.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from .fake_orders import (FINAL_VALUE_RATE, FIXED_FEE, FilterError, Reply, _bad, date_range, error, int_param, iso,
                          money, page_links, parse_iso, split_filter, value_set)

PAYOUT_STATUSES = {"INITIATED", "SUCCEEDED", "RETRYABLE_FAILED", "TERMINAL_FAILED", "REVERSED"}
TRANSACTION_TYPES = {"SALE", "REFUND", "CREDIT", "DISPUTE", "NON_SALE_CHARGE", "SHIPPING_LABEL", "TRANSFER"}
TRANSACTION_STATUSES = {"PAYOUT", "FUNDS_PROCESSING", "FUNDS_AVAILABLE_FOR_PAYOUT", "FUNDS_ON_HOLD", "COMPLETED",
                        "FAILED"}
FIN = "API_FINANCES"
PAYOUT_PATH = "/sell/finances/v1/payout"
TRANSACTION_PATH = "/sell/finances/v1/transaction"


def _fin_bad(error_id: int, message: str) -> FilterError:
    return FilterError(Reply(400, error(error_id, message, domain=FIN)))


def _d(amount: dict) -> Decimal:
    return Decimal(amount["value"])


class FinancesApi:
    """Mixed into the fake: ``self.orders``, ``self.rng``, ``self.clock`` come from it."""

    def _init_finances(self) -> None:
        self.payouts: dict[str, dict] = {}
        self.transactions: list[dict] = []
        self.paid_orders: set[str] = set()

    # -- control -------------------------------------------------------------------------------
    def _id(self, digits: int) -> str:
        return str(self.rng.randint(10 ** (digits - 1), 10 ** digits - 1))

    def _sale(self, order: dict, when: datetime, payout_id: str) -> dict:
        total = _d(order["pricingSummary"]["total"])
        cur = order["pricingSummary"]["total"]["currency"]
        lines, fees_total = [], Decimal(0)
        for n, li in enumerate(order["lineItems"]):
            basis = _d(li["total"])
            fees = [{"feeType": "FINAL_VALUE_FEE", "amount": money((basis * FINAL_VALUE_RATE).quantize(Decimal("0.01")), cur),
                     "feeMemo": "Final Value Fee"}]
            if n == 0:
                fees.append({"feeType": "FINAL_VALUE_FEE_FIXED_PER_ORDER", "amount": money(FIXED_FEE, cur)})
            fees_total += sum(_d(f["amount"]) for f in fees)
            lines.append({"lineItemId": li["lineItemId"], "feeBasisAmount": money(basis, cur), "marketplaceFees": fees})
        return {
            "transactionId": f"{self._id(2)}-{self._id(5)}-{self._id(5)}", "orderId": order["orderId"],
            "transactionDate": iso(when), "transactionType": "SALE", "transactionStatus": "PAYOUT",
            "amount": money(total - fees_total, cur), "bookingEntry": "CREDIT",
            "buyer": {"username": order["buyer"]["username"]}, "salesRecordReference": "0", "payoutId": payout_id,
            "paymentsEntity": "eBay S.a.r.l.", "references": [], "totalFeeBasisAmount": money(total, cur),
            "totalFeeAmount": money(fees_total, cur), "orderLineItems": lines,
        }

    def _debit(self, kind: str, amount: Decimal, cur: str, when: datetime, payout_id: str, *, order_id: str | None,
               memo: str, fee_type: str | None = None) -> dict:
        t = {"transactionId": self._id(12), "transactionDate": iso(when), "transactionType": kind,
             "transactionStatus": "PAYOUT", "transactionMemo": memo, "amount": money(amount, cur),
             "bookingEntry": "DEBIT", "payoutId": payout_id, "paymentsEntity": "eBay S.a.r.l.", "salesRecordReference": "0",
             "references": [{"referenceId": order_id, "referenceType": "ORDER_ID"}] if order_id else []}
        if kind in ("REFUND", "SHIPPING_LABEL") and order_id:
            t["orderId"] = order_id
        if fee_type:
            t["feeType"] = fee_type
        return t

    def make_payout(self, order_ids: list[str] | None = None, *, when: datetime | None = None,
                    status: str = "SUCCEEDED", labels: bool = True, ad_fees: bool = True,
                    refund: tuple[str, Decimal] | None = None) -> dict | None:
        """A payout of the given orders (default: every shipped order not paid out yet); None when
        there is nothing to pay. Every other order gets a shipping label, every third an ad fee."""
        with self.lock:
            when = when or self.clock.now()
            if order_ids is None:
                order_ids = [o for o, d in self.orders.items() if o not in self.paid_orders
                             and d["orderFulfillmentStatus"] in ("FULFILLED", "IN_PROGRESS")]
            order_ids = [o for o in order_ids if o in self.orders and o not in self.paid_orders]
            if not order_ids and refund is None:
                return None
            pid = self._id(10)
            txs, cur = [], "EUR"
            for n, oid in enumerate(sorted(order_ids, key=lambda o: self.orders[o]["creationDate"])):
                order = self.orders[oid]
                cur = order["pricingSummary"]["total"]["currency"]
                at = when - timedelta(hours=len(order_ids) - n)
                txs.append(self._sale(order, at, pid))
                if labels and n % 2 == 0:
                    txs.append(self._debit("SHIPPING_LABEL", Decimal("4.90"), cur, at + timedelta(minutes=5), pid,
                                           order_id=oid, memo="Shipping label"))
                if ad_fees and n % 3 == 0:
                    txs.append(self._debit("NON_SALE_CHARGE", Decimal("1.10"), cur, at + timedelta(minutes=10), pid,
                                           order_id=oid, memo="Promoted Listings - General fee", fee_type="AD_FEE"))
                self.paid_orders.add(oid)
            if refund is not None:
                oid, amount = refund
                txs.append(self._debit("REFUND", Decimal(amount), cur, when - timedelta(minutes=30), pid, order_id=oid,
                                       memo="Refund to buyer"))
            total = sum((_d(t["amount"]) if t["bookingEntry"] == "CREDIT" else -_d(t["amount"]) for t in txs),
                        Decimal(0))
            payout = {"payoutId": pid, "payoutStatus": status, "payoutStatusDescription": "Funds sent",
                      "amount": money(total, cur), "payoutDate": iso(when), "transactionCount": len(txs),
                      "payoutInstrument": {"instrumentType": "BANK", "nickname": "Conto aziendale",
                                           "accountLastFourDigits": "4321"}}
            self.payouts[pid] = payout
            self.transactions.extend(txs)
            return payout

    # -- getPayouts / getPayout ----------------------------------------------------------------
    def _op_getPayouts(self, req, **_) -> Reply:
        now = self.clock.now()
        try:
            limit = int_param(req.q("limit"), 20, 1, 200, 135003, "pagination")
            offset = int_param(req.q("offset"), 0, 0, None, 135003, "pagination")
        except FilterError:
            raise _fin_bad(135003, "The value of pagination is invalid.")
        sort = req.q("sort")
        if sort not in (None, "", "payoutDate", "lastAttemptedPayoutDate"):
            raise _fin_bad(135005, "The value of sorting is invalid.")
        rows = list(self.payouts.values())
        status = None
        for name, value in split_filter(",".join(req.query.get("filter", []))):
            if name == "payoutStatus":
                vals = value_set(value)
                if not vals or len(vals) != 1 or vals[0] not in PAYOUT_STATUSES:
                    raise _fin_bad(135002, "The value of payout status filter is invalid.")
                status = vals[0]
            elif name in ("payoutDate", "lastAttemptedPayoutDate"):
                try:
                    start, end = date_range(value, now, future=None, field=name)
                except FilterError:
                    raise _fin_bad(135004, "The value of payout date filter is invalid.")
                end = end or min(now, start + timedelta(days=90))
                rows = [p for p in rows if p.get(name) and start <= parse_iso(p[name]) <= end]
            else:
                raise _fin_bad(135004, "The value of payout date filter is invalid.")
        if status:
            rows = [p for p in rows if p["payoutStatus"] == status]
        rows.sort(key=lambda p: p["payoutDate"], reverse=bool(sort))
        if not rows:
            return Reply(204)
        doc = page_links(req.base, PAYOUT_PATH, {"filter": ",".join(req.query.get("filter", [])) or None,
                                                 "sort": sort or None}, offset, limit, len(rows))
        doc["payouts"] = rows[offset:offset + limit]
        return Reply(200, doc)

    def _op_getPayout(self, req, payout_Id: str) -> Reply:
        payout = self.payouts.get(payout_Id)
        if payout is None:
            return Reply(404, error(135001, "The payout ID is invalid.", domain=FIN))
        return Reply(200, payout)

    # -- getTransactions -----------------------------------------------------------------------
    def _op_getTransactions(self, req, **_) -> Reply:
        now = self.clock.now()
        if req.q("sort"):
            raise _fin_bad(135005, "The value of sorting is invalid.")
        try:
            limit = int_param(req.q("limit"), 20, 1, 1000, 135003, "pagination")
            offset = int_param(req.q("offset"), 0, 0, None, 135003, "pagination")
        except FilterError:
            raise _fin_bad(135003, "The value of pagination is invalid.")
        rows = list(self.transactions)
        crits = split_filter(",".join(req.query.get("filter", [])))
        names = {n for n, _ in crits}
        if "transactionId" in names and "transactionType" not in names:
            raise _fin_bad(135009, "Transaction type filter is missing.")
        unlimited = bool(names & {"payoutId", "orderId", "transactionId"})
        for name, value in crits:
            vals = value_set(value)
            if name == "transactionDate":
                try:
                    start, end = date_range(value, now, future=None, field=name)
                except FilterError:
                    raise _fin_bad(135008, "The value of transaction date filter is invalid.")
                end = end or min(now, start + timedelta(days=90))
                rows = [t for t in rows if start <= parse_iso(t["transactionDate"]) <= end]
            elif name == "transactionType":
                if not vals or any(v not in TRANSACTION_TYPES for v in vals):
                    raise _fin_bad(135006, "The value of transaction type filter is invalid.")
                rows = [t for t in rows if t["transactionType"] in vals]
            elif name == "transactionStatus":
                if not vals or any(v not in TRANSACTION_STATUSES for v in vals):
                    raise _fin_bad(135007, "The value of transaction status filter is invalid.")
                rows = [t for t in rows if t["transactionStatus"] in vals]
            elif name in ("payoutId", "orderId", "transactionId", "salesRecordReference"):
                if not vals:
                    raise _fin_bad(135006, f"The value of {name} filter is invalid.")
                rows = [t for t in rows if str(t.get(name)) in vals]
            elif name == "buyerUsername":
                rows = [t for t in rows if (t.get("buyer") or {}).get("username") in (vals or [])]
            else:
                raise _fin_bad(135006, f"Unknown filter {name}.")
        rows.sort(key=lambda t: t["transactionDate"], reverse=True)  # always descending
        if not rows:
            return Reply(204)
        if unlimited:
            limit, offset = max(len(rows), 1), 0
        doc = page_links(req.base, TRANSACTION_PATH, {"filter": ",".join(req.query.get("filter", [])) or None},
                         offset, limit, len(rows))
        doc["transactions"] = rows[offset:offset + limit]
        return Reply(200, doc)
