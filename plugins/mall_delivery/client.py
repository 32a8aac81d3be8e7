"""All HTTP to the MALL Marketplace API (MPAPI) for MALL Delivery, through ``marketd.http``.

Every call carries ``client_id`` as a query parameter (MALL's auth) and the ``X-Application-*``
identification headers. Answers use the ``{result, paging?, data}`` envelope: an envelope with
``status:"ERROR"`` (or HTTP 4xx) becomes a message; 429/``LIMITED`` and 5xx are retried by the
HTTP client and end as ``TransientError``.
"""
from __future__ import annotations

import json

from marketd.sdk import HttpClient, Message, RetryPolicy, TokenBucket, TransientError, __version__



class MallClient:
    def __init__(self, carrier: str, base_url: str, *, client_id, transport=None, clock=None,
                 requests_per_second: float = 2.0, timeout: float = 30.0):
        self.carrier = carrier
        self.client_id = client_id  # () -> str, read lazily
        limiter = TokenBucket(rate=requests_per_second, capacity=max(1.0, requests_per_second), clock=clock)
        self.http = HttpClient(base_url.rstrip("/"), transport=transport, clock=clock, retry=RetryPolicy(),
                               limiter=limiter, timeout=timeout)
        self.headers = {"X-Application-Name": "marketd", "X-Application-Version": __version__,
                        "X-Application-Tag": "mall_delivery"}

    def _call(self, method: str, path: str, operation: str, body=None) -> tuple[object | None, list[Message]]:
        kw = {"params": {"client_id": self.client_id()}, "headers": self.headers}
        if body is not None:
            kw["json"] = body
        resp = self.http.request(method, path, operation=operation, **kw)
        try:
            doc = resp.json()
        except (json.JSONDecodeError, ValueError):
            # not MALL's API answering (a wrong base_url, a proxy page): the account, not the line
            return None, [Message(self.carrier, f"MALL answered HTTP {resp.status_code} without JSON: "
                                                f"{resp.text[:120]!r}", str(resp.status_code),
                                  details={"account_problem": True, "fix": "check base_url of this carrier account"})]
        result = doc.get("result") if isinstance(doc, dict) else None
        if isinstance(result, dict) and str(result.get("status") or "").upper() == "LIMITED":
            # MALL's rate limiter, also when it answers HTTP 200: not applied, worth retrying later.
            raise TransientError(f"{self.carrier}: MALL rate limit reached for {operation} "
                                 f"({result.get('message') or 'LIMITED'})")
        if resp.status_code in (401, 403):
            return None, [Message(self.carrier, "MALL refused the client_id (HTTP %d): check the MALL client id "
                                                "credential" % resp.status_code, str(resp.status_code),
                                  details={"account_problem": True, "fix": "check the MALL client id credential"})]
        if resp.status_code >= 400 or (isinstance(result, dict) and result.get("status") == "ERROR"):
            text = (result or {}).get("message") or f"HTTP {resp.status_code}"
            codes = doc.get("errorCodes") if isinstance(doc, dict) else None
            return None, [Message(self.carrier, str(text), str((result or {}).get("code", resp.status_code)),
                                  details={"errorCodes": codes} if codes else {})]
        return (doc.get("data") if isinstance(doc, dict) else None), []

    def get_order(self, order_id: str):
        return self._call("GET", f"/v1/orders/{order_id}", "mall.get_order")

    def update_order(self, order_id: str, body: dict):
        return self._call("PUT", f"/v1/orders/{order_id}", "mall.update_order", body)

    def labels(self, body: dict):
        return self._call("POST", "/v1/orders/labels", "mall.labels", body)
