"""The ManoMano channel: one seller contract (``[channels.<name>] type = "manomano"``).

The glue between the store and the Partners API: HTTP is ``client.py``, JSON in and out is
``mapper.py``; the three jobs of the channel are one module each, mixed into this class. What
it does:

- ``sync_orders(since)`` (``ordersync.py``): ``GET /orders/v1/orders`` for this contract over a
  closed window of ``status_updated_at`` (the account's watermark minus ``overlap_seconds`` up to
  a minute ago), read in parts that each fit one page (page numbers shift when an order changes
  during the pass), upserted into the core ``orders`` table and announced with
  ``order_imported``; the watermark moves part by part.
- PENDING orders (``decisions.py``) must be accepted before they can ship. ``accept = "auto"`` accepts each page's
  PENDING orders in one call after the page is committed; ``"manual"`` (the default) sends
  nothing: ``marketd manomano pending`` lists what waits and ``marketd manomano accept`` /
  ``refuse`` send a person's decision. Every decision and answer is in ``manomano_decisions``.
- ``confirm_shipment(order_id, package)`` (``shipping.py``): ``POST /orders/v1/shippings`` for one order, sent
  once. The ledger row (``manomano_shippings``) says ``sending`` before the call; when the
  answer was lost (5xx, timeout, a crash) the order is read back before anything is sent again,
  and SHIPPED there counts as done. A 207 is read item by item: our order's result decides.
- ``shipment_confirmed(order_id, package)``: the ledger, else the order's status at ManoMano
  (tracking-sync asks after a crash). ManoMano shows the carrier on an order but not the
  tracking number, so a SHIPPED order counts as confirmed whatever tracking it carries.

The API key comes from the environment or a systemd credential (``MARKETD_MANOMANO_<ACCOUNT>_API_KEY``
or the name in ``api_key_secret``), never from the TOML file.
"""
from __future__ import annotations

from marketd.sdk import Capabilities, Channel

from .client import ManoManoClient
from .decisions import Decisions
from .ordersync import OrderSync
from .settings import ENDPOINT, SANDBOX_ENDPOINT, ManoManoChannelSettings, env_name
from .shipping import Shipping


class ManoManoChannel(OrderSync, Decisions, Shipping, Channel):
    type = "manomano"
    capabilities = Capabilities(fetch_orders=True, confirm_shipment=True, parse_settlements=True, upload_invoice=False,
                                update_listings=True, fetch_listings=True)
    listing_kinds = ("offer",)       # content comes from the seller's catalogue feed (listings_channel.py)
    settings_model = ManoManoChannelSettings

    def __init__(self, app, name: str, settings: ManoManoChannelSettings | dict, transport=None):
        super().__init__(app, name, settings)
        s: ManoManoChannelSettings = self.settings
        self.contract_id = s.contract_id
        self.orders_sync = s.orders_sync
        self.accept_mode = s.accept
        self.endpoint = s.endpoint or (SANDBOX_ENDPOINT if s.sandbox else ENDPOINT)
        self.max_wait = None if s.max_wait_seconds < 0 else s.max_wait_seconds
        self._transport = transport if transport is not None else s.transport
        self._api: ManoManoClient | None = None
        self.last_sync: dict = {}

    # -- credentials and client ----------------------------------------------------------------
    def api_key(self) -> str:
        return self.app.secret(self.settings.api_key_secret or env_name(self.name))

    @property
    def api(self) -> ManoManoClient:
        if self._api is None:
            s: ManoManoChannelSettings = self.settings
            self._api = ManoManoClient(self.endpoint, self.api_key, thirdparty_name=s.thirdparty_name,
                                       account=self.name, transport=self._transport, clock=self.app.clock,
                                       timeout=s.timeout, per_hour=s.requests_per_hour, sync_share=s.sync_share,
                                       sandbox=s.sandbox or self.endpoint == SANDBOX_ENDPOINT)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    def key(self, order_reference: str) -> str:
        return f"{self.name}:{order_reference}"

    # -- listings: price and stock (offers.py, listings_channel.py) --------------------------------
    def submit_listings(self, batch: dict, save) -> dict:
        from . import listings_channel

        return listings_channel.submit(self, batch, save)

    def poll_listings(self, handle: dict, save) -> dict | None:
        from . import listings_channel

        return listings_channel.poll(self, handle, save)

    def fetch_listings(self, skus: list[str] | None = None):
        from . import listings_channel

        return listings_channel.fetch(self, skus)


factory = ManoManoChannel
