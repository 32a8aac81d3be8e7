"""``[inbox.catalog]``: the core inbox keys (``columns`` maps ERP column names to ours) plus the
catalog's own. See docs/plugins/catalog.md."""
from __future__ import annotations

from pydantic import Field

from marketd.sdk import InboxSettings


class CatalogSettings(InboxSettings):
    defaults: dict[str, str | int | float] = Field(default_factory=dict)   # values for absent columns
    required_columns: list[str] | None = None                              # None: every column in REQUIRED
