"""The VAT Invoice Data Report in the fake SP-API (``GET_FLAT_FILE_VAT_INVOICE_DATA_REPORT``,
``vidr.py``): only for a seller in VCS with self-invoicing (``vcs = True``; otherwise
``createReport`` is refused like Amazon refuses it), only with ``ReportOption=pendingInvoices``
here. It lists each shipped order whose invoice is pending: none uploaded through
``UPLOAD_VAT_INVOICE`` yet (status ``Pending``), or uploaded and rejected
(``reject_vat_invoice(order, why)``: status ``Failed`` with Amazon's description). An accepted
upload takes the order out of the report. Amazon's VAT calculation per item: ``vat_rate`` of the
fake (a fraction, 0.22 for Italy), the price VAT-inclusive. The recipient columns are filled too,
as in the real report (marketd must not read them)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .vidr import KEEP, REPORT_TYPE

COLUMNS = list(KEEP) + ["recipient-name", "ship-address-1", "ship-city", "ship-postal-code", "ship-country",
                        "ship-phone-number"]


class VidrApi:
    """Mixin of the fake: ``vcs``, ``vat_rate``, ``vat_rejections`` and ``_vidr_content``."""

    vcs = False
    vat_rate = Decimal("0.22")

    def reject_vat_invoice(self, order_id: str, description: str) -> None:
        self.vat_rejections[order_id] = description

    def _vidr_refusal(self, body: dict) -> str | None:
        if body.get("reportType") != REPORT_TYPE:
            return None
        if not self.vcs:
            return "The VAT invoice data report is available only to sellers enrolled in VCS with self-invoicing."
        if (body.get("reportOptions") or {}) != {"ReportOption=pendingInvoices": "true"}:
            return "Provided reportType is not valid."   # Amazon's answer to other ReportOptions
        return None

    def _vidr_content(self) -> str:
        uploaded = {v["options"].get("metadata:orderid") for v in self.vat_invoices
                    if v["options"].get("metadata:documenttype", "Invoice") == "Invoice"}
        rows = []
        for oid, o in sorted(self.orders.items()):
            if (o.get("fulfillment") or {}).get("fulfillmentStatus") != "SHIPPED":
                continue
            rejected = self.vat_rejections.get(oid)
            if oid in uploaded and rejected is None:
                continue
            to = (o.get("recipient") or {}).get("deliveryAddress") or {}
            for n, item in enumerate(o.get("orderItems") or []):
                unit = Decimal(((item.get("product") or {}).get("price") or {}).get("unitPrice", {}).get("amount", "0"))
                incl = unit * int(item.get("quantityOrdered") or 1)
                vat = (incl - incl / (1 + self.vat_rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)
                rows.append({
                    "marketplace-id": self.marketplace_id, "order-id": oid, "order-item-id": item["orderItemId"],
                    "shipping-id": f"S{oid.replace('-', '')[:12]}", "transaction-id": "", "transaction-type": "Shipment",
                    "invoice-number": "", "invoice-status": "Failed" if rejected else "Pending",
                    "invoice-status-description": rejected or "", "is-amazon-invoiced": "false",
                    "sku": item["product"]["sellerSku"], "quantity-purchased": str(item.get("quantityOrdered") or 1),
                    "currency": "EUR", "item-vat-incl-amount": format(incl.quantize(Decimal("0.01")), "f"),
                    "item-vat-amount": format(vat, "f"), "item-vat-rate": format(self.vat_rate, "f"),
                    "shipping-vat-incl-amount": "0.00", "shipping-vat-amount": "0.00",
                    "shipping-vat-rate": format(self.vat_rate, "f"),
                    "recipient-name": to.get("name", ""), "ship-address-1": to.get("addressLine1", ""),
                    "ship-city": to.get("city", ""), "ship-postal-code": to.get("postalCode", ""),
                    "ship-country": to.get("countryCode", ""), "ship-phone-number": to.get("phone", "")})
        lines = ["\t".join(COLUMNS)] + ["\t".join(r.get(c, "") for c in COLUMNS) for r in rows]
        return "\n".join(lines) + "\n"
