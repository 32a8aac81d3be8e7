"""Generator of realistic Amazon settlement flat files (V2 and archived V1) for tests and the bench.

Headers are the real ones (research/settlement-formats.md §1.2, §1.3). A settlement is built as a
list of :class:`Line` (one V2 amount row each: transaction-type, amount-type,
amount-description, amount) and rendered in any of the layouts, decimal styles, date formats
and encodings seen in the wild. No real customer data: ids are generated.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

V2_COLUMNS_23 = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
]
V2_COLUMNS_24 = V2_COLUMNS_23 + ["promotion-id"]

V1_COLUMNS_36 = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "shipment-fee-type", "shipment-fee-amount", "order-fee-type", "order-fee-amount", "fulfillment-id",
    "posted-date", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
    "quantity-purchased", "price-type", "price-amount", "item-related-fee-type", "item-related-fee-amount",
    "misc-fee-amount", "other-fee-amount", "other-fee-reason-description", "promotion-id", "promotion-type",
    "promotion-amount", "direct-payment-type", "direct-payment-amount", "other-amount",
]
V1_COLUMNS_33 = [c for c in V1_COLUMNS_36 if c not in ("promotion-id", "promotion-type", "promotion-amount")]

UTC = timezone.utc
T0 = datetime(2026, 8, 3, 22, 7, 18, tzinfo=UTC)


@dataclass
class Line:
    """One V2 amount row."""
    transaction_type: str
    amount_type: str
    amount_description: str
    amount: Decimal
    order_id: str = ""
    merchant_order_id: str = ""
    adjustment_id: str = ""
    shipment_id: str = ""
    marketplace: str = "Amazon.de"
    fulfillment_id: str = ""
    posted: datetime | None = None
    order_item_code: str = ""
    merchant_order_item_id: str = ""
    merchant_adjustment_item_id: str = ""
    sku: str = ""
    quantity: str = ""
    promotion_id: str = ""


@dataclass
class Settlement:
    settlement_id: str = "24288684721"
    start: datetime = T0
    end: datetime = T0 + timedelta(days=14)
    deposit: datetime = T0 + timedelta(days=16)
    currency: str = "EUR"
    lines: list[Line] = field(default_factory=list)
    total: Decimal | None = None  # None: the exact sum of the lines

    @property
    def computed(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0.00"))

    @property
    def total_amount(self) -> Decimal:
        return self.computed if self.total is None else self.total


def D(text) -> Decimal:
    return Decimal(str(text))


def amazon_order_id(n: int) -> str:
    return f"{302 + n % 600:03d}-{(n * 7919) % 10_000_000:07d}-{(n * 104729 + 13) % 10_000_000:07d}"


# -- building blocks -------------------------------------------------------------------------------
def order_lines(order_id: str, *, posted: datetime | None = None, principal="19.99", shipping="4.90",
                tax="0.00", commission=None, fba_fee=None, sku="SKU-1", qty=1, item_code="52183016457081",
                merchant_order_id="", marketplace="Amazon.de", fulfillment="MFN", shipment_id="DpQ8v1Rkp",
                withheld=None, promotion=None, digital_services_fee=None) -> list[Line]:
    posted = posted or T0 + timedelta(days=2, hours=3)
    principal = D(principal)
    commission = -(principal * D("0.15")).quantize(D("0.01")) if commission is None else D(commission)
    base = dict(transaction_type="Order", order_id=order_id, merchant_order_id=merchant_order_id,
                shipment_id=shipment_id, marketplace=marketplace, fulfillment_id=fulfillment, posted=posted,
                order_item_code=item_code, sku=sku, quantity=str(qty))
    out = [Line(amount_type="ItemPrice", amount_description="Principal", amount=principal, **base)]
    if D(shipping):
        out.append(Line(amount_type="ItemPrice", amount_description="Shipping", amount=D(shipping), **base))
    if D(tax):
        out.append(Line(amount_type="ItemPrice", amount_description="Tax", amount=D(tax), **base))
    out.append(Line(amount_type="ItemFees", amount_description="Commission", amount=commission, **base))
    if fba_fee is not None:
        out.append(Line(amount_type="ItemFees", amount_description="FBAPerUnitFulfillmentFee", amount=D(fba_fee),
                        **base))
    if digital_services_fee is not None:
        out.append(Line(amount_type="ItemFees", amount_description="DigitalServicesFee",
                        amount=D(digital_services_fee), **base))
    if withheld is not None:
        out.append(Line(amount_type="ItemWithheldTax", amount_description="MarketplaceFacilitatorVAT-Principal",
                        amount=D(withheld), **base))
    if promotion is not None:
        out.append(Line(amount_type="Promotion", amount_description="Principal", amount=D(promotion),
                        promotion_id="PLM-1234", **base))
    return out


def refund_lines(order_id: str, *, posted: datetime | None = None, principal="-19.99", commission_back="3.00",
                 refund_commission="-0.60", sku="SKU-1", marketplace="Amazon.de",
                 adjustment_id="amzn1:crow:Qx8S3hEGRx2Abc", item_code="52183016457081") -> list[Line]:
    posted = posted or T0 + timedelta(days=5)
    base = dict(transaction_type="Refund", order_id=order_id, adjustment_id=adjustment_id, marketplace=marketplace,
                fulfillment_id="MFN", posted=posted, order_item_code=item_code, sku=sku,
                merchant_adjustment_item_id="adj-1", quantity="1")
    return [
        Line(amount_type="ItemPrice", amount_description="Principal", amount=D(principal), **base),
        Line(amount_type="ItemFees", amount_description="Commission", amount=D(commission_back), **base),
        Line(amount_type="ItemFees", amount_description="RefundCommission", amount=D(refund_commission), **base),
    ]


def mcf_lines(order_id: str = "S01-1234567-7654321", merchant_order_id: str = "CONSUMER-2025821-20216", *,
              fee="-5.49", marketplace="Non-Amazon DE", posted: datetime | None = None) -> list[Line]:
    posted = posted or T0 + timedelta(days=3)
    return [Line(transaction_type="Order", amount_type="ItemFees", amount_description="FBAPerUnitFulfillmentFee",
                 amount=D(fee), order_id=order_id, merchant_order_id=merchant_order_id, marketplace=marketplace,
                 fulfillment_id="AFN", posted=posted, sku="SKU-MCF", quantity="1", shipment_id="DMcf01")]


def fba_shipment_fee_line(shipment_id: str = "FBA19CD9HGQ8", amount="-12.34") -> Line:
    return Line(transaction_type="FBAFees", amount_type="other-transaction",
                amount_description="Inbound Defect Fee / Base fee", amount=D(amount), order_id=shipment_id,
                posted=T0 + timedelta(days=4), marketplace="Amazon.de")


def other_line(description: str, amount, transaction_type: str = "other-transaction",
               amount_type: str = "other-transaction", **kw) -> Line:
    kw.setdefault("posted", T0 + timedelta(days=6))
    return Line(transaction_type=transaction_type, amount_type=amount_type, amount_description=description,
                amount=D(amount), **kw)


def basic_settlement(**kw) -> Settlement:
    """Two orders, a refund, storage fee and subscription: a small realistic EU settlement."""
    lines = (order_lines("302-1234567-1234567", principal="29.99", shipping="4.90", sku="SKU-A")
             + order_lines("302-7654321-7654321", principal="1234.56", shipping="0", sku="SKU-B",
                           item_code="52183016457099", fba_fee="-3.22", fulfillment="AFN")
             + refund_lines("302-1234567-1234567", principal="-29.99", commission_back="4.50",
                            refund_commission="-0.90", sku="SKU-A")
             + [other_line("Storage Fee", "-7.21"), other_line("Subscription Fee", "-39.00")])
    return Settlement(lines=lines, **kw)


# -- rendering -------------------------------------------------------------------------------------
def fmt_amount(value: Decimal, decimal: str = ".", thousands: bool = False, pad: bool = False) -> str:
    q = value.quantize(D("0.01")) if value.as_tuple().exponent > -2 else value
    sign = "-" if q < 0 else ""
    text = format(abs(q), "f")
    whole, _, frac = text.partition(".")
    if thousands:
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        whole = ("." if decimal == "," else ",").join(groups)
    out = sign + whole + ((decimal + frac) if frac else "")
    return out + "    " if pad else out


DATE_STYLES = ("utc", "iso", "dmy", "dmy_date", "mdy")


def fmt_datetime(dt: datetime | None, style: str) -> str:
    if dt is None:
        return ""
    dt = dt.astimezone(UTC)
    return {
        "utc": lambda: dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "iso": lambda: dt.isoformat(timespec="seconds"),
        "dmy": lambda: dt.strftime("%d.%m.%Y %H:%M:%S UTC"),
        "dmy_date": lambda: dt.strftime("%d.%m.%Y"),
        "mdy": lambda: dt.strftime("%m/%d/%y"),
    }[style]()


def fmt_posted_date(dt: datetime | None, style: str) -> str:
    if dt is None:
        return ""
    if style in ("dmy", "dmy_date"):
        return dt.strftime("%d.%m.%Y")
    if style == "iso":
        return dt.isoformat(timespec="seconds")
    return dt.strftime("%m/%d/%y")  # the V2 documented MM/DD/YY ("utc" and "mdy")


def _encode(lines: list[str], encoding: str, bom: bool, newline: str, trailing_blank: bool) -> bytes:
    text = newline.join(lines) + newline + (newline if trailing_blank else "")
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def render_v2(s: Settlement, *, columns: int = 24, decimal: str = ".", thousands: bool = False,
              dates: str = "utc", pad: bool = False, currency_on_rows: bool = True, encoding: str = "utf-8",
              bom: bool = False, newline: str = "\n", trailing_blank: bool = False,
              extra_columns: list[str] | None = None) -> bytes:
    cols = list(V2_COLUMNS_24 if columns >= 24 else V2_COLUMNS_23) + list(extra_columns or [])
    summary = {"settlement-id": s.settlement_id, "settlement-start-date": fmt_datetime(s.start, dates),
               "settlement-end-date": fmt_datetime(s.end, dates), "deposit-date": fmt_datetime(s.deposit, dates),
               "total-amount": fmt_amount(s.total_amount, decimal, thousands, pad), "currency": s.currency}
    out = ["\t".join(cols), "\t".join(summary.get(c, "") for c in cols)]
    for ln in s.lines:
        row = {
            "settlement-id": s.settlement_id, "currency": s.currency if currency_on_rows else "",
            "transaction-type": ln.transaction_type, "order-id": ln.order_id,
            "merchant-order-id": ln.merchant_order_id, "adjustment-id": ln.adjustment_id,
            "shipment-id": ln.shipment_id, "marketplace-name": ln.marketplace, "amount-type": ln.amount_type,
            "amount-description": ln.amount_description, "amount": fmt_amount(ln.amount, decimal, thousands, pad),
            "fulfillment-id": ln.fulfillment_id, "posted-date": fmt_posted_date(ln.posted, dates),
            "posted-date-time": fmt_datetime(ln.posted, "iso" if dates == "iso" else
                                             ("dmy" if dates in ("dmy", "dmy_date") else "utc")),
            "order-item-code": ln.order_item_code, "merchant-order-item-id": ln.merchant_order_item_id,
            "merchant-adjustment-item-id": ln.merchant_adjustment_item_id, "sku": ln.sku,
            "quantity-purchased": ln.quantity, "promotion-id": ln.promotion_id,
        }
        out.append("\t".join(row.get(c, "") for c in cols))
    return _encode(out, encoding, bom, newline, trailing_blank)


# V1: which column pair carries a V2 amount-type
_V1_PAIRS = {
    "ItemPrice": ("price-type", "price-amount"),
    "ItemFees": ("item-related-fee-type", "item-related-fee-amount"),
    "Promotion": ("promotion-type", "promotion-amount"),
    "ShipmentFees": ("shipment-fee-type", "shipment-fee-amount"),
    "OrderFees": ("order-fee-type", "order-fee-amount"),
    "DirectPayment": ("direct-payment-type", "direct-payment-amount"),
}


def render_v1(s: Settlement, *, columns: int = 36, decimal: str = ".", dates: str = "iso", pad: bool = False,
              encoding: str = "utf-8", bom: bool = False, newline: str = "\n", trailing_blank: bool = False,
              quantity_rows: bool = True) -> bytes:
    """Archived V1 layout, as in real files: dates and currency only on the summary row, one
    quantity-only row before each order item's amount rows; other-transaction rows carry the
    description as transaction-type and the amount in ``other-amount``."""
    cols = V1_COLUMNS_36 if columns >= 36 else V1_COLUMNS_33
    summary = {"settlement-id": s.settlement_id, "settlement-start-date": fmt_datetime(s.start, dates),
               "settlement-end-date": fmt_datetime(s.end, dates), "deposit-date": fmt_datetime(s.deposit, dates),
               "total-amount": fmt_amount(s.total_amount, decimal, False, pad), "currency": s.currency}
    out = ["\t".join(cols), "\t".join(summary.get(c, "") for c in cols)]
    seen_items = set()
    for ln in s.lines:
        base = {"settlement-id": s.settlement_id, "transaction-type": ln.transaction_type, "order-id": ln.order_id,
                "merchant-order-id": ln.merchant_order_id, "adjustment-id": ln.adjustment_id,
                "shipment-id": ln.shipment_id, "marketplace-name": ln.marketplace,
                "fulfillment-id": ln.fulfillment_id, "posted-date": fmt_datetime(ln.posted, dates),
                "order-item-code": ln.order_item_code, "merchant-order-item-id": ln.merchant_order_item_id,
                "merchant-adjustment-item-id": ln.merchant_adjustment_item_id, "sku": ln.sku}
        item_key = (ln.transaction_type, ln.order_id, ln.order_item_code, ln.adjustment_id)
        if quantity_rows and ln.order_item_code and item_key not in seen_items:
            seen_items.add(item_key)
            out.append("\t".join({**base, "quantity-purchased": ln.quantity or "1"}.get(c, "") for c in cols))
        row = dict(base)
        amount = fmt_amount(ln.amount, decimal, False, pad)
        if ln.amount_type in _V1_PAIRS:
            tcol, acol = _V1_PAIRS[ln.amount_type]
            if acol not in cols:
                raise ValueError(f"a {columns}-column V1 file has no {acol} column for {ln}")
            row[tcol], row[acol] = ln.amount_description, amount
            if ln.promotion_id and "promotion-id" in cols:
                row["promotion-id"] = ln.promotion_id
        else:  # other-transaction: V1 uses the description as transaction type
            row["transaction-type"] = ln.amount_description
            row["other-amount"] = amount
        out.append("\t".join(row.get(c, "") for c in cols))
    return _encode(out, encoding, bom, newline, trailing_blank)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- big files for the benchmark -------------------------------------------------------------------
def big_v2_file(path: Path, *, rows: int = 1_000_000, orders: int = 200_000, seed: int = 7,
                settlement_id: str = "29876543210", decimal: str = ".") -> dict:
    """Stream a large, balanced V2 file with ``orders`` distinct order-ids sharing ``rows`` amount
    rows (4-5 each: price, shipping, commission, FBA fee, tax, digital services fee, promotion,
    withheld tax), of which every 50th is a refund, 1 % are MCF orders (``S01-…`` with the shop's
    own reference as merchant-order-id), 1 % are orders the store does not have; plus 0.5 % of
    the rows account-level (storage, subscription, reserve, FBA inbound fees with a shipment id
    as order-id). Returns the settlement id, the exact total, the orders to seed a store with
    (``amazon``: Amazon order ids, ``mcf``: the shop's references) and the unmatched ids."""
    rnd = random.Random(seed)
    cols = V2_COLUMNS_24
    account_rows = rows // 200
    order_rows = rows - account_rows
    per_order, extra = divmod(order_rows, orders)
    amazon_ids, mcf_refs, missing = [], [], []
    total_cents = 0
    n = 0

    def money(cents: int) -> str:
        text = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        return text.replace(".", ",") if decimal == "," else text

    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\t".join(cols) + "\n")
        summary_pos = fh.tell()
        # placeholder summary row, rewritten at the end with the total (fixed width)
        fh.write(" " * 200 + "\n")
        descs = [("ItemPrice", "Principal"), ("ItemPrice", "Shipping"), ("ItemFees", "Commission"),
                 ("ItemFees", "FBAPerUnitFulfillmentFee"), ("ItemPrice", "Tax"), ("ItemFees", "DigitalServicesFee"),
                 ("Promotion", "Shipping"), ("ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal")]
        for i in range(orders):
            k_rows = per_order + (1 if i < extra else 0)
            posted = T0 + timedelta(seconds=rnd.randint(0, 14 * 86400))
            pd_ = posted.strftime("%m/%d/%y")
            pdt = posted.strftime("%Y-%m-%d %H:%M:%S UTC")
            sku = f"SKU-{rnd.randint(1, 50000):06d}"
            item = f"{rnd.randint(10**13, 10**14 - 1)}"
            afn = rnd.random() < 0.5
            tt = "Refund" if i % 50 == 49 else "Order"
            if i % 100 == 17:  # MCF: Amazon fulfilled the seller's own shop order
                oid, moid, market = f"S01-{i:07d}-{(i * 7919) % 10_000_000:07d}", f"SHOP-{i:08d}", "Non-Amazon DE"
                mcf_refs.append(moid)
            else:
                oid = amazon_order_id(i)
                moid = f"ERP-{i:010d}" if i % 3 == 0 else ""
                market = "Amazon.de"
                (missing if i % 100 == 42 else amazon_ids).append(oid)
            moi = f"MOI-{i:08d}-1"
            for k in range(k_rows):
                at, ad = descs[k % len(descs)]
                cents = rnd.randint(100, 20000)
                if at in ("ItemFees", "Promotion", "ItemWithheldTax"):
                    cents = -cents // 5
                if tt == "Refund" and at == "ItemPrice":
                    cents = -cents
                total_cents += cents
                fh.write("\t".join((
                    settlement_id, "", "", "", "", "EUR", tt, oid, moid,
                    "amzn1:crow:Qx8S3hEGRx2Abc" if tt == "Refund" else "", "DkZ8zRkp1", market, at, ad,
                    money(cents), "AFN" if afn else "MFN", pd_, pdt, item, moi, "adj-1" if tt == "Refund" else "",
                    sku, "1", "")) + "\n")
                n += 1
        account = [("other-transaction", "other-transaction", "Storage Fee", ""),
                   ("other-transaction", "other-transaction", "Subscription Fee", ""),
                   ("FBAFees", "other-transaction", "Inbound Defect Fee / Base fee", "FBA"),
                   ("other-transaction", "other-transaction", "Current Reserve Amount", "")]
        for j in range(rows - n):  # account-level rows up to the row count
            tt, at, ad, ref = account[j % len(account)]
            cents = -rnd.randint(1, 5000)
            total_cents += cents
            oid = f"FBA{15 + j % 5000:06X}Q{j % 7}" if ref else ""
            fh.write("\t".join((settlement_id, "", "", "", "", "EUR", tt, oid, "", "", "", "Amazon.de", at, ad,
                                money(cents), "", "08/10/26", "2026-08-10 10:00:00 UTC", "", "", "", "", "",
                                "")) + "\n")
            n += 1
        summary = "\t".join((settlement_id, "2026-08-03 22:07:18 UTC", "2026-08-17 22:07:18 UTC",
                             "2026-08-19 22:07:18 UTC", money(total_cents), "EUR") + ("",) * (len(cols) - 6))
        # trailing spaces are part of the last (empty) promotion-id cell: harmless, stripped
        summary = summary.ljust(200)
        fh.seek(summary_pos)
        fh.write(summary)
    return {"settlement_id": settlement_id, "total": Decimal(total_cents).scaleb(-2), "order_ids": amazon_ids,
            "mcf_refs": mcf_refs, "missing": missing, "rows": n}


def shifted(s: Settlement, **changes) -> Settlement:
    return replace(s, **changes)


# -- editing rendered files ------------------------------------------------------------------------
def split_rows(data: bytes, encoding: str = "utf-8") -> list[list[str]]:
    """A rendered file as rows of cells (trailing line break dropped)."""
    return [line.split("\t") for line in data.decode(encoding).rstrip("\n").split("\n")]


def join_rows(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return ("\n".join("\t".join(r) for r in rows) + "\n").encode(encoding)


def reorder_columns(data: bytes, order: list[str]) -> bytes:
    """The same file with its columns in another order (``order``: header names)."""
    rows = split_rows(data)
    pos = [rows[0].index(c) for c in order]
    return join_rows([[r[p] for p in pos] for r in rows])


def set_cell(data: bytes, line: int, column: str, value: str) -> bytes:
    """Replace one cell (``line`` is 1-based, the header is line 1)."""
    rows = split_rows(data)
    rows[line - 1][rows[0].index(column)] = value
    return join_rows(rows)


def line_of(data: bytes, needle: str) -> int:
    """1-based number of the first line containing ``needle``."""
    for i, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in the file")


# -- an instance with the real inbox engine --------------------------------------------------------
class SettlementEnv:
    """An in-process App (real SQLite store, real plugins) and its real :class:`InboxEngine` on a
    fake clock. ``drop`` puts a file into ``inbox/settlements/`` and lets the engine take it
    exactly as the daemon would (scan, stability gate, claim, handler, publish, archive)."""

    def __init__(self, app, engine, clock):
        self.app, self.engine, self.clock = app, engine, clock
        self.inbox = app.inbox_dir / "settlements"
        self.reports = app.outbox_dir / "reports"

    @property
    def db(self):
        return self.app.store.db

    def drop(self, name: str, data: bytes) -> dict:
        (self.inbox / name).write_bytes(data)
        self.engine.scan()
        self.clock.advance(5)
        self.engine.run_once()
        rows = list(self.db.query("select * from files where kind = 'settlements' and name = ? "
                                  "order by claimed_at desc, id desc limit 1", [name]))
        assert rows, f"{name} was not taken"
        return rows[0]

    def order(self, order_id: str, *, channel: str = "amazon-de", channel_type: str = "amazon",
              status: str = "SHIPPED", purchased: datetime | None = None, merchant_order_id: str | None = None,
              total: str = "34.89") -> str:
        purchased = purchased or T0 + timedelta(days=1)
        self.app.store.upsert_order({
            "channel": channel, "channel_type": channel_type, "order_id": order_id,
            "merchant_order_id": merchant_order_id, "status": status, "purchased_at": purchased.isoformat(),
            "updated_at": purchased.isoformat(), "currency": "EUR", "total": total, "buyer_name": "Erika Muster",
            "items": [{"sku": "SKU-A", "quantity": 1}]})
        return f"{channel}:{order_id}"

    def one(self, sql: str, params=()) -> dict | None:
        rows = list(self.db.query(sql, list(params)))
        return rows[0] if rows else None

    def all(self, sql: str, params=()) -> list[dict]:
        return list(self.db.query(sql, list(params)))

    def finance(self, key: str) -> dict | None:
        """The order's money over every payout (one currency), as the ``order_finance`` hook
        answers it, plus ``payout_ids`` (comma-joined, sorted) and ``payout_count``."""
        got = self.app.hook.order_finance(app=self.app, order_keys=[key], refs=[])
        f = (got or {}).get(key)
        if not f:
            return None
        (totals,) = f["totals"]
        ids = sorted(dict.fromkeys(p["payout_id"] for p in f["payouts"]))
        return {**totals, "payout_ids": ",".join(ids), "payout_count": len(ids)}

    def payout(self, payout_id: str | None = None) -> dict | None:
        """The ``payouts`` row (the only one, or by id)."""
        if payout_id is None:
            rows = self.all("select * from payouts")
            assert len(rows) <= 1, rows
            return rows[0] if rows else None
        return self.one("select * from payouts where payout_id = ?", [payout_id])

    def refs(self, payout_id: str | None = None) -> dict:
        """Per order reference of a payout (the only one, or by id; key None: account-level
        money): its ``payout_refs`` row with the money per category and ``net`` as text."""
        from marketd.sdk.settlements import CATEGORIES, e4_text

        p = self.payout(payout_id)
        out = {}
        for r in self.all("select * from payout_refs where pid = ? order by ref_no", [p["pid"]]):
            sums = {c: v for c, v in self.db.execute(
                "select category, sum(amount_e4) from payout_lines where pid = ? and ref_no = ? and informational = 0 "
                "and superseded = 0 group by category", [p["pid"], r["ref_no"]])}
            for c in CATEGORIES:
                r[c] = e4_text(sums.get(c) or 0, p["scale"])
            r["net"] = e4_text(sum(v for c, v in sums.items() if c not in ("payout", "transfer")), p["scale"])
            out[r["order_ref"]] = r
        return out

    def report(self, name: str) -> Path:
        path = self.reports / name
        assert path.exists(), f"{name} not in {sorted(p.name for p in self.reports.iterdir())}"
        return path

    def csv_rows(self, name: str) -> list[dict]:
        import csv as _csv
        with open(self.report(name), newline="", encoding="utf-8") as fh:
            return list(_csv.DictReader(fh))


def base(settlement_id: str) -> str:
    """The reports' name for an Amazon settlement (``report_names = "channel"``, the default)."""
    return f"settlement-amazon-{settlement_id}"


def make_env(app_factory, **overrides) -> SettlementEnv:
    from marketd.clock import FakeClock
    from marketd.inbox import InboxEngine

    clock = FakeClock()
    cfg = {"inbox": {"defaults": {"stability_seconds": 1, "watch": "poll"}},
           "channels": {"amazon-de": {"type": "amazon", "marketplace": "DE"}}}
    for k, v in overrides.items():
        cfg.setdefault(k, {}).update(v)
    app = app_factory(clock=clock, **cfg)
    engine = InboxEngine(app)
    engine.ensure_dirs()
    return SettlementEnv(app, engine, clock)
