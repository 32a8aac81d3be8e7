"""The Amazon plugin's config table: ``[channels.<name>] type = "amazon"`` (keys and defaults in
docs/plugins/amazon.md). ``[inbox.settlements]`` belongs to the settlements plugin."""
from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, model_validator

from marketd.sdk import ChannelSettings, SecretRef

# Keys that would hold a secret in clear; the message names the variables to use instead.
FORBIDDEN_KEYS = ("client_secret", "refresh_token", "access_token", "token", "secret", "password")


def env_name(account: str, what: str) -> str:
    """``MARKETD_AMAZON_<ACCOUNT>_<WHAT>``, the account name upper-cased, other chars as ``_``."""
    return f"MARKETD_AMAZON_{re.sub(r'[^A-Z0-9]+', '_', account.upper()).strip('_')}_{what}"


def secrets_in_clear(name: str, leaked: list[str]) -> str:
    return (f"holds {', '.join(leaked)} in clear: Amazon secrets must come from environment "
            f"variables or systemd credentials. Remove the key and set {env_name(name, 'CLIENT_SECRET')} and "
            f"{env_name(name, 'REFRESH_TOKEN')} (or LoadCredential= with those names; or name your own with "
            "client_secret_secret / refresh_token_secret)")


class AmazonChannelSettings(ChannelSettings):
    marketplace: str = ""                                # IT, DE, …; or marketplace_id + region
    marketplace_id: str | None = None
    region: str | None = None                            # na | eu | fe
    orders_sync: bool = False
    settlements_fetch: bool = False
    initial_days: float = 30
    overlap_seconds: float = 120
    fulfilled_by: list[str] | None = None
    max_wait_seconds: float = 30                         # < 0: wait as long as the rate limit needs
    included_data: list[str] | None = None
    carrier_codes: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, list[float]] = Field(default_factory=dict)   # operation -> [rate, burst]
    settlements_backfill_days: float = 90
    seller_id: str = ""                                  # merchant token: Listings Items and Feeds need it
    patch_threshold: int = Field(20, ge=0)               # price/stock batches up to this size: patchListingsItem
    issue_locale: str = "en_US"                          # language of the messages in feed processing reports
    endpoint: str | None = None
    sandbox: bool = False
    lwa_endpoint: str | None = None
    timeout: float | None = None                         # default 60 (SP-API), 30 (LWA)
    client_id: str | None = None                         # the LWA client id is not a secret
    client_id_secret: SecretRef | None = None
    client_secret_secret: SecretRef | None = None
    refresh_token_secret: SecretRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_secrets_in_clear(cls, data, info: ValidationInfo):
        leaked = sorted(k for k in FORBIDDEN_KEYS if isinstance(data, dict) and data.get(k))
        if leaked:
            raise ValueError(secrets_in_clear((info.context or {}).get("name") or "<name>", leaked))
        return data
