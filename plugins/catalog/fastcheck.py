"""The catalog row rules on whole columns, for the rows that plainly pass.

A 2,000,000-row catalog cannot afford a Python function call per cell. The common valid row —
ASCII EAN-13 with a right check digit, ``12.50``-shaped price, ``3``-shaped stock — is recognised
here per column: first by a few string methods over the whole column joined into one string
(``isdigit``, ``count``: C speed, true for a clean column), then by one regex over that string,
per value only when both fail. Any row this module does not vouch for goes
through :func:`.validate.check_row` (the rules and their messages live there only), so the fast
path can only ever be *narrower* than the rules, never different.
"""
from __future__ import annotations

import re

import numpy as np

from marketd.sdk import DecimalStyle

_WEIGHTS = np.array([1, 3] * 6, dtype=np.int64)
_SEP = "\x00"  # never inside a value: NUL bytes are refused by the reader
_PATTERNS: dict[str, re.Pattern] = {}
_INT = r"(?:0|[1-9][0-9]{0,11})"  # at most 12 integer digits, no leading zero


def _column_re(pattern: str) -> re.Pattern:
    rx = _PATTERNS.get(pattern)
    if rx is None:
        rx = _PATTERNS[pattern] = re.compile(f"(?:{pattern})(?:{_SEP}(?:{pattern}))*", re.ASCII)
    return rx


def matches(values: list[str], pattern: str, every=None) -> np.ndarray:
    """``fullmatch`` per value (ASCII classes), answered for the whole column at once when every
    value matches; ``every(values)`` is a quicker test that can only say True when they all do."""
    if not values:
        return np.zeros(0, dtype=bool)
    if every is not None and every(values):
        return np.ones(len(values), dtype=bool)
    text = _SEP.join(values)
    if text.count(_SEP) == len(values) - 1 and _column_re(pattern).fullmatch(text):
        return np.ones(len(values), dtype=bool)
    rx = re.compile(pattern, re.ASCII)
    return np.fromiter((rx.fullmatch(v) is not None for v in values), dtype=bool, count=len(values))


# -- quick whole-column tests: True only if every value fits (False says nothing) ---------------
def _lengths(text: str, n: int) -> np.ndarray | None:
    """The lengths of the ``n`` values joined into ``text`` with the separator, from where the
    separators sit (no call per value); None when a value is not ASCII or holds the separator."""
    if not text.isascii() or text.count(_SEP) != n - 1:
        return None
    ends = np.flatnonzero(np.frombuffer(text.encode("ascii"), dtype=np.uint8) == 0)
    bounds = np.concatenate(([-1], ends, [len(text)]))
    return np.diff(bounds) - 1


def _digits(lo: int, hi: int):
    def every(values: list[str]) -> bool:
        text = _SEP.join(values)
        digits = text.replace(_SEP, "")
        if not (digits.isascii() and digits.isdigit()):
            return False
        lengths = _lengths(text, len(values))
        return lengths is not None and lo <= int(lengths.min()) and int(lengths.max()) <= hi
    return every


def _currencies(values: list[str]) -> bool:
    text = _SEP.join(values)
    letters = text.replace(_SEP, "")
    if not (len(letters) == 3 * len(values) and letters.isascii() and letters.isalpha() and letters.isupper()):
        return False
    lengths = _lengths(text, len(values))
    return lengths is not None and bool((lengths == 3).all())


_DIGITS_AS_ZERO = str.maketrans("0123456789", "0000000000")
_LEADING_ZERO = re.compile(f"{_SEP}0[0-9]")


def _plain_numbers(values: list[str], sep: str | None) -> tuple[bool, bool]:
    """``(plain, two)``: whether every value is ``_INT`` optionally followed by ``sep`` and one or
    two digits (at most 12 characters; with ``sep`` None: ``_INT`` alone), and whether every value
    also has exactly two decimals. Both False says nothing: the regexes decide then."""
    text = _SEP + _SEP.join(values) + _SEP
    if text.count(_SEP) != len(values) + 1 or _SEP + _SEP in text:
        return False, False
    digits = text.replace(_SEP, "") if sep is None else text.replace(sep, "").replace(_SEP, "")
    if not (digits.isascii() and digits.isdigit()) or _LEADING_ZERO.search(text):
        return False, False
    lengths = _lengths(text[1:-1], len(values))
    if lengths is None or int(lengths.max()) > 12:
        return False, False
    if sep is None:
        return True, False
    if _SEP + sep in text:  # no integer part
        return False, False
    shape = text.translate(_DIGITS_AS_ZERO)  # every separator must close its value after 1-2 digits
    seps, one, two = shape.count(sep), shape.count(sep + "0" + _SEP), shape.count(sep + "00" + _SEP)
    plain = seps == one + two
    return plain, plain and two == len(values)


def _ean_ok(eans: list[str]) -> np.ndarray:
    ok = matches(eans, r"[0-9]{13}", _digits(13, 13))
    if ok.any():
        good = "".join(e for e, g in zip(eans, ok) if g) if not ok.all() else "".join(eans)
        digits = np.frombuffer(good.encode("ascii"), dtype=np.uint8).reshape(-1, 13).astype(np.int64) - 48
        check = (10 - (digits[:, :12] @ _WEIGHTS) % 10) % 10
        ok[np.flatnonzero(ok)] = check == digits[:, 12]
    return ok


def _price(prices: list[str], style: DecimalStyle | None) -> tuple[np.ndarray, list[str]]:
    """Prices written as ``123`` or ``123.4``/``123.45`` (in the file's style, no grouping, no
    leading zero, at most 12 integer digits) → ``123.00``/``123.40``/``123.45``."""
    plain, two = _plain_numbers(prices, style.sep if style else None)
    if style is None:
        return matches(prices, _INT, lambda _: plain), [p + ".00" for p in prices]
    sep = re.escape(style.sep)
    ok = matches(prices, rf"{_INT}(?:{sep}[0-9]{{1,2}})?", lambda _: plain)
    if style.sep == ",":
        prices = [p.replace(",", ".") for p in prices]
    if two or (not plain and matches(prices, rf"{_INT}\.[0-9]{{2}}").all()):
        return ok, prices  # already the stored form
    out = []
    for p in prices:
        whole, _, frac = p.partition(".")
        out.append(f"{whole}.{frac:0<2}")
    return ok, out


def check_columns(fields: dict[str, list[str]], style: DecimalStyle | None) -> tuple[np.ndarray, dict[str, list]]:
    """``(ok, products)``: ``ok`` marks the rows that pass every rule; ``products`` holds their
    cleaned values per field (lists; ``stock`` as int) — meaningful only where ok."""
    col = {f: list(map(str.strip, values)) for f, values in fields.items()}
    n = len(col["sku"])
    if "" in col["sku"] or "" in col["title"] or "" in col["brand"]:
        ok = np.fromiter((bool(s and t and b) for s, t, b in zip(col["sku"], col["title"], col["brand"])),
                         dtype=bool, count=n)
    else:
        ok = np.ones(n, dtype=bool)
    currency = col["currency"]
    cur_ok = matches(currency, "[A-Z]{3}", _currencies)
    if not cur_ok.all():
        currency = [c.upper() for c in currency]
        cur_ok = matches(currency, "[A-Z]{3}", _currencies)
    ok &= cur_ok
    ok &= matches(col["stock"], "[0-9]{1,9}", _digits(1, 9))
    price_ok, price = _price(col["price"], style)
    ok &= price_ok
    if ok.any():
        ok[ok] = _ean_ok([e for e, g in zip(col["ean"], ok) if g] if not ok.all() else col["ean"])
    if ok.all():
        stock = list(map(int, col["stock"]))
    else:
        stock = [int(v) if g else 0 for v, g in zip(col["stock"], ok.tolist())]
    products = {"sku": col["sku"], "ean": col["ean"], "title": col["title"], "brand": col["brand"], "price": price,
                "currency": currency, "stock": stock}
    return ok, products
