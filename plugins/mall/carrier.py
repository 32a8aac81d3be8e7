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

from marketd.sdk import (Carrier, InFlight, LabelFormat, Message, ParcelResult, ShipmentRequest, ShipmentResult,
                         TrackingResult, TrackingStatus)

from . import mapper
from .client import MallClient
from .settings import MallDeliverySettings


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
        """The named MALL channel account's client when there is exactly one (same ``client_id``,
        rate limit and daily quota: MALL counts them per partner); else this carrier's own, with
        ``client_id_secret``. An explicit ``client_id_secret`` or ``base_url`` keeps its own."""
        if self._client is None:
            shared = self._channel_client()
            if shared is not None:
                self._client = shared
                return shared
            self._client = MallClient(
                self.name, self.settings.base_url, tag="mall_delivery",
                client_id=lambda: self.app.secret(self.settings.client_id_secret),
                transport=self._transport, clock=self.app.clock,
                requests_per_second=self.settings.requests_per_second, timeout=self.settings.timeout)
        return self._client

    def _channel_client(self) -> MallClient | None:
        if {"client_id_secret", "base_url"} & self.settings.model_fields_set:
            return None
        names = self.mall_channels()
        if len(names) != 1:
            return None
        from .channel import MallChannel

        channel = self.app.channels.get(next(iter(names)))
        return channel.client if isinstance(channel, MallChannel) else None

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
        size = str(request.options.get("package_size") or "").lower() or mapper.package_size(order)
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
        elif status in mapper.REPRINT_ONLY:
            notes.append(Message(self.name, f"MALL order {oid} is already {status}: these are the last labels "
                                            "printed for it (MALL allows only reprints after shipping)",
                                 "reprint", "warning"))
        elif status != "shipping":
            return ShipmentResult(self.name, messages=[Message(
                self.name, f"MALL order {oid} is {status}: labels can be made only for open or shipping orders",
                "status")])
        per_page = self.settings.labels_per_page
        data, msgs = self.client.labels(mapper.labels_request(oid, len(request.parcels), request.label_format, per_page))
        if data is None:
            return ShipmentResult(self.name, messages=msgs)
        barcodes = mapper.barcodes_of(data, oid)
        if not barcodes:
            return ShipmentResult(self.name, messages=[Message(self.name, f"MALL returned no barcodes for order {oid}",
                                                               "labels")])
        labels, unusable = mapper.split_labels(self.name, data, request.label_format, per_page, len(barcodes))
        notes += unusable
        parcels = [ParcelResult(parcel_number=b, tracking_number=b, label=labels[i] if i < len(labels) else None)
                   for i, b in enumerate(barcodes)]
        if len(barcodes) != len(request.parcels):
            notes.append(Message(self.name, f"MALL returned {len(barcodes)} barcodes for {len(request.parcels)} "
                                            "parcels (a reprint keeps the first count)", "parcels", "warning"))
        return ShipmentResult(self.name, shipment_id=oid, parcels=parcels, messages=notes,
                              meta={"order_id": oid, "barcodes": barcodes})

    def cancel(self, shipment: ShipmentResult) -> list[Message]:
        return [Message(self.name, "MALL Delivery shipments are cancelled in the MALL partner portal", "unsupported")]

    def track(self, tracking_or_parcel_id: str) -> TrackingResult:
        oid = tracking_or_parcel_id
        order, msgs = self.client.get_order(oid)
        if order is None:
            return TrackingResult(self.name, oid, TrackingStatus.unknown, found=False, messages=msgs)
        return mapper.tracking_result(self.name, oid, order)


factory = MallDeliveryCarrier  # the class is the factory; its settings_model declares the keys
