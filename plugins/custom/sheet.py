"""The production sheet for the workshop: one PDF per personalised item, with the order, the
item, each area the buyer filled in (texts as typed, font, colour, options) and the images."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")
IMAGE_TYPES = (".png", ".jpg", ".jpeg")


def find_font(configured: str | None) -> str | None:
    if configured:
        return configured
    return next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)


def production_sheet(folder: Path, *, order_id: str, item_id: str, sku: str, title: str, areas: list[dict],
                     font: str | None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime(2000, 1, 1, tzinfo=timezone.utc))  # the same archive, the same sheet
    if font:
        pdf.add_font("sheet", "", font)
        family, clean = "sheet", str
    else:
        family, clean = "Helvetica", lambda s: s.encode("latin-1", "replace").decode("latin-1")
    pdf.add_page()
    pdf.set_font(family, size=16)
    pdf.cell(0, 9, clean(f"Personalised item {item_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    for line in (f"Order: {order_id}", f"SKU: {sku}", f"Product: {title}"):
        pdf.cell(0, 6, clean(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for a in areas:
        head = " / ".join(x for x in (a["surface"], a["label"]) if x) or a["kind"]
        pdf.set_font(family, size=12)
        pdf.cell(0, 7, clean(head), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=10)
        details = [("Text", a["text"]), ("Font", a["font"]), ("Colour", a["colour"]), ("Option", a["option"]),
                   ("Image", a["image"])]
        for label, value in details:
            if value:
                pdf.multi_cell(0, 5.5, clean(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
        image = folder / a["image"] if a["image"] else None
        if image and image.suffix.lower() in IMAGE_TYPES and image.is_file() and image.resolve().is_relative_to(
                folder.resolve()):
            try:
                pdf.image(str(image), w=60)
            except Exception as exc:  # a damaged picture must not stop the sheet: it is named instead
                pdf.cell(0, 5.5, clean(f"(image {a['image']} could not be shown: {type(exc).__name__})"),
                         new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if not areas:
        pdf.cell(0, 6, "No personalisation found in the archive: see the files beside this sheet.",
                 new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
