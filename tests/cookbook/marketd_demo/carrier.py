"""The DemoPost carrier: ZPL labels and tracking from its API, errors as messages."""
from __future__ import annotations

from marketd.sdk import (Carrier, HttpClient, InFlight, Label, LabelFormat, Message, ParcelResult, RetryPolicy,
                         ShipmentRequest, ShipmentResult, TrackingResult, TrackingStatus)

from .settings import DemoPostSettings

STATUS = {"in_transit": TrackingStatus.in_transit, "delivered": TrackingStatus.delivered}


class DemoPostCarrier(Carrier):
    type = "demopost"
    label_formats = (LabelFormat.ZPL,)
    in_flight = InFlight.review          # no idempotent create: a crash mid-call is for a person to check
    settings_model = DemoPostSettings
    settings: DemoPostSettings

    def _http(self, once: bool = False) -> HttpClient:
        # A create is sent once (a retried POST could ship twice); reads retry.
        return HttpClient(self.settings.base_url, transport=self.settings.transport, clock=self.app.clock,
                          retry=RetryPolicy(max_attempts=1 if once else 3), name=f"demopost {self.name}",
                          headers={"x-api-key": self.app.secret(self.settings.api_key_secret)})

    def create_shipment(self, request: ShipmentRequest) -> ShipmentResult:
        to = request.recipient
        body = {"reference": request.idempotency_key, "weight_kg": str(sum(p.weight_kg for p in request.parcels)),
                "to": {"name": to.name, "street": to.street, "postal_code": to.postal_code, "city": to.city,
                       "country": to.country}}
        with self._http(once=True) as http:
            resp = http.post("/shipments", json=body, operation="create")
        if resp.status_code != 201:
            return ShipmentResult(self.name, messages=[Message(self.name, resp.json().get("error", resp.text),
                                                               str(resp.status_code))])
        doc = resp.json()
        label = Label(doc["label"].encode(), LabelFormat.ZPL)
        return ShipmentResult(self.name, shipment_id=doc["tracking"],
                              parcels=[ParcelResult(doc["tracking"], doc["tracking"], label)])

    def track(self, tracking_or_parcel_id: str) -> TrackingResult:
        with self._http() as http:
            resp = http.get(f"/tracking/{tracking_or_parcel_id}", operation="track")
        if resp.status_code == 404:
            return TrackingResult(self.name, tracking_or_parcel_id, found=False)
        return TrackingResult(self.name, tracking_or_parcel_id, STATUS.get(resp.json()["status"], TrackingStatus.unknown))
