"""The health plugin's config tables (docs/plugins/health.md).

- ``[inbox.health]``: files about account health (performance report JSON, Voice of the Customer,
  feedback, returns, case log, saved Amazon e-mails) and the thresholds they are judged by;
- ``[inbox.notifications]``: Amazon notification JSON (saved SQS messages);
- ``[jobs.health-reports]``: which channel accounts' reports are fetched, and how often;
- ``[jobs.health-alerts]``: where alerts go (webhook, e-mail) and the storm limit;
- ``[jobs.health-digest]``: the daily digest (a cron job, 07:00 by default).

Rates are written as text (``"0.10"``) and read as ``Decimal``: a threshold compared with a
rate must not change in a float round trip.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import Field, field_validator

from marketd.sdk import InboxSettings, JobSettings, SecretRef, Settings


def _decimal_text(value: str) -> str:
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number: write it as text, e.g. \"0.10\"") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{value!r} must be a number >= 0")
    return value


class ReturnsSettings(Settings):
    """``[inbox.health.returns]``: when a SKU's returns raise an alert."""

    window_days: int = Field(30, ge=1)
    rate_threshold: str = "0.10"            # returned units / units sold in the window
    min_units: int = Field(20, ge=1)        # below this many units sold a rate is not judged
    reason_thresholds: dict[str, str] = Field(default_factory=dict)   # reason code -> its own threshold
    negative_threshold: int = Field(3, ge=1)  # negative feedback per SKU in the window

    _num = field_validator("rate_threshold")(_decimal_text)

    @field_validator("reason_thresholds")
    @classmethod
    def _reasons(cls, value: dict) -> dict:
        for v in value.values():
            _decimal_text(v)
        return value


class HealthSettings(InboxSettings):
    account: str | None = None              # the account a hand-dropped file belongs to (else from its name)
    returns: ReturnsSettings = Field(default_factory=ReturnsSettings)
    default_deadline_days: int = Field(7, ge=1)     # a case without a deadline in its text
    escalate_after_days: int = Field(3, ge=0)       # overdue this long: critical
    voc_labels: dict[str, str] = Field(default_factory=dict)   # extra CX Health label -> canonical
    feedback_pii: Literal["drop", "hash"] = "drop"  # rater e-mails are never stored in clear


class NotificationsSettings(InboxSettings):
    account: str | None = None   # the account of a notification without a seller id (ACCOUNT_STATUS_CHANGED)
    accounts_by_seller: dict[str, str] = Field(default_factory=dict)  # SellerId -> channel account


class ReportsJobSettings(JobSettings):
    accounts: list[str] = Field(default_factory=list)   # channel accounts to fetch for (empty: none)
    # each channel fetches the kinds it offers (Amazon: performance, feedback, returns; eBay: compliance)
    kinds: list[Literal["performance", "feedback", "returns", "compliance"]] = Field(
        default_factory=lambda: ["performance", "feedback", "returns", "compliance"])
    every_hours: float = Field(24, gt=0)    # a new report of a kind at most this often


class QueueJobSettings(JobSettings):
    accounts: list[str] = Field(default_factory=list)   # channel accounts whose notification queue is read
    wait_seconds: int = Field(10, ge=0, le=20)          # SQS long poll per receive
    max_batches: int = Field(100, ge=1)                 # receives per run and account (10 messages each)
    max_receives: int = Field(5, ge=1)                  # an unreadable message is set aside after this many
    visibility_seconds: int = Field(120, ge=0)          # how long a received message stays hidden from others


class AlertsJobSettings(JobSettings):
    immediate: list[str] = Field(default_factory=lambda: ["critical", "high"])
    storm_threshold: int = Field(20, ge=1)          # more new alerts than this in the window: one storm message
    storm_window_seconds: int = Field(600, ge=1)
    webhook_url: str | None = None
    webhook_secret: SecretRef | None = None         # HMAC key; default MARKETD_ALERTS_WEBHOOK_SECRET
    webhook_timeout: float = Field(10.0, gt=0)
    mail_to: list[str] = Field(default_factory=list)  # through the [mail] server (marketd.sdk.mail)
    give_up_hours: float = Field(72, gt=0)          # a delivery failing this long is dead (marketd status shows it)


class DigestJobSettings(JobSettings):
    pass
