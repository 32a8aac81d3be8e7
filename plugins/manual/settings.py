"""``[carriers.<name>] type = "manual"``: the ERP's own carrier (docs/plugins/carriers.md)."""
from __future__ import annotations

from pydantic import Field

from marketd.sdk import CarrierSettings


class ManualSettings(CarrierSettings):
    carrier_codes: dict[str, str] = Field(default_factory=dict)   # ERP carrier names -> channel carrier codes
