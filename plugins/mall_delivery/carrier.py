"""MALL Delivery (MDP, "MALL Doprava"): labels from MALL, status moved by MALL.

Rules from MALL's partner help (seed 004) and the MPAPI docs (research §4):

- once MALL Delivery is active, labels come from MALL (``POST /v1/orders/labels``) and the
  seller must not ship with the old carrier: the smallbox method is entirely MALL's. So this
  carrier **vetoes** any shipment of a smallbox order of its MALL channel(s) with another
  carrier (the ``veto_shipment`` hook in ``__init__``, asking each MALL Delivery account's
  ``veto``);
- labels can be made only while the order is in ``shipping`` (marketd confirms an ``open``
  order and moves it to ``shipping`` first); the parcel count can change only there; after
  ``shipped`` only the last version can be reprinted;
- MALL sets ``shipped`` when the carrier picks the parcels up and adds the tracking number
  then; delivered/returned/lost follow from the carrier's tracking. marketd therefore never
  pushes tracking to the channel for these shipments (``channel_managed``): the tracking sync
  only reads the order status.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime
from zoneinfo import ZoneInfo

from marketd.sdk import (Carrier, InFlight, Label, LabelFormat, Message, ParcelResult, ShipmentRequest, ShipmentResult,
                        TrackingEvent, TrackingResult, TrackingStatus)
from marketd.sdk.labels import LabelError, split_pdf_labels, zpl_blocks

from .client import MallClient
from .orders import package_size
from .settings import MallDeliverySettings

STATUS = {
    "blocked": TrackingStatus.pending, "open": TrackingStatus.pending, "shipping": TrackingStatus.pending,
    "shipped": TrackingStatus.in_transit, "delivered": TrackingStatus.delivered,
    "returned": TrackingStatus.return_to_sender, "lost": TrackingStatus.lost, "cancelled": TrackingStatus.unknown,
}
CONSIGNMENT = {
    "CREATED": TrackingStatus.pending, "RECEIVED": TrackingStatus.in_transit,
    "DELIVERING": TrackingStatus.out_for_delivery, "READY_FOR_PICKUP": TrackingStatus.out_for_delivery,
    "DELIVERED": TrackingStatus.delivered, "DAMAGED": TrackingStatus.delivery_failed,
    "RETURNING": TrackingStatus.delivery_failed, "RETURNED": TrackingStatus.return_to_sender,
    "LOST": TrackingStatus.lost, "CANCELLED": TrackingStatus.unknown,
}
PRAGUE = ZoneInfo("Europe/Prague")


def _ts(text) -> datetime | None:
    """MALL's ``Y-m-d H:i:s`` (or ISO) as an aware time; no offset means MALL's local time."""
    if not text:
        return None
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PRAGUE)
    except ValueError:
        try:
            d = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            return None
        return d if d.tzinfo else d.replace(tzinfo=PRAGUE)


class MallDeliveryCarrier(Carrier):
    type = "mall_delivery"
    label_formats = (LabelFormat.PDF, LabelFormat.ZPL)
    in_flight = InFlight.retry       # labels for an order in `shipping` are idempotent
    channel_managed = True           # MALL moves the order status from the carrier's tracking
    track_by = "shipment_id"         # the MALL order id
    settings_model = MallDeliverySettings
    settings: MallDeliverySettings

    def __init__(self, app, name: str, settings: MallDeliverySettings | dict, transport=None):
        super().__init__(app, name, settings)
        self._transport = transport if transport is not None else self.settings.transport
        self._client: MallClient | None = None

    @property
    def client(self) -> MallClient:
        if self._client is None:
            self._client = MallClient(
                self.name, self.settings.base_url,
                client_id=lambda: self.app.secret(self.settings.client_id_secret),
                transport=self._transport, clock=self.app.clock,
                requests_per_second=self.settings.requests_per_second, timeout=self.settings.timeout)
        return self._client

    @property
    def active(self) -> bool:
        return self.settings.active

    @property
    def channel_carrier_code(self) -> str:
        return self.settings.channel_carrier_code or "MALL Delivery"

    def mall_channels(self) -> set[str]:
        ch = self.settings.channels or self.settings.channel or []
        return {ch} if isinstance(ch, str) else set(ch)

    def is_mall_order(self, order: dict | None) -> bool:
        if not order:
            return False
        chans = self.mall_channels()
        if chans:
            return order.get("channel") in chans
        return str(order.get("channel_type") or "").lower() in ("mall", "mall_marketplace")

    # -- policy ---------------------------------------------------------------------------------
    def veto(self, order, request: ShipmentRequest, carrier) -> Message | None:
        """Refuse ``carrier`` for a smallbox order of this account's MALL channel(s)."""
        if not self.active or carrier.type == self.type or not self.is_mall_order(order):
            return None
        size = str(request.options.get("package_size") or "").lower() or package_size(order)
        if size != "smallbox":
            return None
        return Message(
            self.name,
            f"MALL Delivery is active for {order['channel']}: smallbox order {order['order_id']} must ship with "
            f"MALL Delivery labels (carrier {self.name!r}), not with {carrier.name!r}. Shipping it with another "
            "carrier breaks MALL's order status sync and that carrier bills you.",
            "mall_delivery_smallbox", details={"fix": f"set carrier = {self.name} on this line"})

    def check_request(self, request: ShipmentRequest, orders: list[dict]) -> list[Message]:
        msgs = super().check_request(request, orders)
        ids = request.options.get("order_ids") or request.references
        if len(ids) != 1:
            msgs.append(Message(self.name, "MALL Delivery labels are made per MALL order: put one order on a line",
                                "one_order", details={"fix": "split the line into one line per order"}))
        for order in orders:
            if not self.is_mall_order(order):
                msgs.append(Message(self.name, f"order {order['key']} is not an order of the MALL channel(s) "
                                               f"{', '.join(sorted(self.mall_channels())) or '(type mall)'}",
                                    "not_mall", details={"fix": "ship it with another carrier"}))
        if len(request.parcels) > 100:
            msgs.append(Message(self.name, "MALL Delivery takes 1..100 parcels per order", "parcels"))
        bad = [str(i) for i in ids if not str(i).strip().isdigit()]
        if bad:
            msgs.append(Message(self.name, f"MALL order ids are numbers: {', '.join(repr(b) for b in bad)} is not one",
                                "order_id", details={"fix": "put the MALL order number in the `order` column"}))
        return msgs

    # -- operations -----------------------------------------------------------------------------
    def _order_id(self, request: ShipmentRequest) -> str:
        ids = request.options.get("order_ids") or request.references
        return str(ids[0])

    def create_shipment(self, request: ShipmentRequest) -> ShipmentResult:
        oid = self._order_id(request)
        order, msgs = self.client.get_order(oid)
        if order is None:
            return ShipmentResult(self.name, messages=msgs)
        if not order.get("mdp"):
            return ShipmentResult(self.name, messages=[Message(
                self.name, f"MALL order {oid} is not a MALL Delivery (MDP) order: ship it with your own carrier",
                "not_mdp")])
        status = order.get("status")
        notes = []
        if status == "open":
            body = {"status": "shipping"}
            if not order.get("confirmed"):
                body["confirmed"] = True
            done, msgs = self.client.update_order(oid, body)
            if done is None:
                return ShipmentResult(self.name, messages=msgs)
        elif status in ("shipped", "delivered", "returned", "lost"):
            notes.append(Message(self.name, f"MALL order {oid} is already {status}: these are the last labels "
                                            "printed for it (MALL allows only reprints after shipping)",
                                 "reprint", "warning"))
        elif status != "shipping":
            return ShipmentResult(self.name, messages=[Message(
                self.name, f"MALL order {oid} is {status}: labels can be made only for open or shipping orders",
                "status")])
        per_page = self.settings.labels_per_page
        body = {"labels_type": request.label_format.value.lower(), "first_position": 1, "labels_per_page": per_page,
                "labels": [{"order_id": int(oid) if oid.isdigit() else oid, "parcel_count": len(request.parcels)}]}
        data, msgs = self.client.labels(body)
        if data is None:
            return ShipmentResult(self.name, messages=msgs)
        entry = next((o for o in data.get("orders") or [] if str(o.get("order_id")) == oid), None)
        barcodes = [str(b) for b in (entry or {}).get("barcodes") or []]
        if not barcodes:
            return ShipmentResult(self.name, messages=[Message(self.name, f"MALL returned no barcodes for order {oid}",
                                                               "labels")])
        try:
            raw = base64.b64decode(data.get("labels_raw") or "", validate=False)
        except (binascii.Error, ValueError):
            raw = b""
        labels = self._split(raw, request.label_format, per_page, len(barcodes), notes)
        parcels = [ParcelResult(parcel_number=b, tracking_number=b, label=labels[i] if i < len(labels) else None)
                   for i, b in enumerate(barcodes)]
        if len(barcodes) != len(request.parcels):
            notes.append(Message(self.name, f"MALL returned {len(barcodes)} barcodes for {len(request.parcels)} "
                                            "parcels (a reprint keeps the first count)", "parcels", "warning"))
        return ShipmentResult(self.name, shipment_id=oid, parcels=parcels, messages=notes,
                              meta={"order_id": oid, "barcodes": barcodes})

    def _split(self, raw: bytes, fmt: LabelFormat, per_page: int, count: int, notes: list) -> list[Label]:
        try:
            if fmt == LabelFormat.ZPL:
                blocks = zpl_blocks(raw)
                if len(blocks) != count:
                    raise LabelError(f"{len(blocks)} ZPL labels for {count} parcels")
                return [Label(b.encode(), fmt) for b in blocks]
            return [Label(p, fmt) for p in split_pdf_labels(raw, per_page=per_page, count=count)]
        except LabelError as exc:
            notes.append(Message(self.name, f"MALL labels unusable: {exc}", "labels", "warning"))
            return []

    def cancel(self, shipment: ShipmentResult) -> list[Message]:
        return [Message(self.name, "MALL Delivery shipments are cancelled in the MALL partner portal", "unsupported")]

    def track(self, tracking_or_parcel_id: str) -> TrackingResult:
        oid = tracking_or_parcel_id
        order, msgs = self.client.get_order(oid)
        if order is None:
            return TrackingResult(self.name, oid, TrackingStatus.unknown, found=False, messages=msgs)
        status = STATUS.get(str(order.get("status")), TrackingStatus.unknown)
        events = []
        for name in ("shipping", "shipped", "delivered", "returned", "lost", "cancelled"):
            at = _ts(order.get(name))
            if at and name != "shipping":
                events.append(TrackingEvent(at=at, description=f"MALL order {name}", code=name,
                                            status=STATUS[name]))
        for h in order.get("consignment_status_history") or []:
            if isinstance(h, dict) and h.get("status"):
                st = str(h["status"]).upper()
                events.append(TrackingEvent(at=_ts(h.get("date")), description=f"consignment {st}", code=st,
                                            status=CONSIGNMENT.get(st, TrackingStatus.unknown)))
        events.sort(key=lambda e: e.at.timestamp() if e.at else 0, reverse=True)
        final = status in (TrackingStatus.delivered, TrackingStatus.return_to_sender, TrackingStatus.lost) \
            or order.get("status") == "cancelled"
        return TrackingResult(self.name, str(order.get("tracking_number") or oid), status, events,
                              delivered_at=_ts(order.get("delivered_at")), final=final,
                              tracking_url=str(order.get("tracking_url") or ""))


factory = MallDeliveryCarrier  # the class is the factory; its settings_model declares the keys
