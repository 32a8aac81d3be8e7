"""Accounts in Amazon's VAT Calculation Service with self-invoicing (``vcs = true``).

Amazon's VAT Invoice Data Report (the channel's ``invoice_data``, capability ``invoice_status``)
lists every shipment whose invoice is still pending, with Amazon's VAT calculation per item and,
for an uploaded invoice Amazon rejected, why (``invoice-status-description``). Amazon says to
take the VAT from it and to read upload results there. So, per account with ``vcs = true``:

- the report is requested and read across job runs (requested → pending → done), at most every
  ``vcs_hours`` (12: Amazon asks for twice a day), and what it says per order is kept in
  ``vcs_orders`` (ids, status, description, Amazon's rate per SKU; never the recipient columns);
- an order is invoiced only once the report has listed it, and its lines take Amazon's VAT rate
  (``vcs_rates``); until then it waits, blocked with reason ``waiting_for_vcs`` (no number used);
- an uploaded invoice (``done``) whose order the report lists as ``Failed`` or with a description
  becomes ``failed`` with Amazon's words: a person fixes it and sends it again with
  ``marketd invoices upload DOC --force``. An uploaded invoice whose order is no longer listed was
  accepted.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta

log = logging.getLogger("marketd.invoices")

EVERY = timedelta(hours=12)
DOC_KIND = {"shipment": "invoice", "refund": "credit_note", "return": "credit_note"}


def vcs_channels(settings) -> list[str]:
    return [c for c, s in settings.channels.items() if s.issuer == "seller" and s.vcs]


def refresh(app, settings) -> dict:
    """Request, poll or apply each VCS account's report; what happened per account."""
    out = {}
    for name in vcs_channels(settings):
        try:
            out[name] = _refresh_one(app, name)
        except Exception as exc:  # one account's trouble must not stop invoicing
            log.warning("invoices: VAT invoice data report of %s: %s", name, exc)
            out[name] = f"error: {exc}"[:200]
    return out


def _refresh_one(app, name: str) -> str:
    db = app.store.db
    row = db.execute("select report_id, requested_at, done_at from vcs_reports where channel = ?", [name]).fetchone()
    report_id, _requested, done_at = row if row else (None, None, None)
    now = app.clock.now()
    channel = app.channel(name)
    if not getattr(getattr(channel, "capabilities", None), "invoice_status", False):
        return "the channel gives no invoice data report"
    if report_id is None:
        if done_at and done_at > (now - EVERY).isoformat():
            return "fresh"
        answer = channel.invoice_data(None)
        if answer.get("state") != "requested":
            note = f"refused: {answer.get('detail')}"
            log.warning("invoices: VAT invoice data report of %s %s", name, note)
            with app.store.transaction() as tx:   # asked again with the next report (12 h), shown in the status
                tx.execute("insert into vcs_reports (channel, done_at, note) values (?, ?, ?) on conflict (channel) "
                           "do update set done_at = excluded.done_at, note = excluded.note",
                           [name, now.isoformat(), note[:300]])
            return note
        with app.store.transaction() as tx:
            tx.execute("insert into vcs_reports (channel, report_id, requested_at) values (?, ?, ?) on conflict "
                       "(channel) do update set report_id = excluded.report_id, requested_at = excluded.requested_at",
                       [name, answer["report_id"], now.isoformat()])
        return "requested"
    answer = channel.invoice_data(report_id)
    if answer.get("state") == "pending":
        return "pending"
    if answer.get("state") == "done":
        rejected = _apply(app, name, answer["rows"])
        note = f"{len(answer['rows'])} pending transaction(s), {rejected} rejected upload(s)"
    else:
        note = f"failed: {answer.get('detail')}"
        log.warning("invoices: VAT invoice data report of %s %s", name, note)
    with app.store.transaction() as tx:
        tx.execute("update vcs_reports set report_id = null, done_at = ?, note = ? where channel = ?",
                   [now.isoformat(), note[:300], name])
    return note


def _apply(app, name: str, rows: list[dict]) -> int:
    now = app.clock.now().isoformat()
    rejected = 0
    with app.store.transaction() as tx:
        for r in rows:
            key = f"{name}:{r['order_id']}"
            kind = DOC_KIND.get(str(r.get("transaction_type") or "").lower(), "invoice")
            tx.execute("insert into vcs_orders (order_key, kind, data, seen_at) values (?, ?, ?, ?) on conflict "
                       "(order_key, kind) do update set data = excluded.data, seen_at = excluded.seen_at",
                       [key, kind, json.dumps(r, sort_keys=True), now])
            if str(r.get("status") or "").lower() in ("failed", "rejected") or r.get("description"):
                why = f"Amazon rejected it (VAT invoice data report): {r.get('description') or r.get('status')}"
                rejected += tx.execute(
                    "update document_uploads set state = 'failed', reason = ?, updated_at = ? where state = 'done' "
                    "and doc_id in (select id from documents where order_key = ? and kind = ?)",
                    [why[:500], now, key, kind]).rowcount
    return rejected


def vcs_rates(db, order_key: str) -> dict[str, str] | None:
    """Amazon's VAT rate (percent) per SKU for the order's shipment; None until the report lists it."""
    row = db.execute("select data from vcs_orders where order_key = ? and kind = 'invoice'", [order_key]).fetchone()
    if row is None:
        return None
    data = json.loads(row[0])
    return {line["sku"]: line["vat_rate"] for line in data.get("lines") or [] if line.get("vat_rate") is not None}
