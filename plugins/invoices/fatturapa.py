"""FatturaPA (Italian e-invoice, ``FPR12``: between private parties) of a document snapshot, for
sellers established in Italy, written where the seller's SdI intermediary picks it up.

Built from the same snapshot as the PDF (which becomes the "copia di cortesia"):

- header: the transmitter (the intermediary: ``IdTrasmittente``), ``ProgressivoInvio`` (the
  document's row id in base 36: unique per instance, the same on every re-render), the buyer's
  ``CodiceDestinatario`` (``XXXXXXX`` for a buyer outside Italy, else the configured code,
  ``0000000`` by default: SdI delivers to the channel the buyer registered), seller
  (``IdFiscaleIVA``, ``RegimeFiscale``, ``Sede``) and buyer (``IdFiscaleIVA`` from the VAT id);
- body: ``TD01`` invoice or ``TD04`` credit note (with the invoice in ``DatiFattureCollegate``),
  one ``DettaglioLinee`` per line with its net (``PrezzoUnitario`` to 8 decimals so that unit ×
  quantity is the line's net within SdI's cent), one ``DatiRiepilogo`` per rate (the snapshot's
  net per rate and VAT = round(net × rate), SdI checks 00421/00422), ``Arrotondamento`` for the
  cent the buyer paid beyond net + VAT.

Which documents: ``fatturapa.buyers = "b2b"`` (buyers with a VAT id; Italian consumers get a
receipt, and SdI needs a codice fiscale marketplaces do not give). A 0 % line needs a
``Natura`` code the snapshot does not carry: such a document is blocked before it is numbered.
The file name is SdI's: ``<country><transmitter id>_<progressivo>.xml``.

The official XSD is not available offline; the tests validate the XML with a38's FatturaPA
model (an independent implementation of the same rules) and check the arithmetic.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from xml.etree import ElementTree as ET

NS = "http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = ("http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2 "
          "http://www.fatturapa.gov.it/export/fatturazione/sdi/fatturapa/v1.2/Schema_del_file_xml_FatturaPA_versione_1.2.xsd")
TYPES = {"invoice": "TD01", "credit_note": "TD04"}
FOREIGN = "XXXXXXX"
CENT = Decimal("0.01")


class FatturaPAError(ValueError):
    """A document FatturaPA cannot express as it is (the document is not numbered)."""


def progressivo(doc_id: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out, n = "", int(doc_id)
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return (out or "0").rjust(5, "0")


def file_name(cfg: dict, doc_id: int) -> str:
    return f"{cfg['transmitter_country']}{cfg['transmitter_id']}_{progressivo(doc_id)}.xml"


def _vat(vat_id: str, default_country: str) -> tuple[str, str]:
    v = "".join(vat_id.split()).upper()
    if len(v) > 2 and v[:2].isalpha():
        return v[:2], v[2:]
    return default_country.upper(), v


def _money(value) -> str:
    return format(Decimal(value).quantize(CENT, ROUND_HALF_UP), "f")


def _rate(value) -> str:
    return format(Decimal(value).quantize(CENT), "f")


def _unit(net: Decimal, qty: Decimal) -> str:
    """Unit price: 2 decimals when exact, else up to 8 (unit × quantity = net within a cent)."""
    unit = net / qty
    if unit == unit.quantize(CENT):
        return format(unit.quantize(CENT), "f")
    return format(unit.quantize(Decimal("0.00000001"), ROUND_HALF_UP).normalize(), "f")


def _sede(parent, address: dict, province: str = "") -> None:
    sede = ET.SubElement(parent, "Sede")
    country = address.get("CountryID") or ""
    ET.SubElement(sede, "Indirizzo").text = (address.get("LineOne") or "-")[:60]
    postal = address.get("PostcodeCode") or ""
    # CAP is five digits; a foreign postcode does not fit, SdI's instructions say 00000 then
    ET.SubElement(sede, "CAP").text = postal if country == "IT" and len(postal) == 5 and postal.isdigit() else "00000"
    ET.SubElement(sede, "Comune").text = (address.get("CityName") or "-")[:60]
    if province and country == "IT":
        ET.SubElement(sede, "Provincia").text = province.upper()[:2]
    ET.SubElement(sede, "Nazione").text = country or "IT"


def build(snap: dict, cfg: dict, doc_id: int) -> bytes:
    """The XML (UTF-8 bytes); :class:`FatturaPAError` when the document cannot be one."""
    from .cii import _address

    seller, buyer = snap["seller"], snap["buyer"]
    if not seller.get("vat_id"):
        raise FatturaPAError("the seller has no VAT id (partita IVA)")
    if not buyer.get("vat_id"):
        raise FatturaPAError("the buyer has no VAT id: FatturaPA is issued to business buyers here")
    for row in snap["vat"]:
        if not Decimal(row["rate"]):
            raise FatturaPAError("a 0 % line needs a Natura code (exemption reason), which marketd does not carry")
    root = ET.Element(f"{{{NS}}}FatturaElettronica", {"versione": "FPR12", f"{{{XSI}}}schemaLocation": SCHEMA})
    header = ET.SubElement(root, "FatturaElettronicaHeader")
    dt = ET.SubElement(header, "DatiTrasmissione")
    tid = ET.SubElement(dt, "IdTrasmittente")
    ET.SubElement(tid, "IdPaese").text = cfg["transmitter_country"]
    ET.SubElement(tid, "IdCodice").text = cfg["transmitter_id"]
    ET.SubElement(dt, "ProgressivoInvio").text = progressivo(doc_id)
    ET.SubElement(dt, "FormatoTrasmissione").text = "FPR12"
    buyer_address = _address(buyer.get("address") or [], buyer.get("country"))
    buyer_country, buyer_code = _vat(buyer["vat_id"], buyer_address.get("CountryID") or "IT")
    ET.SubElement(dt, "CodiceDestinatario").text = FOREIGN if buyer_country != "IT" else cfg["recipient_code"]

    ced = ET.SubElement(header, "CedentePrestatore")
    da = ET.SubElement(ced, "DatiAnagrafici")
    country, code = _vat(seller["vat_id"], "IT")
    fiscal = ET.SubElement(da, "IdFiscaleIVA")
    ET.SubElement(fiscal, "IdPaese").text = country
    ET.SubElement(fiscal, "IdCodice").text = code
    ET.SubElement(ET.SubElement(da, "Anagrafica"), "Denominazione").text = seller["name"][:80]
    ET.SubElement(da, "RegimeFiscale").text = cfg["regime_fiscale"]
    _sede(ced, _address(seller.get("address") or [], seller.get("country")), cfg.get("province") or "")

    ces = ET.SubElement(header, "CessionarioCommittente")
    da = ET.SubElement(ces, "DatiAnagrafici")
    fiscal = ET.SubElement(da, "IdFiscaleIVA")
    ET.SubElement(fiscal, "IdPaese").text = buyer_country
    ET.SubElement(fiscal, "IdCodice").text = buyer_code
    ET.SubElement(ET.SubElement(da, "Anagrafica"), "Denominazione").text = (buyer.get("name") or "-")[:80]
    _sede(ces, buyer_address)

    body = ET.SubElement(root, "FatturaElettronicaBody")
    gen = ET.SubElement(body, "DatiGenerali")
    doc = ET.SubElement(gen, "DatiGeneraliDocumento")
    ET.SubElement(doc, "TipoDocumento").text = TYPES[snap["kind"]]
    ET.SubElement(doc, "Divisa").text = snap["currency"]
    ET.SubElement(doc, "Data").text = snap["issue_date"]
    ET.SubElement(doc, "Numero").text = snap["doc_no"][:20]
    totals = snap["totals"]
    ET.SubElement(doc, "ImportoTotaleDocumento").text = _money(totals["gross"])
    if Decimal(totals.get("rounding") or "0"):
        ET.SubElement(doc, "Arrotondamento").text = _money(totals["rounding"])
    if snap.get("refers_to"):
        linked = ET.SubElement(gen, "DatiFattureCollegate")
        ET.SubElement(linked, "IdDocumento").text = snap["refers_to"]["doc_no"][:20]
        ET.SubElement(linked, "Data").text = snap["refers_to"]["issue_date"]

    goods = ET.SubElement(body, "DatiBeniServizi")
    for n, line in enumerate(snap["lines"], start=1):
        qty = Decimal(line.get("quantity") or "1")
        net = Decimal(line["net"])
        d = ET.SubElement(goods, "DettaglioLinee")
        ET.SubElement(d, "NumeroLinea").text = str(n)
        ET.SubElement(d, "Descrizione").text = (line.get("description") or line.get("sku") or "-")[:1000]
        ET.SubElement(d, "Quantita").text = format(qty.quantize(CENT), "f")
        ET.SubElement(d, "UnitaMisura").text = "PZ"   # pieces
        ET.SubElement(d, "PrezzoUnitario").text = _unit(net, qty)
        ET.SubElement(d, "PrezzoTotale").text = _money(net)
        ET.SubElement(d, "AliquotaIVA").text = _rate(line["rate"])
    for row in snap["vat"]:
        r = ET.SubElement(goods, "DatiRiepilogo")
        ET.SubElement(r, "AliquotaIVA").text = _rate(row["rate"])
        ET.SubElement(r, "ImponibileImporto").text = _money(row["net"])
        ET.SubElement(r, "Imposta").text = _money(row["vat"])
        ET.SubElement(r, "EsigibilitaIVA").text = "I"
    ET.register_namespace("p", NS)
    ET.register_namespace("ds", DS)
    ET.register_namespace("xsi", XSI)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
