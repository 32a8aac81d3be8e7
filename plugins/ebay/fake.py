"""A fake eBay (OAuth, Fulfillment, Finances) as one WSGI app, shipped with the plugin: the tests
run it in-process, ``marketd sandbox`` serves it on loopback.

Faithful to the official contracts (``shared/specs/ebay/`` — never shipped; the tests plug a
``contract`` built from them) and to research api-contracts §2, §8.3 and design §5.1:

- **OAuth** ``POST /identity/v1/oauth2/token``: ``Authorization: Basic`` and a form body;
  ``refresh_token`` (asked scopes ⊆ granted) and ``client_credentials``; tokens live
  ``token_lifetime`` (7200) seconds of the fake clock. Unknown refresh token → 400 ``invalid_grant``.
- **Auth**: every API route needs a live ``Bearer`` token with the route's scope; unknown or
  expired → 401 ``errorId 1001``; wrong scope → 403 ``errorId 1100``.
- **Daily call limits** per resource (``order``: 100,000), reset at midnight America/Los_Angeles
  on the fake clock; beyond → **429** with eBay's ``errorId 2001`` body.
- **getOrders**: the filter grammar (``creationdate``/``lastmodifieddate`` ranges with ``..`` and
  an open end, ``orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}`` or ``{FULFILLED|IN_PROGRESS}``),
  the 400 codes of the contract (30700, 30800, 30810, 30820, 30840, 30850, 31000, 31100, 30900),
  ``orderIds`` (≤ 50) overriding everything, only paid orders of the last two years, offset paging
  with ``href/next/prev/total/limit/offset`` (``next`` absent on the last page). Orders are
  mutable (``touch``), so tests change them between pages.
- **createShippingFulfillment**: the body rules (32100, 32200, 32210, 32300, 32500, 32600,
  34100; the same line items again → 34500), 201 + ``Location`` + ``{}``, the order and its line
  items move to FULFILLED/IN_PROGRESS. ``succeed_then(status)`` creates the fulfilment and answers
  an error all the same (the 500 eBay says "may succeed if you issue it once more").
  ``getShippingFulfillments`` / ``getShippingFulfillment``.
- **Finances** (``fake_finances.py``), only on the ``apiz`` host (a request for
  ``/sell/finances`` to ``api.ebay.com`` is a 404 as in reality): ``getPayouts``, ``getPayout``,
  ``getTransactions`` with their filters and codes (135001–135009), 204 when nothing matches.
  **Signatures**: with ``require_signatures`` Finances calls must carry a valid RFC 9421 Ed25519
  signature by a registered key (``register_signing_key``), else 400 ``errorId 215120``
  [eBay's exact answer unverified].
- **Contract checks** with a ``contract`` (``request_problems(op, query, body)``,
  ``response_problems(op, status, body)``): a request that breaks the contract → 400 and an entry
  in ``violations``; an answer of the fake that drifts from it → HTTP 599 and an entry in
  ``response_violations``.
- **Inventory** (``fake_inventory.py``): inventory items, offers, publish (required aspects,
  policies, 250 revisions a day), ``bulkUpdatePriceQuantity`` (≤ 25, 207 per SKU).
- **Taxonomy** (``fake_taxonomy.py``, application token): default category tree, category
  suggestions, item aspects per leaf category.
- **Faults** (the SDK kit): ``fail_next(target, status)`` with eBay's error bodies,
  ``delay_next``, plus ``expire_tokens()``, ``set_quota(resource, n)``, ``succeed_then``.
"""
from __future__ import annotations

import base64
import json
import random
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from marketd.sdk import Clock, redact_form
from marketd.sdk.fakes import FakeService, Request, SandboxCheckFailed, SandboxConfig, SandboxFake

from .fake_compliance import COMPLIANCE_OPS, COMPLIANCE_ROUTES, ComplianceApi
from .fake_finances import FinancesApi, TransactionReport
from .fake_inventory import INVENTORY_OPS, INVENTORY_ROUTES, InventoryApi
from .fake_taxonomy import TAXONOMY_OPS, TAXONOMY_ROUTES, TaxonomyApi
from .fake_orders import (CARRIERS, MAX_FULFILLMENTS, FilterError, Reply, _bad, date_range, error, generate_orders,
                          int_param, iso, page_links, parse_iso, split_filter, value_set)

__all__ = ["EbayFake", "generate_orders", "sandbox", "QUOTA_BODY", "SCOPES"]

SCOPE_FULFILLMENT = "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
SCOPE_FINANCES = "https://api.ebay.com/oauth/api_scope/sell.finances"
SCOPE_INVENTORY = "https://api.ebay.com/oauth/api_scope/sell.inventory"  # Compliance API (fake_compliance.py)
SCOPE_PUBLIC = "https://api.ebay.com/oauth/api_scope"
SCOPE_INVENTORY = "https://api.ebay.com/oauth/api_scope/sell.inventory"
SCOPES = (SCOPE_FULFILLMENT, SCOPE_FINANCES)   # a seller who consented to listings adds SCOPE_INVENTORY
QUOTA_BODY = error(2001, "Too many requests.", domain="ACCESS",
                   long="The request limit has been reached for the resource.")
TOKEN_BODY = error(1001, "Invalid access token", domain="OAuth",
                   long="Invalid access token. Check the value of the Authorization HTTP request header.")
FUL = "/sell/fulfillment/v1"
FIN = "/sell/finances/v1"
ROUTES = [
    ("POST", r"/identity/v1/oauth2/token", "oauth.token"),
    ("GET", FUL + r"/order", "getOrders"),
    ("GET", FUL + r"/order/(?P<orderId>[^/]+)", "getOrder"),
    ("POST", FUL + r"/order/(?P<orderId>[^/]+)/shipping_fulfillment", "createShippingFulfillment"),
    ("GET", FUL + r"/order/(?P<orderId>[^/]+)/shipping_fulfillment", "getShippingFulfillments"),
    ("GET", FUL + r"/order/(?P<orderId>[^/]+)/shipping_fulfillment/(?P<fulfillmentId>[^/]+)", "getShippingFulfillment"),
    ("POST", FUL + r"/order/(?P<orderId>[^/]+)/issue_refund", "issueRefund"),
    ("POST", r"/post-order/v2/cancellation/check_eligibility", "checkCancellationEligibility"),
    ("POST", r"/post-order/v2/cancellation", "createCancellation"),
    ("GET", FIN + r"/payout", "getPayouts"),
    ("GET", FIN + r"/payout/(?P<payout_Id>[^/]+)", "getPayout"),
    ("GET", FIN + r"/transaction", "getTransactions"),
    *COMPLIANCE_ROUTES,
    *INVENTORY_ROUTES,
    *TAXONOMY_ROUTES,
]
FULFILLMENT_OPS = {"getOrders", "getOrder", "createShippingFulfillment", "getShippingFulfillments",
                   "getShippingFulfillment", "issueRefund"}
# ReasonForRefundEnum (eBay's type page; the OpenAPI file names the type, not its values)
REFUND_REASONS = {"BUYER_CANCEL", "BUYER_RETURN", "ITEM_NOT_RECEIVED", "SELLER_WRONG_ITEM", "SELLER_OUT_OF_STOCK",
                  "SELLER_FOUND_CHEAPER_PRICE", "OTHER"}
FINANCES_OPS = {"getPayouts", "getPayout", "getTransactions"}
# Post-Order API (no OpenAPI file from eBay; shapes from third-party clients, unverified): IAF auth,
# whole-order seller cancellations with one of three reasons.
POST_ORDER_OPS = {"checkCancellationEligibility", "createCancellation"}
SELLER_CANCEL_REASONS = {"BUYER_ASKED_CANCEL", "OUT_OF_STOCK_OR_CANNOT_FULFILL", "ADDRESS_ISSUES"}
SIGNED_BODY_OPS = {"issueRefund", "createCancellation"}   # signed by EU/UK sellers, with Content-Digest
RESOURCE = {**{op: "order" for op in FULFILLMENT_OPS}, **{op: "finances" for op in FINANCES_OPS},
            **{op: "postorder" for op in POST_ORDER_OPS},
            **{op: "compliance" for op in COMPLIANCE_OPS},
            **{op: "inventory" for op in INVENTORY_OPS}, **{op: "taxonomy" for op in TAXONOMY_OPS}}
PACIFIC = ZoneInfo("America/Los_Angeles")


class ContractNotChecked(RuntimeError):
    """Asked for contract violations of a fake that checks no contract."""


class EbayFake(FinancesApi, TransactionReport, InventoryApi, ComplianceApi, TaxonomyApi, FakeService):
    """The fake; a WSGI callable. See the module docstring for what it models."""

    REDACT_HEADERS = {"authorization", "x-ebay-signature-key", "signature"}

    def __init__(self, clock: Clock | None = None, *, client_id: str = "Marketd-Fake-PRD-0123456789",
                 client_secret: str = "PRD-fake-cert-id", refresh_token: str = "v^1.1#i^1#fake-refresh",
                 granted_scopes=SCOPES, token_lifetime: int = 7200, contract=None, seed: int = 1,
                 daily_quota: dict | None = None, require_signatures: bool = False, marketplace: str = "EBAY_IT"):
        super().__init__(clock)
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens = {refresh_token: set(granted_scopes)}
        self.token_lifetime = token_lifetime
        self.contract = contract
        self.rng = random.Random(seed)
        self.marketplace = marketplace
        self.tokens: dict[str, tuple[datetime, set]] = {}
        self.tokens_issued = 0
        self.daily_quota = {"order": 100_000, **(daily_quota or {})}
        self.quota_used: dict[tuple[str, str], int] = {}
        self.require_signatures = require_signatures
        self.signing_keys: dict[str, object] = {}
        self.orders: dict[str, dict] = {}
        self.fulfillments: dict[str, list[dict]] = {}
        self.created_fulfillments: list[dict] = []  # every fulfilment ever created (what tests count)
        self.refunds: list[dict] = []  # every issueRefund applied
        self.cancellations: list[dict] = []  # every createCancellation applied
        self._succeed_then: list[list] = []
        self.on_orders_page = None  # callable(offset) run after each getOrders answer (tests change orders there)
        self._violations: list[dict] = []
        self._response_violations: list[dict] = []
        self._init_finances()
        self._init_compliance()
        self._init_inventory()
        self._init_taxonomy()
        for method, pattern, op in ROUTES:
            self.route(method, pattern, self._oauth if op == "oauth.token" else self._api, name=op)

    # -- what tests read -----------------------------------------------------------------------
    @property
    def violations(self) -> list[dict]:
        return self._checked(self._violations)

    @property
    def response_violations(self) -> list[dict]:
        return self._checked(self._response_violations)

    def _checked(self, found):
        if self.contract is None:
            raise ContractNotChecked("this EbayFake has no contract plugged in, so it checked nothing: build it "
                                     "with contract=... (tests: the ebay_contract fixture)")
        return found

    def fulfillments_of(self, order_id: str) -> list[dict]:
        with self.lock:
            return list(self.fulfillments.get(order_id, []))

    # -- set-up --------------------------------------------------------------------------------
    def add_orders(self, orders: list[dict]) -> None:
        with self.lock:
            for o in orders:
                self.orders[o["orderId"]] = json.loads(json.dumps(o))

    def populate(self, n: int, *, days: float = 7, seed: int | None = None, **kw) -> list[dict]:
        orders = generate_orders(n, now=self.clock.now() - timedelta(minutes=5), days=days,
                                 seed=self.rng.randint(0, 10 ** 9) if seed is None else seed,
                                 marketplace=self.marketplace, **kw)
        orders = [o for o in orders if o["orderId"] not in self.orders]
        self.add_orders(orders)
        return orders

    def new_orders(self, n: int = 1) -> list[dict]:
        """Orders placed now (a few seconds ago)."""
        orders = generate_orders(n, now=self.clock.now() - timedelta(seconds=1), days=1 / 86400,
                                 seed=self.rng.randint(0, 10 ** 9), marketplace=self.marketplace)
        self.add_orders(orders)
        return orders

    def touch(self, order_id: str, at: datetime | None = None, **changes) -> dict:
        """Change an order: its ``lastModifiedDate`` moves to ``at`` (default: the clock's now)."""
        with self.lock:
            order = self.orders[order_id]
            order.update(changes)
            if changes.get("orderFulfillmentStatus") == "FULFILLED":
                for li in order["lineItems"]:
                    li["lineItemFulfillmentStatus"] = "FULFILLED"
            order["lastModifiedDate"] = iso(at or self.clock.now())
            return order

    def expire_tokens(self) -> None:
        with self.lock:
            now = self.clock.now()
            self.tokens = {t: (now, s) for t, (_, s) in self.tokens.items()}

    def set_quota(self, resource: str, calls: int) -> None:
        with self.lock:
            self.daily_quota[resource] = calls

    def register_signing_key(self, jwe: str, public_key_pem: str | bytes) -> None:
        from .signature import load_public_key

        with self.lock:
            self.signing_keys[jwe] = load_public_key(public_key_pem)

    def succeed_then(self, status: int = 500, times: int = 1, target: str = "createShippingFulfillment") -> None:
        """The next ``times`` calls of ``target`` do their work and then answer ``status``."""
        with self.lock:
            self._succeed_then.append([target, status, times])

    # -- pipeline ------------------------------------------------------------------------------
    def fault_body(self, status: int):
        if status == 429:
            return QUOTA_BODY
        if status >= 500:
            return error(30500, "System error", category="APPLICATION")
        if status == 409:
            return b""
        return error(32600, "Invalid input data")

    def redact_body(self, req: Request) -> bytes:
        return redact_form(req.body).encode() if req.operation == "oauth.token" else req.body

    def not_found(self, req: Request) -> Reply:
        return Reply(404, error(2002, "Resource not found", domain="API_FULFILLMENT" if FUL in req.path else "ACCESS"))

    def method_not_allowed(self, req: Request) -> Reply:
        return Reply(405, error(2003, "Method not allowed", domain="ACCESS"))

    def bad_json(self, req: Request) -> Reply:
        return Reply(400, error(32600, "Invalid input data", long="the request body is not JSON"))

    def _quota_day(self) -> str:
        return self.clock.now().astimezone(PACIFIC).date().isoformat()

    def quota_reset_at(self) -> datetime:
        now = self.clock.now().astimezone(PACIFIC)
        return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)

    def quota_count(self, resource: str) -> int:
        return self.quota_used.get((self._quota_day(), resource), 0)

    def _api(self, req: Request, **args) -> Reply:
        op = req.operation
        if op in FINANCES_OPS and self._host(req) in ("api.ebay.com", "api.sandbox.ebay.com"):
            req.unchecked = True  # no such resource on this host: not an answer of the operation
            return self.not_found(req)  # Finances lives only on apiz.ebay.com
        auth = req.headers.get("authorization", "")
        scheme = "IAF " if op in POST_ORDER_OPS else "Bearer "   # Post-Order takes the OAuth token as IAF
        token = auth[len(scheme):] if auth.startswith(scheme) else None
        entry = self.tokens.get(token or "")
        if entry is None or self.clock.now() >= entry[0]:
            return Reply(401, TOKEN_BODY)
        scope = SCOPE_FINANCES if op in FINANCES_OPS else SCOPE_INVENTORY if op in (INVENTORY_OPS | COMPLIANCE_OPS) \
            else SCOPE_PUBLIC if op in TAXONOMY_OPS else SCOPE_FULFILLMENT
        if scope not in entry[1] and not (op in FULFILLMENT_OPS and op.startswith("get")
                                           and scope + ".readonly" in entry[1]):
            return Reply(403, error(1100, "Access denied", domain="ACCESS",
                                    long="Insufficient permissions to fulfill the request."))
        resource = RESOURCE[op]
        key = (self._quota_day(), resource)
        limit = self.daily_quota.get(resource)
        if limit is not None and self.quota_used.get(key, 0) >= limit:
            return Reply(429, QUOTA_BODY)
        self.quota_used = {k: v for k, v in self.quota_used.items() if k[0] == key[0]}
        self.quota_used[key] = self.quota_used.get(key, 0) + 1
        if (op in FINANCES_OPS or op in SIGNED_BODY_OPS) and self.require_signatures:
            problem = self._signature_problem(req, body_op=op in SIGNED_BODY_OPS)
            if problem:
                return Reply(400, error(215120, "Signature validation failed", domain="ACCESS", long=problem))
        body = None
        if req.method in ("POST", "PUT") and not (op == "publishOffer" and not req.body):
            try:
                body = json.loads(req.body or b"null")
            except ValueError:
                return self.bad_json(req)
        if self.contract is not None:
            problems = self.contract.request_problems(op, req.query, body)
            if body is not None and req.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                problems.append("Content-Type must be application/json")
            if problems:
                self._violations.append({"operation": op, "path": req.path, "problems": problems})
                req.unchecked = True  # the answer to a broken request is not checked itself
                return Reply(400, error(32600, "Invalid input data", long="; ".join(problems)[:1000]))
        try:
            handler = getattr(self, "_op_" + op)
            return handler(req, body, **args) if req.method in ("POST", "PUT") else handler(req, **args)
        except FilterError as exc:
            return exc.reply

    def _host(self, req: Request) -> str:
        return (req.headers.get("host") or "").split(":")[0].lower()

    def _signature_problem(self, req: Request, body_op: bool = False) -> str | None:
        from .signature import BODY_COMPONENTS, GET_COMPONENTS, content_digest, verify

        jwe = req.headers.get("x-ebay-signature-key")
        if not jwe:
            return "the x-ebay-signature-key header is missing"
        key = self.signing_keys.get(jwe)
        if key is None:
            return "x-ebay-signature-key is not a key registered for this application"
        qs = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs)
        url = req.base + req.path  # @path and @authority: the query is not covered
        required = BODY_COMPONENTS if body_op and req.body else GET_COMPONENTS
        if required is BODY_COMPONENTS and req.headers.get("content-digest") != content_digest(req.body):
            return "Content-Digest is missing or does not match the body"
        problems = verify(key, req.method, url + (f"?{qs}" if qs else ""), req.headers, required)
        return "; ".join(problems) or None

    def finish(self, req: Request, reply: Reply) -> Reply:
        op = req.operation
        reply.headers.setdefault("x-ebay-c-request-id", f"{self.rng.getrandbits(48):012x}")
        if self.contract is None or op not in RESOURCE or getattr(req, "unchecked", False):
            return reply
        body = reply.body
        if isinstance(body, bytes):
            try:
                body = json.loads(body) if body else None
            except ValueError:
                pass
        problems = self.contract.response_problems(op, reply.status, body)
        if problems:
            self._response_violations.append({"operation": op, "status": reply.status, "problems": problems})
            return Reply(599, {"fake_contract_violation": op, "status": reply.status, "problems": problems[:20]})
        return reply

    # -- OAuth ---------------------------------------------------------------------------------
    def _oauth(self, req: Request) -> Reply:
        if not req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return Reply(400, {"error": "invalid_request", "error_description": "request is missing a required parameter"})
        auth = req.headers.get("authorization", "")
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":") if auth.startswith("Basic ") \
                else ("", "", "")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        if user != self.client_id or password != self.client_secret:
            return Reply(401, {"error": "invalid_client", "error_description": "client authentication failed"})
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        asked = set((form.get("scope") or "").split())
        if grant == "refresh_token":
            granted = self.refresh_tokens.get(form.get("refresh_token") or "")
            if granted is None:
                return Reply(400, {"error": "invalid_grant", "error_description": "the provided authorization refresh "
                                   "token is invalid or was issued to another client"})
            if asked - granted:
                return Reply(400, {"error": "invalid_scope", "error_description": "the requested scope is invalid, "
                                   "unknown, malformed, or exceeds the scope granted to the client"})
            scopes, kind = asked or granted, "User Access Token"
        elif grant == "client_credentials":
            if not asked or asked - {SCOPE_PUBLIC}:
                return Reply(400, {"error": "invalid_scope", "error_description": "the requested scope is invalid"})
            scopes, kind = asked, "Application Access Token"
        else:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": f"grant type {grant!r}"})
        token = f"v^1.1#i^1#p^3#r^{self.tokens_issued}#{self.rng.getrandbits(128):032x}"
        self.tokens_issued += 1
        self.tokens[token] = (self.clock.now() + timedelta(seconds=self.token_lifetime), set(scopes))
        return Reply(200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": kind})

    # -- getOrders / getOrder ------------------------------------------------------------------
    def _visible(self, order: dict, now: datetime) -> bool:
        return order["orderPaymentStatus"] not in ("PENDING", "FAILED") and \
            parse_iso(order["creationDate"]) >= now - timedelta(days=730)

    def _op_getOrders(self, req: Request) -> Reply:
        now = self.clock.now()
        ids = req.q("orderIds")
        if ids:
            wanted = [i for i in ids.split(",") if i]
            if len(wanted) > 50:
                raise _bad(30900, "Exceeded maximum number of order IDs (the current limit is 50)")
            rows = [self.orders[i] for i in wanted if i in self.orders and self._visible(self.orders[i], now)]
            return Reply(200, {**page_links(req.base, FUL + "/order", {"orderIds": ids}, 0, max(len(rows), 1),
                                            len(rows)), "orders": rows, "warnings": []})
        limit = int_param(req.q("limit"), 50, 1, 200, 31100, "limit")
        offset = int_param(req.q("offset"), 0, 0, None, 31000, "offset")
        created = modified = None
        statuses = None
        flt = req.q("filter")
        for name, value in split_filter(flt or ""):
            if name in ("creationdate", "lastmodifieddate"):
                rng = date_range(value, now, field=name)
                if name == "creationdate":
                    created = rng
                else:
                    modified = rng
            elif name == "orderfulfillmentstatus":
                vals = value_set(value)
                if not vals or set(vals) not in ({"NOT_STARTED", "IN_PROGRESS"}, {"FULFILLED", "IN_PROGRESS"}):
                    raise _bad(30800, f"Invalid filter value {value} for filter {name}", fieldvalue=value,
                               fieldname=name)
                statuses = set(vals)
            else:
                raise _bad(30700, f"Invalid filter name: {name}", fieldname=name)
        if created is None and modified is None:
            created = (now - timedelta(days=90), None)
        field, (start, end) = ("creationDate", created) if created else ("lastModifiedDate", modified)
        rows = [o for o in self.orders.values() if self._visible(o, now)
                and start <= parse_iso(o[field]) <= (end or now)
                and (statuses is None or o["orderFulfillmentStatus"] in statuses)]
        rows.sort(key=lambda o: (o["creationDate"], o["orderId"]))
        doc = page_links(req.base, FUL + "/order", {"filter": flt}, offset, limit, len(rows))
        doc["orders"] = rows[offset:offset + limit]
        doc["warnings"] = []
        if self.on_orders_page is not None:
            self.on_orders_page(offset)
        return Reply(200, doc)

    def _op_getOrder(self, req: Request, orderId: str) -> Reply:
        order = self.orders.get(orderId)
        if order is None:
            return Reply(404)
        return Reply(200, order)

    # -- shipping fulfilments ------------------------------------------------------------------
    def _op_createShippingFulfillment(self, req: Request, body, orderId: str) -> Reply:
        order = self.orders.get(orderId)
        if order is None:
            return Reply(400, error(32100, f"Invalid Order Id: {orderId}", parameters={"orderId": orderId}))
        if not isinstance(body, dict) or not isinstance(body.get("lineItems"), list) or not body["lineItems"]:
            return Reply(400, error(32600, "Invalid input data", long="lineItems is required"))
        known = {li["lineItemId"]: li for li in order["lineItems"]}
        ids = [str(li.get("lineItemId")) for li in body["lineItems"] if isinstance(li, dict)]
        for lid in ids:
            if lid not in known:
                return Reply(400, error(32200, f"Invalid line item id: {lid}", parameters={"lineItemId": lid}))
        if len(set(ids)) != len(ids):
            return Reply(400, error(32210, "Duplicate line item in the request"))
        for li in body["lineItems"]:
            qty = li.get("quantity")
            if qty is not None and (not isinstance(qty, int) or qty < 1 or qty > known[str(li["lineItemId"])]["quantity"]):
                return Reply(400, error(32600, "Invalid input data", long="quantity"))
        tracking, carrier = body.get("trackingNumber"), body.get("shippingCarrierCode")
        if (tracking or carrier) and (not tracking or carrier not in CARRIERS
                                      or not str(tracking).replace("-", "").isalnum()):
            return Reply(400, error(32300, "Invalid shipment tracking number or carrier"))
        shipped = body.get("shippedDate")
        if shipped is not None:
            try:
                when = parse_iso(shipped)
            except ValueError:
                return Reply(400, error(32500, "Invalid shipped date"))
            if when > self.clock.now() or when < parse_iso(order["creationDate"]) - timedelta(days=1):
                return Reply(400, error(32500, "Invalid shipped date"))
        existing = self.fulfillments.setdefault(orderId, [])
        covered = {li["lineItemId"] for f in existing for li in f["lineItems"]}
        if set(ids) & covered:
            return Reply(400, error(34500, "Please use PUT operation for updating shipping fulfillment"))
        if len(existing) >= MAX_FULFILLMENTS:
            return Reply(400, error(34100, "Maximum tracking number for order is exceeded"))
        fid = str(self.rng.randint(10 ** 21, 10 ** 22 - 1))
        ful = {"fulfillmentId": fid, "shipmentTrackingNumber": tracking, "shippingCarrierCode": carrier,
               "shippedDate": shipped or iso(self.clock.now()),
               "lineItems": [{"lineItemId": str(li["lineItemId"]),
                              "quantity": li.get("quantity") or known[str(li["lineItemId"])]["quantity"]}
                             for li in body["lineItems"]]}
        existing.append(ful)
        self.created_fulfillments.append({"orderId": orderId, **ful, "at": iso(self.clock.now())})
        for lid in ids:
            known[lid]["lineItemFulfillmentStatus"] = "FULFILLED"
        done = all(li["lineItemFulfillmentStatus"] == "FULFILLED" for li in order["lineItems"])
        order["orderFulfillmentStatus"] = "FULFILLED" if done else "IN_PROGRESS"
        order["lastModifiedDate"] = iso(self.clock.now())
        href = f"{req.base}{FUL}/order/{orderId}/shipping_fulfillment/{fid}"
        order["fulfillmentHrefs"] = order.get("fulfillmentHrefs", []) + [href]
        for fault in self._succeed_then:
            if fault[0] == req.operation and fault[2] > 0:
                fault[2] -= 1
                return Reply(fault[1], self.fault_body(fault[1]) if fault[1] != 409 else None)
        return Reply(201, {}, {"Location": href})

    def _op_issueRefund(self, req: Request, body, orderId: str) -> Reply:
        """A full or partial refund: ``orderLevelRefundAmount`` or ``refundItems`` (not both), at
        most what is left of the order's total. eBay processes it asynchronously: the answer is
        PENDING and ``getOrder`` shows it under ``paymentSummary.refunds``. Not idempotent: the
        same body twice is two refunds (as at eBay), until nothing is left to refund."""
        order = self.orders.get(orderId)
        fe = lambda code, msg: error(code, msg, domain="API_FULFILLMENT")  # noqa: E731  (the spec's error ids)
        if order is None:
            return Reply(404, fe(34913, "Can not find the order."))
        if not isinstance(body, dict) or body.get("reasonForRefund") not in REFUND_REASONS:
            return Reply(400, fe(34903, "The refund reason must be specified."))
        level, items = body.get("orderLevelRefundAmount"), body.get("refundItems")
        if bool(level) == bool(items):
            return Reply(400, fe(34905, "Either orderLevelRefundAmount or refundItems must be specified."))
        currency = order["pricingSummary"]["total"]["currency"]
        known = {li["lineItemId"]: li for li in order["lineItems"]}
        amounts = [level] if level else [i.get("refundAmount") or {} for i in items]
        if items and any(str(i.get("lineItemId")) not in known for i in items):
            return Reply(400, fe(34914, "Can't find the item in the order."))
        try:
            total = sum(Decimal(a["value"]) for a in amounts)
        except (KeyError, InvalidOperation, TypeError):
            return Reply(400, fe(34906, "The amount value must be specified."))
        if total <= 0 or any(Decimal(a["value"]).as_tuple().exponent < -2 for a in amounts):
            return Reply(400, fe(34907, "The amount value must be positive and within two decimals."))
        if any(a.get("currency") != currency for a in amounts):
            return Reply(400, fe(34909, "The amount currency isn't correct."))
        refunds = order.setdefault("paymentSummary", {}).setdefault("refunds", [])
        done = sum(Decimal(r["amount"]["value"]) for r in refunds)
        if done + total > Decimal(order["pricingSummary"]["total"]["value"]):
            return Reply(400, fe(34915, "The refund amount exceeds order amount."))
        rid = str(self.rng.randint(10 ** 11, 10 ** 12 - 1))
        refunds.append({"refundId": rid, "refundStatus": "PENDING", "refundDate": iso(self.clock.now()),
                        "amount": {"value": format(total, "f"), "currency": currency}})
        self.refunds.append({"orderId": orderId, "refundId": rid, "body": body})
        order["lastModifiedDate"] = iso(self.clock.now())
        return Reply(200, {"refundId": rid, "refundStatus": "PENDING"})

    # -- Post-Order cancellation ---------------------------------------------------------------
    def _by_legacy(self, legacy) -> dict | None:
        return next((o for o in self.orders.values() if str(o.get("legacyOrderId") or o["orderId"]) == str(legacy)),
                    None)

    def _cancel_blockers(self, order: dict) -> list[str]:
        if (order.get("cancelStatus") or {}).get("cancelState") == "CANCELED":
            return ["ORDER_ALREADY_CANCELLED"]
        if order.get("orderFulfillmentStatus") != "NOT_STARTED":
            return ["ORDER_ALREADY_SHIPPED"]
        return []

    def _op_checkCancellationEligibility(self, req: Request, body) -> Reply:
        if not isinstance(body, dict) or not isinstance(body.get("legacyOrderId"), str):
            return Reply(400, error(1701, "legacyOrderId is required", domain="API_POSTORDER"))
        order = self._by_legacy(body["legacyOrderId"])
        if order is None:
            return Reply(400, error(1702, "The order was not found", domain="API_POSTORDER"))
        blockers = self._cancel_blockers(order)
        return Reply(200, {"legacyOrderId": body["legacyOrderId"], "eligibleForCancellation": not blockers,
                           "failureReason": blockers})

    def _op_createCancellation(self, req: Request, body) -> Reply:
        """A seller's cancellation of a whole unshipped order: the order shows ``cancelStatus``
        CANCELED and eBay refunds the buyer in full. Only the seller's three reasons; a second
        cancellation of the same order is refused."""
        if not isinstance(body, dict) or not isinstance(body.get("legacyOrderId"), str):
            return Reply(400, error(1701, "legacyOrderId is required", domain="API_POSTORDER"))
        unknown = sorted(set(body) - {"legacyOrderId", "cancelReason", "buyerPaid", "buyerPaidDate", "relistLineItem"})
        if unknown:
            return Reply(400, error(1703, f"Unknown fields: {', '.join(unknown)}", domain="API_POSTORDER"))
        if body.get("cancelReason") not in SELLER_CANCEL_REASONS:
            return Reply(400, error(1704, "The cancel reason is not valid for a seller", domain="API_POSTORDER"))
        order = self._by_legacy(body["legacyOrderId"])
        if order is None:
            return Reply(400, error(1702, "The order was not found", domain="API_POSTORDER"))
        blockers = self._cancel_blockers(order)
        if blockers:
            return Reply(400, error(1705, f"The order cannot be cancelled: {', '.join(blockers)}",
                                    domain="API_POSTORDER"))
        cid = str(self.rng.randint(5 * 10 ** 9, 6 * 10 ** 9))
        now = iso(self.clock.now())
        order["cancelStatus"] = {"cancelState": "CANCELED", "cancelRequests": [{
            "cancelRequestId": cid, "cancelInitiator": "SELLER", "cancelReason": body["cancelReason"],
            "cancelRequestState": "COMPLETED", "cancelRequestedDate": now, "cancelCompletedDate": now}]}
        order["orderPaymentStatus"] = "FULLY_REFUNDED"
        order["lastModifiedDate"] = now
        self.cancellations.append({"orderId": order["orderId"], "cancelId": cid, "body": body})
        return Reply(201, {"cancelId": cid})

    def _op_getShippingFulfillments(self, req: Request, orderId: str) -> Reply:
        if orderId not in self.orders:
            return Reply(400, error(32100, f"Invalid order ID: {orderId}", parameters={"orderId": orderId}))
        found = self.fulfillments.get(orderId, [])
        return Reply(200, {"fulfillments": found, "total": len(found), "warnings": []})

    def _op_getShippingFulfillment(self, req: Request, orderId: str, fulfillmentId: str) -> Reply:
        if orderId not in self.orders:
            return Reply(400, error(32100, f"Invalid order ID: {orderId}"))
        for f in self.fulfillments.get(orderId, []):
            if f["fulfillmentId"] == fulfillmentId:
                return Reply(200, f)
        return Reply(400, error(32110, f"Invalid shipping fulfillment ID: {fulfillmentId}"))

    # -- control (loopback: the daemon cannot share the test's clock) -----------------------------
    def control(self, req: Request) -> Reply:
        if req.path == "/__control/new_orders":
            return Reply(200, {"orders": [o["orderId"] for o in self.new_orders(int(req.q("n", "1")))]})
        if req.path == "/__control/payout":
            payout = self.make_payout()
            return Reply(200, {"payoutId": payout["payoutId"] if payout else None})
        if req.path == "/__control/stats":
            ops: dict = {}
            for c in self.journal:
                ops.setdefault(c.operation, {}).setdefault(str(c.status), 0)
                ops[c.operation][str(c.status)] += 1
            return Reply(200, {"now": iso(self.clock.now()), "orders": len(self.orders), "calls": ops,
                               "fulfillments": len(self.created_fulfillments), "payouts": len(self.payouts),
                               "contract_checked": self.contract is not None,
                               "violations": self._violations[-20:],
                               "response_violations": self._response_violations[-20:]})
        return super().control(req)


# -- what `marketd sandbox` serves -----------------------------------------------------------------
SANDBOX_ACCOUNT = "ebay_sandbox"
SANDBOX_CREDENTIALS = ("Marketd-Sandbox-PRD-0000000000", "PRD-sandbox-cert-id", "v^1.1#i^1#sandbox-refresh")
SANDBOX_TRACKING = "EBAYSANDBOX0001"


def sandbox() -> SandboxFake:
    return SandboxFake("ebay", _sandbox_make, _sandbox_configure, _sandbox_check)


def _sandbox_make(options) -> EbayFake:
    from marketd.sdk import SYSTEM_CLOCK

    fake = EbayFake(SYSTEM_CLOCK, client_id=SANDBOX_CREDENTIALS[0], client_secret=SANDBOX_CREDENTIALS[1],
                    refresh_token=SANDBOX_CREDENTIALS[2])
    orders = fake.populate(options.orders, days=7)
    shipped = orders[: max(1, len(orders) // 3)]
    for o in shipped:  # some orders already shipped (a day after purchase) and paid out; the rest waits
        fake.touch(o["orderId"], at=min(parse_iso(o["creationDate"]) + timedelta(days=1), fake.clock.now()
                                        - timedelta(minutes=5)), orderFulfillmentStatus="FULFILLED")
    fake.make_payout([o["orderId"] for o in shipped])
    return fake


def _sandbox_configure(fake: EbayFake, url: str) -> SandboxConfig:
    from .settings import env_name

    return SandboxConfig(
        tables={"channels": {SANDBOX_ACCOUNT: {
                    "type": "ebay", "marketplace": "EBAY_IT", "orders_sync": True, "settlements_fetch": True,
                    "endpoint": url, "finances_endpoint": url, "initial_days": 8}},
                "jobs": {"ebay-orders": {"seconds": 300}}},
        env={env_name(SANDBOX_ACCOUNT, what): value
             for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), SANDBOX_CREDENTIALS)},
        hints=["marketd --config {config} jobs run ebay-orders                # eBay orders now",
               "marketd --config {config} jobs run ebay-payouts               # eBay payouts into inbox/settlements/",
               f"curl -X POST '{url}/__control/new_orders?n=5'   # eBay: new orders placed now",
               f"curl -X POST '{url}/__control/payout'           # eBay: pay out the shipped orders",
               f"curl '{url}/__control/stats'                    # eBay: calls, fulfilments, payouts"])


def _sandbox_check(app, fake: EbayFake) -> list[str]:
    """An order sync, a tracking number sent back and read back, the payouts fetched into the inbox."""
    from .jobs import ebay_accounts
    from .payouts import fetch_payouts

    channel = ebay_accounts(app)[SANDBOX_ACCOUNT]
    n = channel.sync_orders(None)
    if n == 0:
        raise SandboxCheckFailed("the eBay order sync imported no order")
    lines = [f"sandbox check: {n} eBay order(s) imported"]
    query = "select order_id from orders where channel = ? and status = 'UNSHIPPED' order by order_id limit 1"
    row = app.store.db.execute(query, [channel.name]).fetchone()
    if row is None:
        fake.new_orders(1)
        channel.sync_orders(None)
        row = app.store.db.execute(query, [channel.name]).fetchone()
    if row is None:
        raise SandboxCheckFailed("no unshipped eBay order to send tracking for")
    order_id = row[0]
    result = channel.confirm_shipment(order_id, {"carrierCode": "BRT", "trackingNumber": SANDBOX_TRACKING,
                                                 "packageReferenceId": "1"})
    if not result["ok"]:
        raise SandboxCheckFailed(f"createShippingFulfillment for {order_id} refused: {result.get('error')}")
    if not any(f.get("shipmentTrackingNumber") == SANDBOX_TRACKING for f in channel.api.get_fulfillments(order_id) or []):
        raise SandboxCheckFailed(f"eBay order {order_id} does not show the fulfilment just created")
    lines.append(f"tracking {SANDBOX_TRACKING} sent to eBay order {order_id} (fulfilment {result['fulfillment_id']}, "
                 "read back with getShippingFulfillments)")
    files = fetch_payouts(app, channel)
    if not files:
        raise SandboxCheckFailed("no eBay payout was fetched")
    lines.append(f"{len(files)} eBay payout file(s) written to inbox/settlements/")
    formats_hook = getattr(app.hook, "register_settlement_formats", None)
    if "settlements" in app.inbox_handlers() and getattr(formats_hook, "spec", None) is not None:
        # the settlements plugin reads the eBay formats (without that model the handler is Amazon's)
        from marketd.sdk import process_file

        for f in files:
            row = process_file(app, "settlements", f)
            s = row["summary"] or {}
            if row["state"] != "done" or s.get("status") != "ok":
                raise SandboxCheckFailed(f"eBay payout file {row['name']} ended {row['state']} "
                                         f"({s.get('status')}): {(row['error'] or {}).get('message', '')}")
            lines.append(f"eBay payout {s.get('payout_id')}: {s.get('status')}, {s.get('stated_total')} "
                         f"{s.get('currency') or ''}, {s.get('matched', 0)} of {s.get('orders', 0)} order(s) matched")
    return lines
