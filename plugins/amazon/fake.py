"""A fake Amazon Selling Partner API (plus LWA and the S3 document host) as one WSGI app,
shipped with the plugin: the tests run it in-process, ``marketd sandbox`` serves it on loopback.

Faithful to the official models (``shared/specs/amazon/``) and research api-contracts §8.2:

- **LWA** ``POST /auth/o2/token`` (form-encoded): issues ``Atza|…`` tokens that expire after
  ``token_lifetime`` seconds of the fake clock; unknown refresh token → 400 ``invalid_grant``,
  wrong client → 401 ``invalid_client``.
- **Auth**: every SP-API route needs a live ``x-amz-access-token``; missing, unknown or expired →
  403 ``Unauthorized`` (no rate-limit header).
- **Rate limits**: a token bucket per operation at the official default usage plan
  (:data:`OFFICIAL_LIMITS`); an empty bucket → 429 ``QuotaExceeded`` without
  ``x-amzn-RateLimit-Limit`` and without ``Retry-After``. Allowed answers (20x/400/404) carry
  ``x-amzn-RateLimit-Limit`` (switch off with ``rate_limit_header = False``).
- **Orders** (``fake_orders.py``): v2026-01-01 ``searchOrders`` (exactly one of
  createdAfter/lastUpdatedAfter; an opaque ``pagination.nextToken`` bound to the filters and valid
  24 h; keyset pagination so orders changing between pages are never skipped; ``includedData``
  controls the blocks) and ``getOrder``; v0 ``confirmShipment`` with the business rules (known
  items, quantities, MFN, not cancelled), 204, the same packageReferenceId again updates it.
- **Reports** (``fake_reports.py``): ``createReport`` (settlement types refused, Amazon makes
  those itself), ``getReports`` (``nextToken`` as the only parameter), ``getReport``,
  ``getReportDocument`` with a presigned URL on the fake S3 path ``/__s3/…`` valid 5 minutes.
- **Product Type Definitions** (``fake_ptd.py``): ``searchDefinitionsProductTypes``,
  ``getDefinitionsProductType`` (exactly one marketplace) with hand-written mini schemas in
  Amazon's shape behind presigned links valid 7 days; ``set_product_type`` publishes a new version.
- **Account health** (``fake_health.py``): the performance, feedback and returns reports made
  from the seller's state (``set_account_status``, ``set_metric``, ``add_feedback``, ``add_return``).
- **Notifications** (``fake_notifications.py``): destinations (grantless tokens only) and
  subscriptions (seller tokens only), 409 on a second subscription of a type.
- **Feeds and Listings Items** (``fake_listings.py``): feed documents uploaded to the fake S3,
  ``JSON_LISTINGS_FEED`` processed against the fake's own product type schemas into a processing
  report, ``getListingsItem``/``searchListingsItems``/``patchListingsItem`` on a listings store.
- **The media host** (``/__media/<name>``, ``host_image``): Amazon re-hosts every listing image on
  its own servers (m.media-amazon.com), so a listing's ``mainImage.link`` points there; the listing
  audit fetches and compares that copy.
- **Contract checks**, when a ``contract`` is plugged in: query parameters and bodies are
  validated against the models (problems → 400 ``InvalidInput`` and an entry in
  ``fake.violations``); every JSON answer is validated against the declared response definition
  (a drift → HTTP 599 and an entry in ``fake.response_violations``, so a test sees the fake itself
  is wrong). The models are not shipped: the tests plug a validator built from
  ``shared/specs/amazon`` (``tests/fakes/specs.py``). A ``contract`` answers ``model(operation)``
  with an object offering ``parse_query(operation, query) -> (params, problems)``,
  ``body_definition(operation)``, ``validate(definition, instance) -> problems`` and
  ``response_definition(operation, status)``, or None for an operation it does not know.
  Without one nothing is checked, and reading ``violations`` raises instead of answering a
  reassuring ``[]``.
- **Faults** (the kit's, :class:`marketd.sdk.fakes.FakeService`): ``fail_next(target, status)``
  with SP-API's error bodies, ``delay_next(target, seconds)``, plus ``expire_tokens()`` and
  ``set_limit(op, rate, burst)``. A target is an operation name or a path regex.
- **Journal**: ``fake.calls`` (credentials redacted, with ``operation`` and ``status``),
  ``fake.count(op, status)``, ``fake.calls_of(op)``.
"""
from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from marketd.sdk import Clock, redact_form
from marketd.sdk.fakes import FakeService, Request, SandboxCheckFailed, SandboxConfig, SandboxFake

from .fake_health import HealthReportsApi
from .fake_notifications import NOTIFICATION_LIMITS, NOTIFICATION_ROUTES, NotificationsApi
from .fake_orders import OrdersApi, Reply, _errors, generate_orders, iso, make_order
from .fake_listings import ListingsApi
from .fake_ptd import PtdApi, default_product_types
from .fake_reports import ReportsApi, settlement_v2_text
from .fake_vidr import VidrApi

__all__ = ["SpApiFake", "OFFICIAL_LIMITS", "Bucket", "ContractNotChecked", "generate_orders", "make_order",
           "settlement_v2_text", "sandbox"]

# Default usage plans (rate requests/s, burst) as printed in the "Usage Plan" table of each
# operation's description in the official models: orders_2026-01-01.json (searchOrders,
# getOrder), ordersV0.json (confirmShipment), reports_2021-06-30.json (getReports,
# createReport, getReport, getReportDocument, cancelReport). tests/amazon checks this dict
# against the model files; it is kept apart from the client's own table on purpose (a fake
# derived from the code under test would agree with its mistakes).
OFFICIAL_LIMITS: dict[str, tuple[float, float]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "getReports": (0.0222, 10),
    "createReport": (0.0167, 15),
    "cancelReport": (0.0222, 10),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    # definitionsProductTypes_2020-09-01.json (fake_ptd.py)
    "searchDefinitionsProductTypes": (5.0, 10),
    "getDefinitionsProductType": (5.0, 10),
    # notifications.json (fake_notifications.py): every operation 1/s, burst 5
    **NOTIFICATION_LIMITS,
    # feeds_2021-06-30.json and listingsItems_2021-08-01.json (fake_listings.py)
    "createFeedDocument": (0.5, 15), "createFeed": (0.0083, 15), "getFeed": (2.0, 15), "getFeeds": (0.0222, 10),
    "cancelFeed": (2.0, 15), "getFeedDocument": (0.0222, 10),
    "getListingsItem": (5.0, 10), "putListingsItem": (5.0, 10), "patchListingsItem": (5.0, 5),
    "deleteListingsItem": (5.0, 5), "searchListingsItems": (5.0, 5),
}
OPERATIONS = frozenset(OFFICIAL_LIMITS)  # the SP-API operations (LWA and S3 are other hosts in reality)

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
    ("GET", r"/definitions/2020-09-01/productTypes", "searchDefinitionsProductTypes"),
    ("GET", r"/definitions/2020-09-01/productTypes/(?P<productType>[^/]+)", "getDefinitionsProductType"),
    *NOTIFICATION_ROUTES,
    ("POST", r"/feeds/2021-06-30/documents", "createFeedDocument"),
    ("GET", r"/feeds/2021-06-30/documents/(?P<feedDocumentId>[^/]+)", "getFeedDocument"),
    ("POST", r"/feeds/2021-06-30/feeds", "createFeed"),
    ("GET", r"/feeds/2021-06-30/feeds", "getFeeds"),
    ("GET", r"/feeds/2021-06-30/feeds/(?P<feedId>[^/]+)", "getFeed"),
    ("DELETE", r"/feeds/2021-06-30/feeds/(?P<feedId>[^/]+)", "cancelFeed"),
    ("GET", r"/listings/2021-08-01/items/(?P<sellerId>[^/]+)", "searchListingsItems"),
    ("GET", r"/listings/2021-08-01/items/(?P<sellerId>[^/]+)/(?P<sku>[^/]+)", "getListingsItem"),
    ("PUT", r"/listings/2021-08-01/items/(?P<sellerId>[^/]+)/(?P<sku>[^/]+)", "putListingsItem"),
    ("PATCH", r"/listings/2021-08-01/items/(?P<sellerId>[^/]+)/(?P<sku>[^/]+)", "patchListingsItem"),
    ("DELETE", r"/listings/2021-08-01/items/(?P<sellerId>[^/]+)/(?P<sku>[^/]+)", "deleteListingsItem"),
    ("GET", r"/__s3/(?P<key>[^/]+)", "s3.get"),
    ("GET", r"/__media/(?P<key>[^/]+)", "media.get"),
    ("PUT", r"/__s3/(?P<key>[^/]+)", "s3.put"),
]

_ARRAYS = {"marketplaceIds", "fulfillmentStatuses", "fulfilledBy", "includedData", "reportTypes", "processingStatuses",
           "keywords", "feedTypes", "identifiers", "withStatus", "withoutStatus", "withIssueSeverity"}
_INTS = {"maxResultsPerPage", "pageSize"}


class ContractNotChecked(RuntimeError):
    """Asked for contract violations of a fake that checks no contract."""


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


def _loose_params(query: dict) -> dict:
    """Query conversion without a contract (nothing is checked)."""
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


class SpApiFake(OrdersApi, ReportsApi, PtdApi, ListingsApi, HealthReportsApi, NotificationsApi, VidrApi, FakeService):
    """The fake; a WSGI callable. See the module docstring for what it models."""

    REDACT_HEADERS = {"x-amz-access-token", "authorization"}

    def __init__(self, clock: Clock | None = None, *, client_id: str = "amzn1.application-oa2-client.fake",
                 client_secret: str = "fake-lwa-client-secret", refresh_token: str = "Atzr|fake-refresh-token",
                 marketplace_id: str = "APJ6JRA9NG5V4", limits: dict | None = None, token_lifetime: int = 3600,
                 contract=None, seed: int = 1, rate_limits: bool = True, s3_base: str | None = None,
                 report_delays: tuple[float, float] = (60, 120), charset: str = "utf-8"):
        super().__init__(clock)
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens = {refresh_token}
        self.marketplace_id = marketplace_id
        self.token_lifetime = token_lifetime
        self.rng = random.Random(seed)
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
        self.contract = contract
        self._violations: list[dict] = []
        self._response_violations: list[dict] = []
        self.confirmations: list[dict] = []
        self.product_types: dict[str, dict] = default_product_types()
        self._listings_init()
        self._health_init()
        self.vat_rejections: dict[str, str] = {}   # order → why Amazon rejected its uploaded invoice (VIDR)
        self._notifications_init()
        self.token_grants: dict[str, str] = {}
        self.media: dict[str, tuple[bytes, str]] = {}  # Amazon's image host (m.media-amazon.com): name -> bytes
        self.s3_requests_with_token = 0
        self.tokens_issued = 0
        for method, pattern, op in ROUTES:
            handler = {"lwa.token": self._lwa, "s3.get": self._s3_get, "s3.put": self._s3_put,
                       "media.get": self._media_get}.get(op, self._sp_api)
            self.route(method, pattern, handler, name=op)

    # -- what tests read -----------------------------------------------------------------------
    @property
    def calls(self) -> list[Request]:
        return self.journal

    @property
    def violations(self) -> list[dict]:
        """Requests that broke the official models (only with a ``contract``: else this raises)."""
        return self._checked(self._violations)

    @property
    def response_violations(self) -> list[dict]:
        """Answers of the fake itself that broke the official models (only with a ``contract``)."""
        return self._checked(self._response_violations)

    def _checked(self, found: list[dict]) -> list[dict]:
        if self.contract is None:
            raise ContractNotChecked("this SpApiFake has no contract plugged in, so it checked nothing: "
                                     "build it with contract=... (tests: the amazon_contract fixture)")
        return found

    # -- set-up helpers ------------------------------------------------------------------------
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

    # -- the request pipeline (FakeService steps) ----------------------------------------------
    def fault_body(self, status: int) -> dict:
        if status >= 500:
            return _errors("InternalFailure", "We encountered an internal error. Please try again.")
        if status == 429:
            return _errors("QuotaExceeded", "You exceeded your quota for the requested resource.")
        return _errors("InvalidInput", "Invalid Input")

    def redact_body(self, req: Request) -> bytes:
        return redact_form(req.body).encode() if req.operation == "lwa.token" else req.body

    def not_found(self, req: Request) -> Reply:
        return Reply(404, _errors("NotFound", f"Resource {req.path} is not found."))

    def method_not_allowed(self, req: Request) -> Reply:
        return Reply(405, _errors("MethodNotAllowed", f"{req.method} is not allowed on {req.path}"))

    def bad_json(self, req: Request) -> Reply:
        return Reply(400, _errors("InvalidInput", "Invalid Input", "request body is not JSON"))

    def _model(self, operation: str):
        return self.contract.model(operation) if self.contract is not None and operation in OPERATIONS else None

    def _sp_api(self, req: Request, **args) -> Reply:
        """An SP-API operation: auth, then the rate limit, then the contract, then the handler."""
        op = req.operation
        token = req.headers.get("x-amz-access-token")
        expiry = self.tokens.get(token or "")
        if expiry is None:
            return Reply(403, _errors("Unauthorized", "Access to requested resource is denied.",
                                      "The access token is missing or not valid."))
        if self.clock.now() >= expiry:
            return Reply(403, _errors("Unauthorized", "Access to requested resource is denied.",
                                      "The access token you provided has expired."))
        refused = self.grant_problem(op, token)
        if refused is not None:
            return refused
        if self.rate_limits and op in self.limits:
            bucket = self.buckets.get(op)
            if bucket is None:
                bucket = self.buckets[op] = Bucket(*self.limits[op], self.clock)
            if not bucket.take():
                return Reply(429, _errors("QuotaExceeded", "You exceeded your quota for the requested resource."))
        params, problems = req.query, []
        model = self._model(op)
        if model is not None:
            params, problems = model.parse_query(op, req.query)
            bdef = model.body_definition(op)
            if bdef:
                try:
                    doc = req.json()
                except ValueError:
                    problems.append("request body is not JSON")
                    doc = None
                else:
                    if req.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                        problems.append("Content-Type must be application/json")
                    problems += [f"body {p}" for p in model.validate(bdef, doc)]
        else:
            params = _loose_params(req.query)
        if problems:
            self._violations.append({"operation": op, "path": req.path, "problems": problems})
            code = "Invalid Input" if op == "confirmShipment" else "InvalidInput"
            return Reply(400, _errors(code, "Invalid Input", "; ".join(problems)[:1000]))
        body = req.json() if req.body and req.method in ("POST", "PUT", "PATCH") else None
        return getattr(self, "_op_" + op)(params=params, body=body, base=req.base, **args)

    def finish(self, req: Request, reply: Reply) -> Reply:
        """Every SP-API answer carries a request id and (when allowed) the rate limit, and is
        checked against the model's response definition."""
        rid = str(uuid.UUID(int=self.rng.getrandbits(128)))
        op = req.operation
        if op not in OPERATIONS:
            return reply
        reply.headers.setdefault("x-amzn-RequestId", rid)
        if self.rate_limit_header and reply.status in (200, 201, 202, 204, 400, 404) and op in self.limits:
            reply.headers["x-amzn-RateLimit-Limit"] = f"{self.limits[op][0]:g}"
        return self._check_response(op, reply)

    def _check_response(self, op: str, reply: Reply) -> Reply:
        model = self._model(op)
        if model is None:
            return reply
        body = reply.body
        if isinstance(body, bytes) and body[:1] in (b"{", b"["):  # an injected fault's JSON
            try:
                body = json.loads(body)
            except ValueError:
                pass
        definition = model.response_definition(op, reply.status)
        if definition is None or not isinstance(body, (dict, list)):
            if reply.status == 204 and reply.body not in (None, b"", ""):
                problems = ["204 must have an empty body"]
            else:
                return reply
        else:
            problems = model.validate(definition, body)
        if problems:
            self._response_violations.append({"operation": op, "status": reply.status, "problems": problems})
            return Reply(599, {"fake_contract_violation": op, "status": reply.status, "problems": problems[:20]})
        return reply

    # -- LWA, the S3 host and the media host ------------------------------------------------------
    def host_image(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``data`` as Amazon's re-hosted copy of an image; returns its path (``/__media/<name>``):
        a listing's ``mainImage.link`` points at Amazon's host, never at the brand's."""
        with self.lock:
            self.media[name] = (data, content_type)
        return f"/__media/{name}"

    def _media_get(self, req: Request, key: str) -> Reply:
        hit = self.media.get(key)
        if hit is None:
            return Reply(404, b"", {"Content-Type": "text/plain"})
        return Reply(200, hit[0], {"Content-Type": hit[1]})

    def _s3_get(self, req: Request, key: str) -> Reply:
        return self._s3(key, req.query, req.headers)

    def _lwa(self, req: Request) -> Reply:
        headers, body = req.headers, req.body
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
        self.token_grants[token] = grant
        out = {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
        if grant == "refresh_token":
            out["refresh_token"] = form["refresh_token"]
        return Reply(200, out, {"Cache-Control": "no-store"})


    # -- control (loopback: the daemon cannot share the test's clock) -----------------------------
    def control(self, req: Request) -> Reply:
        if req.path == "/__control/new_orders":
            orders = self.new_orders(int(req.q("n", "1")))
            return Reply(200, {"orders": [o["orderId"] for o in orders]})
        if req.path == "/__control/account_status":  # the next performance report says this
            self.set_account_status(req.q("status", "AT_RISK"))
            return Reply(200, {"status": self.health_document()["accountStatuses"][0]["status"]})
        if req.path == "/__control/settlement":
            return Reply(200, {"reportId": self.add_settlement_report()})
        if req.path == "/__control/stats":
            ops: dict = {}
            for c in self.journal:
                ops.setdefault(c.operation, {}).setdefault(str(c.status), 0)
                ops[c.operation][str(c.status)] += 1
            return Reply(200, {"now": iso(self.clock.now()), "orders": len(self.orders), "calls": ops,
                               "confirmations": len(self.confirmations), "contract_checked": self.contract is not None,
                               "violations": self._violations[-20:],
                               "response_violations": self._response_violations[-20:]})
        return super().control(req)


# -- what `marketd sandbox` serves -----------------------------------------------------------------
SANDBOX_ACCOUNT = "amazon_sandbox"
SANDBOX_CREDENTIALS = ("amzn1.application-oa2-client.sandbox", "sandbox-lwa-client-secret", "Atzr|sandbox-fake")
SANDBOX_TRACKING = "SANDBOX0000001"


def sandbox() -> SandboxFake:
    return SandboxFake("amazon", _sandbox_make, _sandbox_configure, _sandbox_check)


def _sandbox_make(options) -> SpApiFake:
    from marketd.sdk import SYSTEM_CLOCK

    # the system clock: a daemon started on the sandbox config meets Amazon's real rate limits
    fake = SpApiFake(SYSTEM_CLOCK, client_id=SANDBOX_CREDENTIALS[0], client_secret=SANDBOX_CREDENTIALS[1],
                     refresh_token=SANDBOX_CREDENTIALS[2])
    fake.populate(options.orders, days=7)
    fake.add_settlement_report()
    return fake


def _sandbox_configure(fake: SpApiFake, url: str) -> SandboxConfig:
    from .settings import env_name

    return SandboxConfig(
        tables={"channels": {SANDBOX_ACCOUNT: {
                    "type": "amazon", "marketplace": "IT", "orders_sync": True, "settlements_fetch": True,
                    "endpoint": url, "lwa_endpoint": f"{url}/auth/o2/token", "initial_days": 7,
                    "seller_id": fake.seller_id}},  # the merchant token: feeds (cancel, listings) need it
                "jobs": {"amazon-orders": {"seconds": 300}}},
        env={env_name(SANDBOX_ACCOUNT, what): value
             for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), SANDBOX_CREDENTIALS)},
        hints=["marketd --config {config} jobs run amazon-orders               # orders now",
               "marketd --config {config} jobs run amazon-settlements-fetch    # settlements now",
               f"curl -X POST '{url}/__control/new_orders?n=5'   # Amazon: new orders placed now",
               f"curl -X POST '{url}/__control/settlement'       # Amazon: a new settlement report",
               f"curl -X POST '{url}/__control/account_status?status=AT_RISK'  # the next performance report",
               f"curl '{url}/__control/stats'                    # Amazon: calls, 429s",
               "Amazon's rate limits are the real defaults (searchOrders: burst 20, then one call every ~3 min)."])


def _sandbox_check(app, fake: SpApiFake) -> list[str]:
    """An order sync, the settlement reports fetched and taken through the settlements inbox (when
    a plugin handles it), and a tracking number confirmed back on an unshipped order."""
    from marketd.sdk import process_file

    from .orders import amazon_accounts
    from .reports_fetch import fetch_settlements

    channel = amazon_accounts(app)[SANDBOX_ACCOUNT]
    n = channel.sync_orders(None)
    if n == 0:
        raise SandboxCheckFailed("the order sync imported no order")
    files = fetch_settlements(app, channel, None)
    if not files:
        raise SandboxCheckFailed("no settlement report was fetched")
    lines = [f"sandbox check: {n} order(s) imported, {len(files)} settlement file(s) in inbox/settlements/"]
    if "settlements" in app.inbox_handlers():
        for f in files:
            row = process_file(app, "settlements", f)
            s = row["summary"] or {}
            if row["state"] != "done":
                raise SandboxCheckFailed(f"settlement file {row['name']} ended {row['state']}: "
                                         f"{(row['error'] or {}).get('message', '')}")
            lines.append(f"settlement {s.get('settlement_id')}: {s.get('status')}, payout {s.get('total_amount')} "
                         f"{s.get('currency') or ''}, {s.get('matched', 0)} of {s.get('orders', 0)} order(s) "
                         f"matched; reports in {app.outbox_dir / 'reports'}")
    lines.append(_sandbox_confirm(app, channel, fake))
    return lines


def _sandbox_confirm(app, channel, fake: SpApiFake) -> str:
    """Tracking back to Amazon: confirmShipment for one unshipped order, then getOrder shows it."""
    query = "select order_id from orders where channel = ? and status = 'UNSHIPPED' order by order_id limit 1"
    row = app.store.db.execute(query, [channel.name]).fetchone()
    if row is None:  # a small --orders may have none: one placed now
        fake.new_orders(1)
        channel.sync_orders(None)
        row = app.store.db.execute(query, [channel.name]).fetchone()
    if row is None:
        raise SandboxCheckFailed("no unshipped order to confirm a shipment for")
    order_id = row[0]
    result = channel.confirm_shipment(order_id, {"carrierCode": "BRT", "trackingNumber": SANDBOX_TRACKING})
    if not result["ok"]:
        raise SandboxCheckFailed(f"confirmShipment for {order_id} refused: {result.get('error')}")
    order = channel.api.get_order(order_id, included_data=["PACKAGES"]) or {}
    if not any(p.get("trackingNumber") == SANDBOX_TRACKING for p in order.get("packages") or []):
        raise SandboxCheckFailed(f"order {order_id} does not show the confirmed package")
    return f"tracking {SANDBOX_TRACKING} confirmed on Amazon order {order_id} (confirmShipment, seen by getOrder)"
