"""An OAuth 2 access token from a refresh token, cached per account (``marketd.sdk.RefreshTokenGrant``).

Marketplaces' token endpoints differ only in how the request is written (client secret in the
form or as HTTP Basic, scopes or none) and in what a refusal tells the seller to do; the rest is
one mechanism that channel plugins had each copied: fetch a token when there is none or it is within ``margin``
seconds of expiring, share it between threads (one refresh at a time, under a lock), drop it when
an API says it was revoked (:meth:`invalidate`), and tell apart a refusal of the credentials
(400/401/403: a ``ConfigError`` the seller must act on, never retried) from a server in trouble
(any other status, a 200 without a token: ``TransientError``, retried by the job's backoff).

Credentials are read through a callable on each refresh (``app.secret`` behind it: a missing
secret fails only its own account) and never appear in a message or a log line.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from .clock import SYSTEM_CLOCK, Clock
from .errors import ConfigError, TransientError
from .http import HttpClient, RetryPolicy

log = logging.getLogger("marketd.oauth")

Credentials = Callable[[], "tuple[str, str, str]"]  # () -> (client_id, client_secret, refresh_token)


class RefreshTokenGrant:
    """Access tokens for one seller authorisation. A subclass writes :meth:`request_token` and
    may word :meth:`refused`; ``service`` names the server in messages."""

    service = "OAuth"
    operation = "oauth.token"
    default_expires_in = 3600.0

    def __init__(self, credentials: Credentials, *, endpoint: str, transport=None, clock: Clock | None = None,
                 margin: float = 60.0, timeout: float = 30.0, retry: RetryPolicy | None = None, account: str = "",
                 http_name: str | None = None):
        self.credentials = credentials
        self.endpoint = endpoint
        self.clock = clock or SYSTEM_CLOCK
        self.margin = margin
        self.account = account
        self.http = HttpClient("", transport=transport, timeout=timeout, clock=self.clock,
                               retry=retry or RetryPolicy(), name=f"{http_name or self.service} {account}".strip())
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0  # clock.monotonic() seconds
        self.refreshes = 0

    # -- what a subclass writes -------------------------------------------------------------------
    def request_token(self, client_id: str, client_secret: str, refresh_token: str):
        """POST the refresh-token grant to ``self.endpoint`` through ``self.http``; the response."""
        raise NotImplementedError

    def refused(self, status: int, code: str | None, text: str | None) -> Exception:
        """The error for credentials the server refused (400/401/403), saying what to do."""
        return ConfigError(f"{self.service} refused the credentials of account {self.account!r} "
                           f"(HTTP {status} {code or ''}{': ' + text if text else ''})")

    # -- the cache ---------------------------------------------------------------------------------
    def access_token(self) -> str:
        """A valid access token, from the cache or freshly fetched."""
        with self._lock:
            if self._token is None or self.clock.monotonic() >= self._expires_at - self.margin:
                self._refresh()
            return self._token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is still ``token``, when given)."""
        with self._lock:
            if token is None or token == self._token:
                self._token = None
                self._expires_at = 0.0

    def _refresh(self) -> None:
        resp = self.request_token(*self.credentials())
        if resp.status_code != 200:
            try:
                doc = resp.json()
            except ValueError:
                doc = {}
            code = doc.get("error") if isinstance(doc, dict) else None
            text = doc.get("error_description") if isinstance(doc, dict) else None
            if resp.status_code in (400, 401, 403):
                raise self.refused(resp.status_code, code, text)
            raise TransientError(f"{self.service} answered HTTP {resp.status_code} for account {self.account!r}")
        try:
            doc = resp.json()
            token = doc["access_token"]
            expires_in = float(doc.get("expires_in", self.default_expires_in))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TransientError(f"{self.service} answered 200 without an access_token") from None
        self._token = token
        self._expires_at = self.clock.monotonic() + expires_in
        self.refreshes += 1
        log.debug("%s: new access token for %s, valid %.0fs", self.service, self.account, expires_in)

    def close(self) -> None:
        self.http.close()
