"""Labels checked for what a label printer needs: whole ZPL blocks, one 100x150 mm PDF page per parcel."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from marketd.sdk.labels import (LabelError, check_pdf_label, merge_pdfs, merge_zpl, split_pdf_labels,
                                              zpl_blocks)
from marketd.sdk.fakes import pdf_label, pdf_labels, zpl_label


def assert_label_pages(data: bytes, pages: int):
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == pages
    for w, h in check_pdf_label(data):
        assert w == pytest.approx(100, abs=0.5) and h == pytest.approx(150, abs=0.5)


def test_zpl_blocks_and_merge():
    a, b = zpl_label(["A"], "111"), zpl_label(["B"], "222")
    assert a.startswith("^XA") and a.rstrip().endswith("^XZ")
    merged = merge_zpl([a.encode(), b.encode()])
    text = merged.decode()
    assert text.startswith("^XA") and text.rstrip().endswith("^XZ")
    assert len(zpl_blocks(merged)) == 2


@pytest.mark.parametrize("bad", ["^XA^FDcut off", "garbage ^XA^XZ", "^XA^XZ trailing"])
def test_zpl_rejects_broken_text(bad):
    with pytest.raises(LabelError):
        zpl_blocks(bad)


def test_label_sized_pdf_passes_through():
    data = pdf_label(["0102000000001", "Mario Rossi"])
    out = split_pdf_labels(data)
    assert len(out) == 1
    assert_label_pages(out[0], 1)


def test_a4_four_up_sheet_is_cut_into_label_pages():
    sheet = pdf_labels([[f"PARCEL-{i}"] for i in range(6)], per_page=4)
    assert [tuple(round(x) for x in s) for s in check_pdf_label(sheet)] == [(210, 297), (210, 297)]
    out = split_pdf_labels(sheet, per_page=4, count=6)
    assert len(out) == 6
    for page in out:
        assert_label_pages(page, 1)
    # each quarter is clipped to its own label before it is scaled onto the label page
    content = PdfReader(io.BytesIO(out[1])).pages[0].get_contents().get_data()
    assert b"re\nW\nn" in content


def test_a4_four_up_with_fewer_labels_than_claimed_is_an_error():
    sheet = pdf_labels([["ONE"]], per_page=4)
    with pytest.raises(LabelError):
        split_pdf_labels(sheet, per_page=4, count=5)


def test_other_sizes_are_scaled_onto_100x150_and_landscape_turned():
    a5 = pdf_label(["A5"], width_mm=148, height_mm=210)
    land = pdf_label(["LANDSCAPE"], width_mm=150, height_mm=100)
    for data in (a5, land):
        out = split_pdf_labels(data)
        assert len(out) == 1
        assert_label_pages(out[0], 1)


def test_merge_is_one_page_per_label():
    labels = [pdf_label([f"P{i}"]) for i in range(5)]
    merged = merge_pdfs(labels)
    assert_label_pages(merged, 5)


def test_not_a_pdf():
    with pytest.raises(LabelError):
        split_pdf_labels(b"%PDF-1.4 truncated")


def test_each_quarter_of_a_four_up_sheet_becomes_its_own_label_in_order():
    """Only page count, size and "some clipping" were checked: reversing the rows or columns of
    the quarters (another parcel's label on this parcel) passed. Each page must show its label."""
    from .label_text import pages_lines

    sheet = pdf_labels([[f"PARCEL-{i}", f"line two of {i}"] for i in range(7)], per_page=4)
    out = split_pdf_labels(sheet, per_page=4, count=7)
    for i, page in enumerate(out):
        assert pages_lines(page) == [[f"PARCEL-{i}", f"line two of {i}"]], i
    assert pages_lines(merge_pdfs(out)) == [[f"PARCEL-{i}", f"line two of {i}"] for i in range(7)]
