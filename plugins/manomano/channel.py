"""The ManoMano channel: one seller contract (``[channels.<name>] type = "manomano"``).

The glue between the store and the Partners API: HTTP is ``client.py``, JSON in and out is
``mapper.py``. What it does:

- ``sync_orders(since)``: ``GET /orders/v1/orders`` for this contract over a closed window of
  ``status_updated_at`` (the account's watermark minus ``overlap_seconds`` up to a minute ago),
  upserted into the core ``orders`` table and announced with ``order_imported``. A window with
  more than one page is split by time until each part fits one page (page numbers shift when an
  order changes during the pass, see ``_windows``); the watermark moves part by part.
- PENDING orders must be accepted before they can ship. ``accept = "auto"`` accepts each page's
  PENDING orders in one call after the page is committed; ``"manual"`` (the default) sends
  nothing: ``marketd manomano pending`` lists what waits and ``marketd manomano accept`` /
  ``refuse`` send a person's decision. Every decision and answer is in ``manomano_decisions``.
- ``confirm_shipment(order_id, package)``: ``POST /orders/v1/shippings`` for one order, sent
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

import hashlib
import json
import logging
import sqlite3
from datetime import datetime, timedelta

from marketd.sdk import Capabilities, Channel, ConfigError, MarketdError, RateLimited, TransientError

from . import mapper
from .client import ManoManoClient, ManoManoError
from .settings import ENDPOINT, SANDBOX_ENDPOINT, ManoManoChannelSettings, env_name

log = logging.getLogger("marketd.manomano")

BATCH = 100    # orders per accept/refuse call (the fake refuses more; ManoMano's own limit is not known)
TARGET = 0.8   # a part of the window is sized for this share of a page: most parts then fit one page
GROWTH = 4.0   # a part grows at most this much after one with few orders


class ManoManoChannel(Channel):
    type = "manomano"
    capabilities = Capabilities(fetch_orders=True, confirm_shipment=True, upload_invoice=False)
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

    # -- orders --------------------------------------------------------------------------------
    def _state(self) -> dict | None:
        rows = list(self.app.store.db.query("select * from manomano_order_sync where channel = ?", [self.name]))
        return rows[0] if rows else None

    def sync_orders(self, since: datetime | None, *, resync: bool = False, max_wait: float | None = -1) -> int:
        """Pull orders whose status changed since the watermark; returns how many were new or changed.

        The window runs from the account's watermark (``manomano_order_sync``), else ``since``
        (the job's last success), else ``initial_days`` ago, minus ``overlap_seconds``, to a
        minute ago. It is read in sub-windows that each fit in one page (:meth:`_windows`), in
        time order, and the watermark moves to the end of each one as it is stored, so a pass
        the rate limit stops (a page more than ``max_wait`` seconds away; default
        ``max_wait_seconds``) or that used up ``run_seconds`` continues there at the next run: a job
        run stays short (a running job holds ``systemctl stop``) however long the backlog.
        ``max_wait=None`` reads to the end in one call. ``resync=True`` starts at ``since``.
        """
        if max_wait == -1:
            max_wait = self.max_wait
        started = self.app.clock.now()
        state = None if resync else self._state()
        origin = datetime.fromisoformat(state["synced_until"]) if state and state.get("synced_until") else since
        if origin is None:
            origin = started - timedelta(days=self.settings.initial_days)
        start = origin - timedelta(seconds=self.settings.overlap_seconds)
        end = started - timedelta(seconds=60)
        stats = {"pages": 0, "windows": 0, "seen": 0, "new": 0, "changed": 0, "unchanged": 0, "accepted": 0,
                 "complete": False}
        deadline = None if max_wait is None else self.app.clock.monotonic() + self.settings.run_seconds
        try:
            for window_end in self._windows(start, end, stats, max_wait):
                self._set_state(synced_until=window_end.isoformat(), last_run_at=started.isoformat(), last_error=None)
                if window_end < end and deadline is not None and self.app.clock.monotonic() >= deadline:
                    log.info("manomano %s: this run's time (%gs) is used up", self.name, self.settings.run_seconds)
                    break
            else:
                stats["complete"] = True
        except RateLimited as exc:  # the budget for sync is used up: the watermark says where to go on
            log.info("manomano %s: %s", self.name, exc)
        self._set_state(last_run_at=started.isoformat(), orders_seen=stats["seen"])
        self.last_sync = stats
        log.info("manomano %s: %d order(s) new, %d changed, %d unchanged in %d page(s) (status changed %s .. %s)%s%s",
                 self.name, stats["new"], stats["changed"], stats["unchanged"], stats["pages"],
                 mapper.api_time(start), mapper.api_time(end),
                 f"; {stats['accepted']} accepted" if stats["accepted"] else "",
                 "" if stats["complete"] else "; the rate limit stops this pass here, the next run goes on")
        return stats["new"] + stats["changed"]

    def _set_state(self, **fields) -> None:
        with self.app.store.transaction() as db:
            db["manomano_order_sync"].upsert({"channel": self.name, **fields}, pk="channel")

    def _windows(self, start: datetime, end: datetime, stats: dict, max_wait):
        """Read ``[start, end]`` of ``status_updated_at``; yield the end of each part once stored.

        Why not just follow ``links.next`` through the whole window: ManoMano pages by number,
        and an order whose status changes while the pages are read (accepted here, shipped by
        the tracking job, paid by the buyer) leaves the window, so every later order moves one
        place up and one of them slips onto a page already read: lost, since its own status did
        not change. A part that fits in one page is read in one request and cannot shift. So the
        window is walked in parts sized from the orders per second seen so far (aiming at 80 %
        of a page); a part whose page has a ``next`` link is shrunk from the total ManoMano
        reports (``pagination.items``, else ``pages``) and asked again, its orders stored anyway.
        Only a part of one second with more orders than a page follows ``next``.
        """
        limit = self.settings.page_size
        cursor, step = start, end - start
        while cursor < end or stats["windows"] == 0:
            part_end = min(end, cursor + step)
            params = {"status_updated_at_start": mapper.api_time(cursor),
                      "status_updated_at_end": mapper.api_time(part_end)}
            page, link = self.api.first_page(self.contract_id, params, limit=limit, max_wait=max_wait)
            stats["pages"] += 1
            self._take(page, stats)
            span = part_end - cursor
            if link and span > timedelta(seconds=1):
                step = max(timedelta(seconds=1), min(span / 2, span * (TARGET * limit) / _total(page, limit)))
                continue
            if link:  # one second, more than a page: page through it (nothing to split)
                for page, _link in self.api.list_orders(self.contract_id, params=params, limit=limit,
                                                        max_wait=max_wait):
                    stats["pages"] += 1
                    self._take(page, stats)
            stats["windows"] += 1
            yield part_end
            found = len(page.get("content") or [])
            step = max(timedelta(seconds=1), span * min(GROWTH, TARGET * limit / max(found, 1)))
            cursor = part_end

    def _take(self, page: dict, stats: dict) -> None:
        pending = self._store_page(page, stats)
        if pending and self.accept_mode == "auto":
            stats["accepted"] += self._auto_accept(pending)

    def _store_page(self, page: dict, stats: dict) -> list[str]:
        """Upsert one page in one transaction; returns the references of its PENDING orders."""
        store = self.app.store
        imported, pending = [], []
        with store.transaction():
            for order in page.get("content") or []:
                if not isinstance(order, dict) or not order.get("order_reference"):
                    continue
                stats["seen"] += 1
                row = mapper.order_row(self.name, order)
                if row["channel_status"] == mapper.NEEDS_ACCEPT:
                    pending.append(row["order_id"])
                old = store.get_order(row["key"])
                if old is not None and old.get("updated_at") == row["updated_at"] \
                        and old.get("channel_status") == row["channel_status"]:
                    stats["unchanged"] += 1
                    continue
                row["imported_at"] = (old or {}).get("imported_at") or self.app.clock.now().isoformat()
                store.upsert_order(row)
                stats["changed" if old else "new"] += 1
                imported.append(row["key"])
        for key in imported:  # after the commit: listeners see what is in the store
            self.app.emit("order_imported", order=store.get_order(key))
        return pending

    # -- accepting and refusing PENDING orders -------------------------------------------------
    def pending_orders(self) -> list[dict]:
        """Stored orders of this account that wait for a decision (ManoMano status PENDING)."""
        try:
            return list(self.app.store.db.query(
                "select key, order_id, purchased_at, updated_at, total, currency, items from orders "
                "where channel = ? and channel_status = ? order by purchased_at", [self.name, mapper.NEEDS_ACCEPT]))
        except sqlite3.OperationalError:  # no order stored yet: the column comes with the first one
            return []

    def refresh_pending(self) -> list[str]:
        """Ask ManoMano which orders of this contract are PENDING now (the ``status`` filter),
        store them, and read back the stored PENDING orders it no longer lists (decided
        elsewhere, in the back office); returns the PENDING references."""
        stats = {"pages": 0, "seen": 0, "new": 0, "changed": 0, "unchanged": 0}
        refs: list[str] = []
        for page, _link in self.api.list_orders(self.contract_id, params={"status": mapper.NEEDS_ACCEPT},
                                                limit=self.settings.page_size):
            refs += self._store_page(page, stats)
        for row in self.pending_orders():
            if row["order_id"] not in refs:
                remote = self._read_back(row["order_id"])
                if remote is not None:
                    self._store_remote(remote)
        return refs

    def _decided(self, refs: list[str], action: str) -> set[str]:
        if not refs:
            return set()
        marks = ",".join("?" * len(refs))
        return {r["order_reference"] for r in self.app.store.db.query(
            f"select order_reference from manomano_decisions where channel = ? and action = ? and state = 'done' "
            f"and order_reference in ({marks})", [self.name, action, *refs])}

    def _auto_accept(self, refs: list[str]) -> int:
        todo = [r for r in refs if r not in self._decided(refs, "accept")]
        if not todo:
            return 0
        try:
            results = self.decide("accept", todo, mode="auto")
        except (TransientError, ManoManoError) as exc:  # the orders stay PENDING: tried again next run
            log.warning("manomano %s: accepting %d order(s) failed: %s", self.name, len(todo), exc)
            return 0
        return sum(1 for r in results.values() if r["ok"])

    def accept_waiting(self) -> int:
        """``accept = "auto"``: accept stored PENDING orders not accepted yet (an earlier try failed)."""
        refs = [r["order_id"] for r in self.pending_orders()]
        return self._auto_accept(refs) if refs else 0

    def decide(self, action: str, refs: list[str], *, mode: str = "manual") -> dict[str, dict]:
        """Send ``accept`` or ``refuse`` for ``refs``, one call per 100 orders; returns ``{ref:
        {"ok", "status", "text"}}``. An order ManoMano reports an error for is read back: already
        in the state the decision leads to (an accept sent twice) counts as done."""
        if action not in ("accept", "refuse"):
            raise ValueError(action)
        refs = list(dict.fromkeys(str(r) for r in refs))
        out: dict[str, dict] = {}
        for i in range(0, len(refs), BATCH):
            out.update(self._decide_batch(action, refs[i:i + BATCH], mode))
        return out

    def _decide_batch(self, action: str, refs: list[str], mode: str) -> dict[str, dict]:
        store, now = self.app.store, self.app.clock.now().isoformat()
        with store.transaction() as db:
            for ref in refs:
                db["manomano_decisions"].upsert({"channel": self.name, "order_reference": ref, "action": action,
                                                 "mode": mode, "state": "sending", "decided_at": now},
                                                pk=("channel", "order_reference", "action"))
        items = [{"order_reference": r, "seller_contract_id": self.contract_id} for r in refs]
        call = self.api.accept_orders if action == "accept" else self.api.refuse_orders
        status, doc = call(items)
        verdicts = mapper.batch_results(status, doc, refs)
        target = "PREPARATION" if action == "accept" else "REFUSED"
        out: dict[str, dict] = {}
        for ref in refs:
            verdict, text = verdicts[ref]
            remote = None
            if verdict != "ok":
                remote = self._read_back(ref)
                reached = remote is not None and str(remote.get("status") or "").upper() in (
                    {"PREPARATION"} | mapper.SHIPPED_STATUSES if action == "accept" else {"REFUSED", "CANCELLED"})
                if reached:
                    verdict, text = "ok", f"already {str(remote['status']).upper()} at ManoMano"
            out[ref] = {"ok": verdict == "ok", "status": status, "text": text}
            if verdict == "ok" and remote is None:
                self._set_remote_status(ref, target)
            elif remote is not None:
                self._store_remote(remote)
        answered = self.app.clock.now().isoformat()
        with store.transaction() as db:
            for ref, r in out.items():
                db["manomano_decisions"].upsert({"channel": self.name, "order_reference": ref, "action": action,
                                                 "state": "done" if r["ok"] else "refused", "status": status,
                                                 "result": r["text"][:500], "answered_at": answered},
                                                pk=("channel", "order_reference", "action"))
        bad = [ref for ref, r in out.items() if not r["ok"]]
        log.info("manomano %s: %s %d order(s) (%s): %d done%s", self.name, action, len(refs), mode,
                 len(refs) - len(bad), f", refused for {', '.join(bad)}" if bad else "")
        return out

    def _read_back(self, ref: str) -> dict | None:
        try:
            return self.api.get_order(self.contract_id, ref)
        except (TransientError, ManoManoError) as exc:
            log.warning("manomano %s: cannot read order %s back: %s", self.name, ref, exc)
            return None

    def _store_remote(self, order: dict) -> None:
        row = mapper.order_row(self.name, order)
        store = self.app.store
        with store.transaction():
            old = store.get_order(row["key"])
            row["imported_at"] = (old or {}).get("imported_at") or self.app.clock.now().isoformat()
            store.upsert_order(row)
        self.app.emit("order_imported", order=store.get_order(row["key"]))

    def _set_remote_status(self, ref: str, raw_status: str) -> None:
        """What ManoMano confirmed (an accept, a shipping) in the stored order, without another call;
        the next sync brings the order as ManoMano has it."""
        store = self.app.store
        with store.transaction():
            row = store.get_order(self.key(ref))
            if row is None:
                return
            raw = json.loads(row["raw"]) if row.get("raw") else {}
            raw["status"] = raw_status
            store.upsert_order({"key": row["key"], "channel": self.name, "order_id": ref, "raw": raw,
                                "status": mapper.status_of(raw_status), "channel_status": raw_status})
        self.app.emit("order_imported", order=store.get_order(self.key(ref)))

    # -- tracking back -------------------------------------------------------------------------
    def shipping_item(self, order_id: str, package: dict) -> dict:
        s: ManoManoChannelSettings = self.settings
        return mapper.shipping_item(order_id, self.contract_id, package,
                                    items=mapper.stored_items(self.app.store.get_order(self.key(order_id))),
                                    carrier_names=s.carrier_names, tracking_urls=s.tracking_urls)

    def _ledger(self, order_id: str, package_ref: str) -> dict | None:
        rows = list(self.app.store.db.query(
            "select * from manomano_shippings where channel = ? and order_reference = ? and package_ref = ?",
            [self.name, order_id, package_ref]))
        return rows[0] if rows else None

    def _record(self, item: dict, package_ref: str, digest: str, state: str, **fields) -> None:
        now = self.app.clock.now().isoformat()
        with self.app.store.transaction() as db:
            db["manomano_shippings"].upsert({
                "channel": self.name, "order_reference": item["order_reference"], "package_ref": package_ref,
                "tracking_number": item["tracking_number"], "carrier": item["carrier"], "body_sha256": digest,
                "state": state, "updated_at": now, **fields}, pk=("channel", "order_reference", "package_ref"))

    def confirm_shipment(self, order_id: str, package: dict) -> dict:
        """Send one order's tracking to ManoMano once; returns the outcome as data.

        ``{"ok": True, ...}`` on success (``already_confirmed`` when it was sent before, or when
        a lost answer turns out to have worked), ``{"ok": False, "errors": [...]}`` when ManoMano
        refuses this order. A lost answer, a 207 without our order, or an order still waiting for
        acceptance raise :class:`TransientError` (tracking-sync tries again later; the next try
        reads the order back first)."""
        package_ref = str(package.get("packageReferenceId") or "1")
        item = self.shipping_item(order_id, package)
        digest = hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()
        summary = {"order_reference": order_id, "carrier": item["carrier"], "tracking_number": item["tracking_number"]}
        prev = self._ledger(order_id, package_ref)
        if prev and prev["state"] == "shipped" and prev["body_sha256"] == digest:
            return {"ok": True, "status": prev["status"], "already_confirmed": True, **summary}
        if prev and prev["state"] == "sending":  # an earlier answer was lost: what does ManoMano have?
            remote = self.api.get_order(self.contract_id, order_id)
            if remote is not None and str(remote.get("status") or "").upper() in mapper.SHIPPED_STATUSES:
                self._record(item, package_ref, digest, "shipped", status=prev["status"],
                             result="verified: the order is shipped at ManoMano")
                self._store_remote(remote)
                log.info("manomano %s: %s was shipped by the earlier call whose answer was lost", self.name, order_id)
                return {"ok": True, "status": 200, "already_confirmed": True, "verified": True, **summary}
        self._ready_to_ship(order_id)
        self._record(item, package_ref, digest, "sending", sent_at=self.app.clock.now().isoformat())
        status, doc = self.api.ship([item])
        verdict, text = mapper.batch_results(status, doc, [order_id])[order_id]
        if verdict == "unknown":  # the row stays 'sending': the next try reads the order back first
            raise TransientError(f"ManoMano's answer (HTTP {status}) does not say whether {order_id} was shipped: "
                                 f"{text}; the order is read back before anything is sent again")
        if verdict == "ok":
            self._record(item, package_ref, digest, "shipped", status=status, result=text[:500] or None)
            self._set_remote_status(order_id, "SHIPPED")
            return {"ok": True, "status": status, **summary}
        self._record(item, package_ref, digest, "refused", status=status, result=text[:500])
        error = f"ManoMano refused the shipping of {order_id}: {text or f'HTTP {status}'}"
        log.warning("manomano %s: %s", self.name, error)
        return {"ok": False, "status": status, "error": error, "errors": [doc if isinstance(doc, dict) else text],
                **summary}

    def _ready_to_ship(self, order_id: str) -> None:
        """A PENDING order cannot ship: accept it first (``accept = "auto"``) or wait for a person."""
        row = self.app.store.get_order(self.key(order_id))
        if row is not None and row.get("channel_status") not in (None, mapper.NEEDS_ACCEPT, "WAITING_PAYMENT",
                                                                  "REMORSE_PERIOD"):
            return
        remote = self.api.get_order(self.contract_id, order_id)
        if remote is None:
            raise TransientError(f"ManoMano order {order_id} is not known to contract {self.contract_id} (yet)")
        status = str(remote.get("status") or "").upper()
        if status != mapper.NEEDS_ACCEPT:
            if status in ("WAITING_PAYMENT", "REMORSE_PERIOD"):
                raise TransientError(f"ManoMano order {order_id} is {status}: not shippable yet")
            return
        if self.accept_mode == "auto" and self.decide("accept", [order_id], mode="auto")[order_id]["ok"]:
            return
        raise TransientError(f"ManoMano order {order_id} waits for acceptance: accept it (`marketd manomano accept "
                             f"{order_id}` or in the ManoMano back office); its tracking is sent after that")

    def shipment_confirmed(self, order_id: str, package: dict) -> bool | None:
        """Is the order shipped at ManoMano (our ledger, else its status there)? None = cannot tell."""
        tracking = str(package.get("trackingNumber") or "")
        rows = list(self.app.store.db.query(
            "select state from manomano_shippings where channel = ? and order_reference = ? and tracking_number = ?",
            [self.name, order_id, tracking]))
        if any(r["state"] == "shipped" for r in rows):
            return True
        try:
            remote = self.api.get_order(self.contract_id, order_id)
        except (TransientError, ConfigError, MarketdError) as exc:
            log.warning("manomano %s: cannot check order %s: %s", self.name, order_id, exc)
            return None
        status = str((remote or {}).get("status") or "").upper()
        if status in mapper.SHIPPED_STATUSES:
            with self.app.store.transaction() as db:  # a call whose answer was lost did its work
                db.execute("update manomano_shippings set state = 'shipped', updated_at = ?, result = ? where "
                           "channel = ? and order_reference = ? and tracking_number = ? and state = 'sending'",
                           [self.app.clock.now().isoformat(), "verified: the order is shipped at ManoMano",
                            self.name, order_id, tracking])
            self._store_remote(remote)
            return True
        if status in ("PENDING", "PREPARATION", "WAITING_PAYMENT", "REMORSE_PERIOD"):
            return False
        return None


def _total(page: dict, limit: int) -> int:
    """How many orders ManoMano says the asked window holds (at least one page more than ``limit``)."""
    pagination = page.get("pagination") or {}
    items, pages = pagination.get("items"), pagination.get("pages")
    if isinstance(items, int) and items > limit:
        return items
    if isinstance(pages, int) and pages > 1:
        return pages * limit
    return 2 * limit


factory = ManoManoChannel
