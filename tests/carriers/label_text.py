"""What a label page shows: the text drawn inside the page's visible box.

A normalised label page holds the carrier's whole source page (an A4 sheet of four labels),
moved and scaled so that one quarter covers the page and clipped to it; text extraction alone
returns all four labels' text. Placing each text run through the page's transformation and
keeping those that land inside the page box gives the label a person actually sees."""
from __future__ import annotations

import io

from pypdf import PdfReader


def visible_lines(page) -> list[str]:
    box = page.mediabox
    left, bottom, right, top = float(box.left), float(box.bottom), float(box.right), float(box.top)
    seen: list[tuple[float, float, str]] = []

    def visit(text, cm, tm, font, size):
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if left <= x <= right and bottom <= y <= top:
            seen.append((-y, x, text.strip()))

    page.extract_text(visitor_text=visit)
    return [t for _, _, t in sorted(seen)]  # top to bottom


def pages_lines(data: bytes) -> list[list[str]]:
    return [visible_lines(p) for p in PdfReader(io.BytesIO(data)).pages]
