"""PENDING orders of a ManoMano account: listing them, and sending a person's (or the auto
mode's) accept or refuse (part of :class:`~.channel.ManoManoChannel`).

A PENDING order must be accepted before it can ship. ``POST /orders/v1/accept-orders`` /
``refuse-orders`` take ``[{order_reference, seller_contract_id}]`` and answer 204 (all done) or
207 (a result per order). An order ManoMano reports an error for is read back: already in the
state the decision leads to (accepted twice, or in the back office) counts as done. Every
decision and its answer is recorded in ``manomano_decisions``.
"""
from __future__ import annotations

import json
import logging
import sqlite3

from marketd.sdk import TransientError, store_orders

from . import mapper
from .client import ManoManoError

log = logging.getLogger("marketd.manomano")

BATCH = 100    # orders per accept/refuse call (the fake refuses more; ManoMano's own limit is not known)


class Decisions:
    """Mixed into the channel: needs ``app``, ``name``, ``settings``, ``contract_id``, ``api`` and
    ``_store_page``."""

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

    def accept_order(self, order_id: str) -> dict:
        """The channel-neutral accept (``marketd orders act ORDER accept``): one order."""
        r = self.decide("accept", [order_id])[str(order_id)]
        return {"ok": r["ok"], "error": None if r["ok"] else r["text"], "ref": r["text"] if r["ok"] else None}

    def refuse_order(self, order_id: str, reason: str | None = None) -> dict:
        """The channel-neutral refuse; ManoMano's refuse takes no reason (it is kept locally)."""
        r = self.decide("refuse", [order_id])[str(order_id)]
        return {"ok": r["ok"], "error": None if r["ok"] else r["text"], "ref": r["text"] if r["ok"] else None}

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
        store_orders(self.app, [mapper.order_row(self.name, order)], skip_unchanged=False)

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
