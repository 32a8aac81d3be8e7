"""All HTTP to BRT, through ``marketd.http.HttpClient`` (timeouts, 429/5xx backoff, rate limit).

Shipment calls send ``account{userID,password}`` in the body; tracking sends ``userID`` and
``password`` headers. Non-JSON or 4xx answers come back as messages, never exceptions; only
``TransientError`` (transport trouble, 429/5xx after the retries) is raised.

The create call is sent **without HTTP-level retries**: a 5xx after BRT stored the shipment
would otherwise create it twice. A failed create surfaces as ``TransientError``, the file is
retried later, and the carrier's in-flight recovery (delete by our reference, then create)
makes the second attempt safe.
"""
from __future__ import annotations

import json

from marketd.sdk import HttpClient, Message, RetryPolicy, TokenBucket


class BrtClient:
    def __init__(self, carrier: str, base_url: str, *, credentials, transport=None, clock=None,
                 requests_per_second: float = 5.0, timeout: float = 30.0):
        self.carrier = carrier
        self.credentials = credentials  # () -> (user_id, password), read lazily
        limiter = TokenBucket(rate=requests_per_second, capacity=max(1.0, requests_per_second), clock=clock)
        common = dict(transport=transport, clock=clock, limiter=limiter, timeout=timeout)
        self.http = HttpClient(base_url.rstrip("/"), retry=RetryPolicy(), **common)
        self.http_once = HttpClient(base_url.rstrip("/"), retry=RetryPolicy(max_attempts=1), **common)

    def account(self) -> dict:
        user, password = self.credentials()
        return {"userID": user, "password": password}

    def _json(self, resp, what: str) -> tuple[dict | None, list[Message]]:
        # BRT answers business errors (address, routing) inside HTTP 200; an HTTP error or a
        # non-JSON page says the account or the connection is wrong, not the line: such messages
        # carry ``account_problem`` so the line's reject reason says what to fix.
        account = {"account_problem": True}
        if resp.status_code in (401, 403):
            return None, [Message(self.carrier, f"BRT refused the credentials (HTTP {resp.status_code})",
                                  str(resp.status_code),
                                  details={**account, "fix": "check user_id and the password credential"})]
        if resp.status_code == 400:
            return None, [Message(self.carrier, f"BRT {what} refused the request (HTTP 400): {resp.text[:200]}",
                                  "400")]
        if resp.status_code >= 400:
            return None, [Message(self.carrier, f"BRT {what} failed with HTTP {resp.status_code}: "
                                                f"{resp.text[:200]}", str(resp.status_code),
                                  details={**account, "fix": "check base_url (it ends in /rest/v1) of this carrier "
                                                             "account"})]
        try:
            return resp.json(), []
        except (json.JSONDecodeError, ValueError):
            return None, [Message(self.carrier, f"BRT {what} answer is not JSON: {resp.text[:120]!r}", "format",
                                  details={**account, "fix": "check base_url (it ends in /rest/v1) of this carrier "
                                                             "account"})]

    def create(self, payload: dict) -> tuple[dict | None, list[Message]]:
        resp = self.http_once.request("POST", "/shipments/shipment", operation="brt.create_shipment", json=payload)
        return self._json(resp, "create")

    def confirm(self, payload: dict) -> tuple[dict | None, list[Message]]:
        resp = self.http.request("PUT", "/shipments/shipment", operation="brt.confirm_shipment", json=payload)
        return self._json(resp, "confirm")

    def delete(self, payload: dict) -> tuple[dict | None, list[Message]]:
        resp = self.http.request("PUT", "/shipments/delete", operation="brt.delete_shipment", json=payload)
        return self._json(resp, "delete")

    def track(self, parcel_id: str) -> tuple[dict | None, list[Message]]:
        user, password = self.credentials()
        resp = self.http.request("GET", f"/tracking/parcelID/{parcel_id}", operation="brt.tracking",
                                 headers={"userID": user, "password": password})
        return self._json(resp, "tracking")

