"""A fake MALL Group Marketplace API (MPAPI): orders, MALL Delivery labels and the Financial API
(research api-contracts §4, §8.5; settlement-formats §5), shipped with the plugin: the tests run
it in-process, ``marketd sandbox`` serves it on loopback.

- ``client_id`` query parameter on every call (403 otherwise).
- Every answer is the ``{"result": {"code", "status", "message"?}, "paging"?, "data"}`` envelope;
  JSON numbers as MALL writes them (money as floats: ``499.0``).
- **Orders**: ``GET /v1/orders`` (``filter=basic`` rows or ids; ``page``/``page_size`` 1..100,
  else 400; ``status=…`` and every basic column as ``column=op:value`` with ops ``eq, ne, gt,
  ge, lt, le, bt, in, nin``; ``_sort=col:asc,col:desc``; test orders only with ``test=1``),
  ``GET /v1/orders/unconfirmed``, ``GET/PUT /v1/orders/{id}``, ``PUT …/tracking``,
  ``GET …/consignments``.
- **State machine**: new orders are ``blocked`` until MALL has checked the payment
  (``payment_delay`` of fake time, then ``open``, unconfirmed); the partner confirms and moves
  ``open → cancelled|shipping|shipped``, ``shipping → cancelled|shipped``, ``shipped →
  delivered|returned``; illegal moves get 400 with ``result.status:"ERROR"``; ``shipping`` and
  ``shipped`` need ``confirmed``. The same status again is accepted (PUT is idempotent).
- **MALL Delivery (MDP)**: ``mdp`` orders may not skip ``shipping`` and the partner may not set
  ``shipped/delivered/returned`` or tracking: MALL does. The clock-driven "carrier pickup" moves
  them ``shipping → shipped`` ``pickup_delay`` after the labels and fills tracking number/url
  (visible only from ``shipped``); ``delivered`` follows after ``delivery_delay`` (or
  ``returned``/``lost`` per ``set_outcome``). Orders the partner ships itself are marked
  ``delivered`` by MALL ``delivery_delay`` after ``shipped`` (``deliver_own=False`` leaves them).
- ``POST /v1/orders/labels``: only for orders in ``shipping`` (or a reprint after ``shipped``);
  parcel_count 1..100; barcodes ``<prefix>*<i:03><n:03>``; ``labels_raw`` is base64 of a real
  PDF (fpdf2; A4 with four A6 labels when ``labels_per_page`` is 4, else one 100x150 mm label
  per page) or of ZPL text (one ``^XA…^XZ`` per parcel). Calling again in ``shipping`` with
  a new count replaces the barcodes; after ``shipped`` the last version comes back unchanged.
- **Limits**: a daily quota per endpoint group (products, availability, orders, everything
  else; MALL's day in Prague) gives 429 + ``status:"LIMITED"``; ``limited_next(…, http=200)``
  answers LIMITED with HTTP 200, as MALL also does.
- **Products** (``fake_products.py``): products, variants, pricing and batch availability, new
  products in ``draft`` until MALL's review (``review_delay``), the article rules with
  ``errorCodes``.
- **Financial API** (``fake_finance.py``): self-billing invoices every ``invoice_days`` for the
  orders delivered since the last one (price excl. VAT minus ``margin``, plus VAT), credit notes
  when an invoiced order is returned, offsets netting COD orders ``offset_delay`` after each
  invoice; ``GET /v1/invoices[/{id}[/download]]`` and ``/v1/offsets[/{id}[/download]]``, camelCase.
- **Contract**: with a ``contract`` (the tests plug the hand-written schemas of
  ``tests/contracts/mall/``) request bodies are checked (a violation → 400 and
  ``fake.violations``) and every answer too (a drift → HTTP 599 and ``fake.response_violations``).
- Time moves with the clock (``fake.clock.advance`` or ``POST /__control/advance``); MALL's own
  moves (payment check, pickup, delivery, invoicing) happen at the next request or ``tick()``.
  ``mall_update(id, status=…, **fields)`` is MALL changing an order (a return, a cancellation).
"""
from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketd.sdk import Address, Clock, FakeClock, LabelFormat, Parcel, ShipmentRequest, TrackingStatus
from marketd.sdk.fakes import (FakeService, Request, Response, SandboxCheckFailed, SandboxConfig, SandboxFake,
                               pdf_labels, zpl_label)
from marketd.sdk.labels import check_pdf_label

from .fake_finance import FinanceBook
from .fake_products import ProductBook

PARTNER_MOVES = {
    "open": {"cancelled", "shipping", "shipped"},
    "shipping": {"cancelled", "shipped"},
    "shipped": {"delivered", "returned"},
}
MDP_FORBIDDEN = {"shipped", "delivered", "returned"}
TS = "%Y-%m-%d %H:%M:%S"
PRAGUE = ZoneInfo("Europe/Prague")
BASIC = ["id", "external_id", "purchase_id", "customer_id", "customer", "cod", "payment_type", "ship_date",
         "tracking_number", "tracking_url", "delivered_at", "status", "confirmed", "test", "mdp", "mdp_classic",
         "mdp_spectrum"]
OPS = ("eq", "ne", "gt", "ge", "lt", "le", "bt", "in", "nin")
LIST_PARAMS = {"client_id", "filter", "page", "page_size", "_sort", "test"}


def envelope(data=None, code=200, status="OK", message=None, paging=None):
    result = {"code": code, "status": status}
    if message:
        result["message"] = message
    out = {"result": result}
    if paging is not None:
        out["paging"] = paging
    out["data"] = data if data is not None else {}
    return out


def _num(value: Decimal | int | float | None):
    """A money value as MALL's JSON writes it (a float)."""
    return None if value is None else float(value)


def _cmp_value(value):
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float, Decimal)):
        return (0, Decimal(str(value)))
    text = "" if value is None else str(value)
    low = text.lower()
    if low in ("true", "false"):
        return (0, int(low == "true"))
    try:
        return (0, Decimal(text))
    except ArithmeticError:
        return (1, text)
    except Exception:
        return (1, text)


def matches(value, op: str, arg: str) -> bool:
    """MPAPI's ``column=op:value`` on one value."""
    v = _cmp_value(value)
    args = [_cmp_value(a) for a in arg.split(",")]
    if op == "eq":
        return v == args[0]
    if op == "ne":
        return v != args[0]
    if op == "in":
        return v in args
    if op == "nin":
        return v not in args
    if v[0] != args[0][0]:
        return False
    if op == "gt":
        return v > args[0]
    if op == "ge":
        return v >= args[0]
    if op == "lt":
        return v < args[0]
    if op == "le":
        return v <= args[0]
    if op == "bt":
        return len(args) == 2 and args[0] <= v <= args[1]
    return False


class MallFake(FakeService):
    def __init__(self, clock: Clock | None = None, *, client_id: str = "mall-client-id",
                 pickup_delay: float = 4 * 3600, delivery_delay: float = 24 * 3600, payment_delay: float = 600,
                 daily_quota: dict | None = None, partner: str = "Negozio Srl, Via Milano 5, 20100 Milano IT",
                 deliver_own: bool = True, shop_id: str = "3000", margin: Decimal = Decimal("0.15"),
                 invoice_days: float = 14, offset_delay: float = 2 * 86400, invoice_delivery: bool = False,
                 contract=None, review_delay: float = 3600.0):
        super().__init__(clock)
        self.client_id = client_id
        self.partner = partner  # the seller as MALL prints it in the sender block
        self.pickup_delay = pickup_delay
        self.delivery_delay = delivery_delay
        self.payment_delay = payment_delay
        self.deliver_own = deliver_own
        self.daily_quota = {"products": 100_000, "availability": 100_000, "orders": 100_000, "other": 100_000,
                            **(daily_quota or {})}
        self.used: dict[tuple[str, str], int] = {}
        self.orders: dict[int, dict] = {}
        self.labels_calls = 0
        self.contract = contract
        self._violations: list[str] = []
        self._response_violations: list[str] = []
        self.finance = FinanceBook(self, shop_id=shop_id, margin=margin, invoice_days=invoice_days,
                                   offset_delay=offset_delay, invoice_delivery=invoice_delivery)
        self.route("GET", r"/v1/orders", self.list_orders, name="mall.list_orders")
        self.route("GET", r"/v1/orders/unconfirmed", self.unconfirmed, name="mall.unconfirmed")
        self.route("POST", r"/v1/orders/labels", self.labels, name="mall.labels")
        self.route("GET", r"/v1/orders/(?P<oid>\d+)", self.get_order, name="mall.get_order")
        self.route("PUT", r"/v1/orders/(?P<oid>\d+)", self.put_order, name="mall.update_order")
        self.route("PUT", r"/v1/orders/(?P<oid>\d+)/tracking", self.put_tracking,
                   name="mall.put_tracking")
        self.route("GET", r"/v1/orders/(?P<oid>\d+)/consignments", self.consignments,
                   name="mall.consignments")
        self.finance.routes()
        self.articles = ProductBook(self, review_delay=review_delay)
        self.articles.routes()

    # -- contract ---------------------------------------------------------------------------------
    @property
    def violations(self) -> list[str]:
        if self.contract is None:
            raise RuntimeError("MallFake has no contract plugged in: nothing was checked")
        return self._violations

    @property
    def response_violations(self) -> list[str]:
        if self.contract is None:
            raise RuntimeError("MallFake has no contract plugged in: nothing was checked")
        return self._response_violations

    # -- fixtures -------------------------------------------------------------------------------
    def _ts(self, at: datetime | None = None) -> str:
        """A time as MALL writes it: local (Prague) wall time, no offset."""
        return (at or self.clock.now()).astimezone(PRAGUE).strftime(TS)

    def add_order(self, order_id: int, *, mdp: bool = True, status: str = "open", confirmed: bool = False,
                  items: list[dict] | None = None, address: dict | None = None, **extra) -> dict:
        now = self._ts()
        order = {
            "id": order_id, "external_id": None, "purchase_id": order_id * 10, "customer_id": 1,
            "currency": "CZK", "delivery_price": 79.0, "cod_price": 0, "cod": 0, "discount": 0, "payment_type": "A",
            "delivery_method": "MDP_SMALLBOX" if mdp else "DPD", "delivery_method_id": 10001,
            "branch_id": None, "tracking_number": None, "tracking_url": None, "ship_date": None,
            "delivery_date": None, "delivered_at": None, "first_delivery_attempt": None,
            "address": address or {"customer_id": 1, "name": "Jana Nováková", "company": "", "phone": "+420600000000",
                                   "email": "jana@example.cz", "street": "Dlouhá 1", "city": "Praha",
                                   "zip": "11000", "country": "CZ"},
            "confirmed": confirmed, "status": status,
            "items": items or [{"id": "SKU-1", "article_id": 1, "quantity": 1, "price": 499.0, "vat": 21.0,
                                "commission": 15, "title": "Hrnek", "serial_numbers": [], "package_size": "smallbox"}],
            "test": False, "mdp": mdp, "mdp_classic": mdp, "mdp_spectrum": False, "ready_to_return": False,
            "blocked": now, "open": now if status != "blocked" else None, "shipping": None, "shipped": None,
            "delivered": None, "returned": None, "cancelled": None, "lost": None,
            "ulozenka_status_history": [], "consignment_status_history": [],
            "_labels": None, "_outcome": "delivered", "_at": {status: self.clock.now()}, **extra,
        }
        order["customer"] = order["address"].get("name")
        if status in ("shipped", "delivered") and not mdp and not order["tracking_number"]:
            order["tracking_number"] = f"DPD{order_id:010d}"
        if status == "delivered":
            order["delivered"] = order["delivered_at"] = now
        self.orders[order_id] = order
        return order

    def set_outcome(self, order_id: int, outcome: str) -> None:
        self.orders[order_id]["_outcome"] = outcome

    def mall_update(self, order_id: int, status: str | None = None, **fields) -> dict:
        """MALL changes an order (a return after delivery, a cancellation, a delivery): its status,
        that status's timestamp, and any fields given."""
        with self.lock:
            order = self.orders[order_id]
            if status:
                self._set_status(order, status)
                if status == "delivered" and not order.get("delivered_at"):
                    order["delivered_at"] = order["delivered"]
            order.update(fields)
            return order

    def populate(self, n: int, *, seed: int = 7, start_id: int = 100_000, mdp_share: float = 0.5,
                 statuses: dict | None = None, test_share: float = 0.0) -> list[int]:
        """``n`` orders with a mix of statuses (weights in ``statuses``), for benches and the sandbox."""
        rng = random.Random(seed)
        weights = statuses or {"open": 4, "shipping": 2, "shipped": 2, "blocked": 1}
        names, w = list(weights), list(weights.values())
        ids = []
        for i in range(n):
            oid = start_id + i
            status = rng.choices(names, w)[0]
            mdp = rng.random() < mdp_share
            qty = rng.randint(1, 3)
            price = float(rng.choice([199, 249, 499, 899, 1299]))
            self.add_order(oid, mdp=mdp, status=status, confirmed=status not in ("open", "blocked") or rng.random() < .5,
                           items=[{"id": f"SKU-{rng.randint(1, 40)}", "article_id": rng.randint(1, 9999),
                                   "quantity": qty, "price": price, "vat": 21.0, "commission": 15,
                                   "title": "Zboží", "serial_numbers": [],
                                   "package_size": "smallbox" if mdp else "bigbox"}],
                           test=rng.random() < test_share)
            ids.append(oid)
        return ids

    # -- plumbing -------------------------------------------------------------------------------
    def limited_next(self, target: str = ".", times: int = 1, http: int = 429) -> None:
        """The next ``times`` requests matching ``target`` answer ``status: "LIMITED"`` with HTTP ``http``
        (MALL's limiter; MALL sends it with HTTP 200 too)."""
        self.fail_next(target, http, times, envelope(code=429, status="LIMITED", message="Too many requests"))

    def fault_body(self, status: int):
        return envelope(code=status, status="ERROR", message=f"fake fault {status}")

    def gate(self, req: Request) -> Response | None:
        """MALL's auth (``client_id`` in the query) and its daily quota per endpoint group."""
        if req.q("client_id") != self.client_id:
            return Response(403, envelope(code=403, status="ERROR", message="Invalid client_id"))
        group = next((g for g in ("products", "availability", "orders") if req.path.startswith(f"/v1/{g}")), "other")
        day = self.clock.now().astimezone(PRAGUE).date().isoformat()
        n = self.used.get((group, day), 0) + 1
        self.used[(group, day)] = n
        if n > self.daily_quota[group]:
            return Response(429, envelope(code=429, status="LIMITED", message=f"daily limit for {group} reached"))
        if self.contract is not None and req.body and req.method in ("POST", "PUT"):
            problems = self.contract.check_request(req.operation, req.json())
            if problems:
                self._violations += [f"{req.operation}: {p}" for p in problems]
                return Response(400, envelope(code=400, status="ERROR", message="; ".join(problems)[:500]))
        return None

    def finish(self, req: Request, resp: Response) -> Response:
        if self.contract is not None and isinstance(resp.body, dict):
            problems = self.contract.check_response(req.operation, resp.status, resp.body)
            if problems:
                self._response_violations += [f"{req.operation} {resp.status}: {p}" for p in problems]
                return Response(599, {"fake_contract_violation": problems})
        return resp

    def not_found(self, req):
        return Response(404, envelope(code=404, status="ERROR", message=f"no route {req.path}"))

    def bad_json(self, req):
        return Response(400, envelope(code=400, status="ERROR", message="invalid JSON body"))

    def _error(self, code: int, message: str) -> Response:
        return Response(code, envelope(code=code, status="ERROR", message=message))

    def _public(self, order: dict) -> dict:
        out = {k: v for k, v in order.items() if not k.startswith("_")}
        if order["mdp"] and order["status"] in ("blocked", "open", "shipping"):
            # MDP tracking is visible only after `shipped`.
            out["tracking_number"] = None
            out["tracking_url"] = None
        return out

    def _set_status(self, order: dict, status: str) -> None:
        order["status"] = status
        order[status] = self._ts()
        order["_at"][status] = self.clock.now()

    def tick(self) -> None:
        now = self.clock.now()
        for order in self.orders.values():
            at = order["_at"]
            if order["status"] == "blocked" and now >= at["blocked"] + timedelta(seconds=self.payment_delay):
                self._set_status(order, "open")
            lab = order["_labels"]
            if order["mdp"] and lab is not None:
                self._tick_mdp(order, lab, now)
            elif not order["mdp"] and self.deliver_own and order["status"] == "shipped" \
                    and now >= at["shipped"] + timedelta(seconds=self.delivery_delay):
                self._set_status(order, "delivered")
                order["delivered_at"] = order["delivered"]
        self.finance.tick(now)

    def _tick_mdp(self, order: dict, lab: dict, now: datetime) -> None:
        if order["status"] == "shipping" and now >= lab["at"] + timedelta(seconds=self.pickup_delay):
            self._set_status(order, "shipped")
            order["tracking_number"] = f"MDP{order['id']:010d}"
            order["tracking_url"] = f"https://tracking.example/mdp/{order['tracking_number']}"
            order["ship_date"] = now.astimezone(PRAGUE).strftime("%Y-%m-%d")
            order["consignment_status_history"].append(
                {"status": "RECEIVED", "tracking_number": order["tracking_number"], "date": self._ts()})
        if order["status"] == "shipped":
            done = lab["at"] + timedelta(seconds=self.pickup_delay + self.delivery_delay)
            if now >= done:
                outcome = order["_outcome"]
                if outcome == "lost":
                    self._set_status(order, "lost")
                elif outcome == "returned":
                    self._set_status(order, "returned")
                else:
                    self._set_status(order, "delivered")
                    order["delivered_at"] = order["delivered"]
                order["consignment_status_history"].append(
                    {"status": order["status"].upper(), "tracking_number": order["tracking_number"],
                     "date": self._ts()})

    # -- listings ---------------------------------------------------------------------------------
    def _page(self, req: Request, rows: list) -> Response:
        try:
            page = int(req.q("page", "1"))
            size = int(req.q("page_size", "100"))
        except ValueError:
            return self._error(400, "page and page_size must be numbers")
        if page < 1 or not 1 <= size <= 100:
            return self._error(400, "page must be >= 1 and page_size between 1 and 100")
        pages = max(1, -(-len(rows) // size))
        chunk = rows[(page - 1) * size: page * size]
        return Response(200, envelope(chunk, paging={"pages": pages, "size": size, "page": page, "total": len(rows)}))

    def _filtered(self, req: Request, rows: list[dict]) -> list[dict] | Response:
        if req.q("test") not in ("1", "true"):
            rows = [o for o in rows if not o.get("test")]
        for name, values in req.query.items():
            if name in LIST_PARAMS:
                continue
            if name not in BASIC:
                return self._error(400, f"unknown filter column {name!r}")
            spec = values[0]
            op, _, arg = spec.partition(":") if ":" in spec and spec.split(":", 1)[0] in OPS else ("eq", "", spec)
            rows = [o for o in rows if matches(o.get(name), op, arg)]
        sort = req.q("_sort")
        if sort:
            for part in reversed(sort.split(",")):
                col, _, direction = part.partition(":")
                if col not in BASIC:
                    return self._error(400, f"unknown sort column {col!r}")
                rows = sorted(rows, key=lambda o: _cmp_value(o.get(col)), reverse=direction == "desc")
        return rows

    def list_orders(self, req: Request) -> Response:
        rows = self._filtered(req, [self._public(o) for o in self.orders.values()])
        if isinstance(rows, Response):
            return rows
        if req.q("filter") == "basic":
            rows = [{k: o.get(k) for k in BASIC} for o in rows]
        else:
            rows = [o["id"] for o in rows]
        return self._page(req, rows)

    def unconfirmed(self, req: Request) -> Response:
        rows = [self._public(o) for o in self.orders.values()
                if o["status"] == "open" and not o["confirmed"] and not o.get("test")]
        return self._page(req, rows)

    # -- one order --------------------------------------------------------------------------------
    def get_order(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        return Response(200, envelope(self._public(order)))

    def put_order(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        body = req.json() or {}
        new = body.get("status")
        if body.get("confirmed") is True and not order["confirmed"]:
            if order["status"] != "open":
                return self._error(400, f"Order {oid} in status {order['status']} cannot be confirmed")
            order["confirmed"] = True
        if new and new != order["status"]:
            if new not in PARTNER_MOVES.get(order["status"], set()):
                return self._error(400, f"Status change {order['status']} -> {new} is not allowed")
            if order["mdp"] and new in MDP_FORBIDDEN:
                return self._error(400, f"Order {oid} is delivered by MALL Delivery: status {new} is set by MALL")
            if new in ("shipping", "shipped") and not order["confirmed"]:
                return self._error(400, f"Order {oid} must be confirmed first")
            self._set_status(order, new)
            if new == "shipped" and not order["mdp"]:
                order["ship_date"] = self.clock.now().astimezone(PRAGUE).strftime("%Y-%m-%d")
            for k in ("tracking_number", "tracking_url", "delivered_at", "first_delivery_attempt"):
                if body.get(k) and not order["mdp"]:
                    order[k] = body[k]
        return Response(200, envelope(self._public(order)))

    def put_tracking(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        if order["mdp"]:
            return self._error(400, f"Order {oid} is delivered by MALL Delivery: tracking is added by MALL")
        body = req.json() or {}
        order["tracking_number"], order["tracking_url"] = body.get("tracking_number"), body.get("tracking_url")
        return Response(200, envelope(self._public(order)))

    def status_puts(self, order_id: int | str | None = None, status: str = "shipped") -> list[Request]:
        """Accepted ``PUT /v1/orders/{id}`` calls that asked for ``status``."""
        out = []
        for r in self.calls_of("mall.update_order", 200):
            if order_id is not None and not r.path.endswith(f"/{order_id}"):
                continue
            try:
                if (r.json() or {}).get("status") == status:
                    out.append(r)
            except ValueError:
                continue
        return out

    # -- labels ---------------------------------------------------------------------------------
    def labels(self, req: Request) -> Response:
        body = req.json() or {}
        kind = (body.get("labels_type") or "pdf").lower()
        if kind not in ("pdf", "zpl"):
            return self._error(400, "labels_type must be pdf or zpl")
        per_page = int(body.get("labels_per_page") or 4)
        if per_page not in (1, 4):
            return self._error(400, "labels_per_page must be 1 or 4")
        out_orders = []
        all_labels: list[tuple[list[str], str]] = []
        for item in body.get("labels") or []:
            oid = int(item.get("order_id") or 0)
            count = int(item.get("parcel_count") or 0)
            order = self.orders.get(oid)
            if order is None:
                return self._error(404, f"Order {oid} not found")
            if not order["mdp"]:
                return self._error(400, f"Order {oid} is not delivered by MALL Delivery")
            if not 1 <= count <= 100:
                return self._error(400, f"parcel_count {count} out of range 1..100")
            if order["status"] == "shipping":
                if order["_labels"] is None or order["_labels"]["count"] != count:
                    prefix = f"14IS{oid:08d}"
                    order["_labels"] = {"count": count, "at": self.clock.now(),
                                        "barcodes": [f"{prefix}*{i:03d}{count:03d}" for i in range(1, count + 1)]}
            elif order["status"] in ("shipped", "delivered", "returned", "lost") and order["_labels"]:
                pass  # reprint of the last version; a changed count is ignored
            else:
                return self._error(400, f"Labels can be created only for orders in status shipping "
                                        f"(order {oid} is {order['status']})")
            barcodes = order["_labels"]["barcodes"]
            out_orders.append({"order_id": oid, "barcodes": barcodes})
            addr = order["address"]
            for b in barcodes:
                all_labels.append(([b, "MALL Delivery", addr["name"], addr["street"], f"{addr['zip']} {addr['city']}",
                                    addr["country"], f"Order {oid}", f"Sender: {self.partner}",
                                    f"Parcel {barcodes.index(b) + 1}/{len(barcodes)}"], b))
        self.labels_calls += 1
        if kind == "zpl":
            raw = "\n".join(zpl_label(lines, b) for lines, b in all_labels).encode()
        else:
            raw = pdf_labels([lines for lines, _ in all_labels], per_page=per_page)
        return Response(200, envelope({"orders": out_orders, "labels_raw": base64.b64encode(raw).decode()}))

    def consignments(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        lab = order["_labels"]
        data = [] if lab is None else [{"id": oid, "order_id": int(oid), "labels_raw": None, "labels_type": "pdf",
                                        "parcel_count": lab["count"], "type": "MDP"}]
        return Response(200, envelope(data))


# -- what `marketd sandbox` serves -----------------------------------------------------------------
SANDBOX_ACCOUNT = "mall_delivery"      # the MALL Delivery carrier account
SANDBOX_CHANNEL = "mall-cz"            # the MALL channel account
SANDBOX_ORDERS = (1001, 1002, 1003)    # open MALL Delivery orders waiting for labels
SANDBOX_OWN = (1004, 1005)             # open orders the seller ships with its own carrier


def sandbox() -> SandboxFake:
    return SandboxFake("mall", _sandbox_make, _sandbox_configure, _sandbox_check)


def _sandbox_make(options) -> MallFake:
    # its own clock, moved by POST /__control/advance (MALL's pickup comes hours after the labels)
    fake = MallFake(FakeClock(datetime.now(timezone.utc)))
    for oid in SANDBOX_ORDERS:
        fake.add_order(oid, mdp=True)
    for oid in SANDBOX_OWN:
        fake.add_order(oid, mdp=False, confirmed=True,
                       items=[{"id": "SKU-7", "article_id": 7, "quantity": 1, "price": 1299.0, "vat": 21.0,
                               "commission": 15, "title": "Konvice", "serial_numbers": [], "package_size": "bigbox"}])
    return fake


def _sandbox_configure(fake: MallFake, url: str) -> SandboxConfig:
    from .settings import env_name

    return SandboxConfig(
        tables={"channels": {SANDBOX_CHANNEL: {"type": "mall", "base_url": url, "orders_sync": True,
                                               "invoices_fetch": True, "country": "CZ"}},
                "carriers": {SANDBOX_ACCOUNT: {"type": "mall_delivery", "channels": [SANDBOX_CHANNEL]}}},
        env={env_name(SANDBOX_CHANNEL): fake.client_id},
        hints=[f"MALL: orders {', '.join(map(str, SANDBOX_ORDERS))} are MALL Delivery orders (carrier "
               f"{SANDBOX_ACCOUNT}); {', '.join(map(str, SANDBOX_OWN))} ship with your own carrier, and their "
               "tracking goes back to MALL",
               f"curl -X POST '{url}/__control/advance?seconds=14400'   # MALL: 4 hours on, the carrier picks up"])


def _sandbox_check(app, fake: MallFake) -> list[str]:
    """The channel syncs the orders; labels for a two-parcel MALL Delivery order (MALL's 4-per-A4
    sheet cut into one page per parcel), then the order's status once the carrier has picked the
    parcels up; tracking of an order shipped with the seller's own carrier goes back to MALL, and
    the same push for a MALL Delivery order is refused without a call."""
    channel = app.channel(SANDBOX_CHANNEL)
    synced = channel.sync_orders(None)
    if synced < len(SANDBOX_ORDERS) + len(SANDBOX_OWN):
        raise SandboxCheckFailed(f"the MALL channel stored {synced} order(s) of "
                                 f"{len(SANDBOX_ORDERS) + len(SANDBOX_OWN)}")
    carrier = app.carrier(SANDBOX_ACCOUNT)
    oid = str(SANDBOX_ORDERS[0])
    request = ShipmentRequest(carrier=SANDBOX_ACCOUNT, parcels=[Parcel(Decimal("1.2")), Parcel(Decimal("3.4"))],
                              recipient=Address(name="Jana Nováková", street="Dlouhá 1", postal_code="11000",
                                                city="Praha", country="CZ"),
                              label_format=LabelFormat.PDF, references=[oid], options={"order_ids": [oid]},
                              idempotency_key="sandbox-check", sequence=1)
    result = carrier.create_shipment(request)
    if not result.ok:
        raise SandboxCheckFailed(f"labels for MALL order {oid} failed: " + "; ".join(str(m) for m in result.messages))
    sizes = []
    for i, parcel in enumerate(result.parcels, 1):
        if parcel.label is None:
            raise SandboxCheckFailed(f"parcel {i} came back without a label: "
                                     + "; ".join(str(m) for m in result.messages))
        sizes += check_pdf_label(parcel.label.data)
    if len(sizes) != len(request.parcels):
        raise SandboxCheckFailed(f"{len(sizes)} label page(s) for {len(request.parcels)} parcels")
    fake.clock.advance(fake.pickup_delay)
    tracked = carrier.track(result.shipment_id)
    if not tracked.found or tracked.status != TrackingStatus.in_transit:
        raise SandboxCheckFailed(f"MALL order {oid} after pickup: {tracked.status.value} ({tracked.summary()})")
    own = str(SANDBOX_OWN[0])
    pushed = channel.confirm_shipment(own, {"trackingNumber": "SANDBOX-1", "carrierCode": "DPD"})
    if not pushed.get("ok") or fake.orders[int(own)]["status"] != "shipped" \
            or fake.orders[int(own)]["tracking_number"] != "SANDBOX-1":
        raise SandboxCheckFailed(f"tracking for MALL order {own} not on the order: {pushed}")
    before = len(fake.journal)
    refused = channel.confirm_shipment(str(SANDBOX_ORDERS[1]), {"trackingNumber": "SANDBOX-2"})
    if refused.get("ok") or len(fake.journal) != before:
        raise SandboxCheckFailed(f"a MALL Delivery order's push was not refused before any call: {refused}")
    w, h = sizes[0]
    lines = [f"mall: {synced} order(s) synced; order {oid}, {len(sizes)} PDF label(s) of {w:.0f}x{h:.0f} mm; "
             f"tracking {tracked.tracking_number}: {tracked.status.value}; order {own} shipped with SANDBOX-1; "
             f"order {SANDBOX_ORDERS[1]} (MALL Delivery) not pushed"]
    return lines + [_sandbox_finance(app, fake, channel, own)]


def _sandbox_finance(app, fake: MallFake, channel, own: str) -> str:
    """MALL delivers the order and invoices it; the mall-finance fetch drops the invoice into the
    settlements inbox, which splits what MALL paid into the order's gross and MALL's margin."""
    from marketd.sdk import process_file

    from .finance_fetch import fetch_finance

    fake.clock.advance(fake.delivery_delay)
    channel.sync_orders(None)
    fake.finance.run_now()
    files = fetch_finance(app, channel)
    if len(files) != 1:
        raise SandboxCheckFailed(f"the MALL finance fetch wrote {len(files)} file(s), expected one invoice")
    record = process_file(app, "settlements", files[0])
    if record.get("state") != "done":
        raise SandboxCheckFailed(f"MALL invoice {files[0].name} not applied: {record.get('error')}")
    key = f"{channel.name}:{own}"
    money = ((app.hook.order_finance(app=app, order_keys=[key], refs=[]) or {}).get(key) or {}).get("totals") or []
    if not money or Decimal(money[0]["marketplace_fee"]) >= 0:
        raise SandboxCheckFailed(f"MALL order {own}: no margin from the invoice ({money})")
    t = money[0]
    return (f"mall: invoice {files[0].name}: order {own} gross {t['revenue']}, MALL margin {t['marketplace_fee']} "
            f"({t['fee_pct']} %), net {t['net']} {t['currency']}")
