"""Row rules for a product catalog; each problem names the column and says how to fix it.

These are the rules, one row at a time. :mod:`.fastcheck` applies the same rules to whole
columns for the rows that plainly pass; every row it cannot vouch for comes here, so the
messages exist in one place only.
"""
from __future__ import annotations

import re
from decimal import Decimal

from marketd.sdk import AMOUNT, COUNT, DecimalStyle, NumberError, parse_decimal

REQUIRED = ("sku", "ean", "title", "brand", "price", "currency", "stock")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_SCIENTIFIC = re.compile(r"[0-9]+(\.[0-9]+)?[eE]\+?[0-9]+", re.ASCII)
CENT = Decimal("0.01")


def ean13_ok(ean: str) -> bool:
    if len(ean) != 13 or not _DIGITS.fullmatch(ean):
        return False
    digits = [int(c) for c in ean]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == digits[12]


def check_ean(ean: str) -> str | None:
    if not ean:
        return "EAN is empty"
    if not _DIGITS.fullmatch(ean):
        if _SCIENTIFIC.fullmatch(ean):
            return f"EAN {ean!r} is in scientific notation (a spreadsheet turned it into a number); format the column as text"
        if any(c.isdigit() and not c.isascii() for c in ean):
            return f"EAN {ean!r} must be 13 digits 0-9 (it contains {next(c for c in ean if c.isdigit() and not c.isascii())!r})"
        return f"EAN {ean!r} must be 13 digits"
    if 10 <= len(ean) < 13 and ean13_ok(ean.zfill(13)):  # 1-3 zeros: spreadsheets drop them, shorter is no EAN
        lost = 13 - len(ean)
        what = "a leading zero was" if lost == 1 else f"{lost} leading zeros were"
        return f"EAN {ean!r} has {len(ean)} digits: {what} probably lost in a spreadsheet ({ean.zfill(13)})"
    if len(ean) != 13:
        return f"EAN {ean!r} has {len(ean)} digits, 13 are required"
    if not ean13_ok(ean):
        return f"EAN {ean!r} has a wrong check digit"
    return None


def price_text(price: Decimal) -> str:
    """Stored form: two decimals, more only when the file gave more (``12.5`` → ``12.50``)."""
    cents = price.quantize(CENT)
    return format(cents if price == cents else price, "f")


def check_row(row: dict, style: DecimalStyle | str | None) -> tuple[dict, list[tuple[str, str]]]:
    """Returns the cleaned product and a list of (column, reason) problems. ``style`` is the
    file's decimal style (None: undecided, so ambiguous numbers are refused)."""
    problems: list[tuple[str, str]] = []
    out: dict = {}
    sku = row.get("sku", "").strip()
    if not sku:
        problems.append(("sku", "SKU is empty"))
    out["sku"] = sku
    ean = row.get("ean", "").strip()
    msg = check_ean(ean)
    if msg:
        problems.append(("ean", msg))
    out["ean"] = ean
    title = row.get("title", "").strip()
    if not title:
        problems.append(("title", "title is empty"))
    out["title"] = title
    out["brand"] = row.get("brand", "").strip()
    if not out["brand"]:
        problems.append(("brand", "brand is empty"))
    raw_price = row.get("price", "").strip()
    try:
        price = parse_decimal(raw_price, style, AMOUNT)
        if price < 0:
            problems.append(("price", f"price {raw_price!r} is negative"))
        out["price"] = price_text(price)
    except NumberError as exc:
        problems.append(("price", f"price {exc}"))
    cur = row.get("currency", "").strip().upper()
    if not _CURRENCY.fullmatch(cur):
        problems.append(("currency", f"currency {row.get('currency', '')!r} is not an ISO 4217 code such as EUR"))
    out["currency"] = cur
    stock_text = row.get("stock", "").strip()
    try:
        stock = parse_decimal(stock_text, style, COUNT)
        if stock < 0:
            problems.append(("stock", f"stock {stock_text!r} must be a whole number ≥ 0"))
        out["stock"] = int(stock)
    except NumberError as exc:
        problems.append(("stock", f"stock {exc}" if exc.why != "is not a whole number" else
                         f"stock {stock_text!r} must be a whole number ≥ 0"))
    return out, problems
