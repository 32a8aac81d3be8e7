"""The ``tracking-sync`` job: poll carriers for open shipments, push tracking to channels once.

A round:

1. **Stale pushes.** A push left in ``pushing`` by a process that no longer runs is resolved
   first (see *exactly once* below).
2. **Poll.** Open shipments whose ``next_check_at`` has come are asked at their carrier, in
   chunks: the HTTP calls of a chunk run with no store transaction open, then the answers are
   written in one short transaction. Status changes go to ``shipment_events`` and fire the
   ``shipment_updated`` event. Backoff (``policy.py``) grows while the carrier does not know the
   parcel yet; a carrier that fails three times in a row is left alone for the rest of the round.
   After ``round_seconds`` no new chunk is started (the rest is still due next round), so a
   running round never holds ``systemctl stop`` for long; pushing is bounded the same way.
3. **Push.** A shipment whose tracking number exists and that the carrier has scanned at least
   once is confirmed on each order's channel (``channel.confirm_shipment(order_id, package)``)
   when the channel declares ``capabilities.confirm_shipment``; MALL Delivery shipments are
   not pushed (MALL moves the order itself).
4. **Report.** New exceptions (failed delivery, returned, lost, never scanned, closed unknown,
   pushes that failed or are uncertain) go to ``outbox/reports/shipment-exceptions-<stamp>.csv``.

Exactly once on the channel. Each (shipment, order) push row moves
``waiting → pushing → pushed``; the ``pushing`` claim (with the owning process) is committed
before the channel is called, with a conditional update so two processes cannot both claim it.
The crash window is between that commit and the commit of ``pushed``: the marketplace may or
may not have the confirmation. marketd never calls again by itself from there. On restart the
row is *stale*: if the channel can tell (``channel.shipment_confirmed(order_id, package)``
returning True/False) the row becomes ``pushed`` or ``waiting``; otherwise it becomes
``uncertain`` and is reported, and a person releases it with
``marketd shipments push KEY --force`` after checking Seller Central. So the guarantee is
*at most once* automatically, *exactly once* unless a crash lands inside one HTTP call.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta

from marketd.sdk import (CLAIM_OWNER, EXCEPTION_STATUSES, ConfigError, TrackingResult, TrackingStatus, TransientError,
                        crashpoint, csv_text, order_guard, owner_alive)

from .orders import order_items
from .policy import TrackingPolicy, tracking_policy

log = logging.getLogger("marketd.tracking")

OWNER = CLAIM_OWNER  # host:pid:instance (marketd.sdk.owner_alive tells a restart with the same PID apart)
REPORT_HEADER = ["shipment", "orders", "carrier", "tracking_number", "status", "since", "problem", "last_answer"]


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _update(db, table: str, where: dict, fields: dict) -> None:
    """One plain UPDATE (sqlite-utils' ``update`` costs several introspection queries per row,
    which was most of a tracking round's time)."""
    cols = ", ".join(f"[{k}] = ?" for k in fields)
    cond = " and ".join(f"[{k}] = ?" for k in where)
    db.execute(f"update [{table}] set {cols} where {cond}", [*fields.values(), *where.values()])


def _insert(db, table: str, row: dict) -> None:
    db.execute(f"insert into [{table}] ({', '.join(f'[{k}]' for k in row)}) values ({', '.join('?' * len(row))})",
               list(row.values()))


# -- the job ---------------------------------------------------------------------------------------
def tracking_sync(app, since=None) -> dict:
    policy = tracking_policy(app)
    stats: Counter = Counter()
    alerts: list[list] = []
    resolve_stale_pushes(app, stats, alerts)
    poll(app, policy, stats, alerts, deadline=app.clock.monotonic() + policy.round_seconds)
    push_ready(app, policy, stats, alerts, deadline=app.clock.monotonic() + policy.round_seconds)
    if alerts:
        stamp = app.clock.now().strftime("%Y%m%dT%H%M%SZ")
        app.outbox.write(f"reports/shipment-exceptions-{stamp}.csv", csv_text(REPORT_HEADER, alerts), policy="rename")
        stats["alerts"] = len(alerts)
    _prune(app, policy)
    if stats:
        log.info("tracking-sync: %s", dict(stats))
    return dict(stats)


def poll(app, policy: TrackingPolicy, stats: Counter, alerts: list, deadline: float | None = None) -> None:
    store = app.store
    now = app.clock.now()
    due = list(store.db.query(
        "select * from shipments where open = 1 and next_check_at <= ? order by next_check_at limit ?",
        [now.isoformat(), policy.batch_size]))
    failures: Counter = Counter()
    tripped: set[str] = set()
    for start in range(0, len(due), policy.chunk):
        if start and deadline is not None and app.clock.monotonic() >= deadline:
            stats["deferred"] += len(due) - start  # still due: first in line next round
            log.info("tracking-sync: round time (%gs) used up; %d due shipment(s) wait for the next round",
                     policy.round_seconds, len(due) - start)
            break
        answers = []
        for row in due[start:start + policy.chunk]:
            name = row["carrier"]
            if name in tripped:
                stats["skipped"] += 1
                continue
            try:
                carrier = app.carrier(name)
            except ConfigError:
                answers.append((row, None, f"carrier account {name!r} is no longer configured"))
                continue
            number = row["shipment_id"] if getattr(carrier, "track_by", "tracking_number") == "shipment_id" \
                else (row["tracking_number"] or row["shipment_id"])
            try:
                result = carrier.track(number)
                failures[name] = 0
            except TransientError as exc:
                failures[name] += 1
                if failures[name] >= 3:
                    tripped.add(name)
                    log.warning("tracking-sync: %s failed %d times in a row; its other shipments wait for the "
                                "next round (%s)", name, failures[name], exc)
                answers.append((row, None, str(exc)))
                continue
            answers.append((row, result, None))
        now = app.clock.now()
        changes = []
        with store.transaction():
            for row, result, error in answers:
                change = apply_answer(app, policy, row, result, error, now, stats, alerts)
                if change:
                    changes.append(change)
        for shipment, old, new in changes:
            app.emit("shipment_updated", shipment=shipment, old_status=old, new_status=new)


def apply_answer(app, policy: TrackingPolicy, row: dict, result: TrackingResult | None, error: str | None,
                 now: datetime, stats: Counter, alerts: list):
    db = app.store.db
    upd = {"last_checked_at": now.isoformat(), "checks": (row["checks"] or 0) + 1, "updated_at": now.isoformat()}
    stats["checks"] += 1
    if result is not None and not result.found and any(m.level == "error" for m in result.messages):
        # the carrier refused the question itself (credentials, bad request): not "pending"
        error = "; ".join(str(m) for m in result.messages if m.level == "error")
        result = None
    if result is None:
        stats["errors"] += 1
        errors = (row["errors"] or 0) + 1
        upd.update(errors=errors, last_error=error, last_answer=f"error: {error}",
                   next_check_at=policy.after_error(errors, now).isoformat())
        _update(db, "shipments", {"key": row["key"]}, upd)
        return None
    old = TrackingStatus(row["status"]) if row["status"] else TrackingStatus.pending
    new = result.status
    if not result.found or (new == TrackingStatus.unknown and not result.events and not result.final):
        new = TrackingStatus.pending if old == TrackingStatus.pending else old
    pending_checks = (row["pending_checks"] or 0) + 1 if new == TrackingStatus.pending else 0
    upd.update(errors=0, last_error=None, last_answer=result.summary()[:500], pending_checks=pending_checks)
    if result.tracking_number and result.tracking_number != row["tracking_number"] and result.found \
            and result.tracking_number != row["shipment_id"]:
        upd["tracking_number"] = result.tracking_number
    if result.tracking_url and not row["tracking_url"]:
        upd["tracking_url"] = result.tracking_url
    if row["first_scan_at"] is None and result.first_scan:
        first = min((e.at for e in result.events if e.at), default=None) or now
        upd["first_scan_at"] = first.isoformat()
        stats["first_scans"] += 1
    if result.delivered_at:
        upd["delivered_at"] = result.delivered_at.isoformat()
    changed = new != old
    if changed:
        stats[f"to_{new.value}"] += 1
        ev = next((e for e in result.events if e.status == new), result.events[0] if result.events else None)
        _insert(db, "shipment_events", {
            "shipment_key": row["key"], "recorded_at": now.isoformat(), "old_status": old.value,
            "new_status": new.value, "event_at": _iso(ev.at) if ev else now.isoformat(),
            "code": ev.code if ev else "", "description": ev.description if ev else result.summary()[:200],
            "location": ev.location if ev else "", "source": "carrier"})
        upd.update(status=new.value, status_at=now.isoformat())
        if new in EXCEPTION_STATUSES:
            alerts.append(_alert(row, new.value, now, _problem(new), result.summary()))
    created = _parse(row["created_at"]) or now
    if result.final and result.found:
        upd.update(final=1, open=0, next_check_at=None)
        stats["closed"] += 1
    elif now - created > timedelta(days=policy.give_up_days):
        upd.update(final=1, open=0, next_check_at=None, status=TrackingStatus.unknown.value)
        _insert(db, "shipment_events", {
            "shipment_key": row["key"], "recorded_at": now.isoformat(), "old_status": new.value,
            "new_status": TrackingStatus.unknown.value, "event_at": now.isoformat(), "code": "give_up",
            "description": f"no final status after {policy.give_up_days:g} days; no longer polled",
            "location": "", "source": "marketd"})
        alerts.append(_alert(row, "unknown", now, f"closed: no final status after {policy.give_up_days:g} days",
                             result.summary()))
        changed, new = True, TrackingStatus.unknown
    else:
        upd["next_check_at"] = policy.next_check(new, pending_checks if new == TrackingStatus.pending else 0,
                                                 now).isoformat()
        if new == TrackingStatus.pending and not row["alerted"] \
                and now - created > timedelta(hours=policy.pending_alert_hours):
            upd["alerted"] = now.isoformat()
            alerts.append(_alert(row, "pending", now, f"no carrier scan {policy.pending_alert_hours:g} h after "
                                 "creation: was the parcel handed over?", result.summary()))
    _update(db, "shipments", {"key": row["key"]}, upd)
    if changed:
        return {**row, **upd}, old.value, new.value
    return None


def _problem(status: TrackingStatus) -> str:
    return {TrackingStatus.delivery_failed: "delivery failed: the carrier will retry or hold it at the depot",
            TrackingStatus.return_to_sender: "returned to sender",
            TrackingStatus.lost: "lost: open a claim with the carrier"}.get(status, status.value)


def _alert(row: dict, status: str, now: datetime, problem: str, answer: str) -> list:
    return [row["key"], "|".join(json.loads(row["refs"] or "[]")), row["carrier"], row["tracking_number"] or "",
            status, now.isoformat(), problem, answer[:300]]


# -- pushing to channels --------------------------------------------------------------------------
def build_package(push: dict, shipment: dict, order: dict | None) -> dict:
    """The package in Amazon ``PackageDetail`` terms (the common denominator of channels), plus
    ``trackingUrl`` when the carrier gave one."""
    items = []
    for it in order_items(order or {}):
        if not isinstance(it, dict):
            continue
        item_id = it.get("order_item_id") or it.get("orderItemId") or it.get("OrderItemId") or it.get("id")
        qty = it.get("quantity") or it.get("quantity_ordered") or it.get("quantityOrdered") or it.get("QuantityOrdered")
        if item_id:
            items.append({"orderItemId": str(item_id), "quantity": int(qty or 1)})
    package = {
        "packageReferenceId": push["package_ref"],
        "carrierCode": shipment["carrier_code"],
        "carrierName": shipment["carrier_label"],
        "trackingNumber": shipment["tracking_number"],
        "shipDate": shipment["first_scan_at"] or shipment["created_at"],
        "orderItems": items,
    }
    if shipment.get("service"):
        package["shippingMethod"] = shipment["service"]
    if shipment.get("tracking_url"):  # channels that take a link (ManoMano, MALL) send it; others ignore it
        package["trackingUrl"] = shipment["tracking_url"]
    return package


def _claim(db, push: dict, now: datetime) -> bool:
    cur = db.execute(
        "update shipment_pushes set state = 'pushing', owner = ?, started_at = ?, attempts = attempts + 1 "
        "where shipment_key = ? and order_key = ? and state in ('waiting', 'retry')",
        [OWNER, now.isoformat(), push["shipment_key"], push["order_key"]])
    return cur.rowcount == 1


def _set_push(app, push: dict, **fields) -> None:
    with app.store.transaction() as db:
        _update(db, "shipment_pushes", {"shipment_key": push["shipment_key"], "order_key": push["order_key"]}, fields)


def _failed_response(resp) -> str | None:
    if isinstance(resp, dict):
        if resp.get("ok") is False:
            return str(resp.get("error") or resp.get("errors") or "channel refused the confirmation")
        if resp.get("errors"):
            return json.dumps(resp["errors"], default=str)[:500]
    return None


def push_ready(app, policy: TrackingPolicy, stats: Counter, alerts: list, only: tuple | None = None,
               deadline: float | None = None) -> None:
    store = app.store
    now = app.clock.now()
    sql = ("select p.*, s.tracking_number, s.first_scan_at, s.created_at, s.carrier_code, s.carrier_label, "
           "s.service, s.refs, s.carrier, s.status, s.tracking_url from shipment_pushes p "
           "join shipments s on s.key = p.shipment_key where p.state in ('waiting', 'retry') "
           "and (p.next_attempt_at is null or p.next_attempt_at <= ?) and s.first_scan_at is not null "
           "and coalesce(s.tracking_number, '') != '' and s.channel_managed = 0")
    params = [now.isoformat()]
    if only:
        sql += " and p.shipment_key = ? and p.order_key = ?"
        params += list(only)
    ready = list(store.db.query(sql + " order by p.next_attempt_at", params))
    for n, push in enumerate(ready):
        if n and deadline is not None and app.clock.monotonic() >= deadline:
            stats["push_deferred"] += len(ready) - n
            break
        try:
            channel = app.channel(push["channel"])
        except ConfigError as exc:
            _set_push(app, push, next_attempt_at=(now + timedelta(hours=1)).isoformat(),
                      error=f"channel {push['channel']!r} unavailable: {exc}"[:500])
            stats["push_no_channel"] += 1
            continue
        caps = getattr(channel, "capabilities", None)
        if not getattr(caps, "confirm_shipment", False):
            _set_push(app, push, state="skipped", error=f"channel {push['channel']} cannot confirm shipments")
            stats["push_skipped"] += 1
            continue
        # An order handled by hand in the portal is not confirmed automatically; the push waits
        # (visible with the reason) and goes on by itself once the flag is cleared. An explicit
        # `shipments push KEY` (``only``) acts anyway.
        manual = None if only else order_guard(app, push["order_key"], "tracking push")
        if manual:
            _set_push(app, push, next_attempt_at=(now + timedelta(hours=1)).isoformat(), error=manual[:500])
            stats["push_manual"] += 1
            continue
        order = store.get_order(push["order_key"])
        package = build_package(push, push, order)
        with store.transaction() as db:
            claimed = _claim(db, push, now)
        if not claimed:
            continue
        crashpoint("tracking_after_push_claim")
        try:
            resp = channel.confirm_shipment(push["order_id"], package)
        except TransientError as exc:
            attempts = (push["attempts"] or 0) + 1
            _set_push(app, push, state="retry", owner=None, error=str(exc)[:500],
                      next_attempt_at=(now + timedelta(seconds=policy.push_backoff(attempts))).isoformat())
            stats["push_retry"] += 1
            continue
        except Exception as exc:  # a refusal: not retried automatically
            _set_push(app, push, state="failed", owner=None, error=f"{type(exc).__name__}: {exc}"[:500])
            alerts.append(_alert({**push, "key": push["shipment_key"]}, push["status"], now,
                                 f"confirming on {push['channel']} failed: {exc}", ""))
            stats["push_failed"] += 1
            continue
        problem = _failed_response(resp)
        if problem:
            _set_push(app, push, state="failed", owner=None, error=problem,
                      response=json.dumps(resp, default=str)[:2000])
            alerts.append(_alert({**push, "key": push["shipment_key"]}, push["status"], now,
                                 f"{push['channel']} refused the confirmation: {problem}", ""))
            stats["push_failed"] += 1
            continue
        _set_push(app, push, state="pushed", owner=None, pushed_at=app.clock.now().isoformat(), error=None,
                  response=json.dumps(resp, default=str)[:2000])
        crashpoint("tracking_after_push")
        stats["pushed"] += 1


def resolve_stale_pushes(app, stats: Counter, alerts: list) -> None:
    store = app.store
    now = app.clock.now()
    rows = list(store.db.query(
        "select p.*, s.tracking_number, s.first_scan_at, s.created_at, s.carrier_code, s.carrier_label, s.service, "
        "s.refs, s.carrier, s.status, s.tracking_url from shipment_pushes p join shipments s on s.key = p.shipment_key "
        "where p.state = 'pushing'"))
    for push in rows:
        if owner_alive(push["owner"]):
            continue
        verdict = None
        try:
            channel = app.channel(push["channel"])
            check = getattr(channel, "shipment_confirmed", None)
            if check is not None:
                verdict = check(push["order_id"], build_package(push, push, store.get_order(push["order_key"])))
        except Exception as exc:
            log.warning("could not verify push %s on %s: %s", push["push_key"], push["channel"], exc)
        if verdict is True:
            _set_push(app, push, state="pushed", owner=None, pushed_at=now.isoformat(),
                      error="verified on the channel after a restart")
            stats["push_verified"] += 1
        elif verdict is False:
            _set_push(app, push, state="waiting", owner=None, next_attempt_at=now.isoformat(),
                      error="not on the channel after a restart: will push")
            stats["push_requeued"] += 1
        else:
            _set_push(app, push, state="uncertain", owner=None,
                      error="the daemon stopped during the confirmation call; check the order on the channel, "
                            f"then `marketd shipments push {push['shipment_key']} --force` if it is not confirmed")
            alerts.append(_alert({**push, "key": push["shipment_key"]}, push["status"], now,
                                 f"confirmation on {push['channel']} uncertain after a crash: check the order, "
                                 f"then `marketd shipments push {push['shipment_key']} --force` if needed", ""))
            stats["push_uncertain"] += 1


def _prune(app, policy: TrackingPolicy) -> None:
    last = getattr(app, "_ledger_pruned", None)
    now = app.clock.now()
    if last and now - last < timedelta(days=1):
        return
    app._ledger_pruned = now
    try:
        from .ledger import Ledger

        Ledger.for_app(app).prune_labels(policy.label_retention_days)
    except Exception as exc:  # housekeeping must never fail the job
        log.warning("pruning stored labels failed: %s", exc)
