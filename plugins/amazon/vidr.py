"""Amazon's VAT Invoice Data Report (VIDR): what VCS says about each shipment's invoice.

``GET_FLAT_FILE_VAT_INVOICE_DATA_REPORT`` (tab-delimited; role Tax Invoicing; only for sellers
enrolled in the VAT Calculation Service with the self-invoicing option, EU marketplaces). With
``reportOptions {"ReportOption=pendingInvoices": "true"}`` it lists the shipments, returns and
refunds whose invoice or credit note is still pending: never uploaded, or uploaded and rejected,
with the reason in ``invoice-status-description``. Amazon's documentation says to read upload
results here, not in the feed's processing report, and to request it at least twice a day.

Only the columns marketd needs are read (ids, status, Amazon's VAT calculation per item and for
shipping). The report also carries the recipient's name, address and phone: those columns are
never read, and the report document is not stored.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

REPORT_TYPE = "GET_FLAT_FILE_VAT_INVOICE_DATA_REPORT"
PENDING = {"ReportOption=pendingInvoices": "true"}
KEEP = ("marketplace-id", "order-id", "order-item-id", "shipping-id", "transaction-id", "transaction-type",
        "invoice-number", "invoice-status", "invoice-status-description", "is-amazon-invoiced", "sku",
        "quantity-purchased", "currency", "item-vat-incl-amount", "item-vat-amount", "item-vat-rate",
        "shipping-vat-incl-amount", "shipping-vat-amount", "shipping-vat-rate")
REQUIRED = ("order-id", "transaction-type", "invoice-status", "invoice-status-description", "sku", "item-vat-rate")


class VidrError(ValueError):
    """A report that is not a VIDR (a missing column): nothing is applied from it."""


def _dec(text: str | None) -> str | None:
    try:
        return format(Decimal(text), "f") if text not in (None, "") else None
    except InvalidOperation:
        return None


def _percent(text: str | None) -> str | None:
    """VIDR rates are fractions (0.19) in Amazon's examples; a value above 1 is already percent."""
    value = _dec(text)
    if value is None:
        return None
    d = Decimal(value)
    return format((d * 100 if d <= 1 else d).normalize(), "f")


def parse(data: bytes) -> list[dict]:
    """One entry per (order, transaction): ids, status, description and the item lines with
    Amazon's VAT rate (percent) and amounts."""
    text = data.decode("utf-8-sig", "replace")
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise VidrError(f"not a VAT invoice data report: column(s) {', '.join(missing)} missing")
    out: dict[tuple, dict] = {}
    for row in reader:
        r = {k: (row.get(k) or "").strip() for k in KEEP}
        key = (r["order-id"], r["transaction-type"], r["shipping-id"] or r["transaction-id"])
        entry = out.setdefault(key, {
            "order_id": r["order-id"], "shipping_id": r["shipping-id"], "transaction_id": r["transaction-id"],
            "transaction_type": r["transaction-type"], "invoice_number": r["invoice-number"],
            "status": r["invoice-status"], "description": r["invoice-status-description"],
            "currency": r["currency"], "lines": [], "shipping": None})
        entry["lines"].append({"sku": r["sku"], "order_item_id": r["order-item-id"],
                               "quantity": r["quantity-purchased"], "vat_rate": _percent(r["item-vat-rate"]),
                               "vat_incl": _dec(r["item-vat-incl-amount"]), "vat": _dec(r["item-vat-amount"])})
        if _dec(r["shipping-vat-incl-amount"]) not in (None, "0", "0.00"):
            entry["shipping"] = {"vat_rate": _percent(r["shipping-vat-rate"]),
                                 "vat_incl": _dec(r["shipping-vat-incl-amount"]), "vat": _dec(r["shipping-vat-amount"])}
    return list(out.values())
