"""``type = "manual"``: a carrier account whose shipments the ERP makes; marketd only records them
(the numbers are read in ``mapper.py``; nothing is called, so there is no client and no fake)."""
from __future__ import annotations

from marketd.sdk import (Carrier, InFlight, Message, ShipmentRequest, ShipmentResult, TrackingResult,
                         TrackingStatus)

from . import mapper
from .settings import ManualSettings


class ManualCarrier(Carrier):
    type = "manual"
    trackable = False
    in_flight = InFlight.retry  # nothing is sent anywhere
    settings_model = ManualSettings
    settings: ManualSettings

    @property
    def channel_carrier_code(self) -> str:
        return self.settings.channel_carrier_code or "Other"

    def channel_codes(self, declared: str = "") -> tuple[str, str]:
        """``carrier_codes`` maps the ERP's carrier names to channel codes, e.g. ``{"DHL Paket" = "DHL"}``."""
        if declared:
            return self.settings.carrier_codes.get(declared, declared), declared
        return self.channel_carrier_code, self.settings.channel_carrier_name or self.name

    def check_request(self, request: ShipmentRequest, orders: list[dict]) -> list[Message]:
        numbers = mapper.tracking_numbers(request.options.get("tracking_number"))
        return mapper.problems(self.name, numbers, len(request.parcels))

    def create_shipment(self, request: ShipmentRequest) -> ShipmentResult:
        numbers = mapper.tracking_numbers(request.options.get("tracking_number"))
        return ShipmentResult(self.name, shipment_id=numbers[0],
                              parcels=mapper.parcel_results(numbers, len(request.parcels)),
                              tracking_url=self.tracking_url(numbers[0]))

    def track(self, tracking_or_parcel_id: str) -> TrackingResult:
        return TrackingResult(self.name, tracking_or_parcel_id, TrackingStatus.unknown, found=False,
                              messages=[Message(self.name, "tracking is kept by the ERP, not polled", "manual", "info")])


factory = ManualCarrier  # the class is the factory; its settings_model declares the keys
