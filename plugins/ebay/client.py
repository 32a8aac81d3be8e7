"""A thin eBay REST client: the few Fulfillment and Finances operations marketd uses.

- Fulfillment (``https://api.ebay.com/sell/fulfillment/v1``): ``getOrders`` (filter, offset
  paging by following ``next``), ``createShippingFulfillment``, ``getShippingFulfillments``.
- Finances (**only** on ``https://apiz.ebay.com/sell/finances/v1``): ``getPayouts``,
  ``getPayout``, ``getTransactions``; 204 means "nothing matches" and has no body. For EU/UK
  sellers every Finances call is signed (``signature.py``).
- Post-Order (``https://api.ebay.com/post-order/v2``, ``Authorization: IAF <user token>``):
  ``checkCancellationEligibility`` and ``createCancellation`` (a seller's cancellation of a whole
  order; eBay refunds the buyer). EU/UK sellers also sign ``issueRefund`` and ``createCancellation``
  (the calls that move money), body covered by ``Content-Digest``.

Every call carries ``Authorization: Bearer <user token>`` (``oauth.py``); a 401 drops the cached
token and is retried once. All calls go through the SDK's ``HttpClient``: a token bucket per
operation (eBay publishes no per-second limits; 5 requests/s with a burst of 10 is polite), the
daily call limit counted per resource (``quota.py``) on the transport so every request sent is
counted, 5xx/timeouts retried — except ``createShippingFulfillment``, which is sent once: eBay
says a 500 there "may succeed if you issue it once more", so the first one may have worked, and
the channel reads back before it sends again (design D7). A 429 with ``errorId 2001`` (the daily
limit) raises ``RateLimited`` at once instead of being retried within seconds.
"""
from __future__ import annotations

import json
import logging
from typing import Iterator

import httpx

from marketd.sdk import (SYSTEM_CLOCK, Clock, HttpClient, RateLimiter, RetryPolicy, TransientError,
                        __version__)

from . import mapper
from .errors import EbayApiError
from .oauth import EbayTokens
from .quota import DailyQuota, resource_of

log = logging.getLogger("marketd.ebay.client")

FULFILLMENT = "/sell/fulfillment/v1"
FINANCES = "/sell/finances/v1"
INVENTORY = "/sell/inventory/v1"
POST_ORDER = "/post-order/v2"
# Calls EU/UK-domiciled sellers must sign besides Finances (research api-contracts §2.1: "Finances
# API, Fulfillment issueRefund and some Post-Order calls"; which Post-Order calls is unverified:
# the one that moves money here, createCancellation, is signed).
SIGNED_OPS = frozenset({"issueRefund", "createCancellation"})
POLITE = (5.0, 10)
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {op: POLITE for op in (
    "getOrders", "getOrder", "createShippingFulfillment", "getShippingFulfillments", "getPayouts", "getPayout",
    "getTransactions", "createOrReplaceInventoryItem", "getInventoryItems", "getOffers", "createOffer",
    "updateOffer", "publishOffer", "bulkUpdatePriceQuantity", "bulkCreateOrReplaceInventoryItem", "bulkCreateOffer",
    "bulkPublishOffer", "createOrReplaceInventoryItemGroup", "publishOfferByInventoryItemGroup",
    "getDefaultCategoryTreeId", "getCategorySuggestions", "getItemAspectsForCategory",
    "checkCancellationEligibility", "createCancellation")}
ORDERS_PAGE = 200        # getOrders' maximum (31100 beyond)
FINANCES_PAGE = 200      # valid under both the research (max 200) and spec 1.9.0 (max 1000)
QUOTA_ERROR = 2001
SEND_ONCE = RetryPolicy(max_attempts=1)


def errors_of(resp: httpx.Response) -> list[dict]:
    try:
        return mapper.errors_of(resp.json())
    except ValueError:
        return [{"errorId": 0, "message": resp.text[:200]}] if resp.content else []


class QuotaTransport(httpx.BaseTransport):
    """Counts every request actually sent (retries included) against the daily limit; over the
    limit it raises ``RateLimited`` instead of sending."""

    def __init__(self, inner: httpx.BaseTransport, quota: DailyQuota):
        self.inner = inner
        self.quota = quota

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.quota.take(resource_of(request.url.path))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class EbayClient:
    """eBay REST for one seller account."""

    def __init__(self, endpoint: str, finances_endpoint: str, tokens: EbayTokens, *, signer=None, transport=None,
                 clock: Clock | None = None, limits: dict | None = None, quota: DailyQuota | None = None,
                 timeout: float = 60.0, account: str = "", marketplace: str | None = None,
                 max_wait: float | None = None, retry: RetryPolicy | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.finances_endpoint = finances_endpoint.rstrip("/")
        self.tokens = tokens
        self.signer = signer
        self.clock = clock or SYSTEM_CLOCK
        self.account = account
        self.marketplace = marketplace
        self.max_wait = max_wait
        self.quota = quota or DailyQuota({}, self.clock, account=account)
        self.limiter = RateLimiter({**DEFAULT_LIMITS, **(limits or {})}, clock=self.clock)
        inner = transport if transport is not None else httpx.HTTPTransport()
        self.http = HttpClient("", transport=QuotaTransport(inner, self.quota), timeout=timeout, clock=self.clock,
                               retry=retry or RetryPolicy(), limiter=self.limiter, name=f"eBay {account}".strip(),
                               headers={"user-agent": f"marketd/{__version__}", "accept": "application/json"},
                               quota_wait=self._quota_wait)

    def close(self) -> None:
        self.http.close()
        self.tokens.close()

    def _quota_wait(self, resp: httpx.Response) -> float | None:
        """A 429 with errorId 2001 is the daily call limit: no point retrying before the next run."""
        if QUOTA_ERROR in mapper.error_ids(errors_of(resp)):
            return self.quota.seconds_to_reset()
        return None

    # -- plumbing ------------------------------------------------------------------------------
    def url(self, base: str, path: str, query: dict | None = None) -> str:
        q = mapper.encode_query(query or {})
        return f"{base}{path}" + (f"?{q}" if q else "")

    def call(self, method: str, url: str, operation: str, *, json_body=None, retry: RetryPolicy | None = None,
             max_wait: float | None = -1, headers: dict | None = None, scheme: str = "Bearer") -> httpx.Response:
        """One call with the access token (and the signature on Finances when configured); a 401
        drops the token and is retried once."""
        if max_wait == -1:
            max_wait = self.max_wait
        body = json.dumps(json_body, separators=(",", ":")).encode() if json_body is not None else None
        extra = dict(headers or {})
        for attempt in (1, 2):
            token = self.tokens.access_token()
            headers = {**extra, "Authorization": f"{scheme} {token}"}
            if self.marketplace:
                headers["X-EBAY-C-MARKETPLACE-ID"] = self.marketplace
            if body is not None:
                headers["Content-Type"] = "application/json"
            if self.signer is not None and (FINANCES in url or operation in SIGNED_OPS):
                headers.update(self.signer.headers(method, url, body))
            resp = self.http.request(method, url, operation=operation, headers=headers, content=body, retry=retry,
                                     max_wait=max_wait)
            if resp.status_code == 401 and attempt == 1:
                log.info("eBay %s: 401 with the cached access token; refreshing it once", operation)
                self.tokens.invalidate(token)
                continue
            return resp

    def _json(self, resp: httpx.Response, operation: str, ok=(200,)):
        if resp.status_code in ok:
            if resp.status_code == 204 or not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                raise TransientError(f"eBay {operation}: HTTP {resp.status_code} without a JSON body")
        errors = errors_of(resp)
        hint = ""
        about_signature = any("signature" in f"{e.get('message', '')} {e.get('longMessage', '')}".lower()
                              for e in errors)
        if resp.status_code == 401:
            hint = "the access token was refused even after a refresh: check the scopes the seller consented to"
        elif FINANCES in str(resp.request.url) and resp.status_code in (400, 401, 403) and self.signer is None \
                and (about_signature or resp.status_code == 403):
            hint = ("EU/UK-domiciled sellers must sign Finances calls: set digital_signature = true and the "
                    "signing key secrets (docs/plugins/ebay.md, 'Digital signatures')")
        elif FINANCES in str(resp.request.url) and about_signature and self.signer is not None:
            hint = "the signature was refused: check the signing key and its JWE (x-ebay-signature-key)"
        raise EbayApiError(operation, resp.status_code, errors, hint)

    # -- Fulfillment ---------------------------------------------------------------------------
    def order_pages(self, filter: str, *, limit: int = ORDERS_PAGE, max_wait: float | None = -1) -> Iterator[dict]:
        """Yield each ``OrderSearchPagedCollection`` page, following ``next`` until it is absent."""
        query = {"filter": filter, "limit": limit, "offset": 0}
        seen_offsets = set()
        while True:
            url = self.url(self.endpoint, f"{FULFILLMENT}/order", query)
            doc = self._json(self.call("GET", url, "getOrders", max_wait=max_wait), "getOrders") or {}
            yield doc
            nxt = mapper.next_query(doc.get("next"), "/order")
            if not nxt or not doc.get("orders"):
                return
            offset = nxt.get("offset")
            if offset in seen_offsets:  # a link that does not move on would loop for ever
                raise TransientError(f"eBay getOrders: the next link repeats offset {offset}")
            seen_offsets.add(offset)
            query = nxt

    def get_order(self, order_id: str) -> dict | None:
        resp = self.call("GET", self.url(self.endpoint, f"{FULFILLMENT}/order/{order_id}"), "getOrder")
        if resp.status_code == 404 or (resp.status_code == 400 and 32100 in mapper.error_ids(errors_of(resp))):
            return None
        return self._json(resp, "getOrder")

    def create_fulfillment(self, order_id: str, body: dict) -> httpx.Response:
        """POST …/shipping_fulfillment once (no 5xx/timeout retry); the answer as it came."""
        return self.call("POST", self.url(self.endpoint, f"{FULFILLMENT}/order/{order_id}/shipping_fulfillment"),
                         "createShippingFulfillment", json_body=body, retry=SEND_ONCE, max_wait=None)

    def issue_refund(self, order_id: str, body: dict) -> httpx.Response:
        """POST …/issue_refund once: not idempotent (the same body twice is two refunds), so no
        5xx/timeout retry here; the caller's ledger decides after reading the order back."""
        return self.call("POST", self.url(self.endpoint, f"{FULFILLMENT}/order/{order_id}/issue_refund"),
                         "issueRefund", json_body=body, retry=SEND_ONCE, max_wait=None)

    # -- Post-Order cancellation ---------------------------------------------------------------
    def check_cancellation(self, legacy_order_id: str) -> httpx.Response:
        return self.call("POST", self.url(self.endpoint, f"{POST_ORDER}/cancellation/check_eligibility"),
                         "checkCancellationEligibility", json_body={"legacyOrderId": legacy_order_id}, scheme="IAF",
                         max_wait=None)

    def create_cancellation(self, body: dict) -> httpx.Response:
        """POST /post-order/v2/cancellation once: a second one for the same order is refused by
        eBay, and a lost answer is read back from the order, not sent again."""
        return self.call("POST", self.url(self.endpoint, f"{POST_ORDER}/cancellation"), "createCancellation",
                         json_body=body, scheme="IAF", retry=SEND_ONCE, max_wait=None)

    def get_fulfillments(self, order_id: str) -> list[dict] | None:
        """The order's fulfilments; None when eBay does not know the order."""
        resp = self.call("GET", self.url(self.endpoint, f"{FULFILLMENT}/order/{order_id}/shipping_fulfillment"),
                         "getShippingFulfillments", max_wait=None)
        if resp.status_code == 404 or (resp.status_code == 400 and 32100 in mapper.error_ids(errors_of(resp))):
            return None
        return (self._json(resp, "getShippingFulfillments") or {}).get("fulfillments") or []

    # -- Finances ------------------------------------------------------------------------------
    def payouts(self, filter: str | None = None, *, sort: str | None = None, limit: int = FINANCES_PAGE,
                max_wait: float | None = -1) -> Iterator[dict]:
        """Every ``Payout`` matching ``filter``, page after page (204: none)."""
        query = {"filter": filter, "sort": sort, "limit": limit, "offset": 0}
        while True:
            url = self.url(self.finances_endpoint, f"{FINANCES}/payout", query)
            doc = self._json(self.call("GET", url, "getPayouts", max_wait=max_wait), "getPayouts", ok=(200, 204))
            if not doc:
                return
            yield from doc.get("payouts") or []
            nxt = mapper.next_query(doc.get("next"), "/payout")
            if not nxt or not doc.get("payouts"):
                return
            query = nxt

    def get_payout(self, payout_id: str) -> dict | None:
        resp = self.call("GET", self.url(self.finances_endpoint, f"{FINANCES}/payout/{payout_id}"), "getPayout")
        if resp.status_code == 404:
            return None
        return self._json(resp, "getPayout")

    def transactions(self, filter: str, *, limit: int = FINANCES_PAGE, max_wait: float | None = -1) -> Iterator[dict]:
        """Every ``Transaction`` matching ``filter`` (204: none). With a payoutId/orderId filter eBay
        ignores ``limit`` and may still page: ``next`` is followed whenever it is there."""
        query = {"filter": filter, "limit": limit, "offset": 0}
        while True:
            url = self.url(self.finances_endpoint, f"{FINANCES}/transaction", query)
            doc = self._json(self.call("GET", url, "getTransactions", max_wait=max_wait), "getTransactions",
                             ok=(200, 204))
            if not doc:
                return
            yield from doc.get("transactions") or []
            nxt = mapper.next_query(doc.get("next"), "/transaction")
            if not nxt or not doc.get("transactions"):
                return
            query = nxt
