"""Which orders get a document, and issuing it: snapshot → number (one transaction) → file.

An order is invoiced when its account is listed in ``[jobs.invoices.channels]`` with
``issuer = "seller"`` and its normalised status reaches the account's trigger (``shipped``:
SHIPPED, DELIVERED or RETURNED; ``paid``: also UNSHIPPED and PARTIALLY_SHIPPED). A refunded
order with an invoice gets a credit note for what is left on it. Orders the marketplace
invoices itself (Amazon ``INVOICE_BY_AMAZON``, an ``issuer = "marketplace"`` account such as MALL
self-billing) are skipped with that reason in ``documents_blocked``.
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketd.sdk import order_guard

from .amounts import Blocked, order_lines, refund_lines, summarise
from .numbering import existing, issue
from .publish import publish
from .settings import InvoicesSettings

log = logging.getLogger("marketd.invoices")

TRIGGER_STATUSES = {
    "shipped": ("SHIPPED", "DELIVERED", "RETURNED"),
    "paid": ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "DELIVERED", "RETURNED"),
}
INVOICE_TRIGGER = "order"          # one invoice per order
REFUND_STATUS_TRIGGER = "status:REFUNDED"

_ADDRESS_KEYS = (("company", "companyName"), ("street", "addressLine1", "address_line1", "line1"),
                 ("street2", "addressLine2", "address_line2", "line2"), ("addressLine3",))


def buyer(order: dict) -> dict:
    """Name and address lines as printed, from the order's ``ship_to`` in any channel's keys."""
    to = order.get("ship_to")
    to = json.loads(to) if isinstance(to, str) and to else (to or {})
    lines = []
    for keys in _ADDRESS_KEYS:
        value = next((to.get(k) for k in keys if to.get(k)), None)
        if value:
            lines.append(str(value))
    postal = next((to.get(k) for k in ("postal_code", "postalCode", "zip", "zipcode") if to.get(k)), "")
    city = next((to.get(k) for k in ("city", "town") if to.get(k)), "")
    if postal or city:
        lines.append(f"{postal} {city}".strip())
    country = next((to.get(k) for k in ("country", "countryCode", "country_code") if to.get(k)), "")
    if country:
        lines.append(str(country))
    return {"name": order.get("buyer_name") or to.get("name") or "", "address": lines, "country": str(country),
            "vat_id": to.get("vat_id") or to.get("vatNumber") or ""}


def _raw(order: dict) -> dict:
    raw = order.get("raw")
    try:
        return json.loads(raw) if isinstance(raw, str) and raw else (raw or {})
    except ValueError:
        return {}


def skip_reason(order: dict, settings: InvoicesSettings) -> Blocked | None:
    chan = settings.channels.get(order["channel"])
    if chan is None:
        return Blocked("not_configured", f"account {order['channel']} is not in [jobs.invoices.channels]")
    if chan.issuer != "seller":
        return Blocked(f"issued_by_{chan.issuer}", f"the {chan.issuer} invoices {order['channel']}'s orders",
                       "set issuer = \"seller\" if marketd is to invoice them")
    if "INVOICE_BY_AMAZON" in (_raw(order).get("programs") or []):
        return Blocked("issued_by_marketplace", "Amazon invoices this order (INVOICE_BY_AMAZON)")
    return None


def due_statuses(settings: InvoicesSettings, channel: str) -> tuple[str, ...]:
    chan = settings.channels[channel]
    return TRIGGER_STATUSES[chan.trigger or settings.trigger]


def _today(app, settings: InvoicesSettings) -> str:
    return app.clock.now().astimezone(ZoneInfo(settings.timezone)).date().isoformat()


def _seller(settings: InvoicesSettings) -> dict:
    s = settings.seller
    return {"name": s.name, "address": list(s.address), "vat_id": s.vat_id, "tax_number": s.tax_number,
            "country": s.country, "footer": list(s.footer)}


def _series(settings: InvoicesSettings, channel: str) -> str:
    return settings.channels[channel].series or channel


def _block(app, order_key: str, kind: str, b: Blocked) -> None:
    with app.store.transaction() as db:
        db.execute("insert or replace into documents_blocked (order_key, kind, reason, message, fix, at) "
                   "values (?, ?, ?, ?, ?, ?)", [order_key, kind, b.reason, b.message, b.fix,
                                                 app.clock.now().isoformat()])


def _unblock(app, order_key: str, kind: str) -> None:
    if app.store.db.execute("select 1 from documents_blocked where order_key = ? and kind = ?",
                            [order_key, kind]).fetchone():
        with app.store.transaction() as db:
            db.execute("delete from documents_blocked where order_key = ? and kind = ?", [order_key, kind])


FACTURX_COUNTRIES = ("DE", "FR")  # B2B e-invoices due (DE: receiving since 2025; FR: the 2026/27 reform)


def einvoice(settings: InvoicesSettings, channel: str, to: dict) -> str | None:
    if settings.fatturapa is not None and settings.seller.country.upper() == "IT" and to.get("vat_id"):
        return "fatturapa"   # Italy: business invoices go through SdI (fatturapa.py)
    mode = settings.channels[channel].facturx or settings.facturx
    if mode == "always" or (mode == "b2b" and to.get("vat_id")
                            and settings.seller.country.upper() in FACTURX_COUNTRIES):
        return "facturx"
    return None


def _number(app, settings: InvoicesSettings, order: dict, kind: str, trigger_key: str, body: dict,
            refers_to: dict | None) -> dict:
    today = _today(app, settings)
    series = _series(settings, order["channel"])
    prefix = settings.invoice_prefix if kind == "invoice" else settings.credit_prefix
    to = buyer(order)
    snap = {"kind": kind, "seller": _seller(settings), "buyer": to, "currency": order.get("currency") or "",
            "order": {"key": order["key"], "channel": order["channel"], "order_id": order["order_id"],
                      "purchased_at": order.get("purchased_at") or ""},
            "refers_to": ({"doc_no": refers_to["doc_no"], "issue_date": refers_to["issue_date"]} if refers_to
                          else None),
            "einvoice": einvoice(settings, order["channel"], to), **body}
    if not snap["currency"]:
        raise Blocked("no_currency", "the order has no currency", "wait for the next order sync")
    if snap["einvoice"] == "facturx":
        # Validate the XML before a number is taken: a document that cannot be published must
        # not hold a number (the number and date are the only things the final XML adds).
        from .cii import CiiError, build

        try:
            build({**snap, "doc_no": "CHECK", "issue_date": today})
        except CiiError as exc:
            raise Blocked("einvoice_invalid", str(exc)[:500], "report this order's data; the XML builder missed it")
    if snap["einvoice"] == "fatturapa":
        from .fatturapa import FatturaPAError, build as build_fpa

        try:
            build_fpa({**snap, "doc_no": "CHECK", "issue_date": today}, settings.fatturapa.model_dump(), 1)
        except FatturaPAError as exc:
            raise Blocked("einvoice_invalid", f"FatturaPA: {exc}", "issue it by hand, or fix the order's data")
    # A credit note's series is the invoice series with the credit prefix: its own counter.
    series_key = series if kind == "invoice" else f"{series}:credit"
    row, _new = issue(app.store, series=series_key, year=int(today[:4]), prefix=prefix.replace("{series}", series),
                      width=settings.width, kind=kind, order_key=order["key"], channel=order["channel"],
                      trigger_key=trigger_key, refers_to=refers_to["id"] if refers_to else None, issue_date=today,
                      snapshot=snap, now=app.clock.now().isoformat())
    return row


def issue_invoice(app, settings: InvoicesSettings, order: dict, font: str | None, *, explicit: bool = False) -> dict | None:
    """The order's invoice, numbered and published (the existing one if there is one); None when
    it is skipped or blocked (the reason is in ``documents_blocked``)."""
    found = existing(app.store.db, order["key"], "invoice", INVOICE_TRIGGER)
    if found is None:
        skip = skip_reason(order, settings)
        if skip is None and not explicit and order.get("status") not in due_statuses(settings, order["channel"]):
            return None
        if skip is None and not explicit:
            manual = order_guard(app, order["key"], "invoice")
            skip = Blocked("manual", manual, "`marketd invoices issue ORDER` issues it anyway") if manual else None
        try:
            if skip:
                raise skip
            chan = settings.channels[order["channel"]]
            if chan.vcs:
                order = _with_vcs_rates(app, order)
            body = summarise(order_lines(order, chan.vat_rate or settings.vat_rate))
            found = _number(app, settings, order, "invoice", INVOICE_TRIGGER, body, None)
        except Blocked as b:
            _block(app, order["key"], "invoice", b)
            return None
        _unblock(app, order["key"], "invoice")
    if found["state"] == "numbered":
        publish(app, found, font)
        found = dict(next(app.store.db.query("select * from documents where id = ?", [found["id"]])))
    return found


def _with_vcs_rates(app, order: dict) -> dict:
    """The order with Amazon's VAT rate on each item (VCS: Amazon's calculation is the one to use)."""
    from .vcs import vcs_rates

    rates = vcs_rates(app.store.db, order["key"])
    if rates is None:
        raise Blocked("waiting_for_vcs", "Amazon's VAT invoice data report does not list this order yet",
                      "it is read twice a day; the invoice is issued once the order is in it")
    items = order.get("items")
    items = json.loads(items) if isinstance(items, str) else (items or [])
    missing = [str(i.get("sku")) for i in items if isinstance(i, dict) and i.get("sku") not in rates]
    if missing:
        raise Blocked("vcs_sku_missing", f"Amazon's VAT report has no rate for SKU {', '.join(missing[:5])}",
                      "wait for the next report, or issue it by hand with the rate")
    return {**order, "items": [{**i, "vat_rate": rates[i["sku"]]} for i in items]}


def credited(db, invoice_id: int) -> Decimal:
    return sum((Decimal(g) for (g,) in db.execute("select total_gross from documents where refers_to = ? and "
                                                  "kind = 'credit_note'", [invoice_id])), Decimal(0))


def issue_credit(app, settings: InvoicesSettings, order: dict, font: str | None, *, trigger_key: str,
                 amount: Decimal | None = None, explicit: bool = True, reason: str | None = None) -> dict | None:
    """A credit note against the order's invoice for ``amount`` (None: all that is left),
    once per ``trigger_key`` (the refund's id). The job calls it with ``explicit=False``: an
    order flagged manual is then skipped."""
    db = app.store.db
    found = existing(db, order["key"], "credit_note", trigger_key)
    if found is None:
        invoice = existing(db, order["key"], "invoice", INVOICE_TRIGGER)
        manual = None if explicit else order_guard(app, order["key"], "credit note")
        try:
            if manual:
                raise Blocked("manual", manual, "`marketd invoices credit ORDER` issues it anyway")
            if invoice is None:
                raise Blocked("no_invoice", "the order has no invoice to credit (a refund before the invoice needs "
                              "no credit note)")
            inv = json.loads(invoice["snapshot"])
            body = summarise(refund_lines(inv, amount, credited(db, invoice["id"])))
            if reason:
                body["reason"] = reason
            found = _number(app, settings, order, "credit_note", trigger_key, body, invoice)
        except Blocked as b:
            _block(app, order["key"], "credit_note", b)
            return None
        _unblock(app, order["key"], "credit_note")
    if found["state"] == "numbered":
        publish(app, found, font)
        found = dict(next(app.store.db.query("select * from documents where id = ?", [found["id"]])))
    return found


def credit_for_refund(app, action: dict) -> dict | None:
    """The credit note of a refund action (``trigger_key`` = the action), for its amount or, for
    a full refund, all that is left on the invoice. Nothing when the account is not invoiced by
    marketd or the order has no invoice (a refund before the invoice needs no credit note)."""
    import json as _json

    from .render import find_font
    from .settings import invoice_settings

    settings = invoice_settings(app)
    order = app.store.get_order(action["order_key"])
    chan = settings.channels.get((order or {}).get("channel"))
    if order is None or chan is None or chan.issuer != "seller" or not chan.credit_notes or not settings.configured():
        return None
    params = _json.loads(action.get("params") or "{}")
    amount = Decimal(params["amount"]) if params.get("amount") else None
    if amount is not None and params.get("currency") and params["currency"] != order.get("currency"):
        _block(app, order["key"], "credit_note", Blocked("currency", f"refund in {params['currency']}, invoice in "
                                                                     f"{order.get('currency')}", "credit it by hand"))
        return None
    return issue_credit(app, settings, order, find_font(settings.font), trigger_key=f"action:{action['id']}",
                        amount=amount)
