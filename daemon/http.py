"""One HTTP policy for every plugin that talks to a remote API (channels and carriers).

``HttpClient`` wraps ``httpx.Client`` and adds, in this order around each call:

1. **Rate limiting** with token buckets (``TokenBucket``): one bucket per *operation*
   (``RateLimiter``), seeded from the vendor's published defaults and adapted when the server
   says otherwise (the response header named by the client's ``rate_limit_header``). A caller that finds the bucket
   empty *reserves* its token and sleeps on the injected clock until it is due: never a spin.
2. **429** (throttled): the bucket is marked empty and the call waits for the next token (or for
   ``Retry-After`` when the server sends one, whichever is later), then tries again, a bounded
   number of times.
3. **5xx, timeouts and transport errors**: bounded exponential backoff with jitter; after the
   last attempt :class:`marketd.errors.TransientError` is raised, so inbox files and jobs are
   retried later instead of failing for good. Other 4xx answers are returned to the caller,
   which turns them into messages.

Every wait goes through ``clock.sleep`` (``marketd.clock``), so tests and benchmarks run hours
of rate-limited traffic on a ``FakeClock`` in milliseconds and can count the sleeps.

Logs never carry credentials: header values of ``Authorization``, ``x-amz-access-token``,
``password`` … are replaced by ``***``, query strings of absolute (presigned) URLs are dropped,
and form bodies lose ``refresh_token``/``client_secret``; see :func:`redact_headers`,
:func:`redact_url`, :func:`redact_form`. The transport is injectable, so tests run the vendor
fakes in-process with ``httpx.WSGITransport(app=fake)``.
"""
from __future__ import annotations

import email.utils
import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .backoff import Backoff
from .clock import SYSTEM_CLOCK, Clock
from .errors import TransientError

if TYPE_CHECKING:  # httpx itself is imported by the first client made: every start-up would pay 0.1 s for it
    import httpx

log = logging.getLogger("marketd.http")

__all__ = ["HttpClient", "RetryPolicy", "TokenBucket", "RateLimiter", "RateLimited", "redact_headers", "redact_url",
           "redact_form", "redact_text", "SENSITIVE_HEADERS", "SENSITIVE_FIELDS"]

# -- redaction ------------------------------------------------------------------------------------
SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-amz-access-token", "x-amz-security-token", "cookie",
    "set-cookie", "password", "x-api-key", "api-key", "apikey", "client_secret", "client-secret",
})
SENSITIVE_FIELDS = frozenset({
    "refresh_token", "client_secret", "access_token", "password", "token", "api_key", "apikey",
    "x-amz-access-token", "restricteddatatoken", "code", "assertion", "x-amz-signature",
    "x-amz-credential", "x-amz-security-token", "signature",
})


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict:
    """A copy of ``headers`` with credential-bearing values replaced by ``***``."""
    if headers is None:
        return {}
    items = headers.items() if hasattr(headers, "items") else headers
    return {k: ("***" if k.lower() in SENSITIVE_HEADERS else v) for k, v in items}


def redact_form(body: str | bytes | Mapping | None) -> str:
    """A form body (``a=1&refresh_token=…``) or dict with secret fields masked, as text."""
    if body is None:
        return ""
    if isinstance(body, Mapping):
        pairs = [(str(k), str(v)) for k, v in body.items()]
    else:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode([(k, "***" if k.lower() in SENSITIVE_FIELDS else v) for k, v in pairs], safe="*")


def redact_url(url: str | httpx.URL) -> str:
    """The URL with sensitive query parameters masked (presigned S3 signatures, api keys)."""
    parts = urlsplit(str(url))
    if not parts.query:
        return str(url)
    query = urlencode([(k, "***" if k.lower() in SENSITIVE_FIELDS else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*,")
    return urlunsplit(parts._replace(query=query))


def redact_text(text: str) -> str:
    """Free text (an error body) through the logging redactor: secrets, tokens, e-mails."""
    from .logs import redact

    return redact(text)


# -- rate limiting --------------------------------------------------------------------------------
class TokenBucket:
    """A token bucket on an injectable clock: ``rate`` tokens per second, at most ``burst``.

    The bucket starts full. ``acquire()`` takes one token, sleeping on the clock first when
    none is left; the sleep is computed, never polled. Waiting callers *reserve* their token
    (the level may go below zero), so concurrent threads queue up at the right spacing.
    ``capacity`` is accepted as another name for ``burst``.
    """

    def __init__(self, rate: float, burst: float | None = None, clock: Clock | None = None, *,
                 capacity: float | None = None, margin: float = 0.001):
        if burst is None:
            burst = capacity if capacity is not None else max(1.0, rate)
        if rate <= 0 or burst < 1:
            raise ValueError("TokenBucket needs rate > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self.clock = clock or SYSTEM_CLOCK
        self.margin = margin  # seconds added to computed waits: never arrive a hair too early
        self._tokens = self.burst
        self._stamp = self.clock.monotonic()
        self._lock = threading.Lock()
        self.waits = 0
        self.waited = 0.0

    def bucket_for(self, operation: str | None) -> "TokenBucket":
        return self

    def _refill(self) -> None:
        now = self.clock.monotonic()
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = max(self._stamp, now)

    @property
    def tokens(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens

    def wait_time(self) -> float:
        """Seconds until a token would be free (0 if one is free now); reserves nothing."""
        with self._lock:
            self._refill()
            return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate

    def reserve(self) -> float:
        """Take a token now or in the future; returns the seconds to wait before using it."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.rate + self.margin

    def acquire(self) -> float:
        """Wait (on the clock) until a token is ours; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self.waits += 1
            self.waited += wait
            self.clock.sleep(wait)
        return wait

    def empty(self) -> None:
        """The server says the bucket is empty (a 429): forget any tokens we thought we had."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        with self._lock:
            self._refill()
            if rate > 0:
                self.rate = float(rate)
            if burst is not None and burst >= 1:
                self.burst = float(burst)
                self._tokens = min(self._tokens, self.burst)

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}/s, burst={self.burst:g})"


class RateLimiter:
    """Token buckets per operation name.

    ``limits`` maps operation → ``(rate, burst)`` (the vendor's published defaults); an
    operation not listed uses ``default`` (``(rate, burst)``), or is not limited at all when
    ``default`` is None. ``observe(operation, header_value)`` adapts a bucket's rate to what the
    server reports (a header holding the rate in force, in requests per second; the burst is
    not reported and is kept).
    """

    def __init__(self, limits: Mapping[str, tuple[float, float]] | None = None, *, clock: Clock | None = None,
                 default: tuple[float, float] | None = None):
        self.clock = clock or SYSTEM_CLOCK
        self.limits = dict(limits or {})
        self.default = default
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.adapted: dict[str, float] = {}

    def bucket_for(self, operation: str | None) -> TokenBucket | None:
        key = operation or ""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                spec = self.limits.get(key, self.default)
                if spec is None:
                    return None
                bucket = self._buckets[key] = TokenBucket(spec[0], spec[1], self.clock)
            return bucket

    def observe(self, operation: str | None, value: str | None) -> None:
        if not value:
            return
        try:
            rate = float(str(value).split(",")[0].strip())
        except ValueError:
            return
        bucket = self.bucket_for(operation)
        if bucket is None:
            with self._lock:
                burst = max(1.0, rate)
                bucket = self._buckets[operation or ""] = TokenBucket(rate, burst, self.clock)
        if rate > 0 and abs(bucket.rate - rate) > 1e-9:
            log.info("rate limit for %s is %g/s (was %g/s): adapting", operation, rate, bucket.rate)
            bucket.set_rate(rate)
            self.adapted[operation or ""] = rate


class RateLimited(TransientError):
    """The next call would have to wait longer than the caller allows (``max_wait``).

    Raised before sending, so nothing was done; ``wait`` says how long the token is away. Jobs
    use it to stop a long paginated pass early and continue at their next run instead of
    holding the scheduler (and a daemon stop) for minutes.
    """

    def __init__(self, message: str, wait: float):
        super().__init__(message)
        self.wait = wait


# -- retries --------------------------------------------------------------------------------------
@dataclass
class RetryPolicy:
    """Bounded retries. ``max_attempts`` counts the first try (1 = never retry a 5xx/timeout).

    Backoff before retry *n* is ``min(cap, base * 2**(n-1))``, reduced by up to ``jitter`` (a
    share, 0.5 = between 50 % and 100 % of it). Throttled answers (429) are retried up to
    ``max_throttled`` times, waiting for the operation's bucket or ``Retry-After``.
    """

    max_attempts: int = 4
    base: float = 1.0
    cap: float = 30.0
    jitter: float = 0.5
    max_throttled: int = 8
    throttle_wait: float = 5.0     # 429 with no bucket and no Retry-After: first wait, doubled each time
    max_retry_after: float = 900.0  # never trust a Retry-After longer than this
    retry_statuses: frozenset = frozenset({500, 502, 503, 504})
    seed: int | None = None
    _rng: random.Random = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    def backoff(self, attempt: int) -> float:
        return Backoff(self.base, self.cap, self.jitter).delay(attempt, self._rng)


def parse_retry_after(value: str | None, clock: Clock) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - clock.now()).total_seconds())


# -- the client -----------------------------------------------------------------------------------
class HttpClient:
    """``request(method, path, operation=…)`` with rate limits, 429 waits and 5xx backoff.

    ``limiter`` is a :class:`RateLimiter` (buckets per operation) or a single
    :class:`TokenBucket` shared by every call. ``rate_limit_header`` names the response header
    that reports the rate in force, for APIs that send one (None: the limits stay as given).
    ``quota_wait`` is for APIs whose 429 can mean a quota spent for hours (eBay's daily call
    limit): called with the 429 response, it returns the seconds until the service takes calls
    again — the request then raises :class:`RateLimited` at once instead of retrying in seconds —
    or None for the usual wait.
    """

    def __init__(self, base_url: str = "", *, transport: httpx.BaseTransport | None = None, timeout: float = 30.0,
                 clock: Clock | None = None, retry: RetryPolicy | None = None,
                 limiter: RateLimiter | TokenBucket | None = None, headers: Mapping[str, str] | None = None,
                 name: str = "", rate_limit_header: str | None = None, follow_redirects: bool = False,
                 quota_wait: Callable[[httpx.Response], float | None] | None = None):
        self.base_url = base_url
        self.quota_wait = quota_wait
        self.clock = clock or SYSTEM_CLOCK
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self.name = name or (urlsplit(base_url).hostname or "http")
        self.rate_limit_header = rate_limit_header
        import httpx

        self.client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout,
                                   headers=dict(headers or {}), follow_redirects=follow_redirects)
        # counters for tests, benchmarks and `marketd status`
        self.requests = 0
        self.throttled = 0
        self.server_errors = 0
        self.transport_errors = 0
        self.slept = 0.0

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _bucket(self, operation: str | None) -> TokenBucket | None:
        if self.limiter is None:
            return None
        return self.limiter.bucket_for(operation)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.clock.sleep(seconds)

    def wait_time(self, operation: str | None) -> float:
        """Seconds until ``operation``'s bucket has a token (0 when not limited)."""
        bucket = self._bucket(operation)
        return bucket.wait_time() if bucket is not None else 0.0

    def request(self, method: str, path: str, *, operation: str | None = None, retry: RetryPolicy | None = None,
                max_wait: float | None = None, **kw) -> httpx.Response:
        """Send one logical request; returns the final response (2xx/3xx/4xx other than 429).

        Raises :class:`TransientError` when 5xx/timeouts/transport errors or 429s outlast the
        retry policy, and :class:`RateLimited` (a TransientError) when a rate-limit wait would
        exceed ``max_wait`` seconds (None: wait as long as the limit needs).
        """
        policy = retry or self.retry
        op = operation or f"{method} {path}"
        attempt = 0
        throttled = 0
        throttle_wait = policy.throttle_wait
        where = f"{self.name} {op}"
        import httpx
        while True:
            bucket = self._bucket(operation)
            if bucket is not None:
                if max_wait is not None:
                    due = bucket.wait_time()
                    if due > max_wait:
                        raise RateLimited(f"{where}: the rate limit allows the next call in {due:.0f}s "
                                          f"(more than {max_wait:g}s); later", due)
                waited = bucket.acquire()
                if waited > 0:
                    self.slept += waited
                    log.debug("%s: waited %.1fs for the rate limit (%s)", where, waited, bucket)
            attempt += 1
            self.requests += 1
            start = self.clock.monotonic()
            try:
                resp = self.client.request(method, path, **kw)
            except httpx.TransportError as exc:  # timeouts, connection errors, protocol errors
                self.transport_errors += 1
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else f"failed ({type(exc).__name__})"
                if attempt >= policy.max_attempts:
                    raise TransientError(f"{where}: request {kind} after {attempt} attempt(s): "
                                         f"{redact_text(str(exc))[:200]}") from None
                delay = policy.backoff(attempt)
                log.warning("%s: request %s; retry %d/%d in %.1fs", where, kind, attempt, policy.max_attempts - 1, delay)
                self._sleep(delay)
                continue
            log.debug("%s %s -> %s (%.3fs)", method, redact_url(resp.request.url), resp.status_code,
                      self.clock.monotonic() - start)
            if self.limiter is not None and isinstance(self.limiter, RateLimiter) and self.rate_limit_header:
                self.limiter.observe(operation, resp.headers.get(self.rate_limit_header))
            status = resp.status_code
            if status == 429:
                self.throttled += 1
                throttled += 1
                resp.read()
                spent = self.quota_wait(resp) if self.quota_wait is not None else None
                if spent is not None:
                    if bucket is not None:
                        bucket.empty()
                    raise RateLimited(f"{where}: throttled (HTTP 429): the quota is used up; the next call is "
                                      f"possible in about {spent:.0f}s", spent)
                if throttled > policy.max_throttled:
                    raise TransientError(f"{where}: still throttled (HTTP 429) after {throttled - 1} waits; "
                                         "will try again on the next run")
                retry_after = parse_retry_after(resp.headers.get("retry-after"), self.clock)
                if retry_after is not None:
                    retry_after = min(retry_after, policy.max_retry_after)
                if max_wait is not None:
                    due = max(retry_after or 0.0, (1.0 / bucket.rate) if bucket is not None else throttle_wait)
                    if due > max_wait:
                        if bucket is not None:
                            bucket.empty()
                        raise RateLimited(f"{where}: throttled (HTTP 429); the next call is possible in about "
                                          f"{due:.0f}s (more than {max_wait:g}s); later", due)
                if bucket is not None:
                    bucket.empty()
                    # the bucket's own wait happens at the top of the loop; Retry-After may ask more
                    extra = (retry_after or 0.0) - (-bucket.tokens + 1) / bucket.rate
                    log.info("%s: throttled (429); waiting for the rate limit (%s)%s", where, bucket,
                             f", Retry-After {retry_after:g}s" if retry_after else "")
                    if extra > 0:
                        self._sleep(extra)
                else:
                    wait = retry_after if retry_after is not None else throttle_wait
                    throttle_wait = min(throttle_wait * 2, policy.max_retry_after)
                    log.info("%s: throttled (429); waiting %.1fs", where, wait)
                    self._sleep(wait)
                attempt -= 1  # a throttled call does not use up an error retry
                continue
            if status in policy.retry_statuses:
                self.server_errors += 1
                resp.read()
                if attempt >= policy.max_attempts:
                    raise TransientError(f"{where}: HTTP {status} after {attempt} attempt(s): "
                                         f"{redact_text(resp.text)[:200]}")
                delay = policy.backoff(attempt)
                log.warning("%s: HTTP %s; retry %d/%d in %.1fs", where, status, attempt, policy.max_attempts - 1, delay)
                self._sleep(delay)
                continue
            return resp

    # conveniences
    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self.request("POST", path, **kw)


def utc_iso(dt: datetime) -> str:
    """``2026-11-02T09:00:00Z``: the form SP-API examples use."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
