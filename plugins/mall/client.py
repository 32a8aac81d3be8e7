"""All HTTP to the MALL Marketplace API (MPAPI), through the SDK's ``HttpClient``: one client for
every MALL account kind, the MALL Delivery carrier now and the MALL channel later (they share the
host and the ``client_id``, and plugins cannot import each other, so both live in this plugin).

Every call carries ``client_id`` as a query parameter (MALL's auth) and the ``X-Application-*``
identification headers. Answers use the ``{result, paging?, data}`` envelope: an envelope with
``status:"ERROR"`` (or HTTP 4xx) becomes a :class:`Message` for the account named ``account``;
429/``LIMITED`` and 5xx are retried by the HTTP client and end as ``TransientError``.
Nothing here knows what the data means: that is ``mapper.py``.
"""
from __future__ import annotations

import json
from typing import Callable, Iterator

from marketd.sdk import HttpClient, Message, RetryPolicy, TokenBucket, TransientError, __version__


class MallClient:
    def __init__(self, account: str, base_url: str, *, client_id: Callable[[], str], transport=None, clock=None,
                 requests_per_second: float = 2.0, timeout: float = 30.0, tag: str = "marketd"):
        self.account = account
        self.client_id = client_id  # () -> str, read at first use: a missing secret only affects this account
        limiter = TokenBucket(rate=requests_per_second, capacity=max(1.0, requests_per_second), clock=clock)
        self.http = HttpClient(base_url.rstrip("/"), transport=transport, clock=clock, retry=RetryPolicy(),
                               limiter=limiter, timeout=timeout, name=f"MALL {account}")
        self.headers = {"X-Application-Name": "marketd", "X-Application-Version": __version__,
                        "X-Application-Tag": tag}

    def call(self, method: str, path: str, operation: str, body=None, params: dict | None = None
             ) -> tuple[dict | None, list[Message]]:
        """One call; returns (the envelope, []) or (None, messages saying why not)."""
        kw = {"params": {**(params or {}), "client_id": self.client_id()}, "headers": self.headers}
        if body is not None:
            kw["json"] = body
        resp = self.http.request(method, path, operation=operation, **kw)
        try:
            doc = resp.json()
        except (json.JSONDecodeError, ValueError):
            # not MALL's API answering (a wrong base_url, a proxy page): the account, not the line
            return None, [Message(self.account, f"MALL answered HTTP {resp.status_code} without JSON: "
                                                f"{resp.text[:120]!r}", str(resp.status_code),
                                  details={"account_problem": True, "fix": "check base_url of this account"})]
        result = doc.get("result") if isinstance(doc, dict) else None
        if isinstance(result, dict) and str(result.get("status") or "").upper() == "LIMITED":
            # MALL's rate limiter, also when it answers HTTP 200: not applied, worth retrying later.
            raise TransientError(f"{self.account}: MALL rate limit reached for {operation} "
                                 f"({result.get('message') or 'LIMITED'})")
        if resp.status_code in (401, 403):
            return None, [Message(self.account, "MALL refused the client_id (HTTP %d): check the MALL client id "
                                                "credential" % resp.status_code, str(resp.status_code),
                                  details={"account_problem": True, "fix": "check the MALL client id credential"})]
        if resp.status_code >= 400 or (isinstance(result, dict) and result.get("status") == "ERROR"):
            text = (result or {}).get("message") or f"HTTP {resp.status_code}"
            codes = doc.get("errorCodes") if isinstance(doc, dict) else None
            return None, [Message(self.account, str(text), str((result or {}).get("code", resp.status_code)),
                                  details={"errorCodes": codes} if codes else {})]
        return (doc if isinstance(doc, dict) else None), []

    def _data(self, method: str, path: str, operation: str, body=None):
        doc, msgs = self.call(method, path, operation, body)
        return (doc.get("data") if doc is not None else None), msgs

    # -- orders (both kinds of account) ---------------------------------------------------------
    def get_order(self, order_id: str):
        return self._data("GET", f"/v1/orders/{order_id}", "mall.get_order")

    def update_order(self, order_id: str, body: dict):
        return self._data("PUT", f"/v1/orders/{order_id}", "mall.update_order", body)

    def iter_orders(self, *, status: str | None = None, page_size: int = 100) -> Iterator[dict]:
        """Every order (``filter=basic`` rows), page by page; a refused page raises ``TransientError``
        naming MALL's message (a listing has no line to attach a message to)."""
        page = 1
        while True:
            params = {"filter": "basic", "page": page, "page_size": page_size, **({"status": status} if status else {})}
            doc, msgs = self.call("GET", "/v1/orders", "mall.list_orders", params=params)
            if doc is None:
                raise TransientError("; ".join(str(m) for m in msgs))
            yield from doc.get("data") or []
            if page >= int((doc.get("paging") or {}).get("pages") or 1):
                return
            page += 1

    # -- MALL Delivery --------------------------------------------------------------------------
    def labels(self, body: dict):
        return self._data("POST", "/v1/orders/labels", "mall.labels", body)
