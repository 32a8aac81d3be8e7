"""The DemoShop channel: orders from its API into the store, announced with ``order_imported``."""
from __future__ import annotations

from marketd.sdk import Capabilities, Channel, ConfigError, HttpClient, RetryPolicy, TokenBucket, utc_iso

from .settings import DemoShopSettings


class DemoShopChannel(Channel):
    type = "demoshop"
    capabilities = Capabilities(fetch_orders=True)
    settings_model = DemoShopSettings
    settings: DemoShopSettings

    def __init__(self, app, name: str, settings):
        super().__init__(app, name, settings)
        self._http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        if self._http is None:  # the key is read at first use: a missing one only affects this account
            self._http = HttpClient(self.settings.base_url, transport=self.settings.transport, clock=self.app.clock,
                                    timeout=self.settings.timeout, retry=RetryPolicy(max_attempts=3),
                                    limiter=TokenBucket(rate=5, clock=self.app.clock), name=f"demoshop {self.name}",
                                    headers={"x-api-key": self.app.secret(self.settings.api_key_secret)})
        return self._http

    def sync_orders(self, since) -> int:
        params = {"updated_after": utc_iso(since)} if since else {}
        resp = self.http.get("/orders", params=params, operation="orders")
        if resp.status_code == 401:
            raise ConfigError(f"demoshop {self.name}: the API key in {self.settings.api_key_secret} was refused")
        resp.raise_for_status()
        orders = resp.json()["orders"]
        for o in orders:
            row = {"channel": self.name, "channel_type": self.type, "order_id": str(o["id"]), "status": "open",
                   "updated_at": o["updated"], "currency": o["currency"], "total": str(o["total"]),
                   "buyer_name": o["buyer"], "ship_to": o["ship_to"], "raw": o}
            self.app.store.upsert_order(row)
            self.app.emit("order_imported", order=self.app.store.get_order(f"{self.name}:{o['id']}"))
        return len(orders)
