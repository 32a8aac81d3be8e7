"""All HTTP to the ManoMano Partners API, through the SDK's ``HttpClient``; nothing here knows
what the data means (``mapper.py``).

- Auth: header ``x-api-key`` (one key per seller, covering all its contracts) and
  ``x-thirdparty-name`` (who integrates); every call is scoped by ``seller_contract_id``, in the
  query for reads and in each body item for writes (research api-contracts §3).
- Limit: "250 requests per hour per API key" (third-party, unconfirmed). The key is shared by
  every contract, so the budget is too: one :class:`KeyBudget` per (clock, key) for the whole
  process, however many ``[channels.*]`` use that key. Its bucket allows ``burst`` calls at once
  and refills at ``(limit − burst)/hour``, so no sliding hour ever holds more than ``limit``
  calls. Order sync also takes a token from a second, smaller bucket (``sync_share`` of the
  budget, 70 % by default): a long backlog can never starve tracking pushes and accepts.
- Retries: reads and accepts go through the default policy (429 waits, 5xx backoff).
  ``shippings`` is sent **once** (``RetryPolicy(max_attempts=1)``): a retried POST whose first
  answer was lost could ship twice; the channel reads the order back before any re-send.
- Money: JSON numbers are parsed as ``Decimal`` (``parse_float=Decimal``), never float.
- Paging: follow ``pagination.links.next`` (a relative path) until it is absent; only its path
  and query are used, on our own endpoint, so the key never goes to another host.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from marketd.sdk import (SYSTEM_CLOCK, Clock, HttpClient, MarketdError, RateLimited, RetryPolicy, TokenBucket,
                        TransientError, redact_text)

from .mapper import error_text

log = logging.getLogger("marketd.manomano")

ORDERS = "/orders/v1/orders"
ACCEPT = "/orders/v1/accept-orders"
REFUSE = "/orders/v1/refuse-orders"
SHIPPINGS = "/orders/v1/shippings"
BURST = 25.0
SEND_ONCE = RetryPolicy(max_attempts=1)


class ManoManoError(MarketdError):
    """ManoMano refused a call (4xx other than 429) or answered something unreadable."""

    def __init__(self, operation: str, status: int, text: str = "", hint: str = ""):
        self.operation, self.status, self.text = operation, status, text
        super().__init__(f"ManoMano {operation} answered HTTP {status}: {redact_text(text)[:300] or 'no error body'}"
                         + (f"; {hint}" if hint else ""))


@dataclass
class KeyBudget:
    """The request budget of one API key: ``bucket`` for every call, ``sync`` for order pages."""

    bucket: TokenBucket
    sync: TokenBucket


_BUDGETS: "weakref.WeakKeyDictionary[Clock, dict[str, KeyBudget]]" = weakref.WeakKeyDictionary()
_BUDGETS_LOCK = threading.Lock()


def key_budget(api_key: str, clock: Clock, *, per_hour: float = 250.0, sync_share: float = 0.7) -> KeyBudget:
    """The process-wide budget of ``api_key`` on ``clock`` (created at first use)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    with _BUDGETS_LOCK:
        per_clock = _BUDGETS.setdefault(clock, {})
        budget = per_clock.get(digest)
        if budget is None:
            burst = max(1.0, min(BURST, per_hour / 10))
            rate = (per_hour - burst) / 3600.0
            budget = KeyBudget(TokenBucket(rate, burst, clock),
                               TokenBucket(rate * sync_share, max(1.0, int(burst * sync_share)), clock))
            per_clock[digest] = budget
        return budget


_DEC = "\u0000D:"


def _mark(obj):
    if isinstance(obj, Decimal):
        return f"{_DEC}{obj}\u0000"
    if isinstance(obj, dict):
        return {k: _mark(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mark(v) for v in obj]
    return obj


def dumps(body) -> bytes:
    """JSON with every Decimal written as the exact number it is (a price is never a float)."""
    import re

    text = json.dumps(_mark(body), separators=(",", ":"), default=str)
    return re.sub(r'"\\u0000D:(-?[0-9.]+(?:E[+-]?[0-9]+)?)\\u0000"', r"\1", text).encode()


def decode(resp):
    """The JSON body with numbers as Decimal (None for an empty body)."""
    if not resp.content:
        return None
    return json.loads(resp.content, parse_float=Decimal)


class ManoManoClient:
    """The Partners API for one seller key; contracts are passed per call."""

    def __init__(self, endpoint: str, api_key: Callable[[], str], *, thirdparty_name: str, account: str = "",
                 transport=None, clock: Clock | None = None, timeout: float = 30.0, per_hour: float = 250.0,
                 sync_share: float = 0.7, sandbox: bool = False, retry: RetryPolicy | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.host = urlsplit(self.endpoint).netloc
        self.api_key = api_key  # () -> str, read at first use: a missing secret only affects this account
        self.thirdparty_name = thirdparty_name
        self.account = account
        self.transport = transport
        self.clock = clock or SYSTEM_CLOCK
        self.timeout = timeout
        self.per_hour, self.sync_share = per_hour, sync_share
        self.sandbox = sandbox
        self.retry = retry or RetryPolicy()
        self._http: HttpClient | None = None
        self.budget: KeyBudget | None = None
        self._lock = threading.Lock()

    @property
    def http(self) -> HttpClient:
        with self._lock:
            if self._http is None:
                key = self.api_key()
                self.budget = key_budget(key, self.clock, per_hour=self.per_hour, sync_share=self.sync_share)
                self._http = HttpClient(self.endpoint, transport=self.transport, timeout=self.timeout,
                                        clock=self.clock, retry=self.retry, limiter=self.budget.bucket,
                                        name=f"ManoMano {self.account}".strip(),
                                        headers={"x-api-key": key, "x-thirdparty-name": self.thirdparty_name,
                                                 "accept": "application/json"})
            return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- plumbing ------------------------------------------------------------------------------
    def call(self, method: str, path: str, operation: str, *, params: dict | None = None, body=None,
             retry: RetryPolicy | None = None, max_wait: float | None = None):
        kw: dict = {}
        if params:
            kw["params"] = {k: v for k, v in params.items() if v is not None}
        if body is not None:
            kw["content"] = dumps(body)
            kw["headers"] = {"content-type": "application/json"}
        try:
            return self.http.request(method, path, operation=operation, retry=retry, max_wait=max_wait, **kw)
        except RateLimited:
            raise
        except TransientError as exc:
            if self.sandbox and "HTTP 503" in str(exc):
                raise TransientError(f"{exc}; ManoMano's sandbox only answers Mon 00:00-20:00 and Tue-Fri "
                                     "07:00-20:00 CEST") from None
            raise

    def _refused(self, resp, operation: str) -> ManoManoError:
        try:
            text = error_text(decode(resp))
        except ValueError:
            text = resp.text[:300]
        hint = ""
        if resp.status_code in (401, 403):
            hint = ("ManoMano refused the API key (or the key does not cover this seller_contract_id): check the "
                    "account's key (x-api-key, created under Toolbox > Settings > API keys) and contract_id")
        return ManoManoError(operation, resp.status_code, text or resp.text[:300], hint)

    def _json(self, resp, operation: str, ok=(200,)):
        if resp.status_code not in ok:
            raise self._refused(resp, operation)
        try:
            return decode(resp)
        except ValueError:
            raise TransientError(f"ManoMano {operation}: HTTP {resp.status_code} with a body that is not JSON")

    def sync_wait(self) -> float:
        """Seconds until order sync may send its next page (the sync share and the key's bucket)."""
        self.http
        return max(self.budget.sync.wait_time(), self.budget.bucket.wait_time())

    # -- orders --------------------------------------------------------------------------------
    def list_orders(self, contract_id: int, *, params: dict | None = None, limit: int = 100,
                    max_wait: float | None = None) -> Iterator[tuple[dict, str | None]]:
        """Yield ``(page, next_link)`` for each page of ``GET /orders/v1/orders`` until
        ``pagination.links.next`` is absent.

        Every page costs a token of the sync share; a wait longer than ``max_wait`` seconds
        raises ``RateLimited`` before anything is sent."""
        path, query = ORDERS, {"seller_contract_id": contract_id, "page": 1, "limit": limit, **(params or {})}
        while True:
            doc, link = self.orders_page(path, query, max_wait=max_wait)
            yield doc, link
            if not link:
                return
            path, query = self._next(link, contract_id)

    def first_page(self, contract_id: int, params: dict, *, limit: int = 100,
                   max_wait: float | None = None) -> tuple[dict, str | None]:
        """Page 1 of a listing and its ``next`` link (None: the listing fits in this page)."""
        return self.orders_page(ORDERS, {"seller_contract_id": contract_id, "page": 1, "limit": limit, **params},
                                max_wait=max_wait)

    def orders_page(self, path: str, query: dict, *, max_wait: float | None = None) -> tuple[dict, str | None]:
        self.http
        if max_wait is not None:
            due = self.sync_wait()
            if due > max_wait:
                raise RateLimited(f"ManoMano {self.account}: order sync may send its next page in {due:.0f}s "
                                  f"(more than {max_wait:g}s); later", due)
        self.budget.sync.acquire()
        doc = self._json(self.call("GET", path, "listOrders", params=query, max_wait=max_wait), "listOrders")
        if not isinstance(doc, dict) or not isinstance(doc.get("content"), list):
            raise TransientError("ManoMano listOrders: the answer has no content list")
        link = ((doc.get("pagination") or {}).get("links") or {}).get("next")
        return doc, link or None

    def _next(self, link: str, contract_id: int) -> tuple[str, dict]:
        parts = urlsplit(str(link))
        if parts.netloc and parts.netloc != self.host:
            raise ManoManoError("listOrders", 200, f"next link points at another host ({parts.netloc})")
        if parts.path.rstrip("/") != ORDERS:
            raise ManoManoError("listOrders", 200, f"next link {parts.path!r} is not the orders listing")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if str(query.get("seller_contract_id", contract_id)) != str(contract_id):
            raise ManoManoError("listOrders", 200, "next link names another seller_contract_id")
        query["seller_contract_id"] = contract_id
        return ORDERS, query

    def get_order(self, contract_id: int, order_reference: str) -> dict | None:
        resp = self.call("GET", f"{ORDERS}/{order_reference}", "getOrder",
                         params={"seller_contract_id": contract_id})
        if resp.status_code == 404:
            return None
        doc = self._json(resp, "getOrder")
        content = doc.get("content") if isinstance(doc, dict) else None
        if isinstance(content, list):  # some answers wrap the one order in a list
            content = content[0] if content else None
        return content if isinstance(content, dict) else None

    # -- batches: accept, refuse, ship ---------------------------------------------------------
    def batch(self, path: str, operation: str, items: list[dict], *, once: bool = False) -> tuple[int, object]:
        """POST a batch; returns (status, decoded body) for 2xx/207 and 4xx other than auth.

        Auth refusals raise :class:`ManoManoError` (the account, not the orders, is wrong)."""
        resp = self.call("POST", path, operation, body=items, retry=SEND_ONCE if once else None)
        if resp.status_code in (401, 403):
            raise self._refused(resp, operation)
        try:
            doc = decode(resp)
        except ValueError:
            doc = resp.text[:500]
        return resp.status_code, doc

    def accept_orders(self, items: list[dict]) -> tuple[int, object]:
        return self.batch(ACCEPT, "acceptOrders", items)

    def refuse_orders(self, items: list[dict]) -> tuple[int, object]:
        return self.batch(REFUSE, "refuseOrders", items)

    def ship(self, items: list[dict]) -> tuple[int, object]:
        """``POST /orders/v1/shippings``, sent once: 5xx and timeouts raise ``TransientError``
        without a second try (the channel reads the order back first)."""
        return self.batch(SHIPPINGS, "createShippings", items, once=True)
