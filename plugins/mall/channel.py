"""The MALL channel: one MALL partner account (``[channels.<name>] type = "mall"``).

The glue between the store and MPAPI: HTTP is ``client.py``, JSON in and out is ``mapper.py``.

- ``sync_orders(since)``: MALL's order listing carries no update time, so there is no
  watermark. Each run lists the orders that can still move (``blocked, open, shipping,
  shipped``; ``filter=basic`` rows), compares each row's status, confirmation, tracking and
  delivery with the stored order, and fetches the detail (``GET /v1/orders/{id}``) only for new
  or changed orders and for stored orders that left those lists (delivered, cancelled …).
  Returns after delivery are found by listing ``returned`` orders every
  ``returns_check_hours``. Test orders are skipped unless ``include_test_orders``.
- ``confirm_orders``: MALL wants every new order confirmed by the partner (``PUT
  {"confirmed": true}``); with ``auto_confirm`` the sync does it, else ``marketd mall confirm``.
- ``confirm_shipment(order_id, package)``: tracking back for orders the seller ships with its
  own carrier: ``PUT /v1/orders/{id}`` to ``shipped`` with the tracking number, after reading
  the order, so a package MALL already has is never sent again. A MALL Delivery (``mdp``)
  order is refused **without any HTTP call**: MALL sets ``shipped`` and the tracking itself.
- ``shipment_confirmed(order_id, package)``: does MALL show the order shipped with our
  tracking number? (tracking-sync asks after a crash in the middle of a push.)

The ``client_id`` is read from ``MARKETD_MALL_<ACCOUNT>_CLIENT_ID`` (or ``client_id_secret``),
never from the config file.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marketd.sdk import Capabilities, Channel, ConfigError, RateLimited, TransientError, store_orders

from . import mapper
from .client import DailyQuota, MallClient
from .settings import FORBIDDEN_KEYS, MallChannelSettings, env_name

log = logging.getLogger("marketd.mall")

STORE_BATCH = 50   # orders written per transaction during a sync


class MallChannel(Channel):
    type = "mall"
    capabilities = Capabilities(fetch_orders=True, confirm_shipment=True, fetch_settlements=True,
                                parse_settlements=True, accept_order=True, update_listings=True, fetch_listings=True,
                                cancel_order=True)
    listing_kinds = ("content", "offer")   # products (with variants), prices and stock (listings_channel.py)
    settings_model = MallChannelSettings
    settings: MallChannelSettings

    def __init__(self, app, name: str, settings: MallChannelSettings | dict, transport=None):
        leaked = sorted(k for k in FORBIDDEN_KEYS if isinstance(settings, dict) and settings.get(k))
        if leaked:
            raise ConfigError(f"[channels.{name}] holds {', '.join(leaked)} in clear: set {env_name(name)} "
                              "(environment or systemd credential) instead")
        super().__init__(app, name, settings)
        s = self.settings
        try:
            self.tz = ZoneInfo(s.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"[channels.{name}] timezone = {s.timezone!r} is not a time zone name "
                              "(MALL's times are local: use e.g. Europe/Prague)") from None
        if not 1 <= s.page_size <= 100:
            raise ConfigError(f"[channels.{name}] page_size = {s.page_size}: MALL pages hold 1..100 orders")
        self.orders_sync = s.orders_sync
        self._transport = transport if transport is not None else s.transport
        self._client: MallClient | None = None
        self.last_sync: dict = {}

    # -- client, secret, quota -----------------------------------------------------------------
    def client_id(self) -> str:
        return self.app.secret(self.settings.client_id_secret or env_name(self.name))

    @property
    def client(self) -> MallClient:
        if self._client is None:
            s = self.settings
            quota = DailyQuota({"orders": s.daily_quota_orders, "other": s.daily_quota_other,
                                "products": s.daily_quota_products, "availability": s.daily_quota_availability},
                               clock=self.app.clock, tz=s.timezone)
            for row in self.app.store.db.query("select day, grp, used from mall_quota where channel = ? and day = ?",
                                               [self.name, quota.day()]):
                quota.load(row["day"], row["grp"], row["used"])
            self._client = MallClient(self.name, s.base_url, client_id=self.client_id, transport=self._transport,
                                      clock=self.app.clock, requests_per_second=s.requests_per_second,
                                      timeout=s.timeout, tag="mall", quota=quota)
        return self._client

    def save_quota(self) -> None:
        """Persist today's call counts (after a sync or a push round; a crash loses at most those)."""
        if self._client is None or not self._client.quota.dirty:
            return
        rows = [{"channel": self.name, "day": d, "grp": g, "used": n} for d, g, n in self._client.quota.snapshot()]
        with self.app.store.transaction() as db:
            db["mall_quota"].upsert_all(rows, pk=("channel", "day", "grp"))
            db.execute("delete from mall_quota where channel = ? and day < ?", [self.name, self._client.quota.day()])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- orders --------------------------------------------------------------------------------
    def _state(self) -> dict:
        rows = list(self.app.store.db.query("select * from mall_order_sync where channel = ?", [self.name]))
        return rows[0] if rows else {}

    def _stored_states(self) -> dict[str, tuple]:
        """order id -> the moving fields of every stored order of this account MALL may still move."""
        sql = ("select order_id, json_extract(raw, '$.status') status, json_extract(raw, '$.confirmed') confirmed, "
               "json_extract(raw, '$.tracking_number') tracking_number, json_extract(raw, '$.delivered_at') "
               "delivered_at, json_extract(raw, '$.mdp') mdp from orders where channel = ? and "
               f"json_extract(raw, '$.status') in ({', '.join('?' * len(mapper.LISTED_STATUSES))})")
        return {r["order_id"]: mapper.state(r)
                for r in self.app.store.db.query(sql, [self.name, *mapper.LISTED_STATUSES])}

    def sync_orders(self, since: datetime | None = None, *, deadline: float | None = None) -> int:
        """Fetch new and changed orders; returns how many were stored (new or changed).

        ``deadline`` (a ``clock.monotonic()`` value; default now + 600 s) stops fetching order
        details; the rest are still "changed" at the next run, which continues with them."""
        clock = self.app.clock
        s = self.settings
        started = clock.now()
        deadline = clock.monotonic() + 600 if deadline is None else deadline
        state = self._state()
        stats = {"listed": 0, "new": 0, "changed": 0, "confirmed": 0, "skipped_test": 0, "complete": False}
        error = None
        try:
            stored = self._stored_states()
            todo: list[str] = []
            to_confirm: list[str] = []
            seen: set[str] = set()
            for status in mapper.LISTED_STATUSES:
                for row in self.client.iter_orders(status=status, page_size=s.page_size, test=s.include_test_orders):
                    oid = str(row.get("id"))
                    if mapper.is_test(row) and not s.include_test_orders:
                        stats["skipped_test"] += 1
                        continue
                    stats["listed"] += 1
                    seen.add(oid)
                    if row.get("status") == "open" and not row.get("confirmed") and s.auto_confirm:
                        to_confirm.append(oid)
                    if oid not in stored or stored[oid] != mapper.state(row):
                        todo.append(oid)
            # stored orders that left the lists moved on (delivered, cancelled, lost, returned)
            todo += [oid for oid in stored if oid not in seen]
            if self._returns_due(state, started):
                todo += self._returned_changes()
                state["returns_checked_at"] = started.isoformat()
            for oid in to_confirm:
                if self.confirm_order(oid).get("ok") and oid not in todo:
                    todo.append(oid)
                stats["confirmed"] += 1
            stats["complete"] = self._fetch_and_store(list(dict.fromkeys(todo)), stats, deadline)
        except RateLimited as exc:  # MALL's daily quota: the next run continues
            log.info("mall %s: %s", self.name, exc)
            error = str(exc)
        except (TransientError, ConfigError) as exc:
            error = str(exc)
            raise
        finally:
            self.save_quota()
            row = {"channel": self.name, "last_run_at": started.isoformat(), "orders_seen": stats["listed"],
                   "orders_fetched": stats["new"] + stats["changed"], "last_error": error and error[:500],
                   "returns_checked_at": state.get("returns_checked_at")}
            with self.app.store.transaction() as db:
                db["mall_order_sync"].upsert(row, pk="channel")
        self.last_sync = stats
        log.info("mall %s: %d order(s) new, %d changed of %d listed%s%s", self.name, stats["new"], stats["changed"],
                 stats["listed"], f"; {stats['confirmed']} confirmed" if stats["confirmed"] else "",
                 "" if stats["complete"] else "; the rest continue at the next run")
        return stats["new"] + stats["changed"]

    def _returns_due(self, state: dict, now: datetime) -> bool:
        last = state.get("returns_checked_at")
        return not last or now - datetime.fromisoformat(last) >= timedelta(hours=self.settings.returns_check_hours)

    def _returned_changes(self) -> list[str]:
        """Returned orders we have stored in another status (a return after delivery)."""
        known = {r["order_id"] for r in self.app.store.db.query(
            "select order_id from orders where channel = ? and json_extract(raw, '$.status') = 'returned'",
            [self.name])}
        exists = {r["order_id"] for r in self.app.store.db.query(
            "select order_id from orders where channel = ?", [self.name])}
        out = []
        for row in self.client.iter_orders(status="returned", page_size=self.settings.page_size,
                                           test=self.settings.include_test_orders):
            oid = str(row.get("id"))
            if oid in exists and oid not in known:
                out.append(oid)
        return out

    def _fetch_and_store(self, ids: list[str], stats: dict, deadline: float) -> bool:
        """GET each order's detail and store it, ``STORE_BATCH`` per transaction; False when the
        deadline stopped it (the rest are fetched at the next run)."""
        batch: list[dict] = []
        for n, oid in enumerate(ids):
            if self.app.clock.monotonic() >= deadline:
                log.info("mall %s: %d order detail(s) left for the next run", self.name, len(ids) - n)
                self._store(batch, stats)
                return False
            try:
                detail, msgs = self.client.get_order(oid)
            except RateLimited:
                self._store(batch, stats)
                raise
            if detail is None:
                log.warning("mall %s: order %s not read: %s", self.name, oid, "; ".join(m.text for m in msgs))
                continue
            if mapper.is_test(detail) and not self.settings.include_test_orders:
                stats["skipped_test"] += 1
                continue
            batch.append(mapper.order_row(self.name, detail, self.tz))
            if len(batch) >= STORE_BATCH:
                self._store(batch, stats)
                batch = []
        self._store(batch, stats)
        return True

    def _store(self, rows: list[dict], stats: dict) -> None:
        # every fetched detail is stored: MALL's status times (updated_at) do not move when only
        # `confirmed` or the delivery details change. Its `aliases` (purchase id, external id) go
        # to order_aliases.
        if rows:
            store_orders(self.app, rows, stats, skip_unchanged=False)

    # -- confirming new orders -----------------------------------------------------------------
    def confirm_order(self, order_id: str) -> dict:
        """Confirm one open order at MALL (MALL's "accept"); ``{"ok": bool, ...}``."""
        data, msgs = self.client.update_order(str(order_id), {"confirmed": True})
        if data is None:
            error = "; ".join(m.text for m in msgs)
            log.warning("mall %s: confirming order %s refused: %s", self.name, order_id, error)
            return {"ok": False, "order_id": str(order_id), "error": error}
        return {"ok": True, "order_id": str(order_id)}

    accept_order = confirm_order   # the channel-neutral name (ManoMano's accept is the same step)

    CANCELLABLE = ("open", "shipping")   # MPAPI: the partner moves open|shipping → cancelled

    def cancel_order(self, order_id: str, lines: list[dict] | None, reason: str | None) -> dict:
        """Cancel a whole MALL order (``PUT /v1/orders/{id}`` with ``status: cancelled``).

        MPAPI has no line cancellation and no reason field: lines are refused before any call
        (change them in the MALL portal), the reason stays in marketd's action ledger. Only an
        ``open`` or ``shipping`` order can be cancelled by the partner; one already cancelled
        counts as done (nothing is sent again)."""
        oid = str(order_id)
        if lines:
            return {"ok": False, "order_id": oid,
                    "error": "MALL cancels whole orders only (MPAPI has no line cancellation): cancel without lines, "
                             "or change the lines in the MALL portal"}
        order, msgs = self.client.get_order(oid)
        if order is None:
            return {"ok": False, "order_id": oid, "error": "; ".join(m.text for m in msgs) or "MALL did not return it"}
        status = str(order.get("status") or "")
        if status == "cancelled":
            return {"ok": True, "order_id": oid, "already": True, "status": status}
        if status not in self.CANCELLABLE:
            return {"ok": False, "order_id": oid,
                    "error": f"MALL lets the partner cancel open or shipping orders only; this one is {status}"}
        data, msgs = self.client.update_order(oid, {"status": "cancelled"})
        if data is None:
            error = "; ".join(m.text for m in msgs)
            log.warning("mall %s: cancelling order %s refused: %s", self.name, oid, error)
            return {"ok": False, "order_id": oid, "error": error}
        return {"ok": True, "order_id": oid, "status": "cancelled"}

    def unconfirmed(self) -> list[str]:
        return [str(r.get("id")) for r in self.client.unconfirmed(self.settings.page_size)
                if self.settings.include_test_orders or not mapper.is_test(r)]

    # -- tracking back ---------------------------------------------------------------------------
    def _stored_raw(self, order_id: str) -> dict:
        order = self.app.store.get_order(f"{self.name}:{order_id}") or {}
        raw = order.get("raw")
        try:
            raw = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raw = None
        return raw if isinstance(raw, dict) else {}

    def confirm_shipment(self, order_id: str, package: dict) -> dict:
        """Put one package's tracking on MALL order ``order_id``; the outcome as data.

        ``{"ok": True, "status": "shipped", ...}`` when MALL took it (``already_confirmed`` when
        MALL already showed it: nothing was sent); ``{"ok": False, "error": ...}`` when it is
        refused (a MALL Delivery order, refused before any call; a cancelled order; MALL said no).
        A blocked order and MALL's limits raise :class:`TransientError` (tried again later)."""
        tracking = str(package.get("trackingNumber") or "")
        summary = {"order_id": str(order_id), "tracking_number": tracking}
        if self._stored_raw(order_id).get("mdp"):
            return {"ok": False, "error": mapper.MDP_REFUSAL, "mdp": True, **summary}
        order, msgs = self.client.get_order(str(order_id))
        if order is None:
            return {"ok": False, "error": "; ".join(m.text for m in msgs) or "MALL did not return the order", **summary}
        action, what = mapper.ship_update(order, package)
        if action == "done":
            return {"ok": True, "already_confirmed": True, "status": order.get("status"), **summary}
        if action == "wait":
            raise TransientError(f"mall {self.name}: order {order_id}: {what}; tracking is sent when it is open")
        if action == "refuse":
            log.warning("mall %s: tracking for order %s not sent: %s", self.name, order_id, what)
            return {"ok": False, "error": what, **summary}
        if action == "put_tracking":
            data, msgs = self.client.update_tracking(str(order_id), what)
        else:
            data, msgs = self.client.update_order(str(order_id), what)
        if data is None:
            error = "; ".join(m.text for m in msgs)
            log.warning("mall %s: MALL refused tracking for order %s: %s", self.name, order_id, error)
            return {"ok": False, "error": error, **summary}
        return {"ok": True, "status": "shipped", "sent": sorted(what), **summary}

    def shipment_confirmed(self, order_id: str, package: dict) -> bool | None:
        """Does MALL show the order shipped with this tracking number? None = cannot tell."""
        if self._stored_raw(order_id).get("mdp"):
            return False   # never pushed: the push is refused again, without a call
        try:
            order, _ = self.client.get_order(str(order_id))
        except TransientError as exc:
            log.warning("mall %s: cannot read order %s: %s", self.name, order_id, exc)
            return None
        if order is None:
            return None
        return mapper.has_tracking(order, str(package.get("trackingNumber") or ""))


    # -- listings: products, prices, stock (listings_channel.py) ----------------------------------
    def submit_listings(self, batch: dict, save) -> dict:
        from . import listings_channel

        return listings_channel.submit(self, batch, save)

    def poll_listings(self, handle: dict, save) -> dict | None:
        from . import listings_channel

        return listings_channel.poll(self, handle, save)

    def fetch_listings(self, skus: list[str] | None = None):
        from . import listings_channel

        return listings_channel.fetch(self, skus)


factory = MallChannel  # register("mall", MallChannel): the class is the factory, with its settings_model
