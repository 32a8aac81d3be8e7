"""A fake Amazon Selling Partner API (plus LWA and the S3 document host) as one WSGI app.

Faithful to the official models in ``shared/specs/amazon/`` and research api-contracts §8.2:

- **LWA** ``POST /auth/o2/token`` (form-encoded): issues ``Atza|…`` tokens that expire after
  ``token_lifetime`` seconds of the fake clock; unknown refresh token → 400 ``invalid_grant``,
  wrong client → 401 ``invalid_client``.
- **Auth**: every SP-API route needs a live ``x-amz-access-token``; missing, unknown or expired →
  403 ``Unauthorized`` (no rate-limit header).
- **Rate limits**: a token bucket per operation at the official default usage plan
  (:data:`OFFICIAL_LIMITS`); an empty bucket → 429 ``QuotaExceeded`` without
  ``x-amzn-RateLimit-Limit`` and without ``Retry-After``. Allowed answers (20x/400/404) carry
  ``x-amzn-RateLimit-Limit`` (switch off with ``rate_limit_header = False``).
- **Orders v2026-01-01** ``searchOrders`` (exactly one of createdAfter/lastUpdatedAfter; an
  opaque ``pagination.nextToken`` bound to the filters and valid 24 h, used as
  ``paginationToken``; keyset pagination so orders changing between pages are never skipped;
  ``includedData`` controls the blocks) and ``getOrder``.
- **Orders v0** ``confirmShipment``: body checked against ``ConfirmShipmentRequest`` plus the
  business rules (known items, quantities, MFN, not cancelled); 204; the order moves to
  SHIPPED/PARTIALLY_SHIPPED and its ``lastUpdatedTime`` moves; the same packageReferenceId
  again updates that package.
- **Reports 2021-06-30**: ``createReport`` (202; settlement types refused, Amazon makes those
  itself) with IN_QUEUE → IN_PROGRESS → DONE on the fake clock (CANCELLED/FATAL scenarios),
  ``getReports`` (``nextToken`` as the only parameter), ``getReport``, ``getReportDocument``
  with a presigned URL on the fake S3 path ``/__s3/…`` valid 5 minutes; the document is gzip
  bytes with no Content-Encoding, or ``Content-Encoding: gzip`` when
  ``enableContentEncodingUrlHeader=true``.
- **Contract checks** on both sides: query parameters and bodies are validated against the
  models (problems → 400 ``InvalidInput`` and an entry in ``fake.violations``); every JSON answer
  is validated against the declared response definition (a drift → HTTP 599 and an entry in
  ``fake.response_violations``, so a test sees the fake itself is wrong).
- **Faults**: ``fail_next(target, status)``, ``delay_next(target, seconds)`` (real seconds, for
  loopback timeouts), ``expire_tokens()``, ``set_limit(op, rate, burst)``.
- **Journal**: ``fake.calls`` (credentials redacted), ``fake.count(op)``.

One process-local lock serialises requests, so the same object is safe on the threaded
loopback server (:func:`tests.fakes.loopback.serve`).
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from marketd.clock import Clock, FakeClock

from .specs import amazon_model, amazon_specs_dir

# Default usage plans (rate requests/s, burst) as printed in the "Usage Plan" table of each
# operation's description in the official models: orders_2026-01-01.json (searchOrders,
# getOrder), ordersV0.json (confirmShipment), reports_2021-06-30.json (getReports,
# createReport, getReport, getReportDocument, cancelReport). tests/amazon checks this dict
# against the model files.
OFFICIAL_LIMITS: dict[str, tuple[float, float]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "getReports": (0.0222, 10),
    "createReport": (0.0167, 15),
    "cancelReport": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}

# operation -> model key (tests/fakes/specs.AMAZON_MODELS)
MODEL_OF = {
    "searchOrders": "orders2026", "getOrder": "orders2026", "confirmShipment": "ordersV0",
    "getReports": "reports", "createReport": "reports", "cancelReport": "reports", "getReport": "reports",
    "getReportDocument": "reports",
}

SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
UNREQUESTABLE = {SETTLEMENT_V2, "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE", "GET_V2_SETTLEMENT_REPORT_DATA_XML"}

STATUS_TEXT = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
               403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
               415: "Unsupported Media Type", 429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 599: "Fake Contract Violation"}

REDACT_HEADERS = {"x-amz-access-token", "authorization"}


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


# -- realistic order population --------------------------------------------------------------------
FIRST = ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo", "Elena", "Davide",
         "Martina", "Simone", "Federica", "Andrea", "Valentina", "Paolo"]
LAST = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti", "De Luca", "Costa", "Giordano"]
STREETS = ["Via Roma", "Via Garibaldi", "Corso Italia", "Via Mazzini", "Via Dante", "Viale Europa", "Via Verdi",
           "Piazza della Repubblica", "Via Cavour", "Via XX Settembre"]
PLACES = [("Milano", "MI", "20121"), ("Roma", "RM", "00184"), ("Torino", "TO", "10121"), ("Napoli", "NA", "80133"),
          ("Bologna", "BO", "40121"), ("Firenze", "FI", "50122"), ("Verona", "VR", "37121"), ("Bari", "BA", "70121"),
          ("Padova", "PD", "35122"), ("Brescia", "BS", "25121"), ("Bergamo", "BG", "24121"), ("Genova", "GE", "16121")]
PRODUCTS = [("Tazza in ceramica 350 ml", "19.90"), ("Cover smartphone in silicone", "12.50"),
            ("Lampada da tavolo LED", "34.00"), ("Set 6 bicchieri vetro", "24.90"), ("Zaino trekking 30 L", "49.90"),
            ("Borraccia termica 500 ml", "17.99"), ("Tagliere in bambù", "15.00"), ("Cuscino memory foam", "29.90"),
            ("Portachiavi personalizzato", "9.90"), ("Quaderno A5 a righe", "6.50")]
MARKETPLACE_NAMES = {"APJ6JRA9NG5V4": "Amazon.it", "A1PA6795UKMFR9": "Amazon.de", "A13V1IB3VIYZZH": "Amazon.fr",
                     "A1RKKUPIHCS9HS": "Amazon.es", "A1F83G8C2ARO7P": "Amazon.co.uk", "ATVPDKIKX0DER": "Amazon.com"}


def _money(amount: Decimal, currency: str) -> dict:
    return {"amount": format(amount.quantize(Decimal("0.01")), "f"), "currencyCode": currency}


def make_order(rng: random.Random, *, created: datetime, updated: datetime, marketplace_id: str,
               currency: str = "EUR", status: str | None = None, fulfilled_by: str | None = None,
               order_id: str | None = None) -> dict:
    """One realistic v2026 ``Order`` (all blocks; ``includedData`` trims them when served)."""
    fulfilled_by = fulfilled_by or ("MERCHANT" if rng.random() < 0.85 else "AMAZON")
    if status is None:
        r = rng.random()
        status = ("UNSHIPPED" if r < 0.55 else "SHIPPED" if r < 0.85 else "PENDING" if r < 0.92 else "CANCELLED")
        if fulfilled_by == "AMAZON" and status == "UNSHIPPED":
            status = "SHIPPED"
    order_id = order_id or f"{rng.choice(['402', '403', '404', '405', '406', '407', '408'])}-{rng.randint(0, 9999999):07d}-{rng.randint(0, 9999999):07d}"
    priced = status != "PENDING"  # Amazon gives no prices for pending orders
    items, total = [], Decimal(0)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        title, price = rng.choice(PRODUCTS)
        qty = rng.choice([1, 1, 1, 2, 3])
        shipped = qty if status == "SHIPPED" else 0
        item = {
            "orderItemId": f"{rng.randint(10**13, 10**14 - 1)}",
            "quantityOrdered": qty,
            "product": {"asin": "B0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8)),
                        "title": title, "sellerSku": f"SKU-{rng.randint(1000, 9999)}",
                        "condition": {"conditionType": "NEW"}},
            "fulfillment": {"quantityFulfilled": shipped, "quantityUnfulfilled": qty - shipped},
        }
        if priced:
            unit = Decimal(price)
            shipping = Decimal("4.90") if rng.random() < 0.3 else Decimal(0)
            item["product"]["price"] = {"unitPrice": _money(unit, currency)}
            line = unit * qty + shipping
            breakdowns = [{"type": "ITEM", "subtotal": _money(unit * qty, currency)}]
            if shipping:
                breakdowns.append({"type": "SHIPPING", "subtotal": _money(shipping, currency)})
            item["proceeds"] = {"proceedsTotal": _money(line, currency), "breakdowns": breakdowns}
            total += line
        items.append(item)
    city, province, cap = rng.choice(PLACES)
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    order = {
        "orderId": order_id,
        "createdTime": iso(created),
        "lastUpdatedTime": iso(updated),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace_id,
                         "marketplaceName": MARKETPLACE_NAMES.get(marketplace_id, "Amazon")},
        "buyer": {"buyerName": name,
                  "buyerEmail": f"{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}@marketplace.amazon.it"},
        "recipient": {"deliveryAddress": {
            "name": name, "addressLine1": f"{rng.choice(STREETS)} {rng.randint(1, 180)}", "city": city,
            "stateOrRegion": province, "postalCode": cap, "countryCode": "IT",
            "phone": f"+39 3{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}", "addressType": "RESIDENTIAL"}},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": fulfilled_by,
                        "fulfillmentServiceLevel": rng.choice(["STANDARD", "STANDARD", "EXPEDITED"])},
        "orderItems": items,
    }
    if priced:
        order["proceeds"] = {"grandTotal": _money(total, currency)}
    if rng.random() < 0.2:
        order["programs"] = ["PRIME"]
    if status == "SHIPPED" and fulfilled_by == "MERCHANT":
        order["packages"] = [{
            "packageReferenceId": "1", "createdTime": iso(updated), "packageStatus": {"status": "SHIPPED"},
            "carrier": "BRT", "shipTime": iso(updated), "trackingNumber": f"{rng.randint(10**11, 10**12 - 1)}",
            "packageItems": [{"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in items]}]
    return order


def generate_orders(n: int, *, now: datetime, days: float = 30, seed: int = 1, marketplace_id: str = "APJ6JRA9NG5V4",
                    **kw) -> list[dict]:
    """``n`` orders created over the last ``days`` before ``now``, updated up to 2 days later."""
    rng = random.Random(seed)
    out, ids = [], set()
    span = days * 86400
    for _ in range(n):
        created = now - timedelta(seconds=rng.uniform(600, span))
        updated = min(now - timedelta(seconds=300), created + timedelta(seconds=rng.uniform(0, 2 * 86400)))
        o = make_order(rng, created=created, updated=max(created, updated), marketplace_id=marketplace_id, **kw)
        while o["orderId"] in ids:
            o["orderId"] = o["orderId"][:-1] + str((int(o["orderId"][-1]) + 1) % 10)
        ids.add(o["orderId"])
        out.append(o)
    return out


# -- settlement report content (flat file V2, research settlement-formats §1.2) -----------------
SETTLEMENT_V2_COLUMNS = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
]


def settlement_v2_text(settlement_id: str, start: datetime, end: datetime, orders: list[dict], *,
                       currency: str = "EUR", decimal: str = ",", marketplace: str = "Amazon.it") -> str:
    """A tab-separated V2 settlement report for ``orders`` (principal, shipping, commission)."""
    def amt(d: Decimal) -> str:
        return format(d.quantize(Decimal("0.01")), "f").replace(".", decimal)

    def ts(dt: datetime) -> str:
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    rows, total = [], Decimal(0)
    for o in orders:
        posted = parse_iso(o["lastUpdatedTime"])
        for it in o.get("orderItems") or []:
            price = (it.get("product") or {}).get("price")
            if not price:
                continue
            qty = it["quantityOrdered"]
            principal = Decimal(price["unitPrice"]["amount"]) * qty
            commission = -(principal * Decimal("0.15")).quantize(Decimal("0.01"))
            base = {"transaction-type": "Order", "order-id": o["orderId"], "shipment-id": f"S{o['orderId'][-7:]}",
                    "marketplace-name": marketplace, "fulfillment-id": "MFN" if (o.get("fulfillment") or {}).get("fulfilledBy") != "AMAZON" else "AFN",
                    "posted-date": posted.strftime("%m/%d/%y"), "posted-date-time": ts(posted),
                    "order-item-code": it["orderItemId"], "sku": it["product"].get("sellerSku", ""),
                    "quantity-purchased": str(qty)}
            for atype, desc, value in (("ItemPrice", "Principal", principal), ("ItemFees", "Commission", commission)):
                rows.append({**base, "amount-type": atype, "amount-description": desc, "amount": amt(value)})
                total += value
    head = {"settlement-id": settlement_id, "settlement-start-date": ts(start), "settlement-end-date": ts(end),
            "deposit-date": ts(end + timedelta(days=2)), "total-amount": amt(total), "currency": currency}
    lines = ["\t".join(SETTLEMENT_V2_COLUMNS), "\t".join(head.get(c, "") for c in SETTLEMENT_V2_COLUMNS)]
    for r in rows:
        r = {**r, "settlement-id": settlement_id}
        lines.append("\t".join(r.get(c, "") for c in SETTLEMENT_V2_COLUMNS))
    return "\n".join(lines) + "\n"


# -- plumbing ---------------------------------------------------------------------------------------
@dataclass
class Call:
    operation: str
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    at: str
    status: int = 0


@dataclass
class Fault:
    target: str  # operation name, or a regex on the path
    times: int
    status: int = 0
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class Bucket:
    def __init__(self, rate: float, burst: float, clock: Clock):
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self.tokens = self.burst
        self.stamp = clock.monotonic()

    def take(self) -> bool:
        now = self.clock.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            return True
        return False


class Reply:
    def __init__(self, status: int, body=None, headers: dict | None = None):
        self.status, self.body, self.headers = status, body, dict(headers or {})


def _errors(code: str, message: str, details: str = "") -> dict:
    e = {"code": code, "message": message}
    if details:
        e["details"] = details
    return {"errors": [e]}


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(text: str):
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


_ARRAYS = {"marketplaceIds", "fulfillmentStatuses", "fulfilledBy", "includedData", "reportTypes", "processingStatuses"}
_INTS = {"maxResultsPerPage", "pageSize"}


def _loose_params(query: dict) -> dict:
    """Query conversion when the models are not available (no contract check)."""
    out = {}
    for k, v in query.items():
        if k in _ARRAYS:
            out[k] = [x for r in v for x in r.split(",") if x]
        elif k in _INTS:
            out[k] = int(v[-1])
        elif k == "enableContentEncodingUrlHeader":
            out[k] = v[-1].lower() == "true"
        else:
            out[k] = v[-1]
    return out


ROUTES = [
    ("POST", r"/auth/o2/token", "lwa.token"),
    ("GET", r"/orders/2026-01-01/orders", "searchOrders"),
    ("GET", r"/orders/2026-01-01/orders/(?P<orderId>[^/]+)", "getOrder"),
    ("POST", r"/orders/v0/orders/(?P<orderId>[^/]+)/shipmentConfirmation", "confirmShipment"),
    ("GET", r"/reports/2021-06-30/reports", "getReports"),
    ("POST", r"/reports/2021-06-30/reports", "createReport"),
    ("GET", r"/reports/2021-06-30/reports/(?P<reportId>[^/]+)", "getReport"),
    ("DELETE", r"/reports/2021-06-30/reports/(?P<reportId>[^/]+)", "cancelReport"),
    ("GET", r"/reports/2021-06-30/documents/(?P<reportDocumentId>[^/]+)", "getReportDocument"),
    ("GET", r"/__s3/(?P<key>[^/]+)", "s3.get"),
]
_COMPILED = [(m, re.compile(p + "$"), op) for m, p, op in ROUTES]


class SpApiFake:
    """The fake; a WSGI callable. See the module docstring for what it models."""

    def __init__(self, clock: Clock | None = None, *, client_id: str = "amzn1.application-oa2-client.fake",
                 client_secret: str = "fake-lwa-client-secret", refresh_token: str = "Atzr|fake-refresh-token",
                 marketplace_id: str = "APJ6JRA9NG5V4", limits: dict | None = None, token_lifetime: int = 3600,
                 validate: bool | str = "auto", specs_dir: str | Path | None = None, seed: int = 1,
                 rate_limits: bool = True, s3_base: str | None = None, report_delays: tuple[float, float] = (60, 120),
                 charset: str = "utf-8"):
        self.clock = clock or FakeClock()
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens = {refresh_token}
        self.marketplace_id = marketplace_id
        self.token_lifetime = token_lifetime
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.tokens: dict[str, datetime] = {}
        self.limits = {**OFFICIAL_LIMITS, **(limits or {})}
        self.rate_limits = rate_limits
        self.rate_limit_header = True
        self.buckets: dict[str, Bucket] = {}
        self.orders: dict[str, dict] = {}
        self.settled: set[str] = set()  # order ids a settlement report paid (Amazon pays a sale once)
        self._sorted: dict[str, list] = {}
        self.reports: dict[str, dict] = {}
        self.documents: dict[str, dict] = {}
        self.report_delays = report_delays
        self.charset = charset
        self.s3_base = s3_base
        self.s3_key = uuid.UUID(int=self.rng.getrandbits(128)).hex.encode()
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self.violations: list[dict] = []
        self.response_violations: list[dict] = []
        self.confirmations: list[dict] = []
        self.s3_requests_with_token = 0
        self.tokens_issued = 0
        specs = Path(specs_dir) if specs_dir else amazon_specs_dir()
        if validate is True and specs is None:
            raise RuntimeError("SpApiFake(validate=True) needs the official models (shared/specs/amazon)")
        self.specs_dir = specs if (validate and specs is not None) else None

    # -- set-up helpers ------------------------------------------------------------------------
    def add_orders(self, orders: list[dict]) -> None:
        with self.lock:
            for o in orders:
                self.orders[o["orderId"]] = o
            self._sorted.clear()

    def populate(self, n: int, *, days: float = 30, seed: int | None = None, **kw) -> list[dict]:
        orders = generate_orders(n, now=self.clock.now(), days=days, seed=self.rng.randint(0, 10**9) if seed is None else seed,
                                 marketplace_id=self.marketplace_id, **kw)
        self.add_orders(orders)
        return orders

    def new_orders(self, n: int, **kw) -> list[dict]:
        """``n`` orders placed just now."""
        now = self.clock.now()
        orders = [make_order(self.rng, created=now, updated=now, marketplace_id=self.marketplace_id,
                             status=kw.get("status", "UNSHIPPED"), fulfilled_by=kw.get("fulfilled_by", "MERCHANT"))
                  for _ in range(n)]
        self.add_orders(orders)
        return orders

    def touch(self, order_id: str, **changes) -> dict:
        """Change an order now (e.g. ``status="CANCELLED"``); its lastUpdatedTime moves."""
        with self.lock:
            o = self.orders[order_id]
            if "status" in changes:
                o["fulfillment"]["fulfillmentStatus"] = changes.pop("status")
            o.update(changes)
            o["lastUpdatedTime"] = iso(self.clock.now())
            self._sorted.clear()
            return o

    def fail_next(self, target: str, status: int = 503, times: int = 1, body=None, headers: dict | None = None) -> None:
        """The next ``times`` calls of ``target`` (operation name or path regex) answer ``status``."""
        with self.lock:
            self.faults.append(Fault(target, times, status, body, headers or {}))

    def delay_next(self, target: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls of ``target`` take ``seconds`` of *real* time (loopback timeouts)."""
        with self.lock:
            self.faults.append(Fault(target, times, delay=seconds))

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""
        with self.lock:
            now = self.clock.now()
            for t in self.tokens:
                self.tokens[t] = now

    def set_limit(self, operation: str, rate: float, burst: float) -> None:
        with self.lock:
            self.limits[operation] = (rate, burst)
            self.buckets.pop(operation, None)

    def count(self, operation: str | None = None, status: int | None = None) -> int:
        return len(self.calls_of(operation, status))

    def calls_of(self, operation: str | None = None, status: int | None = None) -> list[Call]:
        return [c for c in self.calls if (operation is None or c.operation == operation)
                and (status is None or c.status == status)]

    # -- reports -------------------------------------------------------------------------------
    def add_report(self, report_type: str, content: bytes | str, *, created: datetime | None = None,
                   status: str = "DONE", compress: bool = True, marketplace_ids: list[str] | None = None,
                   schedule_id: str | None = None) -> str:
        """A report already there (as Amazon makes settlement reports); returns its reportId."""
        with self.lock:
            rid = str(self.rng.randint(10**10, 10**11 - 1))
            created = created or self.clock.now()
            doc_id = None
            if status in ("DONE", "FATAL"):
                doc_id = self._add_document(content, compress)
            self.reports[rid] = {
                "reportId": rid, "reportType": report_type, "createdTime": iso(created),
                "processingStatus": status, "marketplaceIds": marketplace_ids or [self.marketplace_id],
                "_scenario": status, "_created_mono": None,
                **({"reportDocumentId": doc_id} if doc_id else {}),
                **({"processingStartTime": iso(created), "processingEndTime": iso(created)} if status != "IN_QUEUE" else {}),
                **({"reportScheduleId": schedule_id} if schedule_id else {}),
            }
            return rid

    def add_settlement_report(self, *, orders: list[dict] | None = None, days: int = 14, end: datetime | None = None,
                              compress: bool = True, settlement_id: str | None = None) -> str:
        end = end or self.clock.now() - timedelta(hours=1)
        start = end - timedelta(days=days)
        if orders is None:  # shipped orders of the period not paid by an earlier report: settlements never overlap
            orders = [o for o in self.orders.values() if (o.get("fulfillment") or {}).get("fulfillmentStatus") == "SHIPPED"
                      and start <= parse_iso(o["lastUpdatedTime"]) <= end and o["orderId"] not in self.settled]
        self.settled.update(o["orderId"] for o in orders)
        sid = settlement_id or str(self.rng.randint(10**10, 10**11 - 1))
        text = settlement_v2_text(sid, start, end, orders)
        return self.add_report(SETTLEMENT_V2, text.encode(self.charset), created=end + timedelta(hours=1),
                               compress=compress, schedule_id="amzn1.sched.settlement")

    def _add_document(self, content: bytes | str, compress: bool) -> str:
        data = content.encode(self.charset) if isinstance(content, str) else content
        doc_id = f"amzn1.spdoc.1.4.eu.{uuid.UUID(int=self.rng.getrandbits(128))}.T{self.rng.randint(10**9, 10**10)}"
        self.documents[doc_id] = {"data": gzip.compress(data, mtime=0) if compress else data, "compressed": compress}
        return doc_id

    def _advance(self, rep: dict) -> None:
        """Move a created report along its state machine, driven by the fake clock."""
        if rep.get("_created_mono") is None or rep["processingStatus"] in ("DONE", "CANCELLED", "FATAL"):
            return
        age = self.clock.monotonic() - rep["_created_mono"]
        queue, work = self.report_delays
        now = self.clock.now()
        if age >= queue and rep["processingStatus"] == "IN_QUEUE":
            rep["processingStatus"] = "IN_PROGRESS"
            rep["processingStartTime"] = iso(now)
        if age >= queue + work and rep["processingStatus"] == "IN_PROGRESS":
            final = rep["_scenario"]
            rep["processingStatus"] = final
            rep["processingEndTime"] = iso(now)
            if final == "DONE":
                rep["reportDocumentId"] = self._add_document(self._report_content(rep), True)
            elif final == "FATAL":
                rep["reportDocumentId"] = self._add_document(json.dumps(
                    {"errorDetails": "The report could not be generated (fake FATAL scenario)."}), True)

    def _report_content(self, rep: dict) -> str:
        lines = ["amazon-order-id\tpurchase-date\tlast-updated-date\torder-status"]
        for o in sorted(self.orders.values(), key=lambda o: o["createdTime"]):
            lines.append(f"{o['orderId']}\t{o['createdTime']}\t{o['lastUpdatedTime']}\t{o['fulfillment']['fulfillmentStatus']}")
        return "\n".join(lines) + "\n"

    # -- WSGI ----------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        host = headers.get("host") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
        delay = 0.0
        with self.lock:
            for f in self.faults:
                if f.delay and f.times > 0 and self._matches(f.target, method, path):
                    f.times -= 1
                    delay = f.delay
                    break
        if delay:
            time.sleep(delay)
        with self.lock:
            reply = self._handle(method, path, query, headers, body, base)
        payload = reply.body
        hdrs = dict(reply.headers)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(payload, str):
            payload = payload.encode()
        elif payload is None:
            payload = b""
        hdrs["Content-Length"] = str(len(payload))
        start_response(f"{reply.status} {STATUS_TEXT.get(reply.status, 'Status')}", list(hdrs.items()))
        return [payload] if method != "HEAD" else [b""]

    def _matches(self, target: str, method: str, path: str) -> bool:
        op = self._route(method, path)[0]
        return target == op or (not re.fullmatch(r"[A-Za-z.]+", target) and re.search(target, path) is not None)

    def _route(self, method: str, path: str):
        allowed = False
        for m, rx, op in _COMPILED:
            mt = rx.match(path)
            if mt:
                if m == method:
                    return op, mt.groupdict()
                allowed = True
        return ("<method>" if allowed else None), {}

    def _model(self, operation: str):
        if self.specs_dir is None or operation not in MODEL_OF:
            return None
        return amazon_model(MODEL_OF[operation], str(self.specs_dir))

    def _handle(self, method, path, query, headers, body, base) -> Reply:
        if path.startswith("/__control/"):
            return self._control(path, query)
        op, args = self._route(method, path)
        safe_headers = {k: ("***" if k in REDACT_HEADERS else v) for k, v in headers.items()}
        safe_body = body
        if op == "lwa.token":
            from marketd.http import redact_form

            safe_body = redact_form(body).encode()
        call = Call(op or "?", method, path, query, safe_headers, safe_body, iso(self.clock.now()))
        self.calls.append(call)
        reply = self._dispatch(op, args, method, path, query, headers, body, base)
        rid = str(uuid.UUID(int=self.rng.getrandbits(128)))
        if op in MODEL_OF:
            reply.headers.setdefault("x-amzn-RequestId", rid)
            if self.rate_limit_header and reply.status in (200, 201, 202, 204, 400, 404) and op in self.limits:
                reply.headers["x-amzn-RateLimit-Limit"] = f"{self.limits[op][0]:g}"
            reply = self._check_response(op, reply)
        call.status = reply.status
        return reply

    def _dispatch(self, op, args, method, path, query, headers, body, base) -> Reply:
        if op is None:
            return Reply(404, _errors("NotFound", f"Resource {path} is not found."))
        if op == "<method>":
            return Reply(405, _errors("MethodNotAllowed", f"{method} is not allowed on {path}"))
        for f in self.faults:
            if not f.delay and f.times > 0 and self._matches(f.target, method, path):
                f.times -= 1
                fb = f.body if f.body is not None else (_errors("InternalFailure", "We encountered an internal error. Please try again.")
                                                        if f.status >= 500 else _errors("QuotaExceeded", "You exceeded your quota for the requested resource.")
                                                        if f.status == 429 else _errors("InvalidInput", "Invalid Input"))
                return Reply(f.status, fb, f.headers)
        if op == "lwa.token":
            return self._lwa(headers, body)
        if op == "s3.get":
            return self._s3(args["key"], query, headers)
        # SP-API: auth, then rate limit, then the contract check, then the handler
        token = headers.get("x-amz-access-token")
        expiry = self.tokens.get(token or "")
        if expiry is None:
            return Reply(403, _errors("Unauthorized", "Access to requested resource is denied.",
                                      "The access token is missing or not valid."))
        if self.clock.now() >= expiry:
            return Reply(403, _errors("Unauthorized", "Access to requested resource is denied.",
                                      "The access token you provided has expired."))
        if self.rate_limits and op in self.limits:
            bucket = self.buckets.get(op)
            if bucket is None:
                bucket = self.buckets[op] = Bucket(*self.limits[op], self.clock)
            if not bucket.take():
                return Reply(429, _errors("QuotaExceeded", "You exceeded your quota for the requested resource."))
        params, problems = query, []
        model = self._model(op)
        if model is not None:
            params, problems = model.parse_query(op, query)
            bdef = model.body_definition(op)
            if bdef:
                try:
                    doc = json.loads(body or b"null")
                except ValueError:
                    problems.append("request body is not JSON")
                    doc = None
                else:
                    if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                        problems.append("Content-Type must be application/json")
                    problems += [f"body {p}" for p in model.validate(bdef, doc)]
        else:
            params = _loose_params(query)
        if problems:
            self.violations.append({"operation": op, "path": path, "problems": problems})
            if op == "confirmShipment":
                return Reply(400, _errors("Invalid Input", "Invalid Input", "; ".join(problems)[:1000]))
            return Reply(400, _errors("InvalidInput", "Invalid Input", "; ".join(problems)[:1000]))
        handler = getattr(self, "_op_" + op)
        try:
            json_body = json.loads(body) if body and method in ("POST", "PUT", "PATCH") else None
        except ValueError:
            return Reply(400, _errors("InvalidInput", "Invalid Input", "request body is not JSON"))
        return handler(params=params, body=json_body, base=base, **args)

    def _check_response(self, op: str, reply: Reply) -> Reply:
        model = self._model(op)
        if model is None:
            return reply
        definition = model.response_definition(op, reply.status)
        if definition is None or not isinstance(reply.body, (dict, list)):
            if reply.status == 204 and reply.body not in (None, b"", ""):
                problems = ["204 must have an empty body"]
            else:
                return reply
        else:
            problems = model.validate(definition, reply.body)
        if problems:
            self.response_violations.append({"operation": op, "status": reply.status, "problems": problems})
            return Reply(599, {"fake_contract_violation": op, "status": reply.status, "problems": problems[:20]})
        return reply

    # -- LWA -----------------------------------------------------------------------------------
    def _lwa(self, headers, body) -> Reply:
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return Reply(400, {"error": "invalid_request", "error_description": "Content-Type must be form-encoded"})
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        if grant == "refresh_token":
            if "scope" in form:
                return Reply(400, {"error": "invalid_request", "error_description": "scope is not allowed with refresh_token"})
            if form.get("refresh_token") not in self.refresh_tokens:
                return Reply(400, {"error": "invalid_grant",
                                   "error_description": "The request has an invalid grant parameter : refresh_token"})
        elif grant == "client_credentials":
            if not form.get("scope") or "refresh_token" in form:
                return Reply(400, {"error": "invalid_scope", "error_description": "client_credentials needs a scope"})
        else:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant!r}"})
        token = f"Atza|fake{self.tokens_issued}{uuid.UUID(int=self.rng.getrandbits(128)).hex}"
        self.tokens_issued += 1
        self.tokens[token] = self.clock.now() + timedelta(seconds=self.token_lifetime)
        out = {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
        if grant == "refresh_token":
            out["refresh_token"] = form["refresh_token"]
        return Reply(200, out, {"Cache-Control": "no-store"})

    # -- Orders v2026 --------------------------------------------------------------------------
    @staticmethod
    def _project(order: dict, included: set) -> dict:
        o = json.loads(json.dumps(order))
        if "BUYER" not in included:
            o.pop("buyer", None)
        if "RECIPIENT" not in included:
            o.pop("recipient", None)
        if "PACKAGES" not in included:
            o.pop("packages", None)
        if "FULFILLMENT" not in included:
            o.pop("fulfillment", None)
            for it in o["orderItems"]:
                it.pop("fulfillment", None)
        if "PROCEEDS" not in included:
            o.pop("proceeds", None)
            for it in o["orderItems"]:
                it.pop("proceeds", None)
        return o

    def _sorted_by(self, field_name: str) -> list:
        cached = self._sorted.get(field_name)
        if cached is None:
            cached = sorted(((parse_iso(o[field_name]), oid) for oid, o in self.orders.items()))
            self._sorted[field_name] = cached
        return cached

    def _op_searchOrders(self, params, body, base) -> Reply:
        now = self.clock.now()
        bad = lambda msg: Reply(400, _errors("InvalidInput", "Invalid Input", msg))  # noqa: E731
        created, updated = "createdAfter" in params, "lastUpdatedAfter" in params
        if created == updated:
            return bad("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
        if created and "lastUpdatedBefore" in params:
            return bad("lastUpdatedBefore cannot be combined with createdAfter.")
        if updated and "createdBefore" in params:
            return bad("createdBefore cannot be combined with lastUpdatedAfter.")
        size = params.get("maxResultsPerPage", 100)
        if not 1 <= size <= 100:
            return bad("maxResultsPerPage must be between 1 and 100.")
        field_name = "createdTime" if created else "lastUpdatedTime"
        after = parse_iso(params["createdAfter" if created else "lastUpdatedAfter"])
        before_key = "createdBefore" if created else "lastUpdatedBefore"
        filters = {k: v for k, v in params.items() if k not in ("maxResultsPerPage", "includedData", "paginationToken")}
        fhash = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
        last = None
        if "paginationToken" in params:
            try:
                tok = _unb64(params["paginationToken"])
                issued = datetime.fromtimestamp(tok["iat"], timezone.utc)
            except (ValueError, KeyError, TypeError):
                return bad("Invalid paginationToken.")
            if tok.get("h") != fhash:
                return bad("The paginationToken does not match the other parameters; they must have the same "
                           "values as in the request that returned it.")
            if now - issued > timedelta(hours=24):
                return bad("The paginationToken has expired.")
            upper = datetime.fromtimestamp(tok["b"], timezone.utc)
            last = (datetime.fromtimestamp(tok["k"][0], timezone.utc), tok["k"][1])
            iat = tok["iat"]
        else:
            limit = now - timedelta(minutes=2)
            if before_key in params:
                upper = parse_iso(params[before_key])
                if upper > limit:
                    return bad(f"{before_key} must be at least two minutes before the time of the request.")
                if upper < after:
                    return bad(f"{before_key} must be after the start of the range.")
            else:
                upper = limit
            iat = now.timestamp()
        mkts = set(params.get("marketplaceIds") or [])
        statuses = set(params.get("fulfillmentStatuses") or [])
        by = set(params.get("fulfilledBy") or [])
        included = set(params.get("includedData") or [])
        page, more = [], False
        for t, oid in self._sorted_by(field_name):
            if t < after or t > upper or (last is not None and (t, oid) <= last):
                continue
            o = self.orders[oid]
            if mkts and o["salesChannel"].get("marketplaceId") not in mkts:
                continue
            if statuses and o["fulfillment"]["fulfillmentStatus"] not in statuses:
                continue
            if by and o["fulfillment"].get("fulfilledBy") not in by:
                continue
            if len(page) == size:
                more = True
                break
            page.append((t, oid))
        out = {"orders": [self._project(self.orders[oid], included) for _, oid in page]}
        out[before_key] = iso(upper)
        if more:
            out["pagination"] = {"nextToken": _b64({"h": fhash, "iat": iat, "b": upper.timestamp(),
                                                    "k": [page[-1][0].timestamp(), page[-1][1]]})}
        return Reply(200, out)

    def _op_getOrder(self, params, body, base, orderId) -> Reply:
        o = self.orders.get(orderId)
        if o is None:
            return Reply(404, _errors("NotFound", f"Order {orderId} was not found."))
        return Reply(200, {"order": self._project(o, set(params.get("includedData") or []))})

    # -- Orders v0 confirmShipment -------------------------------------------------------------
    def _op_confirmShipment(self, params, body, base, orderId) -> Reply:
        bad = lambda msg: Reply(400, _errors("Invalid Input", "Invalid Input", msg))  # noqa: E731
        o = self.orders.get(orderId)
        if o is None:
            return Reply(404, _errors("NotFound", f"Order {orderId} was not found."))
        detail = body["packageDetail"]
        ful = o["fulfillment"]
        if body["marketplaceId"] != o["salesChannel"].get("marketplaceId"):
            return bad("marketplaceId does not match the order.")
        if ful.get("fulfilledBy") == "AMAZON":
            return bad("The order is fulfilled by Amazon.")
        if ful["fulfillmentStatus"] in ("CANCELLED", "PENDING", "PENDING_AVAILABILITY", "UNFULFILLABLE"):
            return bad(f"The order is {ful['fulfillmentStatus']} and cannot be shipped.")
        ref = detail["packageReferenceId"]
        if not re.fullmatch(r"[1-9][0-9]*", ref):
            return bad("packageReferenceId must be a positive number.")
        if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
            return bad("carrierName is required when carrierCode is Other.")
        items = {i["orderItemId"]: i for i in o["orderItems"]}
        others = [p for p in o.get("packages") or [] if p["packageReferenceId"] != ref]
        shipped_elsewhere: dict[str, int] = {}
        for p in others:
            for pi in p.get("packageItems") or []:
                shipped_elsewhere[pi["orderItemId"]] = shipped_elsewhere.get(pi["orderItemId"], 0) + pi["quantity"]
        for ci in detail["orderItems"]:
            it = items.get(ci["orderItemId"])
            if it is None:
                return bad(f"orderItemId {ci['orderItemId']} is not in order {orderId}.")
            if ci["quantity"] < 1 or ci["quantity"] + shipped_elsewhere.get(ci["orderItemId"], 0) > it["quantityOrdered"]:
                return bad(f"quantity {ci['quantity']} for orderItemId {ci['orderItemId']} exceeds what is left to ship.")
        now = self.clock.now()
        package = {"packageReferenceId": ref, "createdTime": iso(now), "packageStatus": {"status": "SHIPPED"},
                   "carrier": detail.get("carrierName") or detail["carrierCode"], "shipTime": detail["shipDate"],
                   "trackingNumber": detail["trackingNumber"],
                   "packageItems": [{"orderItemId": ci["orderItemId"], "quantity": ci["quantity"]}
                                    for ci in detail["orderItems"]]}
        if detail.get("shippingMethod"):
            package["shippingService"] = detail["shippingMethod"]
        o["packages"] = others + [package]
        shipped = dict(shipped_elsewhere)
        for ci in detail["orderItems"]:
            shipped[ci["orderItemId"]] = shipped.get(ci["orderItemId"], 0) + ci["quantity"]
        for oid, it in items.items():
            q = shipped.get(oid, 0)
            it.setdefault("fulfillment", {}).update(quantityFulfilled=q, quantityUnfulfilled=it["quantityOrdered"] - q)
        done = all(shipped.get(oid, 0) >= it["quantityOrdered"] for oid, it in items.items())
        ful["fulfillmentStatus"] = "SHIPPED" if done else "PARTIALLY_SHIPPED"
        o["lastUpdatedTime"] = iso(now)
        self._sorted.clear()
        self.confirmations.append({"orderId": orderId, "body": body, "at": iso(now),
                                   "replay": any(c["orderId"] == orderId and c["body"]["packageDetail"]["packageReferenceId"] == ref
                                                 for c in self.confirmations)})
        return Reply(204)

    # -- Reports -------------------------------------------------------------------------------
    def _public(self, rep: dict) -> dict:
        self._advance(rep)
        return {k: v for k, v in rep.items() if not k.startswith("_")}

    def _op_createReport(self, params, body, base) -> Reply:
        rtype = body["reportType"]
        if rtype in UNREQUESTABLE:
            return Reply(400, _errors("InvalidInput", f"Report type {rtype} cannot be requested. "
                                      "Amazon generates settlement reports automatically."))
        scenario = (body.get("reportOptions") or {}).get("fakeScenario", "DONE")
        rid = str(self.rng.randint(10**10, 10**11 - 1))
        self.reports[rid] = {"reportId": rid, "reportType": rtype, "createdTime": iso(self.clock.now()),
                             "processingStatus": "IN_QUEUE", "marketplaceIds": body["marketplaceIds"],
                             **({"dataStartTime": body["dataStartTime"]} if body.get("dataStartTime") else {}),
                             **({"dataEndTime": body["dataEndTime"]} if body.get("dataEndTime") else {}),
                             "_scenario": scenario, "_created_mono": self.clock.monotonic()}
        return Reply(202, {"reportId": rid})

    def _op_getReport(self, params, body, base, reportId) -> Reply:
        rep = self.reports.get(reportId)
        if rep is None:
            return Reply(404, _errors("NotFound", f"Report {reportId} was not found."))
        return Reply(200, self._public(rep))

    def _op_cancelReport(self, params, body, base, reportId) -> Reply:
        rep = self.reports.get(reportId)
        if rep is None:
            return Reply(404, _errors("NotFound", f"Report {reportId} was not found."))
        self._advance(rep)
        if rep["processingStatus"] != "IN_QUEUE":
            return Reply(400, _errors("InvalidInput", "Only reports in IN_QUEUE can be cancelled."))
        rep["processingStatus"] = "CANCELLED"
        return Reply(200)

    def _op_getReports(self, params, body, base) -> Reply:
        now = self.clock.now()
        if "nextToken" in params:
            if len(params) > 1:
                return Reply(400, _errors("InvalidInput", "nextToken must be the only parameter.",
                                          f"also given: {', '.join(sorted(k for k in params if k != 'nextToken'))}"))
            try:
                tok = _unb64(params["nextToken"])
                filters, offset = tok["f"], tok["o"]
            except (ValueError, KeyError, TypeError):
                return Reply(400, _errors("InvalidInput", "Invalid nextToken."))
        else:
            if not params.get("reportTypes"):
                return Reply(400, _errors("InvalidInput", "reportTypes or nextToken is required."))
            filters, offset = dict(params), 0
        since = parse_iso(filters["createdSince"]) if filters.get("createdSince") else now - timedelta(days=90)
        until = parse_iso(filters["createdUntil"]) if filters.get("createdUntil") else now
        if since < now - timedelta(days=90, minutes=1):
            return Reply(400, _errors("InvalidInput", "createdSince cannot be more than 90 days in the past."))
        types, statuses = set(filters.get("reportTypes") or []), set(filters.get("processingStatuses") or [])
        mkts = set(filters.get("marketplaceIds") or [])
        rows = []
        for rep in self.reports.values():
            self._advance(rep)
            created = parse_iso(rep["createdTime"])
            if types and rep["reportType"] not in types:
                continue
            if statuses and rep["processingStatus"] not in statuses:
                continue
            if mkts and not mkts & set(rep.get("marketplaceIds") or []):
                continue
            if since <= created <= until:
                rows.append(rep)
        rows.sort(key=lambda r: (r["createdTime"], r["reportId"]), reverse=True)
        size = int(filters.get("pageSize", 10))
        page = rows[offset:offset + size]
        out = {"reports": [self._public(r) for r in page]}
        if offset + size < len(rows):
            out["nextToken"] = _b64({"f": filters, "o": offset + size})
        return Reply(200, out)

    def _sign(self, key: str, date: str, ce: str) -> str:
        return hmac.new(self.s3_key, f"{key}|{date}|{ce}".encode(), hashlib.sha256).hexdigest()

    def _op_getReportDocument(self, params, body, base, reportDocumentId) -> Reply:
        doc = self.documents.get(reportDocumentId)
        if doc is None:
            return Reply(404, _errors("NotFound", f"Report document {reportDocumentId} was not found."))
        date = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        ce = "gzip" if params.get("enableContentEncodingUrlHeader") and doc["compressed"] else ""
        q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": date, "X-Amz-Expires": "300",
             "X-Amz-Signature": self._sign(reportDocumentId, date, ce)}
        if ce:
            q["response-content-encoding"] = ce
        out = {"reportDocumentId": reportDocumentId,
               "url": f"{self.s3_base or base}/__s3/{reportDocumentId}?{urlencode(q)}"}
        if doc["compressed"]:
            out["compressionAlgorithm"] = "GZIP"
        return Reply(200, out)

    def _s3(self, key, query, headers) -> Reply:
        if headers.get("x-amz-access-token"):
            self.s3_requests_with_token += 1  # S3 ignores it; the client should not send it
        q = {k: v[-1] for k, v in query.items()}
        doc = self.documents.get(key)
        xml = lambda code, msg: Reply(403 if code != "NoSuchKey" else 404,  # noqa: E731
                                      f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                                      f"<Message>{msg}</Message></Error>", {"Content-Type": "application/xml"})
        if doc is None:
            return xml("NoSuchKey", "The specified key does not exist.")
        ce = q.get("response-content-encoding", "")
        if not hmac.compare_digest(q.get("X-Amz-Signature", ""), self._sign(key, q.get("X-Amz-Date", ""), ce)):
            return xml("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        issued = datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        if self.clock.now() > issued + timedelta(seconds=int(q.get("X-Amz-Expires", "300"))):
            return xml("AccessDenied", "Request has expired")
        hdrs = {"Content-Type": f"text/plain; charset={self.charset}"}
        if ce == "gzip":
            hdrs["Content-Encoding"] = "gzip"
        return Reply(200, doc["data"], hdrs)

    # -- control (loopback: the daemon cannot share the test's clock) -----------------------------
    def _control(self, path, query) -> Reply:
        q = {k: v[-1] for k, v in query.items()}
        if path == "/__control/advance":
            if isinstance(self.clock, FakeClock):
                self.clock.advance(float(q.get("seconds", "0")))
            return Reply(200, {"now": iso(self.clock.now())})
        if path == "/__control/new_orders":
            orders = self.new_orders(int(q.get("n", "1")))
            return Reply(200, {"orders": [o["orderId"] for o in orders]})
        if path == "/__control/settlement":
            return Reply(200, {"reportId": self.add_settlement_report()})
        if path == "/__control/fail":
            self.fail_next(q.get("target", "."), int(q.get("status", "503")), int(q.get("times", "1")))
            return Reply(200, {"ok": True})
        if path == "/__control/stats":
            ops: dict = {}
            for c in self.calls:
                ops.setdefault(c.operation, {}).setdefault(str(c.status), 0)
                ops[c.operation][str(c.status)] += 1
            return Reply(200, {"now": iso(self.clock.now()), "orders": len(self.orders), "calls": ops,
                               "confirmations": len(self.confirmations), "violations": self.violations[-20:],
                               "response_violations": self.response_violations[-20:]})
        return Reply(404, {"error": "unknown control"})
