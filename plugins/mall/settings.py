"""The MALL plugin's config tables: ``[carriers.<name>] type = "mall_delivery"``, the keys every
carrier account has plus MALL Delivery's own (docs/plugins/carriers.md). A MALL channel account
will add its table here, with the same ``base_url`` and ``client_id_secret``."""
from __future__ import annotations

from pydantic import Field

from marketd.sdk import CarrierSettings, SecretRef

DEFAULT_BASE_URL = "https://mpapi.mallgroup.com"   # MPAPI, for channel and carrier alike


class MallDeliverySettings(CarrierSettings):
    channels: list[str] | str = Field(default_factory=list)  # the MALL channel account(s) MDP is active for
    channel: str | None = None                                # one account (older spelling of `channels`)
    active: bool = True                                       # false: the smallbox rule is off
    client_id_secret: SecretRef = SecretRef("MALL_CLIENT_ID")
    labels_per_page: int = 4                                  # MALL's PDF is "4 labels per A4"
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = 2.0
    timeout: float = 30.0
