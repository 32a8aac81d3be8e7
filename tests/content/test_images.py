"""The first-image classifier on generated images (design §A6 table), the image rules, and what
an unreadable or foreign image gives. Verdicts are asserted, never feature values."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from marketd.plugins.content.images import ImageProblem, decide, dhash, hamming, measure
from marketd.plugins.content.settings import ImageSettings

from . import imagegen as g

S = ImageSettings()

CASES = [
    ("packshot on white", lambda: g.packshot(), "packshot"),
    ("ghost mannequin on white", lambda: g.ghost_mannequin(), "packshot"),
    ("model on white", lambda: g.model_figure(), "model"),
    ("model on light grey", lambda: g.model_figure(bg=(235, 235, 235)), "model"),
    ("full-body model with margins", lambda: g.model_figure(margins=True), "model"),
    ("packshot on light grey", lambda: g.packshot(bg=(235, 235, 235)), "packshot"),
    ("noisy scene", lambda: g.noisy_scene(), "uncertain"),
    ("noisy scene blurred", lambda: g.noisy_scene(blur=2), "uncertain"),
    ("beige knit flat lay", lambda: g.beige_knit(), "uncertain"),
]


@pytest.mark.parametrize("name, make, verdict", CASES, ids=[c[0] for c in CASES])
def test_generated_images_classify_as_in_the_table(name, make, verdict):
    assert decide(measure(g.jpeg(make())), S) == verdict


def test_png_with_transparency_reads_as_white_background():
    img = g.packshot().convert("RGBA")
    px = img.load()
    for x in range(img.width):
        for y in range(40):
            px[x, y] = (0, 0, 0, 0)  # transparent band at the top: shown on white by marketplaces
    f = measure(g.png(img))
    assert decide(f, S) == "packshot" and f["format"] == "PNG"


def test_format_and_unreadable():
    buf = io.BytesIO()
    g.packshot(400, 500).save(buf, "WEBP")
    with pytest.raises(ImageProblem) as exc:
        measure(buf.getvalue())
    assert exc.value.rule == "image.format"
    with pytest.raises(ImageProblem) as exc:
        measure(b"GIF89a not really")
    assert exc.value.rule == "image.unreadable"
    with pytest.raises(ImageProblem) as exc:
        measure(g.jpeg(g.packshot())[:3000])  # truncated JPEG
    assert exc.value.rule == "image.unreadable"


def test_decompression_bomb_is_unreadable_not_a_crash(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageProblem) as exc:
        measure(g.png(g.packshot(100, 100)))
    assert exc.value.rule == "image.unreadable"


def test_main_image_measures():
    small = measure(g.jpeg(g.packshot(800, 600)))
    assert (small["width"], small["height"]) == (800, 600)
    grey = measure(g.jpeg(g.packshot(bg=(235, 235, 235))))
    assert grey["main_white_share"] < S.main_white_share <= measure(g.jpeg(g.packshot()))["main_white_share"]
    assert measure(g.jpeg(g.packshot()))["bbox_share"] < S.main_fill      # 70 % of the frame


def test_dhash_is_stable_under_recompression_and_differs_between_images():
    a = measure(g.jpeg(g.packshot(), quality=90))["dhash"]
    b = measure(g.jpeg(g.packshot(), quality=60))["dhash"]
    c = measure(g.jpeg(g.model_figure()))["dhash"]
    assert hamming(a, b) <= 4 < hamming(a, c)
    assert len(dhash(g.packshot(90, 80))) == 16


def test_thresholds_are_configurable():
    f = measure(g.jpeg(g.beige_knit()))
    assert decide(f, S) == "uncertain"
    assert decide(f, ImageSettings(model_max_skin_untouched=1.0)) == "model"
