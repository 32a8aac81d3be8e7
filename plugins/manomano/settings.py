"""The ManoMano plugin's config table: ``[channels.<name>] type = "manomano"``, one table per
ManoMano *contract* (a country storefront / delivery type, ``seller_contract_id``). Keys and
defaults are documented in docs/plugins/manomano.md."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, model_validator

from marketd.sdk import ChannelSettings, SecretRef, __version__

ENDPOINT = "https://partnersapi.manomano.com"
SANDBOX_ENDPOINT = "https://partnersapi.sandbox.manomano.com"

# Keys that would hold the API key in clear; the message names the variable to use instead.
FORBIDDEN_KEYS = ("api_key", "x_api_key", "key", "secret", "token", "password")

# "250 requests per hour per API key" (research api-contracts §3, third-party, unconfirmed).
REQUESTS_PER_HOUR = 250.0


def env_name(account: str, what: str = "API_KEY") -> str:
    """``MARKETD_MANOMANO_<ACCOUNT>_<WHAT>``, the account name upper-cased, other chars as ``_``."""
    return f"MARKETD_MANOMANO_{re.sub(r'[^A-Z0-9]+', '_', account.upper()).strip('_')}_{what}"


def secrets_in_clear(name: str, leaked: list[str]) -> str:
    return (f"holds {', '.join(leaked)} in clear: the ManoMano API key must come from an environment variable or "
            f"a systemd credential. Remove the key and set {env_name(name)} (or LoadCredential= with that name; "
            "or name your own with api_key_secret)")


class ManoManoChannelSettings(ChannelSettings):
    contract_id: int = Field(..., gt=0)                    # seller_contract_id of this storefront
    country: str = ""                                      # informational (FR, IT, ES, DE…)
    orders_sync: bool = False                              # nothing is fetched until true
    accept: Literal["manual", "auto"] = "manual"           # PENDING orders: a person decides, or accept on sync
    thirdparty_name: str = f"marketd_v{__version__}"        # x-thirdparty-name
    payout_overdue_days: float = Field(35, gt=0)           # `marketd status` warns past this without a payout file
    endpoint: str | None = None                            # default: production, or the sandbox host
    sandbox: bool = False
    api_key_secret: SecretRef | None = None                # default MARKETD_MANOMANO_<ACCOUNT>_API_KEY
    initial_days: float = Field(30, gt=0)
    overlap_seconds: float = Field(300, ge=0)
    page_size: int = Field(100, ge=1, le=100)              # ManoMano: 30 by default, at most 100
    requests_per_hour: float = Field(REQUESTS_PER_HOUR, gt=0)
    sync_share: float = Field(0.7, gt=0, le=1)             # of the hourly budget, what order sync may use
    max_wait_seconds: float = 30                           # < 0: wait as long as the rate limit needs
    run_seconds: float = Field(60, gt=0)                   # a sync run stops taking new pages after this
    carrier_names: dict[str, str] = Field(default_factory=dict)   # our carrier code -> ManoMano carrier name
    tracking_urls: dict[str, str] = Field(default_factory=dict)   # our carrier code -> URL with {tracking_number}
    timeout: float = Field(30, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets_in_clear(cls, data, info: ValidationInfo):
        leaked = sorted(k for k in FORBIDDEN_KEYS if isinstance(data, dict) and data.get(k))
        if leaked:
            raise ValueError(secrets_in_clear((info.context or {}).get("name") or "<name>", leaked))
        return data

    @model_validator(mode="after")
    def _templates_have_a_placeholder(self):
        bad = [code for code, url in self.tracking_urls.items() if "{tracking_number}" not in url]
        if bad:
            raise ValueError(f"tracking_urls.{bad[0]} must contain {{tracking_number}}, e.g. "
                             "\"https://carrier.example/track?n={tracking_number}\"")
        return self
