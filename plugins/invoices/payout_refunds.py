"""Credit notes for refunds that only the marketplaces' payouts report.

A refund made in the marketplace's portal, or by the marketplace itself (a return it refunded,
an A-to-z or a money-back claim), reaches marketd as a ``refund`` line in a payout file. The
settlements plugin answers the ``order_finance`` hook (no import of that plugin): per order and
currency the sum of its payouts' ``refund`` money, negative when it went back to the buyer.

What the order's credit notes already give back (a refund made with ``marketd orders act``, the
``REFUNDED`` status, one made by hand) is subtracted first, because those refunds show up in a
later payout too: the rule is *refunded by the payouts − credited already*, and only a positive
rest gets a credit note. Its trigger key is ``payout:<payout_key>`` of the last payout that
refunded money for the order, so the job run again, or after a kill -9 anywhere, finds the
document it numbered (``UNIQUE(order_key, kind, trigger_key)`` in the numbering transaction)
and never numbers a second one.

When to look: a settlements file committed (``file_processed``) raises a counter; the job scans
when the counter moved, and once a day anyway (a payout matched to an order that arrived later
raises no event). The scan covers the invoices issued within ``refund_window_days``.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from .amounts import Blocked
from .issuer import _block, credited, issue_credit

log = logging.getLogger("marketd.invoices")

CHUNK = 500
FULL_SCAN_EVERY = timedelta(hours=24)


def note_payouts(app, record) -> None:
    """``file_processed``: a committed settlements file may hold refunds (a hint; the daily scan
    is the truth)."""
    if (record or {}).get("kind") != "settlements" or record.get("state") != "done":
        return
    db = app.store.db
    if "payout_refund_scan" not in db.table_names():
        return
    with app.store.transaction() as tx:
        tx.execute("insert into payout_refund_scan (id, hints, scanned) values (1, 1, 0) "
                   "on conflict (id) do update set hints = hints + 1")


def _due(app) -> tuple[bool, int]:
    row = app.store.db.execute("select hints, scanned, full_at from payout_refund_scan where id = 1").fetchone()
    hints, scanned, full_at = row if row else (0, 0, None)
    stale = full_at is None or full_at < (app.clock.now() - FULL_SCAN_EVERY).isoformat()
    return (hints > scanned or stale), hints


def _candidates(db, settings, today: str) -> list[tuple[str, int]]:
    """(order_key, invoice id) of invoices of accounts with credit notes on, in the window."""
    channels = [c for c, s in settings.channels.items() if s.issuer == "seller" and s.credit_notes]
    if not channels:
        return []
    since = (date.fromisoformat(today) - timedelta(days=settings.refund_window_days)).isoformat()
    marks = ",".join("?" * len(channels))
    return [(k, i) for k, i in db.execute(
        f"select order_key, id from documents where kind = 'invoice' and channel in ({marks}) and issue_date >= ? "
        "order by id", [*channels, since])]


def refunded(finance: dict, currency: str) -> tuple[Decimal, str | None, list[str]]:
    """(refunded to the buyer in ``currency``, the last payout that refunded money, the other
    currencies that hold refund money) from an ``order_finance`` answer for one order."""
    total, last, others = Decimal(0), None, []
    for t in finance.get("totals") or []:
        money = -Decimal(t.get("refund") or "0")
        if t.get("currency") == currency:
            total += money
        elif money:
            others.append(t.get("currency") or "?")
    for p in finance.get("payouts") or []:
        if p.get("currency") == currency and Decimal(p.get("refund") or "0"):
            last = p["payout_key"]  # payouts come in paid order
    return total, last, others


def credit_payout_refunds(app, settings, font: str | None, today: str) -> int:
    """Scan when due; returns the number of credit notes issued."""
    if "payout_refund_scan" not in app.store.db.table_names() or not app.hook.order_finance.get_hookimpls():
        return 0
    due, hints = _due(app)
    if not due:
        return 0
    db = app.store.db
    issued = 0
    pairs = _candidates(db, settings, today)
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start:start + CHUNK]
        answer = app.hook.order_finance(app=app, order_keys=[k for k, _ in chunk], refs=[]) or {}
        for key, invoice_id in chunk:
            finance = answer.get(key)
            if finance and _credit_one(app, settings, font, key, invoice_id, finance):
                issued += 1
    with app.store.transaction() as tx:
        tx.execute("insert into payout_refund_scan (id, hints, scanned, full_at) values (1, ?, ?, ?) on conflict (id) "
                   "do update set scanned = excluded.scanned, full_at = excluded.full_at",
                   [hints, hints, app.clock.now().isoformat()])
    if issued:
        log.info("invoices: %d credit note(s) for refunds in payouts", issued)
    return issued


def _credit_one(app, settings, font, key: str, invoice_id: int, finance: dict) -> bool:
    order = app.store.get_order(key)
    if order is None:
        return False
    currency = order.get("currency") or ""
    money, payout_key, others = refunded(finance, currency)
    if others and not money:
        _block(app, key, "credit_note", Blocked("currency", f"a payout refunded this order in {', '.join(others)}, "
                                                            f"the invoice is in {currency}",
                                                "`marketd invoices credit ORDER --amount` in the invoice's currency"))
        return False
    rest = money - credited(app.store.db, invoice_id)
    if rest <= 0 or payout_key is None:
        return False
    found = issue_credit(app, settings, order, font, trigger_key=f"payout:{payout_key}", amount=rest, explicit=False,
                         reason=f"refund reported in payout {payout_key}")
    return bool(found)
