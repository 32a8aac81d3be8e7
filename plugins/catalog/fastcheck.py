"""The catalog row rules on whole columns, for the rows that plainly pass.

A 2,000,000-row catalog cannot afford a Python function call per cell. The common valid row —
ASCII EAN-13 with a right check digit, ``12.50``-shaped price, ``3``-shaped stock — is recognised
here per column: first one regex over the whole column joined into one string (C speed: true for
a clean column), per value only when that fails. Any row this module does not vouch for goes
through :func:`.validate.check_row` (the rules and their messages live there only), so the fast
path can only ever be *narrower* than the rules, never different.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from marketd.numbers import DecimalStyle

_WEIGHTS = np.array([1, 3] * 6, dtype=np.int64)
_SEP = "\x00"  # never inside a value: NUL bytes are refused by the reader
_PATTERNS: dict[str, re.Pattern] = {}


def _joined(values: list[str]) -> str | None:
    text = _SEP.join(values)
    return text if text.count(_SEP) == len(values) - 1 else None


def _column_re(pattern: str) -> re.Pattern:
    rx = _PATTERNS.get(pattern)
    if rx is None:
        rx = _PATTERNS[pattern] = re.compile(f"(?:{pattern})(?:{_SEP}(?:{pattern}))*", re.ASCII)
    return rx


def matches(s: pd.Series, pattern: str) -> np.ndarray:
    """``fullmatch`` per value (ASCII classes), answered for the whole column at once when every value matches."""
    values = s.tolist()
    if not values:
        return np.zeros(0, dtype=bool)
    text = _joined(values)
    if text is not None and _column_re(pattern).fullmatch(text):
        return np.ones(len(values), dtype=bool)
    rx = re.compile(pattern, re.ASCII)
    return np.fromiter((rx.fullmatch(v) is not None for v in values), dtype=bool, count=len(values))


def stripped(s: pd.Series) -> pd.Series:
    """``str.strip`` per value (a plain comprehension: pandas' ``.str`` costs ten times more)."""
    return pd.Series([v.strip() for v in s.tolist()], dtype=object, index=s.index)


def _ean_ok(ean: pd.Series) -> np.ndarray:
    ok = matches(ean, r"[0-9]{13}")
    if ok.any():
        good = ean[ok].tolist()
        digits = np.frombuffer("".join(good).encode("ascii"), dtype=np.uint8).reshape(-1, 13).astype(np.int64) - 48
        check = (10 - (digits[:, :12] @ _WEIGHTS) % 10) % 10
        ok[np.flatnonzero(ok)] = check == digits[:, 12]
    return ok


def _price(price: pd.Series, style: DecimalStyle | None) -> tuple[np.ndarray, pd.Series]:
    """Prices written as ``123`` or ``123.4``/``123.45`` (in the file's style, no grouping, no
    leading zero, at most 12 integer digits) → ``123.00``/``123.40``/``123.45``."""
    int_part = r"(?:0|[1-9][0-9]{0,11})"
    if style is None:
        return matches(price, int_part), price + ".00"
    sep = re.escape(style.sep)
    ok = matches(price, rf"{int_part}(?:{sep}[0-9]{{1,2}})?")
    if style.sep == ",":
        price = price.str.replace(",", ".", regex=False)
    if matches(price, rf"{int_part}\.[0-9]{{2}}").all():
        return ok, price  # already the stored form
    parts = price.str.partition(".")
    return ok, parts[0] + "." + parts[2].str.ljust(2, "0")


def check_columns(fields: dict[str, pd.Series], style: DecimalStyle | None) -> tuple[np.ndarray, pd.DataFrame]:
    """``(ok, products)``: ``ok`` marks the rows that pass every rule; ``products`` holds their
    cleaned values (sku, ean, title, brand, price, currency, stock) — meaningful only where ok."""
    sku = stripped(fields["sku"])
    ean = stripped(fields["ean"])
    title = stripped(fields["title"])
    brand = stripped(fields["brand"])
    price_raw = stripped(fields["price"])
    currency = stripped(fields["currency"])
    stock_raw = stripped(fields["stock"])
    ok = (sku != "").to_numpy(dtype=bool) & (title != "").to_numpy(dtype=bool) & (brand != "").to_numpy(dtype=bool)
    cur_ok = matches(currency, "[A-Z]{3}")
    if not cur_ok.all():
        currency = currency.str.upper()
        cur_ok = matches(currency, "[A-Z]{3}")
    ok &= cur_ok
    ok &= matches(stock_raw, "[0-9]{1,9}")
    price_ok, price = _price(price_raw, style)
    ok &= price_ok
    if ok.any():
        ok[ok] = _ean_ok(ean[ok])
    if ok.all():
        stock = stock_raw.astype(np.int64)
    else:
        stock = pd.Series(np.zeros(len(sku), dtype=np.int64), index=sku.index)
        if ok.any():
            stock[ok] = stock_raw[ok].astype(np.int64)
    products = pd.DataFrame({"sku": sku, "ean": ean, "title": title, "brand": brand, "price": price,
                             "currency": currency, "stock": stock})
    return ok, products
