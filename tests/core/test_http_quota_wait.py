"""marketd.http ``quota_wait``: a 429 that means a limit spent for hours (eBay's daily call limit)
raises ``RateLimited`` at once instead of being retried within seconds; any other 429 keeps the
usual bucket wait."""
from __future__ import annotations

import httpx
import pytest

from marketd.clock import FakeClock
from marketd.http import HttpClient, RateLimited, RateLimiter


def _client(responses: list, quota_wait):
    clock = FakeClock()
    sent = []

    def handler(request):
        sent.append(request)
        return responses.pop(0)

    http = HttpClient("https://x.example", transport=httpx.MockTransport(handler), clock=clock,
                      limiter=RateLimiter({"op": (5.0, 10)}, clock=clock), quota_wait=quota_wait)
    return http, sent, clock


def spent(resp):
    return 3600.0 if b"2001" in resp.content else None


def test_a_spent_quota_raises_at_once_with_the_wait():
    http, sent, clock = _client([httpx.Response(429, json={"errors": [{"errorId": 2001}]}), httpx.Response(200)],
                                spent)
    with pytest.raises(RateLimited) as exc:
        http.request("GET", "/a", operation="op")
    assert exc.value.wait == 3600.0 and len(sent) == 1 and clock.slept == 0
    assert "quota is used up" in str(exc.value)


def test_another_429_is_waited_for_and_retried():
    http, sent, clock = _client([httpx.Response(429, json={"errors": [{"errorId": 7}]}), httpx.Response(200)], spent)
    assert http.request("GET", "/a", operation="op").status_code == 200
    assert len(sent) == 2 and clock.slept > 0


def test_without_quota_wait_nothing_changes():
    http, sent, _ = _client([httpx.Response(429, json={"errors": [{"errorId": 2001}]}), httpx.Response(200)], None)
    assert http.request("GET", "/a", operation="op").status_code == 200 and len(sent) == 2
