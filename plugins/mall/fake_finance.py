"""The fake MPAPI's Financial API: MALL's self-billing invoices, credit notes and offsets
(settlement-formats §5; field lists from the PHP client and the knowledge base).

How MALL bills, as the fake plays it [SF §5]:

- MALL *buys* the goods: every ``invoice_days`` (default 14) it issues one self-billing invoice
  (``invoiceType "SB"``) for the orders **delivered** since the last one, at the price
  excluding VAT minus the contractual ``margin``, plus VAT. The commission is inside the price,
  never a line. Delivery is not invoiced unless ``invoice_delivery`` [unverified].
- Invoice numbers have 10 digits and start with the shop id (``3000``); **credit notes**
  (returns of invoiced orders, made the day the return is recorded) have ``9`` in the 5th
  position (``3000900001``). The fake writes credit-note amounts positive, as the document
  prints them, with ``documentType "invoice"`` like invoices: only the number tells them apart.
- An **offset** (zápočet) ``offset_delay`` after an invoice nets the COD money the partner
  collected for orders of that invoice (``cod`` > 0, shipped by the partner) against it:
  ``diffPrice = Σ invoices[].offsetPrice − Σ orders[].offsetPrice`` (what MALL still pays) and
  ``sumPrice = offsetPrice + remainPrice`` per document [sign rule unverified].
- Every field is camelCase (orders are snake_case); money as JSON floats.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from marketd.sdk.fakes import Request, Response

PRAGUE = ZoneInfo("Europe/Prague")
CENT = Decimal("0.01")
MALL_BUYER = {"name": "Allegro Retail a.s.", "address": "U Garáží 1611/1, 170 00 Praha 7", "ico": "26204967"}


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _f(value: Decimal) -> float:
    return float(value)


class FinanceBook:
    def __init__(self, fake, *, shop_id: str, margin: Decimal, invoice_days: float, offset_delay: float,
                 invoice_delivery: bool):
        self.fake = fake
        self.shop_id = shop_id
        self.margin = Decimal(str(margin))
        self.period = timedelta(days=invoice_days)
        self.offset_delay = timedelta(seconds=offset_delay)
        self.invoice_delivery = invoice_delivery
        self.invoices: dict[int, dict] = {}
        self.offsets: dict[int, dict] = {}
        self.invoiced: dict[int, int] = {}       # order id -> invoice id
        self.credited: set[int] = set()
        self.next_run: datetime | None = None
        self.due_offsets: list[tuple[datetime, int]] = []
        self.seq = {"invoice": 0, "credit": 0, "offset": 0}

    def routes(self) -> None:
        f = self.fake
        f.route("GET", r"/v1/invoices", self.list_invoices, name="mall.list_invoices")
        f.route("GET", r"/v1/invoices/(?P<iid>\d+)", self.get_invoice, name="mall.get_invoice")
        f.route("GET", r"/v1/invoices/(?P<iid>\d+)/download", self.download, name="mall.download_invoice")
        f.route("GET", r"/v1/offsets", self.list_offsets, name="mall.list_offsets")
        f.route("GET", r"/v1/offsets/(?P<oid>\d+)", self.get_offset, name="mall.get_offset")
        f.route("GET", r"/v1/offsets/(?P<oid>\d+)/download", self.download, name="mall.download_offset")

    # -- MALL's billing runs ---------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        if self.next_run is None:
            self.next_run = now + self.period
        for oid, order in self.fake.orders.items():
            if order["status"] == "returned" and oid in self.invoiced and oid not in self.credited:
                self.credit_note(oid, now)
        while now >= self.next_run:
            self.invoice(self.next_run)
            self.next_run += self.period
        for due, iid in sorted(self.due_offsets):
            if now >= due:
                self.due_offsets.remove((due, iid))
                self.offset(iid, due)

    def run_now(self) -> dict | None:
        """Invoice now what is delivered (a test's shortcut to MALL's next billing run)."""
        return self.invoice(self.fake.clock.now())

    def _number(self, kind: str) -> str:
        self.seq[kind] += 1
        return f"{self.shop_id}{'9' if kind == 'credit' else '1'}{self.seq[kind]:05d}"

    def _items(self, order: dict, sign: int = 1) -> list[dict]:
        out = []
        lines = [dict(it) for it in order["items"]]
        if self.invoice_delivery and order.get("delivery_price"):
            lines.append({"id": "DELIVERY", "article_id": None, "title": "Doprava", "quantity": 1,
                          "price": order["delivery_price"], "vat": 21.0})
        for it in lines:
            rate = Decimal(str(it.get("vat") or 0))
            qty = Decimal(str(it["quantity"]))
            base = _q(Decimal(str(it["price"])) / (1 + rate / 100))
            unit = _q(base * (1 - self.margin))
            without = unit * qty
            vat = _q(without * rate / 100)
            out.append({"id": len(out) + 1, "articleId": it.get("article_id"), "title": it.get("title"),
                        "titleEn": it.get("title"), "quantity": int(qty), "unit": "ks", "unitPrice": _f(unit),
                        "vatPrice": _f(sign * vat), "priceWithoutVat": _f(sign * without), "vatRate": _f(rate),
                        "totalPrice": _f(sign * (without + vat)), "orderId": order["id"]})
        return out

    def _document(self, kind: str, orders: list[dict], at: datetime, origin: int | None = None) -> dict:
        items = [it for o in orders for it in self._items(o)]
        taxes: dict[Decimal, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for it in items:
            t = taxes[Decimal(str(it["vatRate"]))]
            t[0] += Decimal(str(it["priceWithoutVat"]))
            t[1] += Decimal(str(it["vatPrice"]))
        total = sum((Decimal(str(it["totalPrice"])) for it in items), Decimal(0))
        iid = len(self.invoices) + 1
        local = at.astimezone(PRAGUE)
        doc = {
            "id": iid, "invoiceNumber": self._number(kind), "partner": int(self.shop_id),
            "createdAt": local.strftime("%Y-%m-%d %H:%M:%S"), "deliveryAt": local.strftime("%Y-%m-%d"),
            "dueDate": (local + timedelta(days=14)).strftime("%Y-%m-%d"), "originDocumentId": origin,
            "currency": orders[0].get("currency") or "CZK",
            "supplier": {"name": self.fake.partner, "bank": {"account": "123456789/0100", "iban": "CZ650100000000123456789"}},
            "customer": dict(MALL_BUYER), "items": items, "filePath": f"/v1/invoices/{iid}/download",
            "total": _f(total),
            "taxRecap": {"total": _f(total), "taxes": [{"tax": _f(rate), "base": _f(b), "total": _f(b + v), "price": _f(v)}
                                                       for rate, (b, v) in sorted(taxes.items())]},
            "note": "", "purchNoC": f"PO{iid:06d}", "invoiceType": "SB", "invoiceIndicator": "SB",
            "documentType": "invoice", "invoiceTypeTag": "self-billing",
        }
        self.invoices[iid] = doc
        return doc

    def invoice(self, at: datetime) -> dict | None:
        orders = [o for oid, o in sorted(self.fake.orders.items())
                  if o["status"] == "delivered" and oid not in self.invoiced and not o.get("test")
                  and o["_at"].get("delivered") and o["_at"]["delivered"] <= at]
        if not orders:
            return None
        doc = self._document("invoice", orders, at)
        for o in orders:
            self.invoiced[o["id"]] = doc["id"]
        if any(self._cod(o) for o in orders):
            self.due_offsets.append((at + self.offset_delay, doc["id"]))
        return doc

    def credit_note(self, order_id: int, at: datetime) -> dict:
        self.credited.add(order_id)
        return self._document("credit", [self.fake.orders[order_id]], at, origin=self.invoiced[order_id])

    @staticmethod
    def _cod(order: dict) -> Decimal:
        return Decimal(str(order.get("cod") or 0)) if not order.get("mdp") else Decimal(0)

    def offset(self, invoice_id: int, at: datetime) -> dict:
        inv = self.invoices[invoice_id]
        local = at.astimezone(PRAGUE)
        cod_orders = [self.fake.orders[oid] for oid, iid in self.invoiced.items()
                      if iid == invoice_id and self._cod(self.fake.orders[oid])]
        inv_total = Decimal(str(inv["total"]))
        cod_total = sum((self._cod(o) for o in cod_orders), Decimal(0))
        self.seq["offset"] += 1
        oid = self.seq["offset"]
        number = f"{self.shop_id:0>10}-{local:%d%m%Y}" + (f"-{oid}" if oid > 1 else "")
        doc = {
            "id": oid, "partner": int(self.shop_id), "documentNumber": number,
            "createdAt": local.strftime("%Y-%m-%d %H:%M:%S"), "dueDate": (local + timedelta(days=7)).strftime("%Y-%m-%d"),
            "currency": inv["currency"], "diffPrice": _f(inv_total - cod_total), "variableSymbol": inv["invoiceNumber"],
            "supplier": dict(inv["supplier"]), "customer": dict(MALL_BUYER),
            "invoices": [{"id": inv["id"], "invoiceNumber": inv["invoiceNumber"], "created": inv["createdAt"][:10],
                          "dueDate": inv["dueDate"], "sumPrice": inv["total"], "offsetPrice": inv["total"],
                          "remainPrice": 0.0, "currency": inv["currency"], "purchNoC": inv["purchNoC"], "note": ""}],
            "orders": [{"id": o["id"], "created": (o.get("delivered") or "")[:10], "dueDate": inv["dueDate"],
                        "sumPrice": _f(self._cod(o)), "offsetPrice": _f(self._cod(o)), "remainPrice": 0.0,
                        "currency": o.get("currency") or inv["currency"]} for o in cod_orders],
            "attachment": {"filename": f"MP_offset_{number}.PDF", "mime": "application/pdf"},
        }
        self.offsets[oid] = doc
        return doc

    # -- routes ----------------------------------------------------------------------------------
    def list_invoices(self, req: Request) -> Response:
        rows = [{"id": d["id"], "invoiceNumber": d["invoiceNumber"], "createdAt": d["createdAt"],
                 "dueDate": d["dueDate"], "total": d["total"], "currency": d["currency"],
                 "documentType": d["documentType"]} for _, d in sorted(self.invoices.items())]
        return self.fake._page(req, rows)

    def get_invoice(self, req: Request, iid: str) -> Response:
        from .fake import envelope

        doc = self.invoices.get(int(iid))
        if doc is None:
            return self.fake._error(404, f"Invoice {iid} not found")
        return Response(200, envelope(doc))

    def list_offsets(self, req: Request) -> Response:
        rows = [{"id": d["id"], "documentNumber": d["documentNumber"], "createdAt": d["createdAt"],
                 "dueDate": d["dueDate"], "diffPrice": d["diffPrice"], "currency": d["currency"]}
                for _, d in sorted(self.offsets.items())]
        return self.fake._page(req, rows)

    def get_offset(self, req: Request, oid: str) -> Response:
        from .fake import envelope

        doc = self.offsets.get(int(oid))
        if doc is None:
            return self.fake._error(404, f"Offset {oid} not found")
        return Response(200, envelope(doc))

    def download(self, req: Request, iid: str | None = None, oid: str | None = None) -> Response:
        from marketd.sdk.fakes import pdf_label

        return Response(200, pdf_label([f"MALL document {iid or oid}"], width_mm=210, height_mm=297),
                        {"Content-Type": "application/pdf"})
