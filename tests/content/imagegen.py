"""Generated test images for the first-image classifier (design §A6 table): drawn with Pillow,
saved as JPEG q90, so the tests exercise the real decoding path. Skin colour (224, 172, 140)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SKIN = (224, 172, 140)


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def packshot(w=1600, h=2000, bg=(255, 255, 255)) -> Image.Image:
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    d.rectangle([w * 0.15, h * 0.15, w * 0.85, h * 0.85], fill=(20, 30, 90))
    d.rectangle([w * 0.3, h * 0.4, w * 0.7, h * 0.55], fill=(200, 30, 30))
    return img


def ghost_mannequin(w=1600, h=2000) -> Image.Image:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.polygon([(w * .3, h * .15), (w * .7, h * .15), (w * .9, h * .35), (w * .78, h * .42), (w * .72, h * .35),
               (w * .72, h * .85), (w * .28, h * .85), (w * .28, h * .35), (w * .22, h * .42), (w * .1, h * .35)],
              fill=(15, 15, 15))
    return img


def model_figure(w=1600, h=2000, bg=(255, 255, 255), margins=False) -> Image.Image:
    """A person: head (cut at the top unless ``margins``), arms and legs in skin colour, a shirt."""
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    if margins:
        top, bottom = h * 0.12, h * 0.9
        d.ellipse([w * .42, top, w * .58, top + h * .12], fill=SKIN)
        d.rectangle([w * .35, top + h * .13, w * .65, top + h * .45], fill=(40, 60, 160))
        d.rectangle([w * .25, top + h * .14, w * .33, top + h * .42], fill=SKIN)
        d.rectangle([w * .67, top + h * .14, w * .75, top + h * .42], fill=SKIN)
        d.rectangle([w * .38, top + h * .46, w * .48, bottom], fill=SKIN)
        d.rectangle([w * .52, top + h * .46, w * .62, bottom], fill=SKIN)
        return img
    d.ellipse([w * .38, -h * .05, w * .62, h * .18], fill=SKIN)
    d.rectangle([w * .3, h * .18, w * .7, h * .6], fill=(40, 60, 160))
    d.rectangle([w * .18, h * .2, w * .28, h * .58], fill=SKIN)
    d.rectangle([w * .72, h * .2, w * .82, h * .58], fill=SKIN)
    d.rectangle([w * .34, h * .6, w * .48, h * 1.0], fill=SKIN)
    d.rectangle([w * .52, h * .6, w * .66, h * 1.0], fill=SKIN)
    return img


def noisy_scene(w=1600, h=2000, blur=0, seed=7) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.clip(rng.normal(120, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    return img.filter(ImageFilter.GaussianBlur(blur)) if blur else img


def beige_knit(w=1600, h=2000) -> Image.Image:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle([w * .15, h * .2, w * .85, h * .8], fill=SKIN)
    return img
