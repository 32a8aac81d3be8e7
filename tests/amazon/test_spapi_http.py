"""marketd.http: token buckets, 429 waits on the fake clock, bounded 5xx/timeout backoff, redaction."""
from __future__ import annotations

import logging

import httpx
import pytest

from marketd.clock import FakeClock
from marketd.errors import TransientError
from marketd.http import (HttpClient, RateLimiter, RetryPolicy, TokenBucket, redact_form, redact_headers,
                          redact_url)

from marketd.sdk.fakes import serve

from .spapi_fixtures import CREDS
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)


def test_token_bucket_burst_then_spaced_on_the_clock():
    clock = FakeClock()
    bucket = TokenBucket(0.5, 3, clock)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits[:3] == [0, 0, 0]
    assert all(w == pytest.approx(2.0, abs=0.01) for w in waits[3:])
    assert clock.sleeps == 3  # one computed sleep per throttled acquire: no polling
    assert clock.slept == pytest.approx(6.0, abs=0.01)


def test_token_bucket_refills_while_idle_and_accepts_capacity_alias():
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, capacity=2, clock=clock)
    bucket.acquire(), bucket.acquire()
    clock.advance(10)
    assert bucket.tokens == pytest.approx(2.0)  # never above the burst
    assert bucket.acquire() == 0


def test_rate_limiter_buckets_per_operation_and_adapts_from_header():
    clock = FakeClock()
    lim = RateLimiter({"a": (2.0, 1)}, clock=clock)
    assert lim.bucket_for("a") is lim.bucket_for("a")
    assert lim.bucket_for("other") is None  # not limited without a default
    lim.observe("a", "0.5")
    assert lim.bucket_for("a").rate == 0.5
    lim.observe("a", "garbage")
    assert lim.bucket_for("a").rate == 0.5


def _mock(handler):
    return httpx.MockTransport(handler)


def test_429_with_retry_after_waits_on_clock_then_succeeds():
    clock = FakeClock()
    calls = []

    def handler(request):
        calls.append(clock.monotonic())
        if len(calls) < 3:
            return httpx.Response(429, headers={"Retry-After": "7"})
        return httpx.Response(200, json={"ok": True})

    http = HttpClient("https://x.test", transport=_mock(handler), clock=clock)
    resp = http.request("GET", "/r", operation="r")
    assert resp.status_code == 200
    assert len(calls) == 3 and clock.sleeps == 2
    assert calls[1] - calls[0] == pytest.approx(7) and calls[2] - calls[1] == pytest.approx(7)


def test_429_forever_gives_transient_error_after_bounded_waits():
    clock = FakeClock()
    n = []
    http = HttpClient("https://x.test", transport=_mock(lambda r: n.append(1) or httpx.Response(429)), clock=clock,
                      retry=RetryPolicy(max_throttled=3, throttle_wait=2))
    with pytest.raises(TransientError, match="throttled"):
        http.request("GET", "/r", operation="r")
    assert len(n) == 4
    assert clock.slept == pytest.approx(2 + 4 + 8)  # doubling, bounded


def test_5xx_backoff_is_bounded_then_transient_error(fake, api, clock):
    fake.fail_next("getReport", 503, times=50)
    before = fake.count("getReport")
    with pytest.raises(TransientError, match="HTTP 503 after 4 attempt"):
        api.get_report("123")
    assert fake.count("getReport") - before == 4
    policy = RetryPolicy()
    assert clock.slept <= sum(min(policy.cap, policy.base * 2 ** i) for i in range(3)) + 1e-6
    assert clock.sleeps == 3


def test_5xx_then_success(fake, api):
    rid = fake.add_report("GET_FLAT_FILE_OPEN_LISTINGS_DATA", "x\ty\n")
    fake.fail_next("getReport", 500, times=2)
    assert api.get_report(rid)["reportId"] == rid
    assert api.http.server_errors == 2


def test_transport_errors_and_timeouts_retried_then_transient():
    clock = FakeClock()
    n = []

    def handler(request):
        n.append(1)
        raise httpx.ReadTimeout("read timed out", request=request)

    http = HttpClient("https://x.test", transport=_mock(handler), clock=clock, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransientError, match="timed out after 3 attempt"):
        http.request("GET", "/r")
    assert len(n) == 3 and clock.sleeps == 2


def test_no_retry_policy_sends_once():
    clock = FakeClock()
    n = []
    http = HttpClient("https://x.test", transport=_mock(lambda r: n.append(1) or httpx.Response(502)), clock=clock,
                      retry=RetryPolicy(max_attempts=1))
    with pytest.raises(TransientError):
        http.request("POST", "/create")
    assert len(n) == 1 and clock.sleeps == 0


def test_4xx_is_returned_not_raised():
    http = HttpClient("https://x.test", transport=_mock(lambda r: httpx.Response(400, json={"e": 1})), clock=FakeClock())
    assert http.request("GET", "/r").status_code == 400


def test_real_timeout_over_loopback_is_retried(clock):
    """The fake's delay is real time: served on loopback, the client's timeout fires, then the retry works."""
    from marketd.plugins.amazon.fake import SpApiFake
    from marketd.plugins.amazon.lwa import LwaClient

    f = SpApiFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2])
    with serve(f) as served:
        f.delay_next("lwa.token", 1.0)
        lwa = LwaClient(lambda: CREDS, endpoint=served.url + "/auth/o2/token", clock=clock, timeout=0.2)
        assert lwa.access_token().startswith("Atza|")
        assert lwa.http.transport_errors == 1
        lwa.close()


def test_redaction_helpers():
    h = redact_headers({"x-amz-access-token": "Atza|abc", "Authorization": "Bearer x", "user-agent": "m"})
    assert h == {"x-amz-access-token": "***", "Authorization": "***", "user-agent": "m"}
    form = redact_form("grant_type=refresh_token&refresh_token=Atzr|secret&client_id=id&client_secret=s3cr3t")
    assert "Atzr|secret" not in form and "s3cr3t" not in form and "client_id=id" in form
    assert "sig" not in redact_url("https://s3.test/doc?X-Amz-Signature=sig&X-Amz-Expires=300")


def test_logs_never_carry_credentials(fake, api, caplog):
    """Debug logging of the whole LWA + SP-API + S3 path leaks no token, secret or signature."""
    caplog.set_level(logging.DEBUG)
    fake.populate(5)
    list(api.search_orders(marketplace_ids=["APJ6JRA9NG5V4"], created_after=fake.clock.now().replace(year=2025)))
    rid = fake.add_report("GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "a\tb\n")
    api.fetch_document(fake.reports[rid]["reportDocumentId"])
    fake.fail_next("searchOrders", 503, times=1, body={"errors": [{"code": "x", "message": f"echo {CREDS[1]}"}]})
    list(api.search_orders(marketplace_ids=["APJ6JRA9NG5V4"], created_after=fake.clock.now().replace(year=2025)))
    text = caplog.text
    tokens = list(fake.tokens)
    assert tokens
    for secret in (CREDS[1], CREDS[2], *tokens):
        assert secret not in text
    assert "X-Amz-Signature=***" in text or "X-Amz-Signature" not in text


def test_max_wait_raises_rate_limited_before_sending():
    from marketd.http import RateLimited

    clock = FakeClock()
    n = []
    http = HttpClient("https://x.test", transport=_mock(lambda r: n.append(1) or httpx.Response(200)), clock=clock,
                      limiter=RateLimiter({"op": (0.01, 1)}, clock=clock))
    http.request("GET", "/a", operation="op", max_wait=5)
    with pytest.raises(RateLimited) as exc:
        http.request("GET", "/a", operation="op", max_wait=5)
    assert exc.value.wait == pytest.approx(100, abs=0.1) and isinstance(exc.value, TransientError)
    assert len(n) == 1 and clock.sleeps == 0
