"""``UPLOAD_VAT_INVOICE`` in the fake SP-API (research api-contracts §1.7, design B9): the feed
document must be the PDF itself (``application/pdf``, ``%PDF`` magic) and ``feedOptions`` must
carry the invoice's metadata (lowercase ``metadata:*`` keys): ``orderid`` or ``shippingid``,
``invoicenumber``, ``documenttype`` (Invoice | CreditNote, with ``transactionid`` for a credit
note), ``totalamount``, ``totalvatamount``. A feed that breaks this is refused at ``createFeed``
(400 InvalidInput, and a violation the tests see); an accepted one is recorded per order in
``vat_invoices`` and processed without a report (for sellers outside VCS Amazon reports nothing
per invoice; ``vat_invoice_mode = "FeatureNotAvailable"`` refuses like a VCS account without
the self-invoicing option)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

FEED_TYPE = "UPLOAD_VAT_INVOICE"
EU = {"A1RKKUPIHCS9HS", "A1F83G8C2ARO7P", "A13V1IB3VIYZZH", "A1PA6795UKMFR9", "APJ6JRA9NG5V4", "A1805IZSGTT6HS",
      "A1C3SOZRARQ6R3", "A2NODRKZP88ZB9"}  # ES, UK, FR, DE, IT, NL, PL, SE


def vat_invoice_problems(upload: dict, body: dict, known_orders) -> list[str]:
    problems = []
    if upload.get("content_type") != "application/pdf":
        problems.append(f"the feed document's contentType is {upload.get('content_type')!r}, not application/pdf")
    if not (upload.get("data") or b"").startswith(b"%PDF-"):
        problems.append("the feed document is not a PDF (no %PDF- magic)")
    if not set(body.get("marketplaceIds") or []) <= EU:
        problems.append("UPLOAD_VAT_INVOICE is for EU marketplaces only")
    opts = body.get("feedOptions") or {}
    if not (opts.get("metadata:orderid") or opts.get("metadata:shippingid")):
        problems.append("feedOptions need metadata:orderid or metadata:shippingid")
    if opts.get("metadata:orderid") and opts["metadata:orderid"] not in known_orders:
        problems.append(f"order {opts['metadata:orderid']} is not an order of this seller")
    if not opts.get("metadata:invoicenumber"):
        problems.append("feedOptions need metadata:invoicenumber")
    kind = opts.get("metadata:documenttype", "Invoice")
    if kind not in ("Invoice", "CreditNote"):
        problems.append(f"metadata:documenttype {kind!r} is not Invoice or CreditNote")
    if kind == "CreditNote" and not opts.get("metadata:transactionid"):
        problems.append("a CreditNote needs metadata:transactionid")
    for key in ("metadata:totalamount", "metadata:totalvatamount"):
        try:
            Decimal(opts[key])
        except (KeyError, InvalidOperation, TypeError):
            problems.append(f"feedOptions need {key} as a number")
    return problems
