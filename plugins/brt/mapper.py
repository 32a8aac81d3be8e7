"""BRT payloads in and out: unified models <-> BRT REST JSON. No HTTP here (that is ``client.py``).

Everything BRT-specific the research found (api-contracts §5) lives here: the ``account`` in
the body, ``executionMessage`` errors inside HTTP 200 answers, labels as one object or a list,
tracking "not found" while BRT has not registered the parcel yet, event lists padded with
empty placeholders, ``bolla.eventi.evento`` as an object or a list, and dates as
``DD.MM.YYYY`` / ``HH.MM`` Italian local time.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketd.sdk import (Label, Message, ParcelResult, ShipmentRequest, ShipmentResult, TrackingEvent, TrackingResult,
                        TrackingStatus)

ROME = ZoneInfo("Europe/Rome")
MAX_ADDRESS = 35
MAX_SENDER_REFERENCE = 15  # alphanumericSenderReference

# Event ids seen in third-party clients (701..704, MIC); descriptions are matched as a fallback.
STATUS_BY_CODE = {
    "701": TrackingStatus.in_transit,
    "702": TrackingStatus.in_transit,
    "703": TrackingStatus.out_for_delivery,
    "704": TrackingStatus.delivered,
    "MIC": TrackingStatus.delivery_failed,
}
KEYWORDS = [
    (("SMARRIT",), TrackingStatus.lost),
    (("RESO", "RESTITU", "RIENTR", "RITORNO AL MITTENTE"), TrackingStatus.return_to_sender),
    (("MANCATA CONSEGNA", "GIACENZA", "RIFIUT", "INDIRIZZO ERRATO"), TrackingStatus.delivery_failed),
    (("IN CONSEGNA",), TrackingStatus.out_for_delivery),
    (("CONSEGNATA", "CONSEGNATO"), TrackingStatus.delivered),
    (("RITIRAT", "PARTIT", "ARRIVAT", "TRANSIT", "LAVORAZIONE", "AFFIDAT"), TrackingStatus.in_transit),
]


def _num(d: Decimal | None, places: str = "0.1"):
    if d is None:
        return None
    return float(d.quantize(Decimal(places)))


def execution_messages(carrier: str, body: dict | None) -> list[Message]:
    """``executionMessage`` → messages: code < 0 or severity ERROR is an error."""
    em = (body or {}).get("executionMessage") or {}
    if not em:
        return []
    try:
        code = int(em.get("code", 0))
    except (TypeError, ValueError):
        code = 0
    severity = str(em.get("severity") or "").upper()
    text = " - ".join(t for t in (str(em.get("codeDesc") or "").strip(), str(em.get("message") or "").strip()) if t)
    if code < 0 or severity == "ERROR":
        return [Message(carrier, text or f"BRT error {code}", str(code), "error",
                        {"severity": severity,
                         "fix": "correct the line (address, CAP/province, weight) and send it again in a new file"})]
    if severity in ("WARNING", "WARN") or code > 0:
        return [Message(carrier, text or f"BRT warning {code}", str(code), "warning", {"severity": severity})]
    return []


def sender_reference(idempotency_key: str) -> str:
    """Our idempotency key as BRT's 15-character alphanumeric reference: the key itself when it
    fits, else a digest of it (never a cut, which could make two keys one reference)."""
    if len(idempotency_key) <= MAX_SENDER_REFERENCE:
        return idempotency_key
    return "M" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:MAX_SENDER_REFERENCE - 1].upper()


def references(req: ShipmentRequest, settings) -> dict:
    return {
        "senderCustomerCode": int(settings["sender_customer_code"]),
        "numericSenderReference": int(settings.get("reference_offset", 0)) + int(req.sequence),
        "alphanumericSenderReference": sender_reference(req.idempotency_key),
    }


def create_payload(req: ShipmentRequest, settings: dict, account: dict) -> dict:
    r = req.recipient
    street = r.street if not r.street2 or len(f"{r.street} {r.street2}") > MAX_ADDRESS else f"{r.street} {r.street2}"
    weight = sum((p.weight_kg for p in req.parcels), Decimal(0))
    vols = [p.volume_m3 for p in req.parcels]
    data = {
        "network": settings.get("network", ""),
        "departureDepot": int(settings["departure_depot"]),
        "deliveryFreightTypeCode": settings.get("freight_type", "DAP"),
        "consigneeCompanyName": (r.company or r.name)[:70],
        "consigneeAddress": street,
        "consigneeZIPCode": r.postal_code,
        "consigneeCity": r.city,
        "consigneeProvinceAbbreviation": r.province.upper() if len(r.province) == 2 else r.province,
        "consigneeCountryAbbreviationISOAlpha2": r.country.upper(),
        "consigneeContactName": r.name if r.company else "",
        "consigneeTelephone": r.phone,
        "consigneeMobilePhoneNumber": r.phone,
        "consigneeEMail": r.email,
        "isAlertRequired": "1" if (r.email or r.phone) and settings.get("alerts", True) else "0",
        "pricingConditionCode": settings.get("pricing_condition_code", ""),
        "serviceType": req.service or settings.get("service_type", ""),
        "numberOfParcels": len(req.parcels),
        "weightKG": _num(weight),
        "isCODMandatory": "1" if req.cod_amount else "0",
        "notes": (req.notes or "")[:70],
        **references(req, settings),
    }
    if None not in vols:
        data["volumeM3"] = _num(sum(vols, Decimal(0)), "0.001")
    if req.cod_amount:
        data["cashOnDelivery"] = _num(req.cod_amount, "0.01")
        data["codCurrency"] = req.cod_currency or "EUR"
    data = {k: v for k, v in data.items() if v not in (None, "")}
    return {
        "account": account,
        "createData": data,
        "isLabelRequired": "1",
        "labelParameters": {
            "outputType": req.label_format.value, "offsetX": "0", "offsetY": "0",
            "isBorderRequired": "0", "isLogoRequired": "0", "isBarcodeControlRowRequired": "0",
        },
    }


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_create(carrier: str, body: dict, req: ShipmentRequest, settings: dict) -> ShipmentResult:
    cr = (body or {}).get("createResponse")
    if not isinstance(cr, dict):
        return ShipmentResult(carrier, messages=[Message(carrier, "BRT answered without a createResponse", "format")])
    msgs = execution_messages(carrier, cr)
    if any(m.level == "error" for m in msgs):
        return ShipmentResult(carrier, messages=msgs)
    refs = references(req, settings)
    labels = _as_list((cr.get("labels") or {}).get("label"))
    parcels = []
    try:
        first = int(cr.get("parcelNumberFrom") or 0)
    except (TypeError, ValueError):
        first = 0
    for i, lab in enumerate(labels):
        stream = lab.get("stream")
        label = None
        if stream:
            try:
                label = Label(base64.b64decode(stream, validate=False), req.label_format)
            except (binascii.Error, ValueError):
                msgs.append(Message(carrier, f"label of parcel {i + 1} is not valid base64", "label", "warning"))
        number = str(lab.get("parcelNumberGeoPost") or (f"{first + i:09d}" if first else ""))
        parcels.append(ParcelResult(parcel_number=number, tracking_number=str(lab.get("parcelID") or number), label=label))
    if len(parcels) != len(req.parcels):
        msgs.append(Message(carrier, f"BRT returned {len(parcels)} labels for {len(req.parcels)} parcels",
                            "labels", "warning"))
    meta = {**refs, "parcelNumberFrom": cr.get("parcelNumberFrom"), "parcelNumberTo": cr.get("parcelNumberTo"),
            "departureDepot": cr.get("departureDepot"), "arrivalDepot": cr.get("arrivalDepot")}
    shipment_id = f"{refs['senderCustomerCode']}-{refs['numericSenderReference']}-{refs['alphanumericSenderReference']}"
    if not parcels:
        msgs.append(Message(carrier, "BRT created the shipment but returned no parcels", "labels"))
    confirmed = str(settings.get("confirm", "auto")).lower() != "explicit"
    return ShipmentResult(carrier, shipment_id, parcels, msgs, meta=meta, confirmed=confirmed)


def confirm_payload(meta: dict, account: dict) -> dict:
    return {"account": account, "confirmData": _ref_section(meta)}


def delete_payload(meta: dict, account: dict) -> dict:
    return {"account": account, "deleteData": _ref_section(meta)}


def _ref_section(meta: dict) -> dict:
    out = {"senderCustomerCode": meta["senderCustomerCode"], "numericSenderReference": meta["numericSenderReference"]}
    if meta.get("alphanumericSenderReference"):
        out["alphanumericSenderReference"] = meta["alphanumericSenderReference"]
    return out


# -- tracking -----------------------------------------------------------------------------------
def event_status(code: str, description: str) -> TrackingStatus:
    if code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    text = (description or "").upper()
    for words, status in KEYWORDS:
        if any(w in text for w in words):
            return status
    return TrackingStatus.unknown


def parse_when(day: str, time_: str = "") -> datetime | None:
    day = (day or "").strip()
    if not day:
        return None
    for fmt in ("%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d", "%Y%m%d"):
        try:
            d = datetime.strptime(day, fmt)
            break
        except ValueError:
            continue
    else:
        return None
    t = (time_ or "").strip().replace(":", ".")
    if t:
        try:
            hh, mm = (int(x) for x in t.split(".")[:2])
            d = d.replace(hour=hh, minute=mm)
        except ValueError:
            pass
    return d.replace(tzinfo=ROME).astimezone(timezone.utc)


def _events(body: dict) -> list[dict]:
    raw = body.get("lista_eventi")
    if raw is None:
        raw = ((body.get("bolla") or {}).get("eventi") or {}).get("evento")
    out = []
    for item in _as_list(raw):
        ev = item.get("evento", item) if isinstance(item, dict) else None
        if not isinstance(ev, dict):
            continue
        if not any(str(ev.get(k) or "").strip() for k in ("id", "data", "descrizione")):
            continue  # the padding BRT adds
        out.append(ev)
    return out


def parse_tracking(carrier: str, number: str, body: dict) -> TrackingResult:
    tr = (body or {}).get("ttParcelIdResponse")
    if not isinstance(tr, dict):
        return TrackingResult(carrier, number, TrackingStatus.unknown, found=False,
                              messages=[Message(carrier, "BRT answered without ttParcelIdResponse", "format", "warning")])
    em = tr.get("executionMessage") or {}
    try:
        code = int(em.get("code", 0))
    except (TypeError, ValueError):
        code = 0
    try:
        esito = int(tr.get("esito", 0))
    except (TypeError, ValueError):
        esito = 0
    if code < 0 or esito < 0:
        # Not (yet) known: BRT registers parcels minutes to hours after creation.
        text = str(em.get("message") or em.get("codeDesc") or "not found").strip()
        return TrackingResult(carrier, number, TrackingStatus.pending, found=False,
                              messages=[Message(carrier, f"not yet known to BRT ({text})", str(code), "info")])
    events = []
    for ev in _events(tr):
        code_ = str(ev.get("id") or "").strip()
        desc = str(ev.get("descrizione") or "").strip()
        events.append(TrackingEvent(at=parse_when(ev.get("data"), ev.get("ora")), description=desc, code=code_,
                                    location=str(ev.get("filiale") or "").strip(), status=event_status(code_, desc)))
    events.sort(key=lambda e: e.at or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
    bolla = tr.get("bolla") or {}
    consegna = bolla.get("dati_consegna") or {}
    delivered_day = str(consegna.get("data_consegna_merce") or "").strip()
    delivered_at = parse_when(delivered_day, consegna.get("ora_consegna_merce")) if delivered_day else None
    if delivered_day:
        status = TrackingStatus.delivered
    elif events:
        status = next((e.status for e in events if e.status != TrackingStatus.unknown), TrackingStatus.unknown)
    else:
        status = TrackingStatus.pending
    if status == TrackingStatus.delivered and delivered_at is None:
        delivered_at = next((e.at for e in events if e.status == TrackingStatus.delivered), None)
    return TrackingResult(carrier, number, status, events, [], delivered_at=delivered_at)
