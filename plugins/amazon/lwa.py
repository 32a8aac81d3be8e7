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

from typing import Callable

from marketd.sdk import Clock, ConfigError, RefreshTokenGrant, RetryPolicy

LWA_ENDPOINT = "https://api.amazon.com/auth/o2/token"


class LwaError(ConfigError):
    """LWA refused the credentials: the seller must re-authorise or the secrets are wrong."""


class LwaClient(RefreshTokenGrant):
    """Access tokens for one seller authorisation (client id/secret + refresh token)."""

    service = "Amazon LWA"
    operation = "lwa.token"
    default_expires_in = 3600.0

    def __init__(self, credentials: Callable[[], tuple[str, str, str]], *, endpoint: str = LWA_ENDPOINT,
                 transport=None, clock: Clock | None = None, margin: float = 60.0, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, account: str = "", scope: str | None = None):
        super().__init__(credentials, endpoint=endpoint, transport=transport, clock=clock, margin=margin,
                         timeout=timeout, retry=retry, account=account, http_name="LWA")
        # a scope makes this a grantless client (grant_type=client_credentials), as the
        # Notifications destinations need: no seller authorisation, the app's own token
        self.scope = scope

    def request_token(self, client_id: str, client_secret: str, refresh_token: str):
        form = ({"grant_type": "client_credentials", "scope": self.scope} if self.scope else
                {"grant_type": "refresh_token", "refresh_token": refresh_token})
        return self.http.request(
            "POST", self.endpoint, operation=self.operation,
            data={**form, "client_id": client_id, "client_secret": client_secret},
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})

    def refused(self, status: int, code: str | None, text: str | None) -> Exception:
        return LwaError(
            f"Amazon LWA refused the credentials of account {self.account!r} "
            f"(HTTP {status} {code or ''}{': ' + text if text else ''}): check the client id/secret "
            "and re-authorise the app to get a new refresh token")
