"""Order sync of a ManoMano account (part of :class:`~.channel.ManoManoChannel`).

``GET /orders/v1/orders`` for the account's contract over a closed window of
``status_updated_at``: from the account's watermark minus ``overlap_seconds`` to a minute ago,
read in parts that each fit in one page (why: :meth:`OrderSync._windows`), upserted into the core
``orders`` table and announced with ``order_imported``. The watermark moves part by part, so a
run stopped by the rate limit or by ``run_seconds`` goes on from there at the next run.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from marketd.sdk import RateLimited, store_orders

from . import mapper

log = logging.getLogger("marketd.manomano")

TARGET = 0.8   # a part of the window is sized for this share of a page: most parts then fit one page
GROWTH = 4.0   # a part grows at most this much after one with few orders


class OrderSync:
    """Mixed into the channel: needs ``app``, ``name``, ``settings``, ``contract_id``, ``api``,
    ``accept_mode``, ``max_wait`` and ``_auto_accept``."""

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
        rows = [mapper.order_row(self.name, o) for o in page.get("content") or []
                if isinstance(o, dict) and o.get("order_reference")]
        stats["seen"] += len(rows)
        store_orders(self.app, rows, stats)
        return [r["order_id"] for r in rows if r["channel_status"] == mapper.NEEDS_ACCEPT]


def _total(page: dict, limit: int) -> int:
    """How many orders ManoMano says the asked window holds (at least one page more than ``limit``)."""
    pagination = page.get("pagination") or {}
    items, pages = pagination.get("items"), pagination.get("pages")
    if isinstance(items, int) and items > limit:
        return items
    if isinstance(pages, int) and pages > 1:
        return pages * limit
    return 2 * limit
