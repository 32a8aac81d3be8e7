"""Reading the tables sellers export from Seller Central: columns by name (DE/EN synonyms, any
order, extra columns kept), values as they come (a lone space is empty, ``Y``/``N`` booleans),
dates in the formats the reports use, with the day/month order decided once per file.

Why per file: ``05/06/24`` is May 6th in a US report and 5 June in a European one; a row can't
tell, the file can (any ``25/06/24`` settles it for every row). When nothing settles it, the
month comes first (Amazon's flat files are US-formatted) and the summary says the order was
assumed.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

EMPTY = {"", "-", "--", "n/a", "N/A"}
_YES = {"y", "yes", "true", "1", "ja", "j"}
_NO = {"n", "no", "false", "0", "nein"}


def norm(header: str) -> str:
    h = header.replace("\ufeff", "").strip().lower()
    h = re.sub(r"\(.*?\)", "", h)
    h = re.sub(r"[\s_\-./]+", " ", h).strip()
    return h


def match_columns(columns: list[str], synonyms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """canonical name -> the file's column, first synonym found wins; each column used once."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(norm(c), c)
    out, used = {}, set()
    for canon, names in synonyms.items():
        for n in (canon, *names):
            col = by_norm.get(norm(n))
            if col is not None and col not in used:
                out[canon] = col
                used.add(col)
                break
    return out


def value(text) -> str:
    """A cell's text; a lone space, ``-`` or ``N/A`` is empty."""
    if text is None:
        return ""
    t = str(text).strip()
    return "" if t in EMPTY else t


def boolean(text) -> bool | None:
    t = value(text).lower()
    return True if t in _YES else False if t in _NO else None


_SLASH = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})(?:[ T].*)?$")
_FORMATS = ("%d-%b-%Y", "%d-%b-%y", "%d %b %Y", "%b %d, %Y", "%d.%m.%Y", "%d.%m.%y")


class DateOrder:
    """The day/month order of slashed dates in one file, from all its values."""

    def __init__(self):
        self.order: str | None = None   # "MD" or "DM"
        self.assumed = False

    def learn(self, values) -> None:
        if self.order:
            return
        for v in values:
            m = _SLASH.match(value(v))
            if not m:
                continue
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 >= b:
                self.order = "DM"
                return
            if b > 12 >= a:
                self.order = "MD"
                return

    def finish(self) -> None:
        if not self.order:
            self.order, self.assumed = "MD", True


def parse_date(text, order: DateOrder) -> date | None:
    t = value(text)
    if not t:
        return None
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00").replace(" UTC", "+00:00"))
        return dt.astimezone(timezone.utc).date() if dt.tzinfo else dt.date()
    except ValueError:
        pass
    m = _SLASH.match(t)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        y = y + 2000 if y < 100 else y
        month, day = (a, b) if (order.order or "MD") == "MD" else (b, a)
        try:
            return date(y, month, day)
        except ValueError:
            return None
    for fmt in _FORMATS:
        try:
            return datetime.strptime(t, fmt).date()
        except ValueError:
            continue
    return None
