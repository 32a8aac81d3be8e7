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
from typing import Callable

from marketd.sdk import Clock, ConfigError, RefreshTokenGrant

TOKEN_PATH = "/identity/v1/oauth2/token"
SCOPE_FULFILLMENT = "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
SCOPE_FINANCES = "https://api.ebay.com/oauth/api_scope/sell.finances"
SCOPE_INVENTORY = "https://api.ebay.com/oauth/api_scope/sell.inventory"  # listings (Inventory API), account health (Compliance API)
SCOPE_PUBLIC = "https://api.ebay.com/oauth/api_scope"   # application tokens: the Taxonomy API


class EbayAuthError(ConfigError):
    """eBay refused the credentials: the seller must consent again or the app keys are wrong."""


class EbayTokens(RefreshTokenGrant):
    """User access tokens for one seller consent (client id/secret + refresh token)."""

    service = "eBay OAuth"
    operation = "oauth.token"
    default_expires_in = 7200.0

    def __init__(self, credentials: Callable[[], tuple[str, str, str]], *, endpoint: str, scopes: list[str],
                 transport=None, clock: Clock | None = None, margin: float = 60.0, timeout: float = 30.0,
                 account: str = ""):
        self.scopes = list(scopes)
        super().__init__(credentials, endpoint=endpoint, transport=transport, clock=clock, margin=margin,
                         timeout=timeout, account=account)

    def request_token(self, client_id: str, client_secret: str, refresh_token: str):
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        return self.http.request(
            "POST", self.endpoint, operation=self.operation,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": " ".join(self.scopes)},
            headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})

    def refused(self, status: int, code: str | None, text: str | None) -> Exception:
        fix = ("the refresh token expired or was revoked: ask the seller to consent again "
               "(docs/plugins/ebay.md, 'Consent') and store the new refresh token"
               if code == "invalid_grant" else
               "check the App ID (client id) and Cert ID (client secret) of the eBay application"
               if code == "invalid_client" else
               "the scopes asked for must be among those the seller consented to" if code == "invalid_scope"
               else "check the eBay credentials")
        return EbayAuthError(f"eBay OAuth refused account {self.account!r} (HTTP {status} "
                             f"{code or ''}{': ' + text if text else ''}): {fix}")


class EbayAppTokens(EbayTokens):
    """Application access tokens (``grant_type=client_credentials``, public scope) for the APIs
    that take no seller token — the Taxonomy API. The same app keys; the refresh token is unused.
    eBay allows 1,000 such grants per app and day: the token is cached like the user token."""

    def __init__(self, credentials: Callable[[], tuple[str, str, str]], **kw):
        super().__init__(credentials, scopes=[SCOPE_PUBLIC], **kw)

    def request_token(self, client_id: str, client_secret: str, refresh_token: str):
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        return self.http.request(
            "POST", self.endpoint, operation=self.operation,
            data={"grant_type": "client_credentials", "scope": " ".join(self.scopes)},
            headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"})
