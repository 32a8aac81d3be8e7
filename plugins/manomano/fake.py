"""A fake ManoMano Partners API (orders, acceptance, shippings), shipped with the plugin: the
tests run it in-process, ``marketd sandbox`` serves it on loopback. What it models (research
api-contracts §3 and §8.4; ManoMano publishes no machine-readable contract, so the tests check
it against hand-written schemas that cite the research for every field):

- **Auth**: ``x-api-key`` on every call (missing → 401, unknown → 403); one key covers several
  contracts, and every ``seller_contract_id`` must be one of the key's (403 otherwise).
  ``x-thirdparty-name`` is counted per name (``fake.thirdparty_names``).
- **Limit**: 250 requests per sliding hour per key on the fake clock → 429 with ``Retry-After``
  (seconds until the oldest call of the hour leaves it). Only admitted calls count.
- **Sandbox opening hours** (``opening_hours=True``): ManoMano's sandbox answers only Mon
  00:00–20:00 and Tue–Fri 07:00–20:00 CEST; outside them → 503.
- ``GET /orders/v1/orders``: ``seller_contract_id`` required; filters ``status`` (comma list),
  ``created_at_start/end``, ``status_updated_at_start/end`` (ISO 8601), ``order_reference``,
  ``carrier``; ``page`` (1-based) and ``limit`` (default 30, > 100 → 400);
  ``pagination.links.next`` as a relative path, absent on the last page.
  ``GET /orders/v1/orders/{ref}`` → ``{"content": order}``.
- ``POST /orders/v1/accept-orders`` / ``refuse-orders`` (a JSON array of
  ``{order_reference, seller_contract_id}``): PENDING → PREPARATION / REFUSED; 204 when every
  item worked, 207 with ``content[].result`` per order otherwise (a non-PENDING order is an error).
- ``POST /orders/v1/shippings``: PREPARATION → SHIPPED with the carrier; a PENDING order is
  refused ("accept it first"), a shipped one too; 204 / 207 like the above.
- **Lifecycle on the clock**: ``WAITING_PAYMENT → PENDING`` after ``payment_delay``,
  ``SHIPPED → DELIVERED`` after ``delivery_delay``; each move sets ``status_updated_at``.
- **Faults**: the kit's ``fail_next``/``delay_next`` with ManoMano's error body, and
  ``lose_answer(operation)``: the next call is applied and answered 500 (the lost answer that
  makes a retried POST ship twice).
- **Contract checks** when a ``contract`` is plugged in (tests): a request that breaks it →
  400 and ``fake.violations``; an answer that breaks it → HTTP 599 and
  ``fake.response_violations``.
- **Accounting files**: ``accounting_csvs(payout_reference)`` writes the matching "CA
  Manomano" and "Detail versement" CSVs a seller would download for the orders shipped and not
  paid yet (ManoMano has no settlement API, so there is no route for them).
- **Not modelled**: the invoice upload (no REST endpoint is known), offers.

Amounts are Decimal inside and written as JSON numbers, as ManoMano does; buyer names and
addresses are invented (a few fixed ones, so tests can look for them in logs).
"""
from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from marketd.sdk import Clock, FakeClock
from marketd.sdk.fakes import FakeService, Request, Response, SandboxCheckFailed, SandboxConfig, SandboxFake

from .fake_offers import OFFER_ROUTES, OffersApi

PER_HOUR = 250
MAX_LIMIT = 100
DEFAULT_LIMIT = 30
CENT = Decimal("0.01")
BUYERS = [("Camille", "Dupont", "FR", "Lyon", "69002"), ("Giulia", "Bianchi", "IT", "Torino", "10121"),
          ("Lucía", "Fernández", "ES", "Sevilla", "41001"), ("Jonas", "Wagner", "DE", "Köln", "50667")]
SKUS = [("MM-DRILL-18V", "Perceuse visseuse 18V", Decimal("89.90")), ("MM-SAW-BLADE", "Lame de scie 210 mm",
        Decimal("12.50")), ("MM-GLOVES", "Gants de travail", Decimal("7.99")), ("MM-LADDER-3", "Escabeau 3 marches",
        Decimal("45.00"))]
SHIPPABLE = {"PREPARATION"}
SHIPPED = {"SHIPPED", "DELIVERED", "COMPLETED"}

ROUTES = [
    ("GET", r"/orders/v1/orders", "listOrders"),
    ("GET", r"/orders/v1/orders/(?P<ref>[^/]+)", "getOrder"),
    ("POST", r"/orders/v1/accept-orders", "acceptOrders"),
    ("POST", r"/orders/v1/refuse-orders", "refuseOrders"),
    ("POST", r"/orders/v1/shippings", "createShippings"),
    *OFFER_ROUTES,
]
PARIS = timezone(timedelta(hours=2))  # CEST, as ManoMano states the sandbox hours


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("no time zone")
    return dt


def _money(value: Decimal, currency: str = "EUR") -> dict:
    return {"amount": float(value), "currency": currency}  # a JSON number whose text is the exact value


def sandbox_open(at: datetime) -> bool:
    """ManoMano's sandbox hours: Mon 00:00–20:00, Tue–Fri 07:00–20:00 CEST."""
    local = at.astimezone(PARIS)
    if local.weekday() == 0:
        return local.hour < 20
    if 1 <= local.weekday() <= 4:
        return 7 <= local.hour < 20
    return False


class ContractNotChecked(RuntimeError):
    """Asked for contract violations of a fake that checks no contract."""


class ManoManoFake(OffersApi, FakeService):
    """The fake; a WSGI callable. See the module docstring for what it models."""

    REDACT_HEADERS = {"x-api-key", "authorization"}

    def __init__(self, clock: Clock | None = None, *, keys: dict[str, list[int]] | None = None,
                 per_hour: int = PER_HOUR, opening_hours: bool = False, payment_delay: float = 600,
                 delivery_delay: float = 3 * 86400, contract=None, seed: int = 1):
        super().__init__(clock)
        self.keys = {k: set(v) for k, v in (keys or {"mm-fake-api-key": [1001, 1002]}).items()}
        self.per_hour = per_hour
        self.opening_hours = opening_hours
        self.payment_delay, self.delivery_delay = payment_delay, delivery_delay
        self.contract = contract
        self.rng = random.Random(seed)
        self.orders: dict[str, dict] = {}
        self.windows: dict[str, deque] = {}
        self.thirdparty_names: Counter = Counter()
        self.shippings: list[dict] = []      # every shipping item applied
        self.decisions: list[dict] = []      # every accept/refuse applied
        self.lost: Counter = Counter()       # operation -> calls to apply and answer 500
        self._violations: list[str] = []
        self._response_violations: list[str] = []
        self._seq = 0
        self._init_offers()
        for method, pattern, name in ROUTES:
            self.route(method, pattern, getattr(self, "_" + name), name=name)

    @property
    def calls(self):
        return self.journal

    # -- contract results ----------------------------------------------------------------------
    @property
    def violations(self) -> list[str]:
        if self.contract is None:
            raise ContractNotChecked("this fake checks no contract: plug one in (tests/contracts/manomano)")
        return self._violations

    @property
    def response_violations(self) -> list[str]:
        if self.contract is None:
            raise ContractNotChecked("this fake checks no contract: plug one in (tests/contracts/manomano)")
        return self._response_violations

    # -- fixtures ------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return next(iter(self.keys))

    def contracts(self, key: str | None = None) -> list[int]:
        return sorted(self.keys[key or self.key])

    def add_order(self, ref: str | None = None, *, contract: int | None = None, status: str = "PENDING",
                  created_at: datetime | None = None, products: list[tuple[str, int]] | None = None,
                  buyer: int | None = None, delivered_by_marketplace: bool = False, currency: str = "EUR") -> dict:
        """An order as ManoMano would hold it; ``products`` are (seller_sku, quantity)."""
        self._seq += 1
        created = created_at or self.clock.now()
        ref = ref or f"M{created:%y%m%d}{self._seq:06d}"
        contract = contract if contract is not None else self.contracts()[0]
        first, last, country, city, zipcode = BUYERS[(buyer if buyer is not None else self._seq) % len(BUYERS)]
        chosen = products or [(SKUS[self._seq % len(SKUS)][0], 1 + self._seq % 2)]
        catalogue = {s: (t, p) for s, t, p in SKUS}
        lines, subtotal = [], Decimal(0)
        for sku, qty in chosen:
            title, price = catalogue.get(sku, (sku, Decimal("10.00")))
            excl = (price / Decimal("1.2")).quantize(CENT)
            lines.append({"seller_sku": sku, "title": title, "quantity": qty, "price": _money(price, currency),
                          "price_excluding_vat": _money(excl, currency), "vat_rate": 20.0})
            subtotal += price * qty
        shipping = Decimal("5.90")
        total = subtotal + shipping
        address = {"firstname": first, "lastname": last, "company": "", "address_line1": f"{self._seq} rue de la Paix",
                   "address_line2": "", "zipcode": zipcode, "city": city, "country": country, "country_iso": country,
                   "phone": "+33600000000", "email": f"{first.lower()}.{self._seq}@example.com"}
        order = {
            "order_reference": ref, "created_at": iso(created), "status": status,
            "status_updated_at": iso(created),
            "total_price": _money(total, currency),
            "total_price_vat": _money((total - total / Decimal("1.2")).quantize(CENT), currency),
            "products_price": _money(subtotal, currency),
            "shipping_price": _money(shipping, currency),
            "shipping_price_excluding_vat": _money((shipping / Decimal("1.2")).quantize(CENT), currency),
            "shipping_price_vat_rate": 20.0,
            "products": lines,
            "addresses": {"billing": dict(address), "shipping": dict(address)},
            "carrier": None,
            "is_delivered_by_marketplace": delivered_by_marketplace,
            "_contract": contract, "_shipped_at": None, "_tracking": None, "_paid_in": None,
        }
        if delivered_by_marketplace and status in ("PENDING", "PREPARATION"):
            order["status"] = "SHIPPED"
            order["_shipped_at"] = created
        self.orders[ref] = order
        return order

    def populate(self, n: int, *, days: float = 7, contract: int | None = None,
                 statuses: dict[str, float] | None = None) -> list[dict]:
        """``n`` orders created over the last ``days`` (default: 60 % PREPARATION, 30 % PENDING,
        10 % SHIPPED), oldest first."""
        weights = statuses or {"PREPARATION": 0.6, "PENDING": 0.3, "SHIPPED": 0.1}
        now = self.clock.now()
        out = []
        for i in range(n):
            created = now - timedelta(days=days) + timedelta(seconds=(days * 86400 - 180) * (i + 1) / (n + 1))
            status = self.rng.choices(list(weights), weights=list(weights.values()))[0]
            out.append(self.add_order(contract=contract, status=status, created_at=created))
        return out

    def set_status(self, ref: str, status: str) -> None:
        order = self.orders[ref]
        order["status"] = status
        order["status_updated_at"] = iso(self.clock.now())
        if status in SHIPPED and order["_shipped_at"] is None:
            order["_shipped_at"] = self.clock.now()

    def lose_answer(self, operation: str, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` are applied, then answered 500."""
        with self.lock:
            self.lost[operation] += times

    def shippings_of(self, ref: str) -> list[dict]:
        return [s for s in self.shippings if s["order_reference"] == ref]

    # -- accounting files (ManoMano has no settlement API: the seller downloads these) ---------
    def accounting_csvs(self, payout_reference: str, payout_date: str | None = None, *, contract: int | None = None,
                        commission_rate: Decimal = Decimal("0.15"), subscription: Decimal | None = Decimal("-39.00"),
                        decimal: str = ".", bom: bool = False) -> tuple[str, str]:
        """A matching ("CA Manomano", "Detail versement Manomano") pair, ``;``-separated, for the
        shipped, delivered and refunded orders of ``contract`` not paid in an earlier call: the sales
        file gives gross, commission (``commission_rate`` of the gross, VAT included) and net per
        order; the payout detail pays each net under ``payout_reference`` (refunded orders also get
        their REFUND row), plus an account-level SUBSCRIPTION row and one ECO_CONTRIBUTION row."""
        contract = contract if contract is not None else self.contracts()[0]
        day = payout_date or self.clock.now().date().isoformat()
        vat = Decimal("1.2")

        def n(value: Decimal) -> str:
            text = format(value.quantize(CENT), "f")
            return text.replace(".", ",") if decimal == "," else text

        ca = ["reference;type;createdAt;amountVatIncl;commissionVatIncl;commissionVatExcl;vatOnCommission;netAmount;"
              "productPriceVatExcl;vatOnProduct;shippingPriceVatExcl;vatOnShipping"]
        detail = ["REFERENCE;TYPE;PAYOUT_REFERENCE;PAYOUT_DATE;AMOUNT;AMOUNT_VAT_EXCL"]
        paid = [o for o in self.orders.values() if o["_contract"] == contract and not o.get("_paid_in")
                and o["status"] in SHIPPED | {"REFUNDED", "REFUNDING"}]
        for i, order in enumerate(sorted(paid, key=lambda o: o["order_reference"])):
            order["_paid_in"] = payout_reference
            ref, created = order["order_reference"], order["created_at"][:10]
            gross = Decimal(str(order["total_price"]["amount"]))
            products = Decimal(str(order["products_price"]["amount"]))
            shipping = gross - products
            commission = (gross * commission_rate).quantize(CENT)
            commission_excl = (commission / vat).quantize(CENT)
            net = gross - commission
            products_excl, shipping_excl = (products / vat).quantize(CENT), (shipping / vat).quantize(CENT)
            rows = [("ORDER", 1)] + ([("REFUND", -1)] if order["status"] in ("REFUNDED", "REFUNDING") else [])
            for kind, sign in rows:
                ca.append(";".join([ref, kind, created, n(sign * gross), n(sign * commission),
                                    n(sign * commission_excl),
                                    n(sign * (commission - commission_excl)), n(sign * net), n(sign * products_excl),
                                    n(sign * (products - products_excl)), n(sign * shipping_excl),
                                    n(sign * (shipping - shipping_excl))]))
                detail.append(";".join([ref, kind, payout_reference, day, n(sign * net), n(sign * (net / vat))]))
            if i == 0:
                detail.append(";".join([ref, "ECO_CONTRIBUTION", payout_reference, day, n(Decimal("-0.50")),
                                        n(Decimal("-0.42"))]))
        if subscription is not None:
            detail.append(";".join(["", "SUBSCRIPTION", payout_reference, day, n(subscription),
                                    n(subscription / vat)]))
        head = "\ufeff" if bom else ""
        return head + "\n".join(ca) + "\n", head + "\n".join(detail) + "\n"

    # -- the steps of a request ----------------------------------------------------------------
    def fault_body(self, status: int) -> dict:
        return {"message": {429: "Too many requests", 500: "Internal server error", 502: "Bad gateway",
                            503: "Service unavailable", 504: "Gateway timeout"}.get(status, "Error"),
                "code": f"ERR_{status}"}

    def gate(self, req: Request) -> Response | None:
        key = req.headers.get("x-api-key")
        if not key:
            return Response(401, {"message": "Missing API key (x-api-key header)", "code": "UNAUTHORIZED"})
        if key not in self.keys:
            return Response(403, {"message": "Invalid API key", "code": "FORBIDDEN"})
        self.thirdparty_names[req.headers.get("x-thirdparty-name", "")] += 1
        now = self.clock.monotonic()
        window = self.windows.setdefault(key, deque())
        while window and window[0] <= now - 3600:
            window.popleft()
        if len(window) >= self.per_hour:
            wait = max(1, math.ceil(window[0] + 3600 - now))
            return Response(429, {"message": "Too many requests: 250 requests per hour per API key",
                                  "code": "TOO_MANY_REQUESTS", "retry_after": wait}, {"Retry-After": str(wait)})
        window.append(now)
        if self.opening_hours and not sandbox_open(self.clock.now()):
            return Response(503, {"message": "The sandbox is closed (Mon 00:00-20:00, Tue-Fri 07:00-20:00 CEST)",
                                  "code": "SERVICE_UNAVAILABLE"})
        return None

    def answer(self, req: Request, route) -> Response:
        if self.contract is not None and req.operation:
            try:
                body = json.loads(req.body) if req.body else None
            except ValueError:
                body = None
            problems = self.contract.request_problems(req.operation, {k: v[-1] for k, v in req.query.items()}, body)
            if problems:
                self._violations.extend(f"{req.operation}: {p}" for p in problems)
                self.tick()
                return Response(400, {"message": "Invalid request", "code": "INVALID_REQUEST", "errors": problems})
        return super().answer(req, route)

    def finish(self, req: Request, resp: Response) -> Response:
        if self.contract is not None and req.operation and resp.status != 599:
            problems = self.contract.response_problems(req.operation, resp.status, resp.body)
            if problems:
                self._response_violations.extend(f"{req.operation} {resp.status}: {p}" for p in problems)
                return Response(599, {"message": "the fake's answer breaks the contract", "errors": problems})
        return resp

    def not_found(self, req: Request) -> Response:
        return Response(404, {"message": f"No route for {req.method} {req.path}", "code": "NOT_FOUND"})

    def method_not_allowed(self, req: Request) -> Response:
        return Response(405, {"message": "Method not allowed", "code": "METHOD_NOT_ALLOWED"})

    def bad_json(self, req: Request) -> Response:
        return Response(400, {"message": "The body is not valid JSON", "code": "INVALID_JSON"})

    def tick(self) -> None:
        now = self.clock.now()
        for order in self.orders.values():
            if order["status"] == "WAITING_PAYMENT":
                paid = _parse_time(order["created_at"]) + timedelta(seconds=self.payment_delay)
                if now >= paid:
                    order["status"], order["status_updated_at"] = "PENDING", iso(paid)
            elif order["status"] == "SHIPPED" and order["_shipped_at"] is not None:
                done = order["_shipped_at"] + timedelta(seconds=self.delivery_delay)
                if now >= done:
                    order["status"], order["status_updated_at"] = "DELIVERED", iso(done)

    # -- helpers -------------------------------------------------------------------------------
    def _error(self, status: int, message: str, code: str) -> Response:
        return Response(status, {"message": message, "code": code})

    def _contract_of(self, req: Request, value) -> tuple[int | None, Response | None]:
        if value in (None, ""):
            return None, self._error(400, "seller_contract_id is required", "MISSING_PARAMETER")
        try:
            contract = int(value)
        except (TypeError, ValueError):
            return None, self._error(400, f"seller_contract_id must be an integer, got {value!r}", "INVALID_PARAMETER")
        if contract not in self.keys[req.headers["x-api-key"]]:
            return None, self._error(403, f"seller_contract_id {contract} does not belong to this API key",
                                     "FORBIDDEN_CONTRACT")
        return contract, None

    @staticmethod
    def public(order: dict) -> dict:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    # -- orders --------------------------------------------------------------------------------
    def _listOrders(self, req: Request) -> Response:
        contract, refused = self._contract_of(req, req.q("seller_contract_id"))
        if refused:
            return refused
        try:
            page = int(req.q("page", "1"))
            limit = int(req.q("limit", str(DEFAULT_LIMIT)))
        except ValueError:
            return self._error(400, "page and limit must be integers", "INVALID_PARAMETER")
        if page < 1:
            return self._error(400, "page starts at 1", "INVALID_PARAMETER")
        if not 1 <= limit <= MAX_LIMIT:
            return self._error(400, f"limit must be between 1 and {MAX_LIMIT}", "INVALID_PARAMETER")
        bounds = {}
        for name in ("created_at_start", "created_at_end", "status_updated_at_start", "status_updated_at_end"):
            if req.q(name):
                try:
                    bounds[name] = _parse_time(req.q(name))
                except ValueError:
                    return self._error(400, f"{name} must be an ISO 8601 date-time with a zone, e.g. "
                                            "2024-07-01T00:00:00Z", "INVALID_PARAMETER")
        statuses = {s.strip().upper() for s in (req.q("status") or "").split(",") if s.strip()}
        rows = []
        for order in self.orders.values():
            if order["_contract"] != contract:
                continue
            if statuses and order["status"] not in statuses:
                continue
            if req.q("order_reference") and order["order_reference"] != req.q("order_reference"):
                continue
            if req.q("carrier") and (order.get("carrier") or "") != req.q("carrier"):
                continue
            created, updated = _parse_time(order["created_at"]), _parse_time(order["status_updated_at"])
            if not (bounds.get("created_at_start", created) <= created <= bounds.get("created_at_end", created)):
                continue
            if not (bounds.get("status_updated_at_start", updated) <= updated
                    <= bounds.get("status_updated_at_end", updated)):
                continue
            rows.append(order)
        rows.sort(key=lambda o: (o["created_at"], o["order_reference"]))
        pages = max(1, math.ceil(len(rows) / limit))
        chunk = rows[(page - 1) * limit: page * limit]
        query = {k: v[-1] for k, v in req.query.items()}
        links = {"self": f"{req.path}?{urlencode({**query, 'page': page})}"}
        if page < pages:
            links["next"] = f"{req.path}?{urlencode({**query, 'page': page + 1, 'limit': limit})}"
        if page > 1:
            links["previous"] = f"{req.path}?{urlencode({**query, 'page': page - 1, 'limit': limit})}"
        return Response(200, {"content": [self.public(o) for o in chunk],
                              "pagination": {"page": page, "limit": limit, "pages": pages, "items": len(rows),
                                             "links": links}})

    def _getOrder(self, req: Request, ref: str) -> Response:
        contract, refused = self._contract_of(req, req.q("seller_contract_id"))
        if refused:
            return refused
        order = self.orders.get(ref)
        if order is None or order["_contract"] != contract:
            return self._error(404, f"Order {ref} not found", "ORDER_NOT_FOUND")
        return Response(200, {"content": self.public(order)})

    # -- batches -------------------------------------------------------------------------------
    def _items(self, req: Request, required: dict[str, type]) -> tuple[list | None, Response | None]:
        body = req.json()
        if not isinstance(body, list) or not body:
            return None, self._error(400, "The body must be a non-empty JSON array", "INVALID_BODY")
        if len(body) > MAX_LIMIT:
            return None, self._error(400, f"At most {MAX_LIMIT} items per call", "INVALID_BODY")
        problems = []
        for i, item in enumerate(body):
            if not isinstance(item, dict):
                problems.append(f"[{i}] must be an object")
                continue
            for name, kind in required.items():
                value = item.get(name)
                if not isinstance(value, kind) or isinstance(value, bool) or value in ("", None):
                    problems.append(f"[{i}].{name} is required ({kind.__name__})")
        if problems:
            return None, Response(400, {"message": "Invalid body", "code": "INVALID_BODY", "errors": problems})
        return body, None

    def _batch_answer(self, results: list[dict]) -> Response:
        if all(r["result"]["status"] == "SUCCESS" for r in results):
            return Response(204)
        return Response(207, {"content": results})

    def _result(self, item: dict, error: tuple[str, str] | None = None) -> dict:
        out = {"order_reference": item["order_reference"], "seller_contract_id": item["seller_contract_id"]}
        out["result"] = {"status": "SUCCESS"} if error is None else {"status": "ERROR", "code": error[0],
                                                                     "message": error[1]}
        return out

    def _find(self, req: Request, item: dict) -> tuple[dict | None, tuple[str, str] | None]:
        if item["seller_contract_id"] not in self.keys[req.headers["x-api-key"]]:
            return None, ("FORBIDDEN_CONTRACT", f"seller_contract_id {item['seller_contract_id']} does not belong "
                                                "to this API key")
        order = self.orders.get(item["order_reference"])
        if order is None or order["_contract"] != item["seller_contract_id"]:
            return None, ("ORDER_NOT_FOUND", f"Order {item['order_reference']} not found")
        return order, None

    def _decide(self, req: Request, action: str) -> Response:
        items, refused = self._items(req, {"order_reference": str, "seller_contract_id": int})
        if refused:
            return refused
        results = []
        for item in items:
            order, error = self._find(req, item)
            if order is not None and order["status"] != "PENDING":
                error = ("ORDER_NOT_PENDING", f"Order {item['order_reference']} is {order['status']}, not PENDING")
            if error is None:
                self.set_status(item["order_reference"], "PREPARATION" if action == "accept" else "REFUSED")
                self.decisions.append({"order_reference": item["order_reference"], "action": action,
                                       "at": iso(self.clock.now())})
            results.append(self._result(item, error))
        return self._lose(req, self._batch_answer(results))

    def _acceptOrders(self, req: Request) -> Response:
        return self._decide(req, "accept")

    def _refuseOrders(self, req: Request) -> Response:
        return self._decide(req, "refuse")

    def _createShippings(self, req: Request) -> Response:
        items, refused = self._items(req, {"order_reference": str, "seller_contract_id": int, "carrier": str,
                                           "tracking_number": str})
        if refused:
            return refused
        results = []
        for item in items:
            order, error = self._find(req, item)
            if order is not None:
                error = self._ship_problem(order, item)
            if error is None:
                order["carrier"] = item["carrier"]
                order["_tracking"] = item["tracking_number"]
                self.set_status(item["order_reference"], "SHIPPED")
                self.shippings.append({**item, "at": iso(self.clock.now())})
            results.append(self._result(item, error))
        return self._lose(req, self._batch_answer(results))

    def _ship_problem(self, order: dict, item: dict) -> tuple[str, str] | None:
        ref, status = item["order_reference"], order["status"]
        if status == "PENDING":
            return "ORDER_NOT_ACCEPTED", f"Order {ref} is PENDING: accept it before shipping"
        if status in SHIPPED:
            return "ORDER_ALREADY_SHIPPED", f"Order {ref} is already {status}"
        if status not in SHIPPABLE:
            return "ORDER_NOT_SHIPPABLE", f"Order {ref} is {status}"
        url = item.get("tracking_url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            return "INVALID_TRACKING_URL", f"tracking_url {url!r} is not an http(s) URL"
        ordered = {p["seller_sku"]: p["quantity"] for p in order["products"]}
        for p in item.get("products") or []:
            sku, qty = (p or {}).get("seller_sku"), (p or {}).get("quantity")
            if sku not in ordered:
                return "INVALID_PRODUCTS", f"seller_sku {sku!r} is not in order {ref}"
            if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= ordered[sku]:
                return "INVALID_PRODUCTS", f"quantity {qty!r} of {sku} is not between 1 and {ordered[sku]}"
        return None

    def _lose(self, req: Request, resp: Response) -> Response:
        if self.lost[req.operation] > 0:
            self.lost[req.operation] -= 1
            return Response(500, self.fault_body(500))
        return resp

    # -- control (sandbox) ---------------------------------------------------------------------
    def control(self, req: Request) -> Response:
        if req.path == "/__control/new_orders":
            n = int(req.q("n", "1"))
            made = [self.add_order(status=req.q("status", "PENDING").upper(),
                                   contract=int(req.q("contract")) if req.q("contract") else None) for _ in range(n)]
            return Response(200, {"orders": [o["order_reference"] for o in made]})
        if req.path == "/__control/stats":
            return Response(200, {"requests": len(self.journal), "http_429": self.count(status=429),
                                  "shippings": len(self.shippings), "decisions": len(self.decisions),
                                  "by_status": Counter(o["status"] for o in self.orders.values()),
                                  "thirdparty_names": dict(self.thirdparty_names)})
        if req.path == "/__control/hours":
            self.opening_hours = req.q("enforce", "1") not in ("0", "false")
            return Response(200, {"opening_hours": self.opening_hours})
        return Response(404, {"message": "unknown control"})


# -- what `marketd sandbox` serves -----------------------------------------------------------------
SANDBOX_ACCOUNT = "manomano-fr"
SANDBOX_KEY = "mm-sandbox-api-key"
SANDBOX_CONTRACT = 1001
SANDBOX_TRACKING = "BRT-SANDBOX-0001"


def sandbox() -> SandboxFake:
    return SandboxFake("manomano", _sandbox_make, _sandbox_configure, _sandbox_check)


def _sandbox_make(options) -> ManoManoFake:
    # its own clock (moved by POST /__control/advance), starting now: the daemon compares times
    fake = ManoManoFake(FakeClock(datetime.now(timezone.utc)), keys={SANDBOX_KEY: [SANDBOX_CONTRACT]})
    fake.populate(max(4, options.orders // 2), days=5)
    return fake


def _sandbox_configure(fake: ManoManoFake, url: str) -> SandboxConfig:
    from .settings import env_name

    return SandboxConfig(
        tables={"channels": {SANDBOX_ACCOUNT: {"type": "manomano", "contract_id": SANDBOX_CONTRACT, "country": "FR",
                                               "orders_sync": True, "endpoint": url, "initial_days": 7}},
                "jobs": {"manomano-orders": {"seconds": 300}}},
        env={env_name(SANDBOX_ACCOUNT): SANDBOX_KEY},
        hints=["marketd --config {config} jobs run manomano-orders   # ManoMano orders now",
               "marketd --config {config} manomano pending           # PENDING orders waiting for a person",
               f"curl -X POST '{url}/__control/new_orders?n=3'   # ManoMano: new PENDING orders",
               f"curl '{url}/__control/stats'                    # ManoMano: calls, 429s, shippings",
               "ManoMano allows 250 requests per hour per API key (the fake counts them on its clock)."])


def _sandbox_check(app, fake: ManoManoFake) -> list[str]:
    """An order sync, a PENDING order accepted, and a tracking number sent back on an accepted
    order (then read back as SHIPPED)."""
    from .orders import manomano_accounts

    channel = manomano_accounts(app)[SANDBOX_ACCOUNT]
    n = channel.sync_orders(None)
    if n == 0:
        raise SandboxCheckFailed("the order sync imported no order")
    pending = channel.pending_orders()
    if not pending:
        fake.add_order(status="PENDING", created_at=app.clock.now() - timedelta(minutes=5))
        channel.sync_orders(None)
        pending = channel.pending_orders()
    if not pending:
        raise SandboxCheckFailed("no PENDING order to accept after the sync")
    ref = pending[0]["order_id"]
    decided = channel.decide("accept", [ref])[ref]
    if not decided["ok"] or fake.orders[ref]["status"] != "PREPARATION":
        raise SandboxCheckFailed(f"accepting {ref} failed: {decided['text'] or fake.orders[ref]['status']}")
    url = f"https://vas.brt.it/vas/sped_det_show.hsm?Nspediz={SANDBOX_TRACKING}"
    result = channel.confirm_shipment(ref, {"carrierCode": "BRT", "carrierName": "BRT",
                                            "trackingNumber": SANDBOX_TRACKING, "trackingUrl": url})
    if not result["ok"]:
        raise SandboxCheckFailed(f"shipping {ref} refused: {result.get('error')}")
    remote = channel.api.get_order(channel.contract_id, ref) or {}
    if remote.get("status") != "SHIPPED" or len(fake.shippings_of(ref)) != 1:
        raise SandboxCheckFailed(f"order {ref} is {remote.get('status')} after the shipping call")
    lines = [f"manomano: {n} order(s) imported, {ref} accepted and shipped with tracking {SANDBOX_TRACKING} "
             f"(carrier {remote.get('carrier')})"]
    if "settlements" in app.inbox_handlers():
        lines.append(_sandbox_payout(app, fake))
    return lines


def _sandbox_payout(app, fake: ManoManoFake) -> str:
    """ManoMano has no settlement API: the two accounting CSVs a seller downloads, made by the fake
    for the shipped orders, taken through inbox/settlements/ like dropped files."""
    from marketd.sdk import process_file

    ca, detail = fake.accounting_csvs("PO-SANDBOX-1")
    folder = app.inbox_dir / "settlements"
    folder.mkdir(parents=True, exist_ok=True)
    seen = {}
    # written under their download names (a payout records its file's name), outside the inbox
    drop = Path(tempfile.mkdtemp(prefix=".manomano-sandbox-", dir=app.state_dir))
    try:
        for name, text in (("Detail versement Manomano sandbox.csv", detail), ("CA Manomano sandbox.csv", ca)):
            (drop / name).write_text(text, encoding="utf-8")
            row = process_file(app, "settlements", drop / name)
            if row["state"] != "done":
                raise SandboxCheckFailed(f"{name} ended {row['state']}: {(row['error'] or {}).get('message', '')}")
            seen[name] = row["summary"] or {}
    finally:
        shutil.rmtree(drop, ignore_errors=True)
    payout = seen["Detail versement Manomano sandbox.csv"]
    split = seen["CA Manomano sandbox.csv"].get("split_lines", 0)
    return (f"manomano payout PO-SANDBOX-1: {payout.get('status')}, {payout.get('matched', 0)} of "
            f"{payout.get('orders', 0)} order(s) matched, {split} net line(s) split into revenue and commission")
