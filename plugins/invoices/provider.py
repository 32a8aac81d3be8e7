"""An external invoicing provider (seed 002: receipts "once the invoicing provider is associated").

For an account with ``issuer = "provider"``, each order that reaches the trigger is exported
once to ``outbox/invoicing/<provider>/<order key>.json`` (0600: buyer data) in the neutral shape
below, for the provider to pick up. The provider's invoice comes back as a PDF dropped into
``inbox/provider-invoices/`` named ``<order id>__<invoice number>.pdf``: it is matched to the order,
the order's total must appear in the PDF's text (else it is refused with both amounts), and it is
recorded as a document of series ``provider:<name>`` (the provider numbers it; our count is
informational) and written to ``outbox/invoices/<channel>/<year>/``, from where the upload works as
for our own invoices.

Export shape: ``{"format": "marketd-invoicing-order/1", "order": {key, channel, order_id,
purchased_at, currency, total}, "seller": {…}, "buyer": {name, address[], country, vat_id}, "lines":
[{description, sku, quantity, gross, rate, net}], "vat": [{rate, net, vat, gross}], "totals": {…}}``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from marketd.sdk import FileRejected, quote_input

from .amounts import Blocked, order_lines, summarise
from .numbering import safe_name
from .settings import InvoicesSettings

FORMAT = "marketd-invoicing-order/1"
NAME = re.compile(r"^(?P<order>[^_]+(?:_[^_]+)*?)__(?P<number>[A-Za-z0-9][A-Za-z0-9._/-]{0,40})\.pdf$", re.I)


def export_due(app, settings: InvoicesSettings, statuses_of) -> int:
    """Export every due order of a provider account not exported yet; returns how many."""
    from .issuer import _block, _seller, buyer

    n = 0
    for channel, chan in settings.channels.items():
        if chan.issuer != "provider":
            continue
        statuses = statuses_of(chan)
        marks = ",".join("?" * len(statuses))
        rows = list(app.store.db.query(
            f"select * from orders where channel = ? and status in ({marks}) and key not in "
            "(select order_key from provider_exports) order by purchased_at, key limit ?",
            [channel, *statuses, settings.batch]))
        for order in rows:
            try:
                body = summarise(order_lines(order, chan.vat_rate or settings.vat_rate))
            except Blocked as b:
                _block(app, order["key"], "export", b)
                continue
            doc = {"format": FORMAT,
                   "order": {k: order.get(k) for k in ("key", "channel", "order_id", "purchased_at", "currency",
                                                       "total")},
                   "seller": _seller(settings), "buyer": buyer(order), **body}
            path = app.outbox_dir / "invoicing" / chan.provider / f"{safe_name(order['key'])}.json"
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            tmp = path.with_name(f".{path.name}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            with app.store.transaction() as db:
                db.execute("insert or ignore into provider_exports (order_key, provider, path, exported_at) "
                           "values (?, ?, ?, ?)", [order["key"], chan.provider, str(path), app.clock.now().isoformat()])
            n += 1
    return n


def _amount_forms(total: Decimal) -> set[str]:
    text = format(total.quantize(Decimal("0.01")), "f")
    whole, cents = text.split(".")
    grouped = f"{int(whole):,}"
    return {text, f"{whole},{cents}", f"{grouped}.{cents}", f"{grouped.replace(',', '.')},{cents}"}


class ProviderInvoicesHandler:
    """``inbox/provider-invoices/``: the provider's PDFs, ``<order id>__<invoice number>.pdf``."""

    kind = "provider-invoices"
    completeness = "PDF: a file pypdf cannot open (cut off, not a PDF) is rejected."
    suspect = None  # a binary format with its own end marker

    def process(self, ctx) -> dict:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        from .settings import invoice_settings

        app = ctx.app
        m = NAME.match(ctx.name)
        if not m:
            raise FileRejected("bad_name", f"{quote_input(ctx.name)} is not <order id>__<invoice number>.pdf",
                               fix="name the provider's PDF after the order and its invoice number, "
                                   "e.g. 302-1234567-1234567__RE-2026-0042.pdf")
        ref, number = m.group("order"), m.group("number")
        settings = invoice_settings(app)
        orders = [o for o in app.store.find_orders_by_ref(ref)
                  if (settings.channels.get(o["channel"]) is not None
                      and settings.channels[o["channel"]].issuer == "provider")]
        if len(orders) != 1:
            raise FileRejected("unknown_order", f"no single order {quote_input(ref)} of an account invoiced by a "
                                                "provider" + (f" ({len(orders)} match)" if orders else ""),
                               fix="check the order id in the file name, and issuer = \"provider\" for its account")
        order = orders[0]
        data = ctx.path.read_bytes()
        if not data.startswith(b"%PDF-"):
            raise FileRejected("not_a_pdf", "the file does not start with %PDF-", fix="drop the provider's PDF itself")
        try:
            text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise FileRejected("unreadable_pdf", f"the PDF cannot be read ({exc})", fix="drop the complete file again")
        try:
            total = Decimal(str(order.get("total")))
        except InvalidOperation:
            total = None
        if total is None or not any(form in text for form in _amount_forms(total)):
            raise FileRejected("total_mismatch", f"the order's total {order.get('total')} {order.get('currency')} "
                                                 "does not appear in the invoice's text",
                               fix="check that the provider invoiced this order's amount")
        chan = settings.channels[order["channel"]]
        series = f"provider:{chan.provider}"
        db = ctx.db
        if db.execute("select 1 from documents where order_key = ? and kind = 'invoice'", [order["key"]]).fetchone():
            raise FileRejected("already_invoiced", f"order {order['key']} has an invoice already",
                               fix="a correction is a credit note from the provider")
        issue_date = ctx.claimed_at.date().isoformat()
        year = int(issue_date[:4])
        count = db.execute("select coalesce(max(number), 0) + 1 from documents where series = ? and year = ?",
                           [series, year]).fetchone()[0]
        doc_no = number
        rel = f"invoices/{safe_name(order['channel'])}/{year}/{safe_name(doc_no)}.pdf"
        final = ctx.output(rel, data, private=True)
        snap = {"kind": "invoice", "doc_no": doc_no, "issue_date": issue_date, "currency": order.get("currency") or "",
                "order": {"key": order["key"], "channel": order["channel"], "order_id": order["order_id"]},
                "provider": chan.provider, "source_file": ctx.name,
                "totals": {"gross": format(total, "f"), "vat": ""}}
        db.execute(
            "insert into documents (series, year, number, doc_no, kind, order_key, channel, trigger_key, issue_date, "
            "currency, total_gross, total_vat, snapshot, state, pdf_path, pdf_sha256, created_at, published_at) "
            "values (?, ?, ?, ?, 'invoice', ?, ?, 'order', ?, ?, ?, '', ?, 'published', ?, ?, ?, ?)",
            [series, year, count, doc_no, order["key"], order["channel"], issue_date, order.get("currency") or "",
             format(total, "f"), json.dumps(snap), str(final), hashlib.sha256(data).hexdigest(),
             app.clock.now().isoformat(), app.clock.now().isoformat()])
        return {"order": order["key"], "invoice": doc_no, "file": rel}
