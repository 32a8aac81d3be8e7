"""What a cell of a content file means: emptiness, text clean-up, EANs, locales, column names.

PIM and ERP exports write "no value" in many ways (a lone space, ``-``, ``N/A``); counting those
as filled would report a product complete that has no title. Every such rule lives here, once.
"""
from __future__ import annotations

import re
import unicodedata

EMPTY_TOKENS = frozenset({"", "-", "--", "n/a", "n.a.", "#n/a", "null"})
_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[_-]([A-Za-z]{2}))?$")


def is_empty(value) -> bool:
    return value is None or str(value).strip().casefold() in EMPTY_TOKENS


def clean(value) -> str:
    """Trimmed NFC text, or "" for every spelling of "no value"."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.casefold() in EMPTY_TOKENS:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text


def norm_column(name: str) -> str:
    """Header matching as in the catalog: case-insensitive, ``-`` and blanks as ``_``; an
    ``attr.`` prefix keeps the platform attribute name after it."""
    text = str(name).strip().lstrip("\ufeff").strip()
    low = text.lower()
    if low.startswith("attr."):  # a platform's own name (an eBay aspect "Besondere Merkmale"): kept as written
        return "attr." + text[5:].strip()
    return re.sub(r"[\s-]+", "_", low)


def canonical_locale(text: str, configured: list[str]) -> str | None:
    """``de``, ``de_DE``, ``de-de`` → ``de_DE``; a bare language maps to the one configured
    locale of that language. None when it is not a locale at all."""
    m = _LOCALE.match(text.strip())
    if not m:
        return None
    lang, country = m.group(1).lower(), m.group(2)
    if country:
        return f"{lang}_{country.upper()}"
    same = [loc for loc in configured if loc.split("_")[0] == lang]
    return same[0] if len(same) == 1 else None


def locale_suffixes(configured: list[str]) -> dict[str, str]:
    """Column suffix (lower case) → locale: ``de_de`` always, ``de`` when only one configured
    locale has that language (``size_eu`` stays an attribute unless ``eu`` is a locale)."""
    out = {loc.lower(): loc for loc in configured}
    langs: dict[str, list[str]] = {}
    for loc in configured:
        langs.setdefault(loc.split("_")[0], []).append(loc)
    for lang, locs in langs.items():
        if len(locs) == 1:
            out.setdefault(lang, locs[0])
    return out


def split_locale_column(col: str, suffixes: dict[str, str]) -> tuple[str, str | None]:
    """``title_de`` → (``title``, ``de_DE``); ``bullet_3_fr_fr`` → (``bullet_3``, ``fr_FR``)."""
    for n in (2, 1):
        parts = col.rsplit("_", n)
        if len(parts) == n + 1 and parts[0]:
            suffix = "_".join(parts[1:]).lower()
            if suffix in suffixes:
                return parts[0], suffixes[suffix]
    return col, None


def ean_problem(text: str) -> str | None:
    """None for a valid EAN-13; ``length`` or ``checksum`` otherwise (one rule per value)."""
    if len(text) != 13 or not text.isdigit() or not text.isascii():
        return "length"
    digits = [int(c) for c in text]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10) % 10
    return None if check == digits[12] else "checksum"


def gtin_valid(text: str) -> bool:
    """GTIN-8/12/13/14 with a valid check digit (GPSR accepts any GTIN as identifier)."""
    if not text.isascii() or not text.isdigit() or len(text) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in text]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def truthy(text: str) -> bool | None:
    """``Y/N``, ``true/false``, ``1/0``, ``ja/nein``, ``yes/no``, ``oui/non``, ``si/no``; None if unset
    or unreadable."""
    t = clean(text).casefold()
    if t in ("y", "yes", "true", "1", "ja", "j", "oui", "si", "sì", "x", "wahr"):
        return True
    if t in ("n", "no", "false", "0", "nein", "non", "falsch"):
        return False
    return None


def split_list(text: str, seps: str = "|\n") -> list[str]:
    if not any(c in text for c in seps):  # the common single value: no regex split
        one = clean(text)
        return [one] if one else []
    parts = re.split("[" + re.escape(seps) + "]", text)
    return [p for p in (clean(x) for x in parts) if p]


def short(text: str, limit: int = 200) -> str:
    """A value as a report shows it: one line, at most ``limit`` characters."""
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
