"""``type = "manual"``: a carrier account whose shipments the ERP makes; marketd only records them."""
from __future__ import annotations

from marketd.sdk import (Carrier, InFlight, Message, ParcelResult, ShipmentRequest, ShipmentResult, TrackingResult,
                        TrackingStatus)

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
        if not request.options.get("tracking_number"):
            return [Message(self.name, "a manual carrier line needs the ERP's tracking_number", "tracking_number",
                            details={"fix": "fill tracking_number (and carrier_code) on this line"})]
        numbers = [t for t in str(request.options["tracking_number"]).split("|") if t.strip()]
        if len(numbers) not in (1, len(request.parcels)):
            return [Message(self.name, f"{len(numbers)} tracking numbers for {len(request.parcels)} parcels",
                            "tracking_number", details={"fix": "give one tracking number, or one per parcel"})]
        return []

    def create_shipment(self, request: ShipmentRequest) -> ShipmentResult:
        numbers = [t.strip() for t in str(request.options.get("tracking_number", "")).split("|") if t.strip()]
        parcels = [ParcelResult(parcel_number=numbers[i] if len(numbers) > 1 else numbers[0],
                                tracking_number=numbers[i] if len(numbers) > 1 else numbers[0])
                   for i in range(len(request.parcels))]
        return ShipmentResult(self.name, shipment_id=numbers[0], parcels=parcels,
                              tracking_url=self.tracking_url(numbers[0]))

    def track(self, tracking_or_parcel_id: str) -> TrackingResult:
        return TrackingResult(self.name, tracking_or_parcel_id, TrackingStatus.unknown, found=False,
                              messages=[Message(self.name, "tracking is kept by the ERP, not polled", "manual", "info")])


factory = ManualCarrier  # the class is the factory; its settings_model declares the keys
