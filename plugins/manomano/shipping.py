"""Tracking back to ManoMano, once per order (part of :class:`~.channel.ManoManoChannel`).

``POST /orders/v1/shippings`` with one item per call, sent once: the ledger row
(``manomano_shippings``) says ``sending`` before the call; when the answer was lost (5xx, a
timeout, a crash) the order is read back before anything is sent again, and SHIPPED there
counts as done. A 207 is read item by item: our order's result decides. ManoMano shows the
carrier on an order but not the tracking number, so a SHIPPED order counts as confirmed whatever
tracking it carries.
"""
from __future__ import annotations

import hashlib
import json
import logging

from marketd.sdk import ConfigError, MarketdError, TransientError

from . import mapper

log = logging.getLogger("marketd.manomano")


class Shipping:
    """Mixed into the channel: needs ``app``, ``name``, ``settings``, ``contract_id``, ``api``,
    ``accept_mode``, ``key``, ``decide``, ``_store_remote`` and ``_set_remote_status``."""

    def shipping_item(self, order_id: str, package: dict) -> dict:
        s = self.settings
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
