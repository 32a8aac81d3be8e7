"""The settlements plugin's config table ``[inbox.settlements]`` (keys and defaults in
docs/plugins/settlements.md); ``[jobs.fees-report]`` has the keys every job has."""
from __future__ import annotations

from typing import Literal

from marketd.sdk import XLSX_MAX_ROWS, InboxSettings


class SettlementInboxSettings(InboxSettings):
    channel: str | list[str] | None = None   # the account(s) whose orders a file's references are matched against
    unsettled_days: float = 30
    unsettled_max_days: float = 180          # 0: no limit
    xlsx: bool = True
    xlsx_max_rows: int = XLSX_MAX_ROWS - 10  # what a sheet holds: the workbook is streamed, no cap of our own
    # "legacy": Amazon payouts keep the report names and columns of before the settlements plugin
    # (settlement-<id>.csv|.xlsx|-unsettled.csv), for ERPs that poll them
    report_names: Literal["channel", "legacy"] = "channel"
