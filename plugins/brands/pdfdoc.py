"""Deterministic PDFs (fpdf2): the same content gives the same bytes.

fpdf2 stamps a creation date and a document id (md5 of the buffer and that date); both are fixed
here from the document's own date, and the font is the DejaVu TTF that matplotlib ships, so a
machine without system fonts renders the same file (and any Unicode name a brand has).
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path


def font_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def new(created: datetime, title: str, orientation: str = "P"):
    from fpdf import FPDF

    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_producer("marketd")
    pdf.set_creator("marketd brands")
    fonts = font_path()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_font("DejaVu", size=9)
    pdf.set_auto_page_break(True, margin=12)
    return pdf


def output(pdf, seed: str) -> bytes:
    """The PDF's bytes with a document id derived from ``seed`` (the data's hash)."""
    digest = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest().upper()
    pdf.file_id = lambda: f"<{digest}><{digest}>"
    return bytes(pdf.output())
