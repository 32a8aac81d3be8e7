"""Unified carrier models: one request/result shape for every carrier plugin.

The design follows karrio's split (studied, not copied): plugins translate these plain models
to and from their carrier's API in one module that does all the HTTP, and report business
problems as :class:`Message` data, never as exceptions. The only exception a carrier raises is
:class:`marketd.errors.TransientError`, for transport trouble worth retrying (timeouts, 429,
5xx after the HTTP client's own retries).

Units are fixed: weights in kilograms and dimensions in centimetres, as ``Decimal``. Times are
timezone-aware UTC.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from .numbers import DOT, MEASURE, DecimalStyle, NumberError, NumberKind, parse_decimal
from .settings import CarrierSettings, validate

__all__ = [
    "Address", "Parcel", "ShipmentRequest", "Label", "ParcelResult", "ShipmentResult",
    "TrackingEvent", "TrackingResult", "Message", "Carrier", "LabelFormat", "TrackingStatus",
    "FINAL_STATUSES", "EXCEPTION_STATUSES", "InFlight", "to_decimal",
]


class LabelFormat(str, Enum):
    PDF = "PDF"
    ZPL = "ZPL"

    @classmethod
    def parse(cls, value: "str | LabelFormat | None", default: "LabelFormat | None" = None) -> "LabelFormat":
        if isinstance(value, LabelFormat):
            return value
        text = (value or "").strip().upper()
        if not text:
            if default is None:
                raise ValueError("label format missing: use PDF or ZPL")
            return default
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"label format {value!r} is not supported: use PDF or ZPL")

    @property
    def suffix(self) -> str:
        return "." + self.value.lower()


class TrackingStatus(str, Enum):
    """Normalised tracking status (karrio's vocabulary, reduced to what sellers act on)."""

    pending = "pending"                    # created, carrier has no scan yet
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    delivery_failed = "delivery_failed"    # attempt failed / held at depot; may still be delivered
    return_to_sender = "return_to_sender"
    lost = "lost"
    unknown = "unknown"                    # the carrier answered something we cannot map


FINAL_STATUSES = frozenset({TrackingStatus.delivered, TrackingStatus.return_to_sender, TrackingStatus.lost})
# Statuses a person should look at (reported to outbox/reports by the tracking sync).
EXCEPTION_STATUSES = frozenset({TrackingStatus.delivery_failed, TrackingStatus.return_to_sender, TrackingStatus.lost})


def to_decimal(value: Any, what: str = "value", style: DecimalStyle | str | None = None,
               kind: NumberKind = MEASURE) -> Decimal | None:
    """``Decimal`` from text/number through the one number parser (``style``: the file's decimal
    style, None reads a value on its own); ``None``/empty gives ``None``. A JSON float is read as
    the shortest text that gives it back. Raises :class:`NumberError` (a ValueError) naming ``what``."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
        style = DOT
    try:
        return parse_decimal(value, style, kind)
    except NumberError as exc:
        raise NumberError(exc.text, exc.why, what) from None


@dataclass
class Message:
    """A carrier's answer that is not a result: an error, a warning or a note.

    ``level`` is ``error`` (the operation did not happen), ``warning`` (it happened, but look) or
    ``info``. ``code`` is the carrier's own code when it has one.
    """

    carrier: str
    text: str
    code: str = ""
    level: str = "error"
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"{self.carrier}{code}: {self.text}"


@dataclass
class Address:
    name: str = ""
    company: str = ""
    street: str = ""
    street2: str = ""
    postal_code: str = ""
    city: str = ""
    province: str = ""          # state/region/province, as the carrier's country writes it
    country: str = ""           # ISO 3166-1 alpha-2
    phone: str = ""
    email: str = ""

    def missing(self) -> list[str]:
        """Fields every carrier needs that are empty."""
        need = {"name": self.name or self.company, "street": self.street, "postal_code": self.postal_code,
                "city": self.city, "country": self.country}
        return [k for k, v in need.items() if not (v or "").strip()]

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Address":
        data = data or {}
        return cls(**{k: str(data.get(k) or "").strip() for k in cls.__dataclass_fields__})


@dataclass
class Parcel:
    weight_kg: Decimal
    length_cm: Decimal | None = None
    width_cm: Decimal | None = None
    height_cm: Decimal | None = None
    reference: str = ""

    def __post_init__(self):
        self.weight_kg = to_decimal(self.weight_kg, "weight_kg")
        if self.weight_kg is None or self.weight_kg <= 0:
            raise ValueError("parcel weight_kg must be a positive number of kilograms")
        for dim in ("length_cm", "width_cm", "height_cm"):
            v = to_decimal(getattr(self, dim), dim)
            if v is not None and v <= 0:
                raise ValueError(f"parcel {dim} must be positive")
            setattr(self, dim, v)

    @property
    def volume_m3(self) -> Decimal | None:
        if None in (self.length_cm, self.width_cm, self.height_cm):
            return None
        return (self.length_cm * self.width_cm * self.height_cm / Decimal(1_000_000)).quantize(Decimal("0.001"))

    def as_dict(self) -> dict:
        return {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


@dataclass
class ShipmentRequest:
    """What to ship: one carrier shipment, one or more parcels, for one or more orders.

    ``idempotency_key`` is stable for the same request line across re-runs; carriers send it
    as their own reference where the API has one, so a retried create can be recognised. A
    carrier whose reference field is shorter than the key derives its own reference from it.
    ``options`` carries what only some carriers read (a ``package_size`` class, the ERP's own
    ``tracking_number`` …).
    ``order_keys`` are store order keys (``"<channel>:<order_id>"``), ``references`` the
    seller-visible order numbers printed on the label.
    """

    carrier: str                       # carrier account name ([carriers.<name>])
    parcels: list[Parcel]
    recipient: Address
    sender: Address = field(default_factory=Address)
    service: str = ""
    label_format: LabelFormat = LabelFormat.PDF
    references: list[str] = field(default_factory=list)
    order_keys: list[str] = field(default_factory=list)
    idempotency_key: str = ""
    sequence: int = 0                  # a number unique per shipment in this daemon (numeric refs)
    cod_amount: Decimal | None = None
    cod_currency: str = ""
    notes: str = ""
    options: dict = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return self.references[0] if self.references else ""


@dataclass
class Label:
    data: bytes
    format: LabelFormat

    @property
    def suffix(self) -> str:
        return self.format.suffix


@dataclass
class ParcelResult:
    parcel_number: str = ""        # the carrier's parcel/barcode number (printed on the label)
    tracking_number: str = ""      # what tracking and buyers use
    label: Label | None = None


@dataclass
class ShipmentResult:
    carrier: str
    shipment_id: str = ""
    parcels: list[ParcelResult] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    tracking_url: str = ""
    meta: dict = field(default_factory=dict)   # carrier references needed later (confirm/cancel)
    confirmed: bool = True

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.level == "error"]

    @property
    def ok(self) -> bool:
        return bool(self.shipment_id) and not self.errors

    @property
    def tracking_number(self) -> str:
        return self.parcels[0].tracking_number if self.parcels else ""


@dataclass
class TrackingEvent:
    at: datetime | None
    description: str = ""
    code: str = ""
    location: str = ""
    status: TrackingStatus = TrackingStatus.unknown

    def as_dict(self) -> dict:
        return {"at": self.at.isoformat() if self.at else None, "description": self.description,
                "code": self.code, "location": self.location, "status": self.status.value}


@dataclass
class TrackingResult:
    carrier: str
    tracking_number: str
    status: TrackingStatus = TrackingStatus.unknown
    events: list[TrackingEvent] = field(default_factory=list)   # newest first
    messages: list[Message] = field(default_factory=list)
    delivered_at: datetime | None = None
    final: bool | None = None        # None: derived from the status
    found: bool = True               # False: the carrier does not know the number (yet)
    tracking_url: str = ""

    def __post_init__(self):
        if self.final is None:
            self.final = self.status in FINAL_STATUSES

    @property
    def first_scan(self) -> bool:
        """The carrier has physically seen the parcel (at least one real event)."""
        return self.found and bool(self.events)

    def summary(self) -> str:
        if not self.found:
            text = "not known to the carrier yet"
        elif self.events:
            e = self.events[0]
            when = e.at.strftime("%Y-%m-%d %H:%M") if e.at else "?"
            text = f"{when} {e.code} {e.description}".strip()
        else:
            text = self.status.value
        if self.messages:
            text += " | " + "; ".join(str(m) for m in self.messages)
        return text


class InFlight(str, Enum):
    """What a carrier does with a create call that may or may not have reached it (crash)."""

    retry = "retry"            # create is idempotent on our reference: just call again
    recover = "recover"        # the carrier implements ``recover(request, meta)``
    review = "review"          # unknown: a person must check with the carrier


class Carrier:
    """Base for carrier plugins. Subclasses set ``type`` and implement the operations.

    ``name`` is the account name from ``[carriers.<name>]``; ``settings`` that table, validated
    against ``settings_model``. Operations return results with messages; only
    :class:`TransientError` is raised. A rule about shipments *other* carriers make (a
    marketplace's own delivery service claiming some orders, say) is a ``veto_shipment`` hook,
    not a method here.
    """

    type: str = ""
    settings_model: type[CarrierSettings] = CarrierSettings
    label_formats: tuple[LabelFormat, ...] = (LabelFormat.PDF, LabelFormat.ZPL)
    in_flight: InFlight = InFlight.review
    # The marketplace moves the order status itself from this carrier's tracking: the
    # tracking sync records status but never pushes to the channel.
    channel_managed: bool = False
    # Tracking is polled at the carrier; False for ERP-supplied (manual) tracking numbers.
    trackable: bool = True
    # What ``track()`` takes: the parcel's ``tracking_number`` or the carrier's ``shipment_id``.
    track_by: str = "tracking_number"

    def __init__(self, app, name: str, settings: CarrierSettings | dict | None):
        self.app = app
        self.name = name
        # Validated at start-up already; a dict (a carrier built by hand) is checked the same way here.
        self.settings = validate(self.settings_model, settings if settings is not None else {"type": self.type},
                                 f"[carriers.{name}]", name)

    # -- identity used when pushing to a channel ------------------------------------------------
    @property
    def channel_carrier_code(self) -> str:
        """The carrier code channels know (their carrier code field), from ``channel_carrier_code``."""
        return self.settings.get("channel_carrier_code") or self.type.upper()

    @property
    def channel_carrier_name(self) -> str:
        return self.settings.get("channel_carrier_name") or self.channel_carrier_code

    def channel_codes(self, declared: str = "") -> tuple[str, str]:
        """(carrier code, carrier name) for the channel; ``declared`` is a per-line carrier code."""
        if declared:
            return declared, declared
        return self.channel_carrier_code, self.channel_carrier_name

    def tracking_url(self, tracking_number: str) -> str:
        template = self.settings.get("tracking_url", "")
        return template.format(tracking_number=tracking_number) if template else ""

    def default_label_format(self) -> LabelFormat:
        return LabelFormat.parse(self.settings.get("label_format"), LabelFormat.PDF)

    # -- operations -----------------------------------------------------------------------------
    def create_shipment(self, request: ShipmentRequest) -> ShipmentResult:  # pragma: no cover
        raise NotImplementedError

    def confirm(self, shipment: ShipmentResult) -> list[Message]:
        """Confirm a created shipment (carriers in explicit-confirm mode). Default: nothing to do."""
        return []

    def cancel(self, shipment: ShipmentResult) -> list[Message]:  # pragma: no cover
        return [Message(self.name, "this carrier cannot cancel shipments through marketd", "unsupported")]

    def track(self, tracking_or_parcel_id: str) -> TrackingResult:  # pragma: no cover
        raise NotImplementedError

    def recover(self, request: ShipmentRequest, meta: dict) -> ShipmentResult:  # pragma: no cover
        """Called instead of ``create_shipment`` when a previous create for the same request may
        have reached the carrier before a crash (``in_flight = InFlight.recover``)."""
        raise NotImplementedError

    # -- policy ---------------------------------------------------------------------------------
    def check_request(self, request: ShipmentRequest, orders: list[dict]) -> list[Message]:
        """Carrier-side checks before anything is sent (missing fields, unsupported formats)."""
        msgs = []
        if request.label_format not in self.label_formats:
            msgs.append(Message(self.name, f"label format {request.label_format.value} is not offered by "
                                           f"{self.type}; use one of {', '.join(f.value for f in self.label_formats)}",
                                "label_format"))
        return msgs

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
