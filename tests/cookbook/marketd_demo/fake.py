"""A contract-faithful fake of the DemoShop and DemoPost APIs (WSGI), shipped with the plugin so
its tests, and anyone trying it, need no account. Serve it in-process with
``httpx.WSGITransport(app=DemoFake())`` or on loopback with any WSGI server."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qs

API_KEY = "demo-key-0000"


class DemoFake:
    def __init__(self, api_key: str = API_KEY):
        self.api_key = api_key
        self.orders: list[dict] = []
        self.shipments: dict[str, dict] = {}
        self.calls = 0

    def add_order(self, order_id: str, total: str = "12.50", updated: str = "2026-11-02T08:00:00Z") -> None:
        self.orders.append({"id": order_id, "updated": updated, "total": total, "currency": "EUR",
                            "buyer": "Ada Lovelace", "ship_to": {"name": "Ada Lovelace", "street": "Via Roma 1",
                                                                 "postal_code": "00184", "city": "Roma",
                                                                 "country": "IT"}})

    def __call__(self, environ, start_response):
        self.calls += 1
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if environ.get("HTTP_X_API_KEY") != self.api_key:
            return self._reply(start_response, 401, {"error": "bad api key"})
        if method == "GET" and path == "/orders":
            after = parse_qs(environ.get("QUERY_STRING", "")).get("updated_after", [""])[0]
            return self._reply(start_response, 200, {"orders": [o for o in self.orders if o["updated"] > after]})
        if method == "POST" and path == "/shipments":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(size) or b"{}")
            if not body.get("to", {}).get("postal_code"):
                return self._reply(start_response, 422, {"error": "postal_code missing"})
            number = f"DP{len(self.shipments) + 1:06d}"
            self.shipments[number] = {"reference": body.get("reference"), "status": "in_transit"}
            return self._reply(start_response, 201, {"tracking": number, "label": f"^XA^FO50,50^FD{number}^FS^XZ"})
        if method == "GET" and path.startswith("/tracking/"):
            shipment = self.shipments.get(path.rsplit("/", 1)[1])
            if shipment is None:
                return self._reply(start_response, 404, {"error": "unknown"})
            return self._reply(start_response, 200, {"status": shipment["status"],
                                                     "at": datetime.now(timezone.utc).isoformat()})
        return self._reply(start_response, 404, {"error": f"no route {method} {path}"})

    @staticmethod
    def _reply(start_response, status: int, doc: dict):
        body = json.dumps(doc).encode()
        start_response(f"{status} X", [("content-type", "application/json"), ("content-length", str(len(body)))])
        return [body]
