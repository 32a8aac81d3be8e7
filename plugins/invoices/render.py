"""The PDF of a document, from its stored snapshot only (fpdf2).

Rendering is a pure function of the snapshot: the creation date is the issue date and fpdf2's
file id derives from the content, so rendering again after a crash writes the same bytes. Buyer
names come in every script the marketplaces serve (Czech, Polish, Greek …), which the PDF core
fonts (Latin-1) cannot show: a Unicode TrueType font is embedded (DejaVu Sans by default).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)

TITLES = {"invoice": "Invoice", "credit_note": "Credit note"}


def find_font(configured: str | None) -> str | None:
    """The TTF to embed: the configured one (it must exist), else the first DejaVu Sans found,
    else None (core Helvetica; characters outside Latin-1 then print as '?')."""
    if configured:
        if not Path(configured).is_file():
            raise FileNotFoundError(f"[jobs.invoices] font = {configured!r}: no such file")
        return configured
    return next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


PRODUCER = "marketd"


def render_for(snap: dict, font: str | None, cache_dir=None) -> bytes:
    """:func:`render` with the font :func:`fonts.choose` picks for this snapshot."""
    from .fonts import choose

    return render(snap, choose(snap, font, cache_dir))


def render(snap: dict, font: str | None) -> bytes:
    """The PDF; a snapshot with ``einvoice = "facturx"`` becomes a PDF/A-3B with its CII XML
    embedded as ``factur-x.xml`` (relationship Data) and the Factur-X XMP."""
    from fpdf import FPDF

    facturx = snap.get("einvoice") == "facturx"
    if facturx and not font:
        raise FileNotFoundError("a Factur-X invoice is a PDF/A, which needs an embedded font: install DejaVu Sans "
                                "(fonts-dejavu-core) or set [jobs.invoices] font")
    pdf = FPDF(format="A4", enforce_compliance="PDF/A-3B") if facturx else FPDF(format="A4")
    created = datetime.fromisoformat(snap["issue_date"]).replace(tzinfo=timezone.utc)
    pdf.set_creation_date(created)
    title = f"{TITLES[snap['kind']]} {snap['doc_no']}"
    pdf.set_title(title)
    pdf.set_author(snap["seller"]["name"])
    pdf.set_producer(PRODUCER)
    if facturx:
        from . import cii
        from .xmp import facturx_xmp

        pdf.set_xmp_metadata(facturx_xmp(title=title, author=snap["seller"]["name"], producer=PRODUCER,
                                         date=created.isoformat(timespec="seconds"), filename=cii.FILENAME))
        pdf.embed_file(bytes=cii.build(snap), basename=cii.FILENAME, mime_type="text/xml",
                       associated_file_relationship="Data", modification_date=created,
                       desc="Factur-X invoice (EN 16931)")
    if font:
        pdf.add_font("doc", "", font)
        family, clean = "doc", str
    else:
        family, clean = "Helvetica", _latin1
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()

    def text(s: str, size: float = 9, h: float = 4.5) -> None:
        pdf.set_font(family, size=size)
        pdf.multi_cell(0, h, clean(s), new_x="LMARGIN", new_y="NEXT")

    seller = snap["seller"]
    text(" · ".join([seller["name"], *seller.get("address", [])]), 8)
    pdf.ln(6)
    buyer = snap["buyer"]
    text("\n".join([buyer.get("name") or "", *buyer.get("address", [])]).strip() or "-", 10, 5)
    pdf.ln(6)
    text(f"{TITLES[snap['kind']]} {snap['doc_no']}", 15, 8)
    meta = [f"Date: {snap['issue_date']}", f"Order: {snap['order']['order_id']} ({snap['order']['channel']})"]
    if snap["order"].get("purchased_at"):
        meta.append(f"Order date: {snap['order']['purchased_at'][:10]}")
    if snap.get("refers_to"):
        meta.append(f"Refers to invoice {snap['refers_to']['doc_no']} of {snap['refers_to']['issue_date']}")
    if snap.get("reason"):
        meta.append(f"Reason: {snap['reason']}")
    ids = [f"VAT id: {seller['vat_id']}" if seller.get("vat_id") else "",
           f"Tax number: {seller['tax_number']}" if seller.get("tax_number") else ""]
    text("\n".join(meta + [i for i in ids if i]))
    if buyer.get("vat_id"):
        text(f"Buyer VAT id: {buyer['vat_id']}")
    pdf.ln(4)

    cur = snap["currency"]
    widths = (96, 14, 16, 28, 28)
    heads = ("Description", "Qty", "VAT %", "Net", "Gross")
    pdf.set_font(family, size=9)
    for w, h in zip(widths, heads):
        pdf.cell(w, 6, h, border="B", align="L" if h == "Description" else "R")
    pdf.ln()
    for line in snap["lines"]:
        pdf.cell(widths[0], 5.5, clean(line["description"][:60]))
        for w, v in zip(widths[1:], (line["quantity"], line["rate"], line["net"], line["gross"])):
            pdf.cell(w, 5.5, v, align="R")
        pdf.ln()
    pdf.ln(3)
    for row in snap["vat"]:
        pdf.cell(0, 5, f"VAT {row['rate']} % on {row['net']} {cur}: {row['vat']} {cur}", align="R",
                 new_x="LMARGIN", new_y="NEXT")
    t = snap["totals"]
    pdf.cell(0, 5, f"Total net: {t['net']} {cur}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, f"Total VAT: {t['vat']} {cur}", align="R", new_x="LMARGIN", new_y="NEXT")
    if t.get("rounding") not in (None, "0.00"):
        pdf.cell(0, 5, f"Rounding: {t['rounding']} {cur}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=11)
    label = "Total credited" if snap["kind"] == "credit_note" else "Total"
    pdf.cell(0, 7, f"{label}: {t['gross']} {cur}", align="R", new_x="LMARGIN", new_y="NEXT")
    if seller.get("footer"):
        pdf.ln(8)
        text("\n".join(seller["footer"]), 7, 3.5)
    return bytes(pdf.output())
