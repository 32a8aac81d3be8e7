"""A contract-faithful fake of the DemoShop and DemoPost APIs, shipped with the plugin so its
tests, and anyone trying it, need no account. Built on ``marketd.sdk.fakes.FakeService``: serve it
in-process with ``httpx.WSGITransport(app=DemoFake())`` or on loopback with
``marketd.sdk.fakes.serve``; ``sandbox()`` is what ``marketd sandbox`` serves and checks."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from marketd.sdk import Address, LabelFormat, Parcel, ShipmentRequest
from marketd.sdk.fakes import FakeService, Request, Response, SandboxCheckFailed, SandboxConfig, SandboxFake

API_KEY = "demo-key-0000"


class DemoFake(FakeService):
    def __init__(self, api_key: str = API_KEY, clock=None):
        super().__init__(clock)
        self.api_key = api_key
        self.orders: list[dict] = []
        self.shipments: dict[str, dict] = {}
        self.route("GET", r"/orders", self.list_orders, name="orders")
        self.route("POST", r"/shipments", self.create, name="create")
        self.route("GET", r"/tracking/(?P<number>[^/]+)", self.track, name="track")

    @property
    def calls(self) -> int:
        return len(self.journal)

    def add_order(self, order_id: str, total: str = "12.50", updated: str = "2026-11-02T08:00:00Z") -> None:
        self.orders.append({"id": order_id, "updated": updated, "total": total, "currency": "EUR",
                            "buyer": "Ada Lovelace", "ship_to": {"name": "Ada Lovelace", "street": "Via Roma 1",
                                                                 "postal_code": "00184", "city": "Roma",
                                                                 "country": "IT"}})

    def gate(self, req: Request) -> Response | None:
        if req.headers.get("x-api-key") != self.api_key:
            return Response(401, {"error": "bad api key"})
        return None

    def list_orders(self, req: Request) -> Response:
        after = req.q("updated_after", "")
        return Response(200, {"orders": [o for o in self.orders if o["updated"] > after]})

    def create(self, req: Request) -> Response:
        body = req.json() or {}
        if not body.get("to", {}).get("postal_code"):
            return Response(422, {"error": "postal_code missing"})
        number = f"DP{len(self.shipments) + 1:06d}"
        self.shipments[number] = {"reference": body.get("reference"), "status": "in_transit"}
        return Response(201, {"tracking": number, "label": f"^XA^FO50,50^FD{number}^FS^XZ"})

    def track(self, req: Request, number: str) -> Response:
        shipment = self.shipments.get(number)
        if shipment is None:
            return Response(404, {"error": "unknown"})
        return Response(200, {"status": shipment["status"], "at": datetime.now(timezone.utc).isoformat()})


# -- what `marketd sandbox` serves ------------------------------------------------------------------
def sandbox() -> SandboxFake:
    return SandboxFake("demo", _make, _configure, _check)


def _make(options) -> DemoFake:
    fake = DemoFake()
    for i in range(min(options.orders, 5)):
        fake.add_order(str(9001 + i))
    return fake


def _configure(fake: DemoFake, url: str) -> SandboxConfig:
    return SandboxConfig(tables={"channels": {"demo-shop": {"type": "demoshop", "base_url": url}},
                                 "carriers": {"demo-post": {"type": "demopost", "base_url": url}}},
                         env={"DEMO_SHOP_API_KEY": fake.api_key, "DEMO_POST_API_KEY": fake.api_key})


def _check(app, fake: DemoFake) -> list[str]:
    orders = app.channel("demo-shop").sync_orders(None)
    if not orders:
        raise SandboxCheckFailed("no DemoShop order imported")
    post = app.carrier("demo-post")
    result = post.create_shipment(ShipmentRequest(
        carrier="demo-post", parcels=[Parcel(Decimal("1.0"))], label_format=LabelFormat.ZPL,
        recipient=Address(name="Ada Lovelace", street="Via Roma 1", postal_code="00184", city="Roma", country="IT")))
    if not result.ok:
        raise SandboxCheckFailed("DemoPost refused the shipment: " + "; ".join(str(m) for m in result.messages))
    tracked = post.track(result.shipment_id)
    return [f"demo: {orders} order(s) imported; DemoPost shipment {result.shipment_id}: {tracked.status.value}"]
