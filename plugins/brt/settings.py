"""``[carriers.<name>] type = "brt"``: the keys every carrier account has plus BRT's own
(docs/plugins/carriers.md)."""
from __future__ import annotations

from typing import Literal

from marketd.sdk import CarrierSettings, SecretRef

DEFAULT_BASE_URL = "https://api.brt.it/rest/v1"
DEFAULT_TRACKING_URL = "https://vas.brt.it/vas/sped_det_show.hsm?chisono={tracking_number}"


class BrtSettings(CarrierSettings):
    departure_depot: int                         # required: BRT's departure depot
    sender_customer_code: int                    # required: the customer code BRT gave the seller
    user_id: str | None = None                   # BRT userID in clear (it is not a secret) …
    user_id_secret: SecretRef = SecretRef("BRT_USER_ID")    # … or the env var / credential holding it
    password_secret: SecretRef = SecretRef("BRT_PASSWORD")
    network: str = ""                            # "", "D" (DPD), "E" (Euroexpress)
    freight_type: str = "DAP"                    # deliveryFreightTypeCode: DAP or EXW
    service_type: str = ""
    pricing_condition_code: str = ""
    confirm: Literal["auto", "explicit"] = "auto"
    reference_offset: int = 0                    # added to marketd's shipment number
    alerts: bool = True                          # BRT's e-mail/SMS alerts when the recipient has them
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = 5.0
    timeout: float = 30.0
