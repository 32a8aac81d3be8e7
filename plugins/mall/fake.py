"""A fake MALL Group Marketplace API (MPAPI) for orders and MALL Delivery labels (research §4, §8.5),
shipped with the plugin: the tests run it in-process, ``marketd sandbox`` serves it on loopback.

- ``client_id`` query parameter on every call (403 otherwise).
- Every answer is the ``{"result": {"code", "status", "message"?}, "paging"?, "data"}`` envelope.
- Order state machine: ``blocked → open`` (MALL only), ``open → cancelled|shipping|shipped``,
  ``shipping → cancelled|shipped``, ``shipped → delivered|returned``; illegal moves get 400 with
  ``result.status:"ERROR"``. MDP (MALL Delivery) orders may not skip ``shipping`` and the partner
  may not set ``shipped/delivered/returned`` on them: MALL does, from the carrier's tracking.
  The fake's clock-driven "carrier pickup" moves MDP orders ``shipping → shipped`` after
  ``pickup_delay`` and fills tracking number/url; ``delivered`` follows after ``delivery_delay``
  (or ``returned``/``lost`` per ``set_outcome``).
- ``POST /v1/orders/labels``: only for orders in ``shipping`` (or a reprint after ``shipped``);
  parcel_count 1..100; barcodes ``<prefix>*<i:03><n:03>``; ``labels_raw`` is base64 of a real
  PDF (fpdf2; A4 with four A6 labels when ``labels_per_page`` is 4, else one 100x150 mm label
  per page) or of ZPL text (one ``^XA…^XZ`` per parcel). Calling again in ``shipping`` with
  a new count replaces the barcodes; after ``shipped`` the last version comes back unchanged.
- Daily quota per endpoint group (orders / everything else) gives 429 + ``status:"LIMITED"``.
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from marketd.sdk import Address, Clock, FakeClock, LabelFormat, Parcel, ShipmentRequest, TrackingStatus
from marketd.sdk.fakes import (FakeService, Request, Response, SandboxCheckFailed, SandboxConfig, SandboxFake,
                               pdf_labels, zpl_label)
from marketd.sdk.labels import check_pdf_label

PARTNER_MOVES = {
    "open": {"cancelled", "shipping", "shipped"},
    "shipping": {"cancelled", "shipped"},
    "shipped": {"delivered", "returned"},
}
MDP_FORBIDDEN = {"shipped", "delivered", "returned"}
TS = "%Y-%m-%d %H:%M:%S"


def envelope(data=None, code=200, status="OK", message=None, paging=None):
    result = {"code": code, "status": status}
    if message:
        result["message"] = message
    out = {"result": result}
    if paging is not None:
        out["paging"] = paging
    out["data"] = data if data is not None else {}
    return out


class MallFake(FakeService):
    def __init__(self, clock: Clock | None = None, *, client_id: str = "mall-client-id",
                 pickup_delay: float = 4 * 3600, delivery_delay: float = 24 * 3600,
                 daily_quota: dict | None = None, partner: str = "Negozio Srl, Via Milano 5, 20100 Milano IT"):
        super().__init__(clock)
        self.client_id = client_id
        self.partner = partner  # the seller as MALL prints it in the sender block
        self.pickup_delay = pickup_delay
        self.delivery_delay = delivery_delay
        self.daily_quota = {"orders": 100_000, "other": 100_000, **(daily_quota or {})}
        self.used: dict[tuple[str, str], int] = {}
        self.orders: dict[int, dict] = {}
        self.labels_calls = 0
        self.route("GET", r"/v1/orders", self.list_orders, name="mall.list_orders")
        self.route("GET", r"/v1/orders/unconfirmed", self.unconfirmed, name="mall.unconfirmed")
        self.route("POST", r"/v1/orders/labels", self.labels, name="mall.labels")
        self.route("GET", r"/v1/orders/(?P<oid>\d+)", self.get_order, name="mall.get_order")
        self.route("PUT", r"/v1/orders/(?P<oid>\d+)", self.put_order, name="mall.update_order")
        self.route("PUT", r"/v1/orders/(?P<oid>\d+)/tracking", self.put_tracking,
                   name="mall.put_tracking")
        self.route("GET", r"/v1/orders/(?P<oid>\d+)/consignments", self.consignments,
                   name="mall.consignments")

    # -- fixtures -------------------------------------------------------------------------------
    def add_order(self, order_id: int, *, mdp: bool = True, status: str = "open", confirmed: bool = False,
                  items: list[dict] | None = None, address: dict | None = None, **extra) -> dict:
        now = self.clock.now().strftime(TS)
        order = {
            "id": order_id, "external_id": None, "purchase_id": order_id * 10, "currency": "CZK",
            "delivery_price": 79.0, "cod_price": 0, "cod": 0, "discount": 0, "payment_type": "A",
            "delivery_method": "MDP_SMALLBOX" if mdp else "DPD", "delivery_method_id": 10001,
            "branch_id": None, "tracking_number": None, "tracking_url": None, "ship_date": None,
            "delivery_date": None, "delivered_at": None, "first_delivery_attempt": None,
            "address": address or {"customer_id": 1, "name": "Jana Nováková", "company": "", "phone": "+420600000000",
                                   "email": "jana@example.cz", "street": "Dlouhá 1", "city": "Praha",
                                   "zip": "11000", "country": "CZ"},
            "confirmed": confirmed, "status": status,
            "items": items or [{"id": "SKU-1", "article_id": 1, "quantity": 1, "price": 499.0, "vat": 21.0,
                                "commission": 0, "title": "Hrnek", "serial_numbers": [], "package_size": "smallbox"}],
            "test": False, "mdp": mdp, "mdp_classic": mdp, "mdp_spectrum": False, "ready_to_return": False,
            "blocked": None, "open": now if status != "blocked" else None, "shipping": None, "shipped": None,
            "delivered": None, "returned": None, "cancelled": None, "lost": None,
            "ulozenka_status_history": [], "consignment_status_history": [],
            "_labels": None, "_outcome": "delivered", **extra,
        }
        self.orders[order_id] = order
        return order

    def set_outcome(self, order_id: int, outcome: str) -> None:
        self.orders[order_id]["_outcome"] = outcome

    # -- plumbing -------------------------------------------------------------------------------
    def gate(self, req: Request) -> Response | None:
        """MALL's auth (``client_id`` in the query) and its daily quota per endpoint group."""
        if req.q("client_id") != self.client_id:
            return Response(403, envelope(code=403, status="ERROR", message="Invalid client_id"))
        group = "orders" if req.path.startswith("/v1/orders") else "other"
        day = self.clock.now().date().isoformat()
        n = self.used.get((group, day), 0) + 1
        self.used[(group, day)] = n
        if n > self.daily_quota[group]:
            return Response(429, envelope(code=429, status="LIMITED", message=f"daily limit for {group} reached"))
        return None

    def not_found(self, req):
        return Response(404, envelope(code=404, status="ERROR", message=f"no route {req.path}"))

    def bad_json(self, req):
        return Response(400, envelope(code=400, status="ERROR", message="invalid JSON body"))

    def _error(self, code: int, message: str) -> Response:
        return Response(code, envelope(code=code, status="ERROR", message=message))

    def _public(self, order: dict) -> dict:
        out = {k: v for k, v in order.items() if not k.startswith("_")}
        if order["mdp"] and order["status"] in ("open", "shipping"):
            # MDP tracking is visible only after `shipped`.
            out["tracking_number"] = None
            out["tracking_url"] = None
        return out

    def _set_status(self, order: dict, status: str) -> None:
        order["status"] = status
        order[status] = self.clock.now().strftime(TS)

    def tick(self) -> None:
        now = self.clock.now()
        for order in self.orders.values():
            lab = order["_labels"]
            if not order["mdp"] or lab is None:
                continue
            if order["status"] == "shipping" and now >= lab["at"] + timedelta(seconds=self.pickup_delay):
                self._set_status(order, "shipped")
                order["tracking_number"] = f"MDP{order['id']:010d}"
                order["tracking_url"] = f"https://tracking.example/mdp/{order['tracking_number']}"
                order["ship_date"] = now.strftime("%Y-%m-%d")
                order["consignment_status_history"].append(
                    {"status": "RECEIVED", "tracking_number": order["tracking_number"], "date": now.strftime(TS)})
            if order["status"] == "shipped":
                done = lab["at"] + timedelta(seconds=self.pickup_delay + self.delivery_delay)
                if now >= done:
                    outcome = order["_outcome"]
                    if outcome == "lost":
                        self._set_status(order, "lost")
                    elif outcome == "returned":
                        self._set_status(order, "returned")
                    else:
                        self._set_status(order, "delivered")
                        order["delivered_at"] = now.strftime(TS)
                    order["consignment_status_history"].append(
                        {"status": order["status"].upper(), "tracking_number": order["tracking_number"],
                         "date": now.strftime(TS)})

    # -- orders ---------------------------------------------------------------------------------
    def _page(self, req: Request, rows: list) -> Response:
        page = max(1, int(req.q("page", "1")))
        size = max(1, min(100, int(req.q("page_size", "100"))))
        pages = max(1, -(-len(rows) // size))
        chunk = rows[(page - 1) * size: page * size]
        return Response(200, envelope(chunk, paging={"pages": pages, "size": size, "page": page, "total": len(rows)}))

    def list_orders(self, req: Request) -> Response:
        rows = [self._public(o) for o in self.orders.values()]
        status = req.q("status")
        if status:
            rows = [o for o in rows if o["status"] == status]
        if req.q("filter") == "basic":
            keys = ["id", "external_id", "purchase_id", "customer_id", "customer", "cod", "payment_type", "ship_date",
                    "tracking_number", "tracking_url", "delivered_at", "status", "confirmed", "test", "mdp",
                    "mdp_classic", "mdp_spectrum"]
            rows = [{k: o.get(k) for k in keys} for o in rows]
        else:
            rows = [o["id"] for o in rows]
        return self._page(req, rows)

    def unconfirmed(self, req: Request) -> Response:
        rows = [self._public(o) for o in self.orders.values() if o["status"] == "open" and not o["confirmed"]]
        return self._page(req, rows)

    def get_order(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        return Response(200, envelope(self._public(order)))

    def put_order(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        body = req.json() or {}
        new = body.get("status")
        if body.get("confirmed") is True:
            if order["status"] != "open" and not order["confirmed"]:
                return self._error(400, f"Order {oid} in status {order['status']} cannot be confirmed")
            order["confirmed"] = True
        if new and new != order["status"]:
            if new not in PARTNER_MOVES.get(order["status"], set()):
                return self._error(400, f"Status change {order['status']} -> {new} is not allowed")
            if order["mdp"] and new in MDP_FORBIDDEN:
                return self._error(400, f"Order {oid} is delivered by MALL Delivery: status {new} is set by MALL")
            if new in ("shipping", "shipped") and not order["confirmed"]:
                return self._error(400, f"Order {oid} must be confirmed first")
            self._set_status(order, new)
            for k in ("tracking_number", "tracking_url", "delivered_at", "first_delivery_attempt"):
                if body.get(k) and not order["mdp"]:
                    order[k] = body[k]
        return Response(200, envelope(self._public(order)))

    def put_tracking(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        if order["mdp"]:
            return self._error(400, f"Order {oid} is delivered by MALL Delivery: tracking is added by MALL")
        body = req.json() or {}
        order["tracking_number"], order["tracking_url"] = body.get("tracking_number"), body.get("tracking_url")
        return Response(200, envelope(self._public(order)))

    # -- labels ---------------------------------------------------------------------------------
    def labels(self, req: Request) -> Response:
        body = req.json() or {}
        kind = (body.get("labels_type") or "pdf").lower()
        if kind not in ("pdf", "zpl"):
            return self._error(400, "labels_type must be pdf or zpl")
        per_page = int(body.get("labels_per_page") or 4)
        if per_page not in (1, 4):
            return self._error(400, "labels_per_page must be 1 or 4")
        out_orders = []
        all_labels: list[tuple[list[str], str]] = []
        for item in body.get("labels") or []:
            oid = int(item.get("order_id") or 0)
            count = int(item.get("parcel_count") or 0)
            order = self.orders.get(oid)
            if order is None:
                return self._error(404, f"Order {oid} not found")
            if not order["mdp"]:
                return self._error(400, f"Order {oid} is not delivered by MALL Delivery")
            if not 1 <= count <= 100:
                return self._error(400, f"parcel_count {count} out of range 1..100")
            if order["status"] == "shipping":
                if order["_labels"] is None or order["_labels"]["count"] != count:
                    prefix = f"14IS{oid:08d}"
                    order["_labels"] = {"count": count, "at": self.clock.now(),
                                        "barcodes": [f"{prefix}*{i:03d}{count:03d}" for i in range(1, count + 1)]}
            elif order["status"] in ("shipped", "delivered", "returned", "lost") and order["_labels"]:
                pass  # reprint of the last version; a changed count is ignored
            else:
                return self._error(400, f"Labels can be created only for orders in status shipping "
                                        f"(order {oid} is {order['status']})")
            barcodes = order["_labels"]["barcodes"]
            out_orders.append({"order_id": oid, "barcodes": barcodes})
            addr = order["address"]
            for b in barcodes:
                all_labels.append(([b, "MALL Delivery", addr["name"], addr["street"], f"{addr['zip']} {addr['city']}",
                                    addr["country"], f"Order {oid}", f"Sender: {self.partner}",
                                    f"Parcel {barcodes.index(b) + 1}/{len(barcodes)}"], b))
        self.labels_calls += 1
        if kind == "zpl":
            raw = "\n".join(zpl_label(lines, b) for lines, b in all_labels).encode()
        else:
            raw = pdf_labels([lines for lines, _ in all_labels], per_page=per_page)
        return Response(200, envelope({"orders": out_orders, "labels_raw": base64.b64encode(raw).decode()}))

    def consignments(self, req: Request, oid: str) -> Response:
        order = self.orders.get(int(oid))
        if order is None:
            return self._error(404, f"Order {oid} not found")
        lab = order["_labels"]
        data = [] if lab is None else [{"id": oid, "order_id": int(oid), "labels_raw": None, "labels_type": "pdf",
                                        "parcel_count": lab["count"], "type": "MDP"}]
        return Response(200, envelope(data))


# -- what `marketd sandbox` serves -----------------------------------------------------------------
SANDBOX_ACCOUNT = "mall_delivery"
SANDBOX_ORDERS = (1001, 1002, 1003)   # open MALL Delivery orders waiting for labels


def sandbox() -> SandboxFake:
    return SandboxFake("mall", _sandbox_make, _sandbox_configure, _sandbox_check)


def _sandbox_make(options) -> MallFake:
    # its own clock, moved by POST /__control/advance (MALL's pickup comes hours after the labels)
    fake = MallFake(FakeClock(datetime.now(timezone.utc)))
    for oid in SANDBOX_ORDERS:
        fake.add_order(oid, mdp=True)
    return fake


def _sandbox_configure(fake: MallFake, url: str) -> SandboxConfig:
    return SandboxConfig(
        tables={"carriers": {SANDBOX_ACCOUNT: {"type": "mall_delivery", "base_url": url}}},
        env={"MALL_CLIENT_ID": fake.client_id},
        hints=[f"MALL: MALL Delivery orders {', '.join(map(str, SANDBOX_ORDERS))} wait for labels at the fake",
               f"curl -X POST '{url}/__control/advance?seconds=14400'   # MALL: 4 hours on, the carrier picks up"])


def _sandbox_check(app, fake: MallFake) -> list[str]:
    """Labels for a two-parcel MALL Delivery order (MALL's 4-per-A4 sheet cut into one page per
    parcel), then the order's status once the carrier has picked the parcels up."""
    carrier = app.carrier(SANDBOX_ACCOUNT)
    oid = str(SANDBOX_ORDERS[0])
    request = ShipmentRequest(carrier=SANDBOX_ACCOUNT, parcels=[Parcel(Decimal("1.2")), Parcel(Decimal("3.4"))],
                              recipient=Address(name="Jana Nováková", street="Dlouhá 1", postal_code="11000",
                                                city="Praha", country="CZ"),
                              label_format=LabelFormat.PDF, references=[oid], options={"order_ids": [oid]},
                              idempotency_key="sandbox-check", sequence=1)
    result = carrier.create_shipment(request)
    if not result.ok:
        raise SandboxCheckFailed(f"labels for MALL order {oid} failed: " + "; ".join(str(m) for m in result.messages))
    sizes = []
    for i, parcel in enumerate(result.parcels, 1):
        if parcel.label is None:
            raise SandboxCheckFailed(f"parcel {i} came back without a label: "
                                     + "; ".join(str(m) for m in result.messages))
        sizes += check_pdf_label(parcel.label.data)
    if len(sizes) != len(request.parcels):
        raise SandboxCheckFailed(f"{len(sizes)} label page(s) for {len(request.parcels)} parcels")
    fake.clock.advance(fake.pickup_delay)
    tracked = carrier.track(result.shipment_id)
    if not tracked.found or tracked.status != TrackingStatus.in_transit:
        raise SandboxCheckFailed(f"MALL order {oid} after pickup: {tracked.status.value} ({tracked.summary()})")
    w, h = sizes[0]
    return [f"mall: order {oid}, {len(sizes)} PDF label(s) of {w:.0f}x{h:.0f} mm; "
            f"tracking {tracked.tracking_number}: {tracked.status.value}"]
