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

from .fake_orders import (FINAL_VALUE_RATE, FIXED_FEE, FilterError, Reply, date_range, error, int_param, iso,
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


# -- the Seller Hub Transaction report, from the same money ---------------------------------------------
NEW_COLUMNS = [
    "Transaction creation date", "Type", "Order number", "Legacy order ID", "Buyer username", "Buyer name",
    "Ship to city", "Ship to province/region/state", "Ship to zip", "Ship to country", "Net amount",
    "Payout currency", "Payout date", "Payout ID", "Payout method", "Payout status", "Reason for hold", "Item ID",
    "Transaction ID", "Item title", "Custom label", "Quantity", "Item subtotal", "Shipping and handling",
    "Seller collected tax", "eBay collected tax", "Final Value Fee - fixed", "Final Value Fee - variable",
    "Regulatory operating fee", 'Very high "item not as described" fee', "Below standard performance fee",
    "International fee", "Charity donation", "Deposit processing fee", "Gross transaction amount",
    "Transaction currency", "Exchange rate", "Reference ID", "Description"]
OLD_DROPPED = {"Payout method", "Regulatory operating fee", "Charity donation", "Deposit processing fee"}
UK_NAMES = {"Final Value Fee - fixed": "Final value fee \u2013 fixed",
            "Final Value Fee - variable": "Final value fee \u2013 variable"}


def report_date(dt: datetime) -> str:
    return f"{dt:%b} {dt.day}, {dt.year}"


def report_amount(value: Decimal | None) -> str:
    """``--`` for none; thousands grouped (``-3,666.78``) as the report writes them."""
    if value is None:
        return "--"
    return f"{value.quantize(Decimal('0.01')):,.2f}"


class TransactionReport:
    """Mixed into the fake: the CSV Seller Hub would give for its payouts."""

    def transaction_report_csv(self, payout_ids: list[str] | None = None, *, layout: str = "new",
                               open_orders: list[str] | None = None, holds: bool = False, seller: str = "negozio_it",
                               bom: bool = True) -> str:
        """The Transaction report of ``payout_ids`` (default: every payout) built from the same
        transactions the Finances API serves: roll-up + detail rows for multi-item orders, ``--``
        for empty cells, quoted thousands, a Payout row per payout (Payout date ``--``). Layouts:
        ``new`` (Transaction creation date, 39 columns), ``old`` (Transaction date, without
        Payout method / Regulatory operating fee / Charity donation / Deposit processing fee),
        ``uk`` (``Final value fee – fixed``). ``open_orders``: Order rows without a Payout ID
        (money not paid out yet). ``holds``: a Hold placed/released pair on the first order,
        reusing its Transaction ID."""
        import csv
        import io

        with self.lock:
            ids = payout_ids if payout_ids is not None else list(self.payouts)
            columns = [c for c in NEW_COLUMNS if layout != "old" or c not in OLD_DROPPED]
            if layout == "old":
                columns[0] = "Transaction date"
            header = [UK_NAMES.get(c, c) if layout == "uk" else c for c in columns]
            rows: list[dict] = []
            dates = []
            for pid in ids:
                payout = self.payouts[pid]
                txs = sorted((t for t in self.transactions if t["payoutId"] == pid), key=lambda t: t["transactionDate"])
                for t in txs:
                    rows += self._report_rows(t, payout, holds and not rows)
                    dates.append(parse_iso(t["transactionDate"]))
                when = parse_iso(payout["payoutDate"])
                dates.append(when)
                rows.append({"date": when, "Type": "Payout", "Net amount": -_d(payout["amount"]),
                             "Gross transaction amount": -_d(payout["amount"]), "Payout ID": pid,
                             "Payout currency": payout["amount"]["currency"], "Payout method": "Bank account",
                             "Payout status": "Funds sent", "Transaction currency": payout["amount"]["currency"],
                             "Description": "Scheduled payout"})
            for oid in open_orders or []:
                sale = self._sale(self.orders[oid], self.clock.now(), "")
                rows += self._report_rows(sale, None, False)
                dates.append(self.clock.now())
            out = io.StringIO()
            w = csv.writer(out, lineterminator="\r\n")
            start, end = (min(dates), max(dates)) if dates else (self.clock.now(), self.clock.now())
            w.writerow(["Transaction report"])
            w.writerow(["Start date", report_date(start)])
            w.writerow(["End date", report_date(end)])
            w.writerow(["Seller", seller])
            w.writerow([])
            w.writerow(header)
            for r in rows:
                cells = []
                for c in columns:
                    if c in ("Transaction creation date", "Transaction date"):
                        cells.append(report_date(r["date"]))
                        continue
                    v = r.get(c)
                    cells.append(report_amount(v) if isinstance(v, Decimal) else ("--" if v in (None, "") else str(v)))
                w.writerow(cells)
            text = out.getvalue()
            return ("\ufeff" + text) if bom else text

    def _report_rows(self, t: dict, payout: dict | None, hold: bool) -> list[dict]:
        when = parse_iso(t["transactionDate"])
        pid = payout["payoutId"] if payout else ""
        cur = t["amount"]["currency"]
        sign = Decimal(1) if t["bookingEntry"] == "CREDIT" else Decimal(-1)
        net = sign * _d(t["amount"])
        common = {"date": when, "Payout ID": pid, "Payout currency": cur, "Transaction currency": cur,
                  "Payout date": report_date(parse_iso(payout["payoutDate"])) if payout else None,
                  "Payout method": "Bank account" if payout else None,
                  "Payout status": "Funds sent" if payout else "Funds on hold" if not pid else None}
        kind = t["transactionType"]
        order = self.orders.get(t.get("orderId") or "") or {}
        if kind == "SALE":
            contact = order["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
            addr = contact["contactAddress"]
            buyer = {"Order number": order["orderId"], "Legacy order ID": order["orderId"],
                     "Buyer username": order["buyer"]["username"], "Buyer name": contact["fullName"],
                     "Ship to city": addr["city"], "Ship to province/region/state": addr.get("stateOrProvince"),
                     "Ship to zip": addr["postalCode"], "Ship to country": addr["countryCode"]}
            fees = {li["lineItemId"]: li["marketplaceFees"] for li in t["orderLineItems"]}
            items = order["lineItems"]

            def detail(li: dict, with_money: bool) -> dict:
                fx = {"Final Value Fee - fixed": None, "Final Value Fee - variable": None}
                for f in fees.get(li["lineItemId"], []):
                    col = "Final Value Fee - fixed" if f["feeType"].startswith("FINAL_VALUE_FEE_FIXED") else \
                        "Final Value Fee - variable"
                    fx[col] = (fx[col] or Decimal(0)) - _d(f["amount"])
                row = {**common, **buyer, "Type": "Order", "Item ID": li["legacyItemId"],
                       "Transaction ID": li["lineItemId"], "Item title": li["title"], "Custom label": li["sku"],
                       "Quantity": li["quantity"], "Item subtotal": _d(li["lineItemCost"]),
                       "Shipping and handling": _d(li["deliveryCost"]["shippingCost"]), **fx}
                if with_money:
                    row.update({"Net amount": net, "Gross transaction amount": _d(t["totalFeeBasisAmount"])})
                return row

            if len(items) == 1:
                out = [detail(items[0], True)]
            else:
                rollup = {**common, **buyer, "Type": "Order", "Net amount": net,
                          "Gross transaction amount": _d(t["totalFeeBasisAmount"]),
                          "Quantity": sum(li["quantity"] for li in items)}
                out = [rollup] + [detail(li, False) for li in items]
            if hold:
                first = items[0]["lineItemId"]
                out.append({**common, "Type": "Hold", "Order number": order["orderId"], "Transaction ID": first,
                            "Net amount": -net, "Gross transaction amount": -net, "Reason for hold": "Held payout",
                            "Description": "Hold placed"})
                out.append({**common, "Type": "Hold", "Order number": order["orderId"], "Transaction ID": first,
                            "Net amount": net, "Gross transaction amount": net, "Description": "Hold released"})
            return out
        oid = t.get("orderId") or next((r["referenceId"] for r in t.get("references") or []
                                        if r["referenceType"] == "ORDER_ID"), None)
        row = {**common, "Order number": oid, "Legacy order ID": oid, "Net amount": net, "Gross transaction amount": net,
               "Reference ID": t["transactionId"], "Description": t.get("transactionMemo")}
        if kind == "SHIPPING_LABEL":
            row["Type"] = "Shipping label"
        elif kind == "NON_SALE_CHARGE":
            row["Type"] = "Other fee"
        elif kind == "REFUND":
            row["Type"] = "Refund"
        elif kind == "TRANSFER":
            row["Type"] = "Transfer"
        else:
            row["Type"] = kind.replace("_", " ").capitalize()
        return [row]
