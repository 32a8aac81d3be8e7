"""Login with Amazon (LWA): exchange the seller's refresh token for an access token.

``POST https://api.amazon.com/auth/o2/token`` with the form fields ``grant_type=refresh_token``,
``refresh_token``, ``client_id`` and ``client_secret`` answers
``{"access_token": "Atza|…", "token_type": "bearer", "expires_in": 3600}`` (research
api-contracts §1.2). The access token is cached until ``margin`` seconds before it expires and
shared by every SP-API call of the account; :meth:`LwaClient.invalidate` drops it when SP-API
answers 403 for an expired or revoked token, so the next call fetches a fresh one.

Credentials are read lazily through a callable (``app.secret`` behind it), so a missing secret
only affects its own account, and never appear in logs or error messages.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from marketd.sdk import SYSTEM_CLOCK, Clock, ConfigError, HttpClient, RetryPolicy, TransientError

log = logging.getLogger("marketd.amazon.lwa")

LWA_ENDPOINT = "https://api.amazon.com/auth/o2/token"


class LwaError(ConfigError):
    """LWA refused the credentials: the seller must re-authorise or the secrets are wrong."""


class LwaClient:
    """Access tokens for one seller authorisation (client id/secret + refresh token)."""

    def __init__(self, credentials: Callable[[], tuple[str, str, str]], *, endpoint: str = LWA_ENDPOINT,
                 transport=None, clock: Clock | None = None, margin: float = 60.0, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, account: str = "", scope: str | None = None):
        self.credentials = credentials  # () -> (client_id, client_secret, refresh_token)
        # a scope makes this a grantless client (grant_type=client_credentials), as the
        # Notifications destinations need: no seller authorisation, the app's own token
        self.scope = scope
        self.endpoint = endpoint
        self.clock = clock or SYSTEM_CLOCK
        self.margin = margin
        self.account = account
        self.http = HttpClient("", transport=transport, timeout=timeout, clock=self.clock,
                               retry=retry or RetryPolicy(), name=f"LWA {account}".strip())
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0  # clock.monotonic() seconds
        self.refreshes = 0

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
        client_id, client_secret, refresh_token = self.credentials()
        form = ({"grant_type": "client_credentials", "scope": self.scope} if self.scope else
                {"grant_type": "refresh_token", "refresh_token": refresh_token})
        resp = self.http.request(
            "POST", self.endpoint, operation="lwa.token",
            data={**form, "client_id": client_id, "client_secret": client_secret},
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
        if resp.status_code != 200:
            try:
                doc = resp.json()
            except ValueError:
                doc = {}
            code = doc.get("error") if isinstance(doc, dict) else None
            text = doc.get("error_description") if isinstance(doc, dict) else None
            if resp.status_code in (400, 401, 403):
                raise LwaError(
                    f"Amazon LWA refused the credentials of account {self.account!r} "
                    f"(HTTP {resp.status_code} {code or ''}{': ' + text if text else ''}): check the client id/secret "
                    "and re-authorise the app to get a new refresh token")
            raise TransientError(f"Amazon LWA answered HTTP {resp.status_code} for account {self.account!r}")
        try:
            doc = resp.json()
            token = doc["access_token"]
            expires_in = float(doc.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TransientError("Amazon LWA answered 200 without an access_token")
        self._token = token
        self._expires_at = self.clock.monotonic() + expires_in
        self.refreshes += 1
        log.debug("LWA: new access token for %s, valid %.0fs", self.account, expires_in)

    def close(self) -> None:
        self.http.close()
