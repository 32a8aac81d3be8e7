"""The eBay plugin's config table: ``[channels.<name>] type = "ebay"``. Keys and defaults are
documented in docs/plugins/ebay.md.

Secrets are never keys of this table: the OAuth client id/secret, the seller's refresh token and
(for EU/UK sellers) the signing key come from environment variables or systemd credentials,
``MARKETD_EBAY_<ACCOUNT>_<WHAT>`` unless a ``*_secret`` key names another one.
"""
from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, model_validator

from marketd.sdk import ChannelSettings, SecretRef

# Keys that would hold a secret in clear; the message names the variables to use instead.
FORBIDDEN_KEYS = ("client_secret", "refresh_token", "access_token", "token", "secret", "password", "signing_key",
                  "private_key")

PRODUCTION = ("https://api.ebay.com", "https://apiz.ebay.com")
SANDBOX = ("https://api.sandbox.ebay.com", "https://apiz.sandbox.ebay.com")


def env_name(account: str, what: str) -> str:
    """``MARKETD_EBAY_<ACCOUNT>_<WHAT>``, the account name upper-cased, other characters as ``_``."""
    return f"MARKETD_EBAY_{re.sub(r'[^A-Z0-9]+', '_', account.upper()).strip('_')}_{what}"


def secrets_in_clear(name: str, leaked: list[str]) -> str:
    return (f"holds {', '.join(leaked)} in clear: eBay secrets must come from environment variables or "
            f"systemd credentials. Remove the key and set {env_name(name, 'CLIENT_SECRET')} and "
            f"{env_name(name, 'REFRESH_TOKEN')} (and {env_name(name, 'SIGNING_KEY')} for digital signatures), "
            "or LoadCredential= with those names")


class EbayChannelSettings(ChannelSettings):
    marketplace: str = "EBAY_IT"                         # X-EBAY-C-MARKETPLACE-ID (EBAY_IT, EBAY_DE, EBAY_GB …)
    country: str = ""                                    # informational
    orders_sync: bool = False
    settlements_fetch: bool = False
    compliance_fetch: bool = False      # listing violations (Compliance API, scope sell.inventory) for account health
    digital_signature: bool = False                      # EU/UK-domiciled sellers: Finances, refund, cancel signed
    seller_username: str | None = None                   # recognises a Transaction report's `Seller,<name>` line
    sandbox: bool = False                                # eBay's sandbox hosts instead of production
    endpoint: str | None = None                          # Fulfillment + OAuth host; default https://api.ebay.com
    finances_endpoint: str | None = None                 # Finances host; default https://apiz.ebay.com
    token_endpoint: str | None = None                    # default <endpoint>/identity/v1/oauth2/token
    initial_days: float = Field(30, gt=0)
    overlap_seconds: float = Field(120, ge=0)
    max_wait_seconds: float = 30                         # < 0: wait as long as the rate limit needs
    payouts_backfill_days: float = Field(90, gt=0)
    carrier_codes: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, list[float]] = Field(default_factory=dict)   # operation -> [rate, burst]
    daily_quota: dict[str, int] = Field(default_factory=dict)      # resource -> calls per day
    quota_timezone: str = "America/Los_Angeles"          # the quota day ends at midnight here
    timeout: float | None = None
    # listings (Inventory API; docs/plugins/ebay.md "Listings"): needs the sell.inventory scope
    listings: bool = False
    content_language: str | None = None                  # Content-Language of inventory items; default from marketplace
    condition: str = "NEW"
    merchant_location_key: str | None = None
    fulfillment_policy_id: str | None = None
    payment_policy_id: str | None = None
    return_policy_id: str | None = None
    client_id: str | None = None                         # the App ID is not a secret
    client_id_secret: SecretRef | None = None
    client_secret_secret: SecretRef | None = None
    refresh_token_secret: SecretRef | None = None
    signing_key_secret: SecretRef | None = None          # Ed25519 private key (PEM) from the Key Management API
    signing_jwe_secret: SecretRef | None = None          # its JWE, sent as x-ebay-signature-key

    @model_validator(mode="before")
    @classmethod
    def _no_secrets_in_clear(cls, data, info: ValidationInfo):
        leaked = sorted(k for k in FORBIDDEN_KEYS if isinstance(data, dict) and data.get(k))
        if leaked:
            raise ValueError(secrets_in_clear((info.context or {}).get("name") or "<name>", leaked))
        return data
