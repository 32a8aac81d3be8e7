"""All HTTP to the MALL Marketplace API (MPAPI), through the SDK's ``HttpClient``: one client for
every MALL account kind, the MALL channel and the MALL Delivery carrier (they share the host and
the ``client_id``, and plugins cannot import each other, so both live in this plugin).

Every call carries ``client_id`` as a query parameter (MALL's auth) and the ``X-Application-*``
identification headers. Answers use the ``{result, paging?, data}`` envelope: an envelope with
``status:"ERROR"`` (or HTTP 4xx) becomes a :class:`Message` for the account named ``account``;
5xx are retried by the HTTP client and end as ``TransientError``.

MALL's rate limiter is a **daily quota** per group of endpoints (products, availability,
orders, everything else; the numbers are in the partner portal). Above it MALL answers
``result.status: "LIMITED"`` with HTTP 429 *or 200*. Waiting seconds and retrying cannot help
with a daily quota, and every retry spends more of it, so a LIMITED answer is never retried
here: it raises :class:`RateLimited` at once and the group is left alone for ``limited_pause``
seconds (the job stops and its next run continues). :class:`DailyQuota` also counts our own
calls per group and MALL day, so with the portal's numbers configured marketd stops *before*
MALL has to refuse.

JSON numbers are decoded as ``Decimal`` (MALL sends money as floats: ``499.0``), never as
``float``. Nothing here knows what the data means: that is ``mapper.py`` and ``finance.py``.
"""
from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from marketd.sdk import (SYSTEM_CLOCK, HttpClient, Message, RateLimited, RetryPolicy, TokenBucket, TransientError,
                         __version__)

GROUPS = ("products", "availability", "orders", "other")
FILTER_OPS = ("eq", "ne", "gt", "ge", "lt", "le", "bt", "in", "nin")


def quota_group(path: str) -> str:
    """MALL's rate-limiter group of an endpoint (knowledge base "API limity")."""
    for group in ("products", "availability", "orders"):
        if path.startswith(f"/v1/{group}"):
            return group
    return "other"


_DEC = re.compile(r'"\\u0000DEC([-+0-9.Ee]+)\\u0000"')


def dumps(body) -> bytes:
    """JSON with every ``Decimal`` written as the number it is (MALL takes money as JSON numbers;
    it never passes through a float here)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                      default=lambda o: f"\x00DEC{o}\x00" if isinstance(o, Decimal) else str(o))
    return _DEC.sub(r"\1", text).encode("utf-8")


def loads(content: bytes | str):
    """MPAPI JSON with every number that has a fraction as ``Decimal``."""
    return json.loads(content, parse_float=Decimal)


class DailyQuota:
    """Our own count of calls per quota group and MALL day, against the configured quotas.

    ``limits`` maps group → calls per day (None: not configured, nothing counted against it).
    ``pause(group)`` after a LIMITED answer makes ``take`` refuse that group for
    ``limited_pause`` seconds. ``used``/``load`` let the channel persist the counts, so a
    restart does not start the day at zero."""

    def __init__(self, limits: dict[str, int | None] | None = None, *, clock=None, tz: str = "Europe/Prague",
                 limited_pause: float = 3600.0):
        self.limits = {g: (limits or {}).get(g) for g in GROUPS}
        self.clock = clock or SYSTEM_CLOCK
        self.tz = ZoneInfo(tz)
        self.limited_pause = limited_pause
        self.counts: dict[tuple[str, str], int] = {}
        self.paused_until: dict[str, datetime] = {}
        self.dirty = False
        self._lock = threading.Lock()

    def day(self) -> str:
        return self.clock.now().astimezone(self.tz).date().isoformat()

    def seconds_to_next_day(self) -> float:
        now = self.clock.now().astimezone(self.tz)
        nxt = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        return max(1.0, (nxt - now).total_seconds())

    def take(self, group: str, account: str) -> None:
        """Count one call of ``group``; raises :class:`RateLimited` (nothing sent) when it must not be made."""
        now = self.clock.now()
        with self._lock:
            until = self.paused_until.get(group)
            if until is not None and now < until:
                wait = (until - now).total_seconds()
                raise RateLimited(f"{account}: MALL answered LIMITED for {group} calls; next try in {wait / 60:.0f} min",
                                  wait)
            key = (self.day(), group)
            limit = self.limits.get(group)
            used = self.counts.get(key, 0)
            if limit is not None and used >= limit:
                wait = self.seconds_to_next_day()
                raise RateLimited(f"{account}: the daily MALL quota of {limit} {group} calls is used up "
                                  f"(daily_quota_{group}); it renews in "
                                  f"{wait / 3600:.1f} h", wait)
            self.counts[key] = used + 1
            self.dirty = True

    def pause(self, group: str) -> float:
        with self._lock:
            self.paused_until[group] = self.clock.now() + timedelta(seconds=self.limited_pause)
            return self.limited_pause

    def used(self, group: str, day: str | None = None) -> int:
        return self.counts.get((day or self.day(), group), 0)

    def load(self, day: str, group: str, used: int) -> None:
        with self._lock:
            key = (day, group)
            self.counts[key] = max(self.counts.get(key, 0), int(used))

    def snapshot(self) -> list[tuple[str, str, int]]:
        """(day, group, used) of today, for persisting."""
        today = self.day()
        with self._lock:
            self.dirty = False
            return [(d, g, n) for (d, g), n in self.counts.items() if d == today]


class MallClient:
    def __init__(self, account: str, base_url: str, *, client_id: Callable[[], str], transport=None, clock=None,
                 requests_per_second: float = 2.0, timeout: float = 30.0, tag: str = "marketd",
                 quota: DailyQuota | None = None):
        self.account = account
        self.client_id = client_id  # () -> str, read at first use: a missing secret only affects this account
        self.clock = clock or SYSTEM_CLOCK
        self.quota = quota or DailyQuota(clock=self.clock)
        limiter = TokenBucket(rate=requests_per_second, capacity=max(1.0, requests_per_second), clock=clock)
        # max_throttled=0: a 429 is MALL's daily quota (LIMITED), never worth a wait-and-retry
        self.http = HttpClient(base_url.rstrip("/"), transport=transport, clock=clock,
                               retry=RetryPolicy(max_throttled=0), limiter=limiter, timeout=timeout,
                               name=f"MALL {account}")
        self.headers = {"X-Application-Name": "marketd", "X-Application-Version": __version__,
                        "X-Application-Tag": tag}

    def close(self) -> None:
        self.http.close()

    def _limited(self, group: str, operation: str, message: str | None) -> RateLimited:
        wait = self.quota.pause(group)
        return RateLimited(f"{self.account}: MALL rate limit reached for {operation} "
                           f"({message or 'LIMITED'}); {group} calls wait {wait / 60:.0f} min", wait)

    def call(self, method: str, path: str, operation: str, body=None, params: dict | None = None
             ) -> tuple[dict | None, list[Message]]:
        """One call; returns (the envelope, []) or (None, messages saying why not)."""
        return self._call(method, path, operation, body, params)[1:]

    def document(self, path: str, operation: str) -> tuple[bytes | None, dict | None, list[Message]]:
        """A GET whose answer is kept as MALL sent it: (the envelope's bytes, its ``data``, messages).
        The finance job writes those bytes into the inbox, so no number passes through a float."""
        raw, doc, msgs = self._call("GET", path, operation)
        return (raw if doc is not None else None), (doc.get("data") if doc is not None else None), msgs

    def _call(self, method: str, path: str, operation: str, body=None, params: dict | None = None
              ) -> tuple[bytes | None, dict | None, list[Message]]:
        group = quota_group(path)
        self.quota.take(group, self.account)
        kw = {"params": {**(params or {}), "client_id": self.client_id()}, "headers": self.headers}
        if body is not None:
            kw["content"] = dumps(body)
            kw["headers"] = {**self.headers, "Content-Type": "application/json"}
        throttled = self.http.throttled
        try:
            resp = self.http.request(method, path, operation=operation, **kw)
        except TransientError:
            if self.http.throttled > throttled:  # HTTP 429: MALL's limiter
                raise self._limited(group, operation, "HTTP 429") from None
            raise
        try:
            doc = loads(resp.content)
        except (json.JSONDecodeError, ValueError):
            # not MALL's API answering (a wrong base_url, a proxy page): the account, not the line
            return resp.content, None, [Message(
                self.account, f"MALL answered HTTP {resp.status_code} without JSON: {resp.text[:120]!r}",
                str(resp.status_code), details={"account_problem": True, "fix": "check base_url of this account"})]
        result = doc.get("result") if isinstance(doc, dict) else None
        if isinstance(result, dict) and str(result.get("status") or "").upper() == "LIMITED":
            # MALL's rate limiter, also when it answers HTTP 200: not applied, worth trying later.
            raise self._limited(group, operation, result.get("message"))
        if resp.status_code in (401, 403):
            return resp.content, None, [Message(
                self.account, f"MALL refused the client_id (HTTP {resp.status_code}): check the MALL client id credential",
                str(resp.status_code), details={"account_problem": True, "fix": "check the MALL client id credential"})]
        if resp.status_code >= 400 or (isinstance(result, dict) and result.get("status") == "ERROR"):
            text = (result or {}).get("message") or f"HTTP {resp.status_code}"
            codes = doc.get("errorCodes") if isinstance(doc, dict) else None
            details = {"errorCodes": codes, "http_status": resp.status_code} if codes else {"http_status": resp.status_code}
            return resp.content, None, [Message(self.account, str(text), str((result or {}).get("code", resp.status_code)),
                                                details=details)]
        return resp.content, (doc if isinstance(doc, dict) else None), []

    def _data(self, method: str, path: str, operation: str, body=None):
        doc, msgs = self.call(method, path, operation, body)
        return (doc.get("data") if doc is not None else None), msgs

    def iter_pages(self, path: str, operation: str, params: dict, page_size: int = 100) -> Iterator[dict]:
        """Every page of a listing (``page`` 1-based, ``paging.pages``); a refused page raises
        ``TransientError`` naming MALL's message (a listing has no line to attach a message to)."""
        page = 1
        while True:
            doc, msgs = self.call("GET", path, operation, params={**params, "page": page, "page_size": page_size})
            if doc is None:
                raise TransientError(f"{self.account}: MALL refused {operation}: " + "; ".join(m.text for m in msgs))
            yield doc
            if page >= int((doc.get("paging") or {}).get("pages") or 1):
                return
            page += 1

    # -- orders (both kinds of account) ---------------------------------------------------------
    def get_order(self, order_id: str):
        return self._data("GET", f"/v1/orders/{order_id}", "mall.get_order")

    def update_order(self, order_id: str, body: dict):
        return self._data("PUT", f"/v1/orders/{order_id}", "mall.update_order", body)

    def update_tracking(self, order_id: str, body: dict):
        return self._data("PUT", f"/v1/orders/{order_id}/tracking", "mall.put_tracking", body)

    def iter_orders(self, *, status: str | None = None, page_size: int = 100, filters: dict | None = None,
                    sort: str | None = None, test: bool = False) -> Iterator[dict]:
        """Every order (``filter=basic`` rows), page by page. ``filters`` are MPAPI's
        ``column=op:value`` (``{"id": ("gt", 100)}``), ``sort`` is ``_sort`` (``"id:asc"``)."""
        params: dict = {"filter": "basic"}
        if status:
            params["status"] = status
        for column, (op, value) in (filters or {}).items():
            if op not in FILTER_OPS:
                raise ValueError(f"MPAPI filter operator {op!r}: use one of {', '.join(FILTER_OPS)}")
            params[column] = f"{op}:{','.join(map(str, value)) if isinstance(value, (list, tuple)) else value}"
        if sort:
            params["_sort"] = sort
        if test:
            params["test"] = 1
        for doc in self.iter_pages("/v1/orders", "mall.list_orders", params, page_size):
            yield from doc.get("data") or []

    def unconfirmed(self, page_size: int = 100) -> Iterator[dict]:
        for doc in self.iter_pages("/v1/orders/unconfirmed", "mall.unconfirmed", {}, page_size):
            yield from doc.get("data") or []

    # -- MALL Delivery --------------------------------------------------------------------------
    def labels(self, body: dict):
        return self._data("POST", "/v1/orders/labels", "mall.labels", body)

    # -- Financial API (self-billing invoices, offsets; camelCase fields) ------------------------
    def iter_invoices(self, page_size: int = 100) -> Iterator[dict]:
        for doc in self.iter_pages("/v1/invoices", "mall.list_invoices", {}, page_size):
            yield from doc.get("data") or []

    def get_invoice(self, invoice_id: str):
        return self._data("GET", f"/v1/invoices/{invoice_id}", "mall.get_invoice")

    def invoice_document(self, invoice_id: str):
        return self.document(f"/v1/invoices/{invoice_id}", "mall.get_invoice")

    def iter_offsets(self, page_size: int = 100) -> Iterator[dict]:
        for doc in self.iter_pages("/v1/offsets", "mall.list_offsets", {}, page_size):
            yield from doc.get("data") or []

    def get_offset(self, offset_id: str):
        return self._data("GET", f"/v1/offsets/{offset_id}", "mall.get_offset")

    def offset_document(self, offset_id: str):
        return self.document(f"/v1/offsets/{offset_id}", "mall.get_offset")

    # -- articles: products, variants, pricing, availability (listings_channel.py) ----------------
    def iter_products(self, page_size: int = 100) -> Iterator[dict]:
        for doc in self.iter_pages("/v1/products", "mall.list_products", {"filter": "basic"}, page_size):
            yield from doc.get("data") or []

    def iter_variants(self, product_id: str, page_size: int = 100) -> Iterator[dict]:
        for doc in self.iter_pages(f"/v1/products/{_q(product_id)}/variants", "mall.list_variants",
                                   {"filter": "basic"}, page_size):
            yield from doc.get("data") or []

    def create_product(self, body: dict):
        return self._status("POST", "/v1/products", "mall.create_product", body)

    def update_product(self, product_id: str, body: dict):
        return self._status("PUT", f"/v1/products/{_q(product_id)}", "mall.update_product", body)

    def create_variant(self, product_id: str, body: dict):
        return self._status("POST", f"/v1/products/{_q(product_id)}/variants", "mall.create_variant", body)

    def update_variant(self, product_id: str, variant_id: str, body: dict):
        return self._status("PUT", f"/v1/products/{_q(product_id)}/variants/{_q(variant_id)}", "mall.update_variant",
                            body)

    def update_pricing(self, product_id: str, body: dict, variant_id: str | None = None):
        path = f"/v1/products/{_q(product_id)}" + (f"/variants/{_q(variant_id)}" if variant_id else "") + "/pricing"
        return self._status("PUT", path, "mall.update_variant_pricing" if variant_id else "mall.update_pricing", body)

    def batch_availability(self, rows: list[dict]):
        return self._status("POST", "/v1/availability", "mall.availability", rows)

    def _status(self, method: str, path: str, operation: str, body):
        """(HTTP-like status, messages): 200/201 and [] when MALL took it, else MALL's status (404,
        409, 400 …) and its messages (with ``errorCodes`` in their details)."""
        _raw, doc, msgs = self._call(method, path, operation, body)
        if doc is not None:
            return int((doc.get("result") or {}).get("code") or 200), []
        status = next((int(m.details.get("http_status") or 0) for m in msgs if m.details), 0)
        return status, msgs


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")
