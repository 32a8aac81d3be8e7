"""The shipments plugin's config tables: ``[inbox.shipments]``, ``[inbox.tracking]`` and
``[jobs.tracking-sync]`` (docs/plugins/carriers.md)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from marketd.sdk import AddressTable, InboxSettings, JobSettings


class ShipmentsInboxSettings(InboxSettings):
    carrier: str | None = None                    # defaults for lines that leave them empty
    service: str | None = None
    label_format: Literal["PDF", "ZPL", "pdf", "zpl"] | None = None
    sender: AddressTable = Field(default_factory=dict)      # overrides carriers' sender fields for every line
    require_known_order: bool = True              # false: ship lines whose order is not in the store
    allow_reship: bool = False                    # true: no already_shipped check
    concurrency: int = Field(4, ge=1)             # carrier calls at a time


class TrackingInboxSettings(InboxSettings):
    carrier: str = "erp"                          # the manual carrier account the lines are recorded under


class TrackingSyncSettings(JobSettings):
    """The tracking sync's polling policy (``policy.TrackingPolicy`` holds the defaults)."""

    first_check: float | None = None
    pending_factor: float | None = None
    pending_max: float | None = None
    transit_interval: float | None = None
    out_for_delivery_interval: float | None = None
    failed_interval: float | None = None
    error_base: float | None = None
    error_max: float | None = None
    pending_alert_hours: float | None = None
    give_up_days: float | None = None
    batch_size: int | None = None
    chunk: int | None = None
    push_retry: float | None = None
    label_retention_days: int | None = None
    round_seconds: float | None = None
