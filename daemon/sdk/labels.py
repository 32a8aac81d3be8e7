"""Label files the way a label printer needs them.

PDF labels are normalised to one 100 x 150 mm page per parcel (a 4x6" thermal label): a carrier
page of another size is scaled to fit and centred; an A4 sheet with four labels (MALL's
"4 labels per A4") is cut into its four A6 quarters first, each clipped so nothing of a
neighbouring label shows. A print run is the pages of many labels merged into one PDF
(pypdf). ZPL labels are checked to be whole ``^XA … ^XZ`` blocks and concatenated.
"""
from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pypdf itself is imported where a PDF is handled: it costs 0.1 s of every start-up
    from pypdf import PageObject, PdfWriter

MM = 72 / 25.4
LABEL_W_MM, LABEL_H_MM = 100, 150
LABEL_W, LABEL_H = LABEL_W_MM * MM, LABEL_H_MM * MM

_ZPL_BLOCK = re.compile(r"\^XA.*?\^XZ", re.S)


class LabelError(ValueError):
    """A carrier label that no printer would print correctly."""


# -- ZPL -----------------------------------------------------------------------------------------
def zpl_blocks(data: bytes | str) -> list[str]:
    """Split ZPL text into its ``^XA … ^XZ`` label blocks; anything outside a block is an error."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    stripped = text.strip()
    if not stripped.startswith("^XA") or not stripped.endswith("^XZ"):
        raise LabelError("ZPL label does not start with ^XA and end with ^XZ (cut off?)")
    blocks = _ZPL_BLOCK.findall(stripped)
    rest = _ZPL_BLOCK.sub("", stripped).strip()
    if rest:
        raise LabelError(f"ZPL text outside ^XA…^XZ blocks: {rest[:40]!r}")
    return blocks


def merge_zpl(labels: list[bytes]) -> bytes:
    out = []
    for data in labels:
        out.extend(zpl_blocks(data))
    return ("\n".join(out) + "\n").encode("utf-8")


# -- PDF -----------------------------------------------------------------------------------------
def _clip(page: PageObject, left: float, bottom: float, width: float, height: float) -> None:
    """Clip the page's content to a rectangle (so merging it elsewhere shows only that part)."""
    from pypdf.generic import ContentStream

    content = ContentStream(page.get_contents(), page.pdf) if page.get_contents() is not None else None
    if content is None:
        return
    content.operations.insert(0, ([], b"q"))
    content.operations.insert(1, ([_num(left), _num(bottom), _num(width), _num(height)], b"re"))
    content.operations.insert(2, ([], b"W"))
    content.operations.insert(3, ([], b"n"))
    content.operations.append(([], b"Q"))
    page.replace_contents(content)


def _num(v: float):
    from pypdf.generic import FloatObject

    return FloatObject(round(v, 4))


def _fit(src: PageObject, box: tuple[float, float, float, float]) -> PageObject:
    """A new 100x150 mm page holding ``box`` (left, bottom, width, height) of ``src``, scaled to fit."""
    from pypdf import PageObject, PdfWriter, Transformation

    left, bottom, width, height = box
    if width <= 0 or height <= 0:
        raise LabelError("label page has no size")
    # A landscape label on a portrait roll is turned, as label printers' drivers do.
    rotate = (width > height) != (LABEL_W > LABEL_H) and abs(width - height) > 1
    eff_w, eff_h = (height, width) if rotate else (width, height)
    scale = min(LABEL_W / eff_w, LABEL_H / eff_h)
    scratch = PdfWriter()
    src = scratch.add_page(src)  # replace_contents needs a page owned by a writer
    _clip(src, left, bottom, width, height)
    out = PageObject.create_blank_page(width=LABEL_W, height=LABEL_H)
    t = Transformation().translate(-left, -bottom)
    if rotate:
        t = t.rotate(90).translate(height, 0)
    t = t.scale(scale, scale).translate((LABEL_W - eff_w * scale) / 2, (LABEL_H - eff_h * scale) / 2)
    out.merge_transformed_page(src, t)
    return out


def _page_box(page: PageObject) -> tuple[float, float, float, float]:
    box = page.cropbox
    return float(box.left), float(box.bottom), float(box.width), float(box.height)


def _is_label_size(w: float, h: float) -> bool:
    return abs(w - LABEL_W) < 2 and abs(h - LABEL_H) < 2


def split_pdf_labels(data: bytes, per_page: int = 1, count: int | None = None) -> list[bytes]:
    """One single-page 100x150 mm PDF per label found in ``data``.

    ``per_page`` is 1 (one label per page, any size) or 4 (an A4 sheet of four A6 labels,
    filled left-to-right, top-to-bottom). ``count`` stops after that many labels (the last
    sheet of a 4-up run may be part-empty).
    """
    return [d for d, _ in split_pdf_label_pages(data, per_page, count)]


def split_pdf_label_pages(data: bytes, per_page: int = 1,
                          count: int | None = None) -> list[tuple[bytes, PageObject]]:
    """As :func:`split_pdf_labels`, with each label's parsed page for a print run (parsed once)."""
    from pypdf import PdfReader, PdfWriter

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = list(reader.pages)
    except Exception as exc:
        raise LabelError(f"carrier label is not a readable PDF ({type(exc).__name__}: {exc})")
    if not pages:
        raise LabelError("carrier label PDF has no pages")
    if per_page == 1 and len(pages) == 1 and (count in (None, 1)) and "/Rotate" not in pages[0]:
        left, bottom, width, height = _page_box(pages[0])
        if _is_label_size(width, height):
            return [(data, pages[0])]  # already a printer-ready label: keep the carrier's bytes
    out: list[tuple[bytes, PageObject]] = []
    for page in pages:
        left, bottom, width, height = _page_box(page)
        if per_page == 4:
            boxes = [(left + c * width / 2, bottom + height / 2 - r * height / 2, width / 2, height / 2)
                     for r in (0, 1) for c in (0, 1)]
        elif per_page == 1:
            boxes = [(left, bottom, width, height)]
        else:
            raise LabelError(f"labels per page = {per_page} is not supported (1 or 4)")
        for box in boxes:
            if count is not None and len(out) >= count:
                break
            # Re-read per label: clipping changes the source page's content stream.
            src = PdfReader(io.BytesIO(data)).pages[pages.index(page)]
            if per_page == 1 and _is_label_size(width, height) and "/Rotate" not in src:
                w = PdfWriter()
                w.add_page(src)
                out.append((_write(w), w.pages[0]))
                continue
            w = PdfWriter()
            w.add_page(_fit(src, box))
            out.append((_write(w), w.pages[0]))
    if count is not None and len(out) < count:
        raise LabelError(f"carrier PDF holds {len(out)} labels but {count} parcels were shipped")
    return out


def merge_pdfs(labels: list[bytes]) -> bytes:
    """One print run: every page of every label PDF, in order."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in labels:
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    return _write(writer)


def _write(writer: PdfWriter) -> bytes:
    writer.add_metadata({"/Producer": "marketd"})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def check_pdf_label(data: bytes) -> list[tuple[float, float]]:
    """Page sizes in mm of a label PDF (raises LabelError if it is not a PDF)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        return [(float(p.mediabox.width) / MM, float(p.mediabox.height) / MM) for p in reader.pages]
    except Exception as exc:
        raise LabelError(f"not a readable PDF: {exc}")


__all__ = ["zpl_blocks", "merge_zpl", "split_pdf_labels", "split_pdf_label_pages", "merge_pdfs", "check_pdf_label",
           "LabelError", "LABEL_W_MM", "LABEL_H_MM"]
