"""eBay OAuth: the seller's refresh token exchanged for a user access token, cached.

``POST https://api.ebay.com/identity/v1/oauth2/token`` with ``Authorization: Basic
base64(client_id:client_secret)`` and the form ``grant_type=refresh_token&refresh_token=…&scope=…``
(space-separated scopes, a subset of what the seller consented to) answers ``{access_token,
expires_in, token_type: "User Access Token"}``; the token lives about two hours (research
api-contracts §2.1). It is cached until ``margin`` seconds before it expires and shared by every
call of the account — eBay allows 50,000 refresh grants per app per day, a cache makes that ~12.
``invalidate`` drops it when an API answers 401 (expired or revoked token), so the next call
fetches a fresh one. ``invalid_grant`` means the seller must consent again (the refresh token
expired, about 18 months, or was revoked): a :class:`ConfigError` that says so.

Credentials are read lazily through a callable (``app.secret`` behind it) and never logged.
"""
from __future__ import annotations

import base64
import logging
import threading
from typing import Callable

from marketd.sdk import SYSTEM_CLOCK, Clock, ConfigError, HttpClient, RetryPolicy, TransientError

log = logging.getLogger("marketd.ebay.oauth")

TOKEN_PATH = "/identity/v1/oauth2/token"
SCOPE_FULFILLMENT = "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
SCOPE_FINANCES = "https://api.ebay.com/oauth/api_scope/sell.finances"
SCOPE_INVENTORY = "https://api.ebay.com/oauth/api_scope/sell.inventory"


class EbayAuthError(ConfigError):
    """eBay refused the credentials: the seller must consent again or the app keys are wrong."""


class EbayTokens:
    """User access tokens for one seller consent (client id/secret + refresh token)."""

    def __init__(self, credentials: Callable[[], tuple[str, str, str]], *, endpoint: str, scopes: list[str],
                 transport=None, clock: Clock | None = None, margin: float = 60.0, timeout: float = 30.0,
                 account: str = ""):
        self.credentials = credentials  # () -> (client_id, client_secret, refresh_token)
        self.endpoint = endpoint
        self.scopes = list(scopes)
        self.clock = clock or SYSTEM_CLOCK
        self.margin = margin
        self.account = account
        self.http = HttpClient("", transport=transport, timeout=timeout, clock=self.clock, retry=RetryPolicy(),
                               name=f"eBay OAuth {account}".strip())
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0  # clock.monotonic() seconds
        self.refreshes = 0

    def access_token(self) -> str:
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
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        resp = self.http.request(
            "POST", self.endpoint, operation="oauth.token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": " ".join(self.scopes)},
            headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})
        if resp.status_code != 200:
            try:
                doc = resp.json()
            except ValueError:
                doc = {}
            code = doc.get("error") if isinstance(doc, dict) else None
            text = doc.get("error_description") if isinstance(doc, dict) else None
            if resp.status_code in (400, 401, 403):
                fix = ("the refresh token expired or was revoked: ask the seller to consent again "
                       "(docs/plugins/ebay.md, 'Consent') and store the new refresh token"
                       if code == "invalid_grant" else
                       "check the App ID (client id) and Cert ID (client secret) of the eBay application"
                       if code == "invalid_client" else
                       "the scopes asked for must be among those the seller consented to" if code == "invalid_scope"
                       else "check the eBay credentials")
                raise EbayAuthError(f"eBay OAuth refused account {self.account!r} (HTTP {resp.status_code} "
                                    f"{code or ''}{': ' + text if text else ''}): {fix}")
            raise TransientError(f"eBay OAuth answered HTTP {resp.status_code} for account {self.account!r}")
        try:
            doc = resp.json()
            token = doc["access_token"]
            expires_in = float(doc.get("expires_in", 7200))
        except (ValueError, KeyError, TypeError):
            raise TransientError("eBay OAuth answered 200 without an access_token")
        self._token = token
        self._expires_at = self.clock.monotonic() + expires_in
        self.refreshes += 1
        log.debug("eBay OAuth: new access token for %s, valid %.0fs", self.account, expires_in)

    def close(self) -> None:
        self.http.close()
