"""BRT payload mapping without HTTP: the quirks the research lists (§5)."""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from decimal import Decimal

from marketd.carriers import Address, LabelFormat, Parcel, ShipmentRequest, TrackingStatus
from marketd.plugins.brt import mapper

SETTINGS = {"departure_depot": 102, "sender_customer_code": 1020304}


def request(parcels=2, fmt=LabelFormat.PDF):
    return ShipmentRequest(
        carrier="brt", parcels=[Parcel(Decimal("1.25"), 30, 20, 10) for _ in range(parcels)],
        recipient=Address(name="Mario Rossi", street="Via Roma 1", postal_code="00184", city="Roma", province="rm",
                          country="it", phone="+39061234567"),
        label_format=fmt, references=["402-1"], idempotency_key="M0123456789ABCD", sequence=42)


def test_create_payload_has_account_refs_and_totals():
    p = mapper.create_payload(request(), SETTINGS, {"userID": "u", "password": "p"})
    d = p["createData"]
    assert p["account"] == {"userID": "u", "password": "p"}
    assert d["numericSenderReference"] == 42 and d["alphanumericSenderReference"] == "M0123456789ABCD"
    assert d["numberOfParcels"] == 2 and d["weightKG"] == 2.5 and d["volumeM3"] == 0.012
    assert d["consigneeProvinceAbbreviation"] == "RM" and d["consigneeCountryAbbreviationISOAlpha2"] == "IT"
    assert p["labelParameters"]["outputType"] == "PDF" and p["isLabelRequired"] == "1"


def test_http_200_with_error_inside_is_an_error_message():
    body = {"createResponse": {"executionMessage": {"code": -63, "severity": "ERROR",
                                                    "codeDesc": "ROUTING CALCULATION ERROR", "message": "CAP x"}}}
    res = mapper.parse_create("brt", body, request(), SETTINGS)
    assert not res.ok and res.shipment_id == ""
    assert res.errors[0].code == "-63" and "ROUTING CALCULATION ERROR" in res.errors[0].text


def test_single_label_object_instead_of_list():
    stream = base64.b64encode(b"^XA^FDx^FS^XZ").decode()
    body = {"createResponse": {"executionMessage": {"code": 0, "severity": "INFO"}, "parcelNumberFrom": "000000007",
                               "parcelNumberTo": "000000007",
                               "labels": {"label": {"stream": stream, "parcelID": "0102000000000007"}}}}
    res = mapper.parse_create("brt", body, request(1, LabelFormat.ZPL), SETTINGS)
    assert res.ok and len(res.parcels) == 1
    assert res.parcels[0].tracking_number == "0102000000000007"
    assert res.parcels[0].parcel_number == "000000007"
    assert res.parcels[0].label.data.startswith(b"^XA")


def test_tracking_not_found_is_pending_not_an_error():
    body = {"ttParcelIdResponse": {"executionMessage": {"code": -1, "codeDesc": "NOT FOUND"}, "esito": -1}}
    t = mapper.parse_tracking("brt", "X", body)
    assert t.status == TrackingStatus.pending and not t.found and not t.final
    assert all(m.level != "error" for m in t.messages)


def test_tracking_drops_padding_and_reads_newest_first():
    empty = {"evento": {"data": "", "ora": "", "id": "", "descrizione": "", "filiale": ""}}
    body = {"ttParcelIdResponse": {"executionMessage": {"code": 0}, "esito": 0, "bolla": {"dati_consegna": {}},
                                   "lista_eventi": [
                                       {"evento": {"data": "03.11.2026", "ora": "09.30", "id": "703",
                                                   "descrizione": "IN CONSEGNA", "filiale": "ROMA"}},
                                       {"evento": {"data": "02.11.2026", "ora": "18.05", "id": "701",
                                                   "descrizione": "RITIRATA", "filiale": "MILANO"}},
                                       empty, empty, empty]}}
    t = mapper.parse_tracking("brt", "X", body)
    assert t.status == TrackingStatus.out_for_delivery and len(t.events) == 2 and t.first_scan
    assert t.events[0].at == datetime(2026, 11, 3, 8, 30, tzinfo=timezone.utc)  # CET = UTC+1


def test_tracking_delivered_from_data_consegna_and_single_evento_object():
    body = {"ttParcelIdResponse": {"executionMessage": {"code": 0}, "esito": 0, "bolla": {
        "dati_consegna": {"data_consegna_merce": "04.11.2026", "ora_consegna_merce": "11.00"},
        "eventi": {"evento": {"data": "04.11.2026", "ora": "11.00", "id": "704", "descrizione": "CONSEGNATA"}}}}}
    t = mapper.parse_tracking("brt", "X", body)
    assert t.status == TrackingStatus.delivered and t.final
    assert t.delivered_at == datetime(2026, 11, 4, 10, 0, tzinfo=timezone.utc)


def test_unknown_codes_fall_back_to_descriptions():
    assert mapper.event_status("XYZ", "RESO AL MITTENTE") == TrackingStatus.return_to_sender
    assert mapper.event_status("", "MANCATA CONSEGNA - ASSENTE") == TrackingStatus.delivery_failed
    assert mapper.event_status("", "CONSEGNATA") == TrackingStatus.delivered
    assert mapper.event_status("", "???") == TrackingStatus.unknown


def test_a_key_longer_than_brts_reference_is_digested_never_cut():
    """Two keys that share their first 15 characters must not become one BRT reference."""
    a, b = "M0123456789ABCD-line-1", "M0123456789ABCD-line-2"
    ra, rb = mapper.sender_reference(a), mapper.sender_reference(b)
    assert len(ra) == len(rb) == 15 and ra != rb and ra == mapper.sender_reference(a)
    assert mapper.sender_reference("M0123456789ABCD") == "M0123456789ABCD"  # today's keys fit as they are
