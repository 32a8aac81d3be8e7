"""What an image is: readable, its format and size, its first-image kind (``packshot | model |
uncertain``), Amazon's main-image measures, a perceptual hash. Pillow + numpy only.

The classifier (research content-and-health §3.4, refined in design §A6): packshots and cut-outs
have a uniform light border on all sides, an object that does not touch the edges and little skin
in the foreground; model shots have skin and are cropped at the top or bottom.

1. downscale to ≤ ``downscale`` px (JPEG: ``draft`` decodes at a reduced scale, 1.7× faster);
   border band = ``border_share`` of the short side;
2. ``bg`` = median border colour, ``bg_std`` = mean per-channel std of the border,
   ``border_white`` = share of border pixels with min(R,G,B) ≥ ``white_min``;
3. foreground = pixels whose largest channel distance from ``bg`` exceeds ``fg_distance``,
   ``fill`` = its share;
4. ``fg_skin`` = share of foreground pixels with YCbCr Cb∈[77,127] and Cr∈[133,173];
5. ``edges_touched`` = sides where more than ``edge_touch_share`` of that side's band is foreground;
6. ``fill`` < ``min_fill`` → uncertain; packshot if (border white or calm) and no skin and at most
   one edge touched; model if enough skin and (an edge touched or not all skin: a skin-coloured
   product on white is *not* a model); else uncertain.

Features are kept raw (:func:`measure`) and the verdict is decided from them with the configured
thresholds (:func:`decide`), so a threshold change needs no new download. Thresholds were set on
generated images; the research requires checking them on real brand photos before a mismatch may
be more than a WARNING, and ``uncertain`` is never more than INFO.
"""
from __future__ import annotations

import io
import warnings

import numpy as np

FORMATS_OK = ("JPEG", "PNG", "GIF", "TIFF")


class ImageProblem(Exception):
    """The bytes are not an image we can use: ``rule`` is ``image.unreadable`` or ``image.format``."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


def _open(data: bytes, downscale: int):
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or "unknown"
            size = img.size
            if fmt not in FORMATS_OK:
                raise ImageProblem("image.format", f"{fmt} ({size[0]}×{size[1]} px)")
            if fmt == "JPEG":
                img.draft("RGB", (downscale, downscale))
            img.load()
    except ImageProblem:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageProblem("image.unreadable", str(exc)[:160] or type(exc).__name__) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or damaged files
        raise ImageProblem("image.unreadable", f"{type(exc).__name__}: {str(exc)[:140]}") from None
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")  # transparent pixels read as white, as a marketplace shows them
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    img = img.convert("RGB")
    if max(img.size) > downscale:  # BOX: an average per target pixel, ~10x faster than Lanczos here
        from PIL import Image as _Image

        img.thumbnail((downscale, downscale), _Image.Resampling.BOX)
    return img, fmt, size


def measure(data: bytes, *, downscale: int = 512, border_share: float = 0.03, white_min: int = 245,
            fg_distance: int = 30, main_white: int = 250, edge_touch_share: float = 0.02) -> dict:
    """The facts of one image (raises :class:`ImageProblem`)."""
    img, fmt, (width, height) = _open(data, downscale)
    rgb = np.asarray(img, dtype=np.int16)
    h, w = rgb.shape[:2]
    band = max(1, int(round(border_share * min(h, w))))
    border = np.concatenate([rgb[:band].reshape(-1, 3), rgb[-band:].reshape(-1, 3),
                             rgb[band:-band, :band].reshape(-1, 3), rgb[band:-band, -band:].reshape(-1, 3)])
    bg = np.median(border, axis=0)
    bg_std = float(border.std(axis=0).mean())
    lowest = np.minimum(np.minimum(border[:, 0], border[:, 1]), border[:, 2])
    border_white = float((lowest >= white_min).mean())
    main_white_share = float((lowest >= main_white).mean())
    d = np.abs(rgb - np.round(bg).astype(np.int16))  # int16, and channel maxima pairwise: numpy's
    fg = np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2]) > fg_distance  # reduce over 3 is slow
    fill = float(fg.mean())
    ycc = np.asarray(img.convert("YCbCr"), dtype=np.int16)
    cb, cr = ycc[..., 1], ycc[..., 2]
    skin = (cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173)
    fg_count = int(fg.sum())
    fg_skin = float((skin & fg).sum() / fg_count) if fg_count else 0.0
    sides = (fg[:band, :], fg[-band:, :], fg[:, :band], fg[:, -band:])
    edges = int(sum(1 for s in sides if s.mean() > edge_touch_share))
    if fg_count:
        rows = np.flatnonzero(fg.any(axis=1))
        cols = np.flatnonzero(fg.any(axis=0))
        bbox_share = max((rows[-1] - rows[0] + 1) / h, (cols[-1] - cols[0] + 1) / w)
    else:
        bbox_share = 0.0
    return {"format": fmt, "width": int(width), "height": int(height), "border_white": round(border_white, 4),
            "bg_std": round(bg_std, 3), "fill": round(fill, 4), "fg_skin": round(fg_skin, 4), "edges_touched": edges,
            "main_white_share": round(main_white_share, 4), "bbox_share": round(float(bbox_share), 4),
            "dhash": dhash(img)}


def decide(f: dict, s) -> str:
    """``packshot | model | uncertain`` from :func:`measure`'s features and the thresholds ``s``
    (``[inbox.content.images]``)."""
    if f["fill"] < s.min_fill:
        return "uncertain"
    if (f["border_white"] >= s.packshot_border_white or f["bg_std"] < s.packshot_bg_std) \
            and f["fg_skin"] < s.packshot_max_skin and f["edges_touched"] <= 1:
        return "packshot"
    if f["fg_skin"] >= s.model_min_skin and (f["edges_touched"] >= 1 or f["fg_skin"] <= s.model_max_skin_untouched):
        return "model"
    return "uncertain"


def dhash(img) -> str:
    """64-bit difference hash (grey 9×8, adjacent pixels compared), as hex: the listing audit
    compares a platform's main image with ours by Hamming distance."""
    from PIL import Image

    g = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")
