"""The ``invoices`` job: finish what a crash left, then issue what is due.

Order of work: documents still ``numbered`` are rendered first (a kill -9 came between their
commit and their file), then the orders the ``order_imported`` event noted in ``invoice_work``,
then a scan of the orders table for anything due without a document (the event is a hint; the
scan is the truth, so an order whose event was lost is still invoiced), then credit notes for
refunded orders, then credit notes for refunds the payouts report (``payout_refunds.py``). Each
order is its own transaction; ``batch`` bounds one run.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from .issuer import REFUND_STATUS_TRIGGER, TRIGGER_STATUSES, issue_credit, issue_invoice
from .publish import publish_pending
from .render import find_font
from .settings import invoice_settings

log = logging.getLogger("marketd.invoices")


def _due_keys(db, settings, limit: int, recheck: str) -> list[str]:
    """Orders to look at: the noted ones, then those due without an invoice. A blocked order is
    looked at again once its block is older than ``recheck`` (the config may have been fixed)."""
    keys: list[str] = [k for (k,) in db.execute("select order_key from invoice_work order by noted_at limit ?",
                                                [limit])]
    for channel, chan in settings.channels.items():
        if chan.issuer != "seller" or len(keys) >= limit:
            continue
        statuses = TRIGGER_STATUSES[chan.trigger or settings.trigger]
        marks = ",".join("?" * len(statuses))
        keys += [k for (k,) in db.execute(
            f"select o.key from orders o where o.channel = ? and o.status in ({marks}) and not exists "
            "(select 1 from documents d where d.order_key = o.key and d.kind = 'invoice') and not exists "
            "(select 1 from documents_blocked b where b.order_key = o.key and b.kind = 'invoice' and b.at > ?) "
            "order by o.purchased_at, o.key limit ?", [channel, *statuses, recheck, limit - len(keys)])]
    return list(dict.fromkeys(keys))


def _refunded_keys(db, settings, limit: int, recheck: str) -> list[str]:
    channels = [c for c, s in settings.channels.items() if s.issuer == "seller" and s.credit_notes]
    if not channels:
        return []
    marks = ",".join("?" * len(channels))
    return [k for (k,) in db.execute(
        f"select o.key from orders o join documents i on i.order_key = o.key and i.kind = 'invoice' "
        f"where o.status = 'REFUNDED' and o.channel in ({marks}) and not exists (select 1 from documents c where "
        "c.order_key = o.key and c.kind = 'credit_note' and c.trigger_key = ?) and not exists (select 1 from "
        "documents_blocked b where b.order_key = o.key and b.kind = 'credit_note' and b.at > ?) order by o.key limit ?",
        [*channels, REFUND_STATUS_TRIGGER, recheck, limit])]


def issue_job(app, since=None) -> dict:
    settings = invoice_settings(app)
    if not settings.configured():
        return {"issued": 0, "reason": "not configured"}
    font = find_font(settings.font)
    done = {"rendered": publish_pending(app, font), "invoices": 0, "credit_notes": 0}
    db = app.store.db
    from .vcs import refresh, vcs_channels

    if vcs_channels(settings):
        done["vcs"] = refresh(app, settings)   # before issuing: Amazon's VAT rates for VCS accounts
    recheck = (app.clock.now() - timedelta(hours=1)).isoformat()
    for key in _due_keys(db, settings, settings.batch, recheck):
        order = app.store.get_order(key)
        if order is not None and order["channel"] in settings.channels:
            if issue_invoice(app, settings, order, font):
                done["invoices"] += 1
        with app.store.transaction() as tx:
            tx.execute("delete from invoice_work where order_key = ?", [key])
    for key in _refunded_keys(db, settings, settings.batch, recheck):
        order = app.store.get_order(key)
        if issue_credit(app, settings, order, font, trigger_key=REFUND_STATUS_TRIGGER, explicit=False):
            done["credit_notes"] += 1
    from .issuer import _today
    from .payout_refunds import credit_payout_refunds

    done["credit_notes"] += credit_payout_refunds(app, settings, font, _today(app, settings))
    from .provider import export_due
    from .upload import enqueue, settle_interrupted, upload_due, write_pending_lists

    done["exported"] = export_due(app, settings, lambda chan: TRIGGER_STATUSES[chan.trigger or settings.trigger])

    settle_interrupted(app)
    enqueue(app, settings)
    done["uploads"] = upload_due(app, settings.batch)
    write_pending_lists(app, settings)
    if done["invoices"] or done["credit_notes"] or done["rendered"]:
        log.info("invoices: %(invoices)d invoice(s), %(credit_notes)d credit note(s), %(rendered)d re-rendered", done)
    return done


def note_order(app, order) -> None:
    """``order_imported``: note the order for the next run when its account is invoiced."""
    order = order if isinstance(order, dict) else getattr(order, "__dict__", {})
    key, channel = order.get("key"), order.get("channel")
    if not key or channel not in invoice_settings(app).channels:
        return
    with app.store.transaction() as db:
        db.execute("insert or ignore into invoice_work (order_key, noted_at) values (?, ?)",
                   [key, app.clock.now().isoformat()])
