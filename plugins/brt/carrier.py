"""The BRT carrier: ``[carriers.<name>] type = "brt"`` (keys in docs/plugins/carriers.md)."""
from __future__ import annotations

from marketd.sdk import (Carrier, InFlight, LabelFormat, Message, ShipmentRequest, ShipmentResult, TrackingResult,
                        TrackingStatus)

from . import mapper
from .client import BrtClient
from .settings import DEFAULT_TRACKING_URL, BrtSettings


class BrtCarrier(Carrier):
    type = "brt"
    label_formats = (LabelFormat.PDF, LabelFormat.ZPL)
    # A create that may have reached BRT before a crash is undone by our reference (delete)
    # and made again: BRT keys shipments by senderCustomerCode + sender references.
    in_flight = InFlight.recover
    settings_model = BrtSettings
    settings: BrtSettings

    def __init__(self, app, name: str, settings: BrtSettings | dict, transport=None):
        super().__init__(app, name, settings)
        self._transport = transport if transport is not None else self.settings.transport
        self._client: BrtClient | None = None

    # -- plumbing -------------------------------------------------------------------------------
    def credentials(self) -> tuple[str, str]:
        """Read at first use so a missing secret only affects this carrier, not the whole daemon."""
        user = self.settings.user_id or self.app.secret(self.settings.user_id_secret)
        password = self.app.secret(self.settings.password_secret)
        return str(user), password

    @property
    def client(self) -> BrtClient:
        if self._client is None:
            self._client = BrtClient(
                self.name, self.settings.base_url, credentials=self.credentials,
                transport=self._transport, clock=self.app.clock,
                requests_per_second=self.settings.requests_per_second, timeout=self.settings.timeout)
        return self._client

    @property
    def channel_carrier_code(self) -> str:
        return self.settings.channel_carrier_code or "BRT"

    @property
    def channel_carrier_name(self) -> str:
        return self.settings.channel_carrier_name or "BRT"

    def tracking_url(self, tracking_number: str) -> str:
        template = self.settings.tracking_url or DEFAULT_TRACKING_URL
        return template.format(tracking_number=tracking_number) if tracking_number else ""

    # -- checks ---------------------------------------------------------------------------------
    def check_request(self, request: ShipmentRequest, orders: list[dict]) -> list[Message]:
        msgs = super().check_request(request, orders)
        r = request.recipient
        if len(r.street) > mapper.MAX_ADDRESS:
            msgs.append(Message(self.name, f"street {r.street!r} is longer than {mapper.MAX_ADDRESS} characters "
                                           "(BRT's limit)", "address",
                                details={"fix": "shorten the street (move extras to street2 or notes)"}))
        if r.country.upper() == "IT" and len(r.province) != 2:
            msgs.append(Message(self.name, f"Italian province {r.province!r} must be the 2-letter code (e.g. RM)",
                                "province", details={"fix": "put the 2-letter province code in recipient_province"}))
        if len(request.parcels) > 99:
            msgs.append(Message(self.name, "BRT takes at most 99 parcels per shipment", "parcels"))
        return msgs

    # -- operations -----------------------------------------------------------------------------
    def create_shipment(self, request: ShipmentRequest) -> ShipmentResult:
        payload = mapper.create_payload(request, self.settings, self.client.account())
        body, msgs = self.client.create(payload)
        if body is None:
            return ShipmentResult(self.name, messages=msgs)
        result = mapper.parse_create(self.name, body, request, self.settings)
        if result.ok:
            result.tracking_url = self.tracking_url(result.tracking_number)
        return result

    def recover(self, request: ShipmentRequest, meta: dict) -> ShipmentResult:
        """Delete whatever a crashed attempt may have created under our reference, then create."""
        refs = mapper.references(request, self.settings)
        body, msgs = self.client.delete(mapper.delete_payload(refs, self.client.account()))
        if body is not None:
            errs = mapper.execution_messages(self.name, body.get("deleteResponse"))
            picked = [m for m in errs if "PICKED" in m.text.upper() or "RITIRAT" in m.text.upper()]
            if picked:
                return ShipmentResult(self.name, messages=[Message(
                    self.name, f"a shipment with reference {refs['alphanumericSenderReference']} already exists and "
                               "was picked up; check it in the BRT portal", "in_flight")])
        return self.create_shipment(request)

    def confirm(self, shipment: ShipmentResult) -> list[Message]:
        body, msgs = self.client.confirm(mapper.confirm_payload(shipment.meta, self.client.account()))
        if body is None:
            return msgs
        return mapper.execution_messages(self.name, body.get("confirmResponse"))

    def cancel(self, shipment: ShipmentResult) -> list[Message]:
        body, msgs = self.client.delete(mapper.delete_payload(shipment.meta, self.client.account()))
        if body is None:
            return msgs
        return mapper.execution_messages(self.name, body.get("deleteResponse"))

    def track(self, tracking_or_parcel_id: str) -> TrackingResult:
        body, msgs = self.client.track(tracking_or_parcel_id)
        if body is None:
            return TrackingResult(self.name, tracking_or_parcel_id, TrackingStatus.unknown, found=False, messages=msgs)
        result = mapper.parse_tracking(self.name, tracking_or_parcel_id, body)
        result.tracking_url = self.tracking_url(tracking_or_parcel_id)
        return result


factory = BrtCarrier  # the class is the factory; its settings_model declares the keys
