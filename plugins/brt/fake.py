"""A fake BRT (Bartolini) REST API, faithful to what the research found (§5, §8.6), shipped with
the plugin: the tests run it in-process, ``marketd sandbox`` serves it on loopback.

Everything lives under :data:`API_PREFIX` (``/rest/v1``), as at BRT: a ``base_url`` without it
answers 404 on every call.

- Shipment endpoints take ``account{userID,password}`` in the body, tracking takes ``userID``
  and ``password`` headers (401 otherwise).
- Business errors come back as **HTTP 200** with ``executionMessage{code<0, severity:"ERROR"}``
  inside the response wrapper (e.g. ``ROUTING CALCULATION ERROR`` for a bad CAP/province).
- ``POST /shipments/shipment`` allocates parcel numbers and returns one label per parcel
  (PDF made with fpdf2, or ZPL), a single object instead of a list when there is one parcel.
  A create with the same ``senderCustomerCode`` + ``numericSenderReference`` +
  ``alphanumericSenderReference`` as a live shipment returns that shipment again (counted in
  ``duplicate_creates``) unless ``duplicate_policy="error"``.
- ``PUT /shipments/shipment`` (confirmData) confirms; ``PUT /shipments/delete`` works until pickup.
- ``GET /tracking/parcelID/{id}`` answers "not found" (``esito:-1``, ``code:-1``) until
  ``confirmed_at + tracking_delay`` (default 3 h; tests use 10 min .. 24 h). Then events appear
  one per ``event_interval``: 701 picked up, 702 in transit, 703 out for delivery, 704 delivered
  (``data_consegna_merce`` set), newest first, padded with empty placeholder events.
  Other outcomes per shipment: ``fake.set_outcome(parcel_id, "failed" | "returned")``.
- ``fail_next(pattern, status)`` injects 429/5xx; ``POST /__control/advance?seconds=`` moves time.
- ``track_log``: every tracking answer as ``(parcel_id, at, found)``, so a test can show that a
  parcel was asked about while BRT did not know it yet, and when it became visible
  (``visible_at(parcel_id)``).

End-to-end tests run the fake on the wall clock (``clock=SYSTEM_CLOCK``) against a real daemon,
which cannot share a ``FakeClock``: there ``short_delays=True`` allows a tracking delay of a few
seconds instead of BRT's 10 minutes to 24 hours.

Event codes beyond 701..704 ("MIC" failed delivery, "RES" returned) are illustrative: the
research has only 701..704 and MIC confirmed.
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketd.sdk import Address, Clock, FakeClock, LabelFormat, Parcel, ShipmentRequest, TrackingStatus
from marketd.sdk.fakes import (FakeService, Request, Response, SandboxCheckFailed, SandboxConfig, SandboxFake,
                               pdf_label, zpl_label)
from marketd.sdk.labels import check_pdf_label

ROME = ZoneInfo("Europe/Rome")
API_PREFIX = "/rest/v1"

REQUIRED = ["departureDepot", "senderCustomerCode", "consigneeCompanyName", "consigneeAddress",
            "consigneeZIPCode", "consigneeCity", "consigneeCountryAbbreviationISOAlpha2",
            "numberOfParcels", "weightKG", "numericSenderReference"]

EVENTS = {
    "delivered": [("701", "RITIRATA"), ("702", "IN TRANSITO"), ("703", "IN CONSEGNA"), ("704", "CONSEGNATA")],
    "failed": [("701", "RITIRATA"), ("702", "IN TRANSITO"), ("703", "IN CONSEGNA"),
               ("MIC", "MANCATA CONSEGNA - DESTINATARIO ASSENTE")],
    "returned": [("701", "RITIRATA"), ("702", "IN TRANSITO"), ("703", "IN CONSEGNA"),
                 ("MIC", "MANCATA CONSEGNA - DESTINATARIO ASSENTE"), ("RES", "RESO AL MITTENTE")],
}


def _msg(code=0, severity="INFO", desc="OK", message=""):
    return {"code": code, "severity": severity, "codeDesc": desc, "message": message}


class BrtFake(FakeService):
    def __init__(self, clock: Clock | None = None, *, user_id: str = "1020304", password: str = "brt-secret",
                 tracking_delay: float = 3 * 3600, event_interval: float = 2 * 3600, auto_confirm: bool = True,
                 padding: int = 10, duplicate_policy: str = "return_existing", single_event_object: bool = False,
                 bad_zips: set[str] | None = None, short_delays: bool = False, sender: dict | None = None):
        super().__init__(clock)
        if not (0 < tracking_delay <= 24 * 3600 if short_delays else 600 <= tracking_delay <= 24 * 3600):
            raise ValueError("tracking_delay must be between 10 minutes and 24 hours "
                             "(short_delays=True for a wall-clock end-to-end run)")
        self.user_id, self.password = user_id, password
        # BRT prints the sender from the customer's contract data (the API sends only the code)
        self.sender = sender or {"name": "Negozio Srl", "street": "Via Milano 5", "postal_code": "20100",
                                 "city": "Milano", "province": "MI"}
        self.tracking_delay = tracking_delay
        self.event_interval = event_interval
        self.auto_confirm = auto_confirm
        self.padding = padding
        self.duplicate_policy = duplicate_policy
        self.single_event_object = single_event_object
        self.bad_zips = set(bad_zips or {"00000"})
        self.shipments: dict[tuple, dict] = {}
        self.parcels: dict[str, tuple] = {}
        self.next_parcel = 1
        self.creates = 0
        self.duplicate_creates = 0
        self.track_calls = 0
        self.track_log: list[tuple[str, object, bool]] = []
        self.route("POST", API_PREFIX + r"/shipments/shipment", self.create, name="brt.create_shipment")
        self.route("PUT", API_PREFIX + r"/shipments/shipment", self.confirm, name="brt.confirm_shipment")
        self.route("PUT", API_PREFIX + r"/shipments/delete", self.delete, name="brt.delete_shipment")
        self.route("PUT", API_PREFIX + r"/shipments/routing", self.routing, name="brt.routing")
        self.route("GET", API_PREFIX + r"/tracking/parcelID/(?P<parcel_id>[^/]+)", self.track,
                   name="brt.tracking")

    # -- helpers --------------------------------------------------------------------------------
    def _auth_body(self, body: dict) -> bool:
        acct = body.get("account") or {}
        return acct.get("userID") == self.user_id and acct.get("password") == self.password

    def set_outcome(self, parcel_id: str, outcome: str) -> None:
        with self.lock:
            self.shipments[self.parcels[parcel_id]]["outcome"] = outcome

    def visible_at(self, parcel_id: str):
        """When BRT's tracking starts knowing this parcel (None: never, e.g. unconfirmed)."""
        with self.lock:
            return self._visible_from(self.shipments[self.parcels[parcel_id]])

    def live_shipments(self) -> list[dict]:
        return [s for s in self.shipments.values() if not s["deleted"]]

    def _routing_error(self, data: dict) -> str | None:
        zip_code = str(data.get("consigneeZIPCode", ""))
        country = data.get("consigneeCountryAbbreviationISOAlpha2", "")
        prov = str(data.get("consigneeProvinceAbbreviation", ""))
        if zip_code in self.bad_zips:
            return f"CAP {zip_code} unknown"
        if country == "IT" and (len(zip_code) != 5 or not zip_code.isdigit()):
            return f"CAP {zip_code!r} is not a 5-digit Italian postcode"
        if country == "IT" and (len(prov) != 2 or not prov.isalpha()):
            return f"province {prov!r} is not a 2-letter abbreviation"
        return None

    # -- shipment endpoints ---------------------------------------------------------------------
    def create(self, req: Request) -> Response:
        body = req.json() or {}
        if not self._auth_body(body):
            return Response(401, {"error": "invalid credentials"})
        data = body.get("createData") or {}
        missing = [k for k in REQUIRED if data.get(k) in (None, "")]
        if missing:
            return Response(200, {"createResponse": {"executionMessage": _msg(
                -10, "ERROR", "MISSING DATA", "missing fields: " + ", ".join(missing))}})
        if len(str(data.get("consigneeAddress", ""))) > 35:
            return Response(200, {"createResponse": {"executionMessage": _msg(
                -11, "ERROR", "FIELD TOO LONG", "consigneeAddress longer than 35 characters")}})
        err = self._routing_error(data)
        if err:
            return Response(200, {"createResponse": {"executionMessage": _msg(
                -63, "ERROR", "ROUTING CALCULATION ERROR", err)}})
        key = (int(data["senderCustomerCode"]), int(data["numericSenderReference"]),
               str(data.get("alphanumericSenderReference", "")))
        existing = self.shipments.get(key)
        if existing and not existing["deleted"]:
            if self.duplicate_policy == "error":
                return Response(200, {"createResponse": {"executionMessage": _msg(
                    -5, "ERROR", "SHIPMENT ALREADY EXISTS", "shipment with this reference already exists")}})
            self.duplicate_creates += 1
            return Response(200, {"createResponse": existing["response"]})
        n = int(data["numberOfParcels"])
        if not 1 <= n <= 99:
            return Response(200, {"createResponse": {"executionMessage": _msg(
                -12, "ERROR", "PARCELS", "numberOfParcels must be 1..99")}})
        self.creates += 1
        fmt = ((body.get("labelParameters") or {}).get("outputType") or "PDF").upper()
        first = self.next_parcel
        self.next_parcel += n
        now = self.clock.now()
        labels = []
        parcel_ids = []
        for i in range(n):
            number = f"{int(data['departureDepot']):03d}{first + i:09d}"
            parcel_id = f"0{int(data['departureDepot']):03d}{first + i:014d}"
            parcel_ids.append(parcel_id)
            snd = self.sender
            # BRT knows one weight per shipment (createData.weightKG), so its labels say so
            lines = [parcel_id, f"BRT {number}", str(data["consigneeCompanyName"])[:35],
                     str(data["consigneeAddress"]), f"{data['consigneeZIPCode']} {data['consigneeCity']} "
                     f"{data.get('consigneeProvinceAbbreviation', '')}",
                     f"Mittente: {snd['name']}, {snd['street']}, {snd['postal_code']} {snd['city']} "
                     f"{snd.get('province', '')}".rstrip(),
                     f"Rif. {data['numericSenderReference']} {data.get('alphanumericSenderReference', '')}",
                     f"Collo {i + 1}/{n}", f"Peso spedizione {data['weightKG']} kg ({n} colli)"]
            if fmt == "ZPL":
                stream = zpl_label(lines, parcel_id).encode()
            else:
                stream = pdf_label(lines)
            labels.append({"dataLength": len(stream), "parcelID": parcel_id, "stream": base64.b64encode(stream).decode(),
                           "parcelNumberGeoPost": number})
        response = {
            "executionMessage": _msg(0, "INFO", "OK", ""),
            "arrivalTerminal": "RM", "arrivalDepot": "170", "deliveryZone": "07",
            "parcelNumberFrom": f"{first:09d}", "parcelNumberTo": f"{first + n - 1:09d}",
            "departureDepot": data["departureDepot"], "seriesNumber": "1",
            "numericSenderReference": data["numericSenderReference"],
            "alphanumericSenderReference": data.get("alphanumericSenderReference", ""),
            "numberOfParcels": n, "weightKG": data["weightKG"],
            "labels": {"label": labels[0] if n == 1 else labels},
        }
        ship = {"key": key, "data": data, "created_at": now, "confirmed_at": now if self.auto_confirm else None,
                "deleted": False, "parcel_ids": parcel_ids, "response": response, "outcome": "delivered"}
        self.shipments[key] = ship
        for pid in parcel_ids:
            self.parcels[pid] = key
        return Response(200, {"createResponse": response})

    def _find(self, body: dict, section: str):
        d = body.get(section) or {}
        try:
            key = (int(d.get("senderCustomerCode")), int(d.get("numericSenderReference")),
                   str(d.get("alphanumericSenderReference", "")))
        except (TypeError, ValueError):
            return None
        s = self.shipments.get(key)
        return s if s and not s["deleted"] else None

    def confirm(self, req: Request) -> Response:
        body = req.json() or {}
        if not self._auth_body(body):
            return Response(401, {"error": "invalid credentials"})
        ship = self._find(body, "confirmData")
        if ship is None:
            return Response(200, {"confirmResponse": {"executionMessage": _msg(
                -21, "ERROR", "SHIPMENT NOT FOUND", "no shipment with these references")}})
        if ship["confirmed_at"] is None:
            ship["confirmed_at"] = self.clock.now()
        return Response(200, {"confirmResponse": {"executionMessage": _msg()}})

    def delete(self, req: Request) -> Response:
        body = req.json() or {}
        if not self._auth_body(body):
            return Response(401, {"error": "invalid credentials"})
        ship = self._find(body, "deleteData")
        if ship is None:
            return Response(200, {"deleteResponse": {"executionMessage": _msg(
                -21, "ERROR", "SHIPMENT NOT FOUND", "no shipment with these references")}})
        if self._picked_up(ship):
            return Response(200, {"deleteResponse": {"executionMessage": _msg(
                -22, "ERROR", "SHIPMENT ALREADY PICKED UP", "the depot has taken the parcels")}})
        ship["deleted"] = True
        return Response(200, {"deleteResponse": {"executionMessage": _msg()}})

    def routing(self, req: Request) -> Response:
        body = req.json() or {}
        if not self._auth_body(body):
            return Response(401, {"error": "invalid credentials"})
        err = self._routing_error(body.get("routingData") or {})
        if err:
            return Response(200, {"routingResponse": {"executionMessage": _msg(-63, "ERROR", "ROUTING CALCULATION ERROR", err)}})
        return Response(200, {"routingResponse": {"executionMessage": _msg()}})

    # -- tracking -------------------------------------------------------------------------------
    def _visible_from(self, ship: dict):
        if ship["confirmed_at"] is None:
            return None
        return ship["confirmed_at"] + timedelta(seconds=self.tracking_delay)

    def _picked_up(self, ship: dict) -> bool:
        t0 = self._visible_from(ship)
        return t0 is not None and self.clock.now() >= t0

    def track(self, req: Request, parcel_id: str) -> Response:
        if req.headers.get("userid") != self.user_id or req.headers.get("password") != self.password:
            return Response(401, {"error": "invalid credentials"})
        self.track_calls += 1
        key = self.parcels.get(parcel_id)
        ship = self.shipments.get(key) if key else None
        now = self.clock.now()
        t0 = self._visible_from(ship) if ship and not ship["deleted"] else None
        self.track_log.append((parcel_id, now, not (t0 is None or now < t0)))
        if t0 is None or now < t0:
            return Response(200, {"ttParcelIdResponse": {
                "executionMessage": _msg(-1, "ERROR", "NOT FOUND", "spedizione non trovata"),
                "esito": -1, "versione": "1"}})
        steps = EVENTS[ship["outcome"]]
        shown = [(t0 + timedelta(seconds=i * self.event_interval), code, desc) for i, (code, desc) in enumerate(steps)
                 if t0 + timedelta(seconds=i * self.event_interval) <= now]
        events = []
        for at, code, desc in reversed(shown):  # newest first
            local = at.astimezone(ROME)
            events.append({"evento": {"data": local.strftime("%d.%m.%Y"), "ora": local.strftime("%H.%M"),
                                      "id": code, "descrizione": desc, "filiale": "ROMA"}})
        delivered = shown and shown[-1][1] == "704"
        padded = events + [{"evento": {"data": "", "ora": "", "id": "", "descrizione": "", "filiale": ""}}
                           for _ in range(max(0, self.padding - len(events)))]
        state = shown[-1][2] if shown else ""
        bolla = {
            "dati_spedizione": {"spedizione_id": str(ship["key"][1]), "descrizione_stato_sped_parte1": state,
                                "stato_sped_parte1": shown[-1][1] if shown else ""},
            "dati_consegna": {"data_consegna_merce": shown[-1][0].astimezone(ROME).strftime("%d.%m.%Y") if delivered else "",
                              "ora_consegna_merce": shown[-1][0].astimezone(ROME).strftime("%H.%M") if delivered else ""},
            "riferimenti": {"riferimento_mittente_numerico": str(ship["key"][1]),
                            "riferimento_mittente_alfabetico": ship["key"][2]},
        }
        body = {"executionMessage": _msg(0, "INFO", "OK", ""), "esito": 0, "versione": "1", "bolla": bolla}
        if self.single_event_object:
            bolla["eventi"] = {"evento": events[0]["evento"]} if len(events) == 1 else {"evento": [e["evento"] for e in events]}
        else:
            body["lista_eventi"] = padded
        return Response(200, {"ttParcelIdResponse": body})

    def control(self, req: Request) -> Response:
        if req.path == "/__control/brt/stats":
            return Response(200, {"creates": self.creates, "duplicate_creates": self.duplicate_creates,
                                  "track_calls": self.track_calls, "shipments": len(self.live_shipments())})
        return super().control(req)


# -- what `marketd sandbox` serves -----------------------------------------------------------------
SANDBOX_ACCOUNT = "brt"
SANDBOX_RECIPIENT = Address(name="Giulia Rossi", street="Via Roma 1", postal_code="00184", city="Roma",
                            province="RM", country="IT", phone="+39 06 1234567")


def sandbox() -> SandboxFake:
    return SandboxFake("brt", _sandbox_make, _sandbox_configure, _sandbox_check)


def _sandbox_make(options) -> BrtFake:
    # its own clock, moved by POST /__control/advance: nobody waits 3 hours for a first scan
    return BrtFake(FakeClock(datetime.now(timezone.utc)))


def _sandbox_configure(fake: BrtFake, url: str) -> SandboxConfig:
    return SandboxConfig(
        tables={"carriers": {SANDBOX_ACCOUNT: {
            "type": "brt", "base_url": url + API_PREFIX, "user_id": fake.user_id, "departure_depot": 102,
            "sender_customer_code": int(fake.user_id), "channel_carrier_code": "BRT"}}},
        env={"BRT_PASSWORD": fake.password},
        hints=[f"curl -X POST '{url}/__control/advance?seconds=10800'   # BRT: 3 hours on, first tracking events",
               f"curl '{url}/__control/brt/stats'                      # BRT: shipments, tracking calls"])


def _sandbox_check(app, fake: BrtFake) -> list[str]:
    """A two-parcel shipment through the BRT carrier (labels checked page by page), then its
    tracking once BRT has picked it up."""
    carrier = app.carrier(SANDBOX_ACCOUNT)
    request = ShipmentRequest(carrier=SANDBOX_ACCOUNT, parcels=[Parcel(Decimal("1.2")), Parcel(Decimal("3.4"))],
                              recipient=SANDBOX_RECIPIENT, label_format=LabelFormat.PDF, references=["SANDBOX-1"],
                              idempotency_key="sandbox-check", sequence=1)
    refused = [str(m) for m in carrier.check_request(request, []) if m.level == "error"]
    if refused:
        raise SandboxCheckFailed("the sandbox shipment was refused before sending: " + "; ".join(refused))
    result = carrier.create_shipment(request)
    if not result.ok:
        raise SandboxCheckFailed("creating a shipment failed: " + "; ".join(str(m) for m in result.messages))
    sizes = []
    for i, parcel in enumerate(result.parcels, 1):
        if parcel.label is None:
            raise SandboxCheckFailed(f"parcel {i} came back without a label")
        sizes += check_pdf_label(parcel.label.data)
    if len(sizes) != len(request.parcels):
        raise SandboxCheckFailed(f"{len(sizes)} label page(s) for {len(request.parcels)} parcels")
    fake.clock.advance(fake.tracking_delay + fake.event_interval)
    tracked = carrier.track(result.tracking_number)
    if not tracked.found or tracked.status in (TrackingStatus.unknown, TrackingStatus.pending):
        raise SandboxCheckFailed(f"tracking {result.tracking_number}: {tracked.summary()}")
    w, h = sizes[0]
    return [f"brt: shipment {result.shipment_id}, {len(sizes)} PDF label(s) of {w:.0f}x{h:.0f} mm; "
            f"tracking {result.tracking_number}: {tracked.status.value}"]
