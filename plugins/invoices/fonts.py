"""A smaller font for the usual document, prepared once.

Embedding DejaVu Sans means parsing a 700 kB TrueType file for every PDF (fpdf2 parses it in
``add_font`` and subsets it at output): three quarters of a one-page invoice's rendering time. The
characters of European marketplaces' documents (Latin with its extensions, Greek, Cyrillic,
punctuation, currency signs) are cut out of it once with fontTools into
``<state>/fonts/<sha256 of the source>-<fontTools version>.ttf`` and that file is embedded
instead. A document holding any other character gets the full font, so nothing prints as a
missing glyph. The choice depends only on the snapshot, so rendering again gives the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x52F), (0x1E00, 0x1EFF), (0x2000, 0x206F),
          (0x20A0, 0x20BF), (0x2100, 0x214F)]
_lock = threading.Lock()
_prepared: dict[tuple[str, str], tuple[str, frozenset[int]] | None] = {}


def _subset(source: str, cache_dir: Path) -> tuple[str, frozenset[int]] | None:
    import fontTools
    from fontTools import subset
    from fontTools.ttLib import TTFont

    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16]
    target = cache_dir / f"{digest}-{fontTools.version}.ttf"
    if not target.exists():
        font = TTFont(source)
        options = subset.Options()
        options.layout_features, options.hinting, options.name_IDs, options.notdef_outline = [], False, ["*"], True
        options.glyph_names = True
        sub = subset.Subsetter(options)
        sub.populate(unicodes=[c for lo, hi in RANGES for c in range(lo, hi + 1)])
        sub.subset(font)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        font.save(str(tmp))
        os.replace(tmp, target)
    from fontTools.ttLib import TTFont as Reader

    cmap = frozenset(Reader(str(target)).getBestCmap())
    return str(target), cmap


def choose(snap: dict, full: str | None, cache_dir: Path | None) -> str | None:
    """The font file to embed for ``snap``: the prepared subset when it has every character."""
    if not full or cache_dir is None:
        return full
    key = (full, str(cache_dir))
    with _lock:
        if key not in _prepared:
            try:
                _prepared[key] = _subset(full, Path(cache_dir))
            except Exception:  # no fontTools subsetter for this font: the full font is always right
                _prepared[key] = None
        prepared = _prepared[key]
    if prepared is None:
        return full
    path, cmap = prepared
    text = json.dumps(snap, ensure_ascii=False)
    return path if all(ord(c) in cmap or c in "\n\r\t" for c in set(text)) else full
