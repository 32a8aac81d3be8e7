"""The MALL plugin's config tables: ``[channels.<name>] type = "mall"`` (a MALL partner account)
and ``[carriers.<name>] type = "mall_delivery"``. Keys and defaults are documented in
docs/plugins/mall.md and docs/plugins/carriers.md.

Both speak MPAPI on the same host with the same ``client_id``, so a MALL Delivery account that
names one MALL channel (``channel`` / ``channels``) uses that channel's client (its secret, rate
limit and daily quota); its own ``client_id_secret`` is the fallback for a carrier configured
without a channel account.
"""
from __future__ import annotations

import re
from decimal import Decimal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from marketd.sdk import CarrierSettings, ChannelSettings, SecretRef

# MPAPI as MALL Group documents it (knowledge base, Apiary, mallgroup/mpapi-client-php v5). MALL's
# storefronts changed owners (CZ/SK moved into Allegro in 2025, SI/HR sold in 2026): ask MALL which
# host serves your storefront and set base_url.
DEFAULT_BASE_URL = "https://mpapi.mallgroup.com"
FORBIDDEN_KEYS = ("client_id", "api_key", "token", "secret", "password")


def env_name(account: str, what: str = "CLIENT_ID") -> str:
    """``MARKETD_MALL_<ACCOUNT>_<WHAT>``, the account name upper-cased, other chars as ``_``."""
    return f"MARKETD_MALL_{re.sub(r'[^A-Z0-9]+', '_', account.upper()).strip('_')}_{what}"


class MallChannelSettings(ChannelSettings):
    country: str = ""                      # informational: MALL identifies the country by the client_id
    orders_sync: bool = False              # nothing calls MALL for orders until the operator opts in
    auto_confirm: bool = False             # confirm open orders after each sync (else: marketd mall confirm)
    timezone: str = "Europe/Prague"        # MALL's times carry no offset
    include_test_orders: bool = False
    invoices_fetch: bool = False           # the mall-finance job (self-billing invoices and offsets)
    finance_days: float = 120              # how far back the finance job looks on its first run
    daily_quota_orders: int | None = None  # MALL's daily quota of /v1/orders/* calls (partner portal)
    daily_quota_other: int | None = None   # ... of every other call (the Financial API among them)
    daily_quota_products: int | None = None      # ... of /v1/products/* calls (listings: products, prices)
    daily_quota_availability: int | None = None  # ... of /v1/availability calls (listings: stock)
    currency: str = "CZK"                  # the storefront's currency (MALL's article prices carry none)
    vat: Decimal | None = None             # VAT rate of a product whose content names none (e.g. 21)
    availability_batch: int = Field(100, ge=1, le=1000)   # articles per POST /v1/availability [unverified limit]
    returns_check_hours: float = 24        # how often delivered orders are checked for returns
    page_size: int = 100
    base_url: str = DEFAULT_BASE_URL
    client_id_secret: SecretRef | None = None   # default MARKETD_MALL_<ACCOUNT>_CLIENT_ID
    requests_per_second: float = 2.0
    timeout: float = 30.0

    @field_validator("vat", mode="before")
    @classmethod
    def _rate(cls, value):
        """``vat = 21`` or ``"21"`` in the config file: a Decimal (never through a float's digits)."""
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value))
        except ArithmeticError:
            raise ValueError(f"vat = {value!r}: write the rate as a number, e.g. 21") from None

    @model_validator(mode="before")
    @classmethod
    def _no_secrets_in_clear(cls, data, info: ValidationInfo):
        leaked = sorted(k for k in FORBIDDEN_KEYS if isinstance(data, dict) and data.get(k))
        if leaked:
            name = (info.context or {}).get("name") or "<name>"
            raise ValueError(f"holds {', '.join(leaked)} in clear: the MALL client_id is the account's API key. "
                             f"Remove the key and set {env_name(name)} (or LoadCredential= with that name; or name "
                             "your own with client_id_secret)")
        return data


class MallDeliverySettings(CarrierSettings):
    channels: list[str] | str = Field(default_factory=list)  # the MALL channel account(s) MDP is active for
    channel: str | None = None                                # one account (older spelling of `channels`)
    active: bool = True                                       # false: the smallbox rule is off
    client_id_secret: SecretRef = SecretRef("MALL_CLIENT_ID")  # used when no MALL channel account is named
    labels_per_page: int = 4                                  # MALL's PDF is "4 labels per A4"
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = 2.0
    timeout: float = 30.0
