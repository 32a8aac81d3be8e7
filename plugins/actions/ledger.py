"""Requesting and performing one fulfilment action on a remote order.

Actions and what a channel must declare for each (``marketd.sdk.Capabilities``):

=====================  =========================  ============================================
action                 capability / method        parameters
=====================  =========================  ============================================
accept                 ``accept_order``           -
refuse                 ``refuse_order``           reason
cancel                 ``cancel_order``           lines (SKU:QTY, none = whole order), reason
refund                 ``refund``                 amount + currency (none = all), lines, reason
ship-without-tracking  ``ship_without_tracking``  -
=====================  =========================  ============================================

Performing is the claim → call → commit machine: the claim is committed before the remote call,
the answer after it; a claim whose process is gone becomes ``uncertain`` (the marketplace may have
acted) and waits for a person instead of acting twice.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from marketd.sdk import CLAIM_OWNER, Backoff, ConfigError, TransientError, crashpoint, order_guard, owner_alive

ACTIONS = {"accept": "accept_order", "refuse": "refuse_order", "cancel": "cancel_order", "refund": "refund",
           "ship-without-tracking": "ship_without_tracking"}
REASONS = ("out_of_stock", "buyer_request", "address_issue", "price_error", "other")
OWNER = CLAIM_OWNER


class ActionError(ValueError):
    """A request that cannot be made as given (unknown action, bad amount …)."""


def parse_lines(text: str | None) -> list[dict]:
    """``SKU:QTY,SKU:QTY`` → ``[{"sku", "quantity"}]`` (a missing QTY is 1)."""
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        sku, _, qty = part.rpartition(":") if ":" in part else (part, "", "1")
        if not sku or not qty.isdigit() or int(qty) < 1:
            raise ActionError(f"{part!r} is not SKU:QUANTITY (e.g. MUG-1:2)")
        out.append({"sku": sku, "quantity": int(qty)})
    return out


def normalise(action: str, *, lines: str | None = None, amount: str | None = None, currency: str | None = None,
              reason: str | None = None) -> dict:
    if action not in ACTIONS:
        raise ActionError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
    if reason is not None and reason not in REASONS:
        raise ActionError(f"unknown reason {reason!r}; reasons: {', '.join(REASONS)}")
    params: dict = {}
    if lines:
        if action not in ("cancel", "refund"):
            raise ActionError(f"{action} takes no lines")
        params["lines"] = parse_lines(lines)
    if amount not in (None, ""):
        if action != "refund":
            raise ActionError(f"{action} takes no amount")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ActionError(f"{amount!r} is not an amount (write 12.50)") from None
        if not value.is_finite() or value <= 0:
            raise ActionError(f"a refund of {amount} is not a positive amount")
        if not currency:
            raise ActionError("a refund amount needs its currency")
        params["amount"], params["currency"] = format(value.quantize(Decimal("0.01")), "f"), currency.upper()
    if action in ("refuse", "cancel", "refund"):
        params["reason"] = reason or "other"
    return params


def idem_key(order_key: str, action: str, params: dict, action_id: str | None) -> str:
    if action_id:
        return f"id:{action_id}"
    digest = hashlib.sha256(json.dumps([order_key, action, params], sort_keys=True).encode()).hexdigest()
    return f"h:{digest[:32]}"


def request(app, order: dict, action: str, params: dict, *, by: str, source: str, note: str | None = None,
            action_id: str | None = None) -> tuple[dict, bool]:
    """The ledger row for this request: ``(row, True)`` when new, ``(existing row, False)``."""
    key = idem_key(order["key"], action, params, action_id)
    now = app.clock.now().isoformat()
    with app.store.transaction() as db:
        found = list(db.query("select * from order_actions where idem_key = ?", [key]))
        if found:
            return found[0], False
        db.execute("insert into order_actions (idem_key, order_key, channel, order_id, action, params, requested_by, "
                   "requested_at, reason, note, source, state) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting')",
                   [key, order["key"], order["channel"], order["order_id"], action, json.dumps(params, sort_keys=True),
                    by, now, params.get("reason"), note, source])
        row = next(db.query("select * from order_actions where idem_key = ?", [key]))
    return dict(row), True


def _set(app, action_id: int, **fields) -> None:
    cols = ", ".join(f"{k} = ?" for k in fields)
    with app.store.transaction() as db:
        db.execute(f"update order_actions set {cols} where id = ?", [*fields.values(), action_id])


def _call(channel, row: dict, params: dict) -> dict:
    order_id = row["order_id"]
    action = row["action"]
    if action == "accept":
        return channel.accept_order(order_id)
    if action == "refuse":
        return channel.refuse_order(order_id, params.get("reason"))
    if action == "cancel":
        return channel.cancel_order(order_id, params.get("lines") or None, params.get("reason"))
    if action == "refund":
        return channel.refund(order_id, params.get("amount"), params.get("currency"), params.get("lines") or None,
                              params.get("reason"))
    return channel.ship_without_tracking(order_id)


def perform(app, action_id: int, *, explicit: bool = False) -> dict:
    """Perform one ``waiting`` action; returns its row afterwards. ``explicit``: a person named
    the order (``marketd orders act``), so the manual flag does not stop it."""
    row = dict(next(app.store.db.query("select * from order_actions where id = ?", [action_id])))
    if row["state"] != "waiting":
        return row
    now = app.clock.now()
    reason = None if explicit else order_guard(app, row["order_key"], f"{row['action']} action")
    if reason:
        _set(app, action_id, state="skipped", error=reason[:500])
        return _row(app, action_id)
    try:
        channel = app.channel(row["channel"])
    except ConfigError as exc:
        _set(app, action_id, state="failed", error=str(exc)[:500])
        return _row(app, action_id)
    if not getattr(getattr(channel, "capabilities", None), ACTIONS[row["action"]], False):
        _set(app, action_id, state="skipped",
             error=(f"{getattr(channel, 'type', row['channel'])} offers {row['action']} only in its portal (no API "
                    "for it in marketd): do it there, then `marketd orders mark-manual ORDER` so nothing automatic "
                    "acts on the order"))
        return _row(app, action_id)
    with app.store.transaction() as db:
        claimed = db.execute("update order_actions set state = 'claimed', owner = ?, claimed_at = ?, "
                             "attempts = attempts + 1 where id = ? and state = 'waiting'",
                             [OWNER, now.isoformat(), action_id]).rowcount
    if not claimed:
        return _row(app, action_id)
    crashpoint("actions_after_claim")
    try:
        result = _call(channel, row, json.loads(row["params"]))
    except TransientError as exc:
        delay = Backoff(60, 3600).delay(row["attempts"] + 1)
        _set(app, action_id, state="waiting", owner=None, error=str(exc)[:500],
             next_attempt_at=(now + timedelta(seconds=delay)).isoformat())
        return _row(app, action_id)
    except Exception as exc:
        _set(app, action_id, state="failed", owner=None, error=f"{type(exc).__name__}: {exc}"[:500])
        return _row(app, action_id)
    ok = bool(result.get("ok"))
    _set(app, action_id, state="done" if ok else "failed", owner=None, result=json.dumps(result, default=str)[:2000],
         remote_ref=str(result.get("ref") or "") or None, error=None if ok else str(result.get("error"))[:500],
         done_at=app.clock.now().isoformat() if ok else None)
    crashpoint("actions_after_record")
    done = _row(app, action_id)
    if ok:
        app.emit("order_action_done", action=done)
    return done


def _row(app, action_id: int) -> dict:
    return dict(next(app.store.db.query("select * from order_actions where id = ?", [action_id])))


def settle_interrupted(app) -> int:
    n = 0
    for r in list(app.store.db.query("select id, owner from order_actions where state = 'claimed'")):
        if r["owner"] != OWNER and not owner_alive(r["owner"]):
            _set(app, r["id"], state="uncertain", owner=None,
                 error="interrupted between the call and its recorded answer: the marketplace may have acted; check "
                       "there, then `marketd orders act ORDER ACTION --force` to send it again if it did not")
            n += 1
    return n


def run_waiting(app, since=None) -> dict:
    """The ``order-actions`` job: actions from the ``inbox/actions/`` drop (and retries)."""
    settle_interrupted(app)
    now = app.clock.now().isoformat()
    out: dict[str, int] = {}
    ids = [i for (i,) in app.store.db.execute(
        "select id from order_actions where state = 'waiting' and (next_attempt_at is null or next_attempt_at <= ?) "
        "order by id limit 500", [now])]
    for action_id in ids:
        state = perform(app, action_id)["state"]
        out[state] = out.get(state, 0) + 1
    return out
