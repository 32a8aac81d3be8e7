"""Every config table the plugin reads, as a model: a typo or a wrong type stops start-up."""
from __future__ import annotations

from marketd.sdk import CarrierSettings, ChannelSettings, InboxSettings, JobSettings, SecretRef


class DemoShopSettings(ChannelSettings):
    """``[channels.<name>] type = "demoshop"``."""

    base_url: str
    api_key_secret: SecretRef = SecretRef("DEMO_SHOP_API_KEY")   # the env var / credential, never the key
    timeout: float = 30.0


class DemoPostSettings(CarrierSettings):
    """``[carriers.<name>] type = "demopost"``."""

    base_url: str
    api_key_secret: SecretRef = SecretRef("DEMO_POST_API_KEY")


class StockInboxSettings(InboxSettings):
    """``[inbox.stock]``: the core inbox keys plus the warehouse the file's quantities are for."""

    warehouse: str = "main"


class LowStockJobSettings(JobSettings):
    """``[jobs.demo-low-stock]``: the job's schedule plus its own threshold."""

    threshold: int | None = None
