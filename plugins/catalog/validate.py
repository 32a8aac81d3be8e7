"""Row rules for a product catalog; each problem names the column and says how to fix it."""
from __future__ import annotations

import re
from decimal import Decimal

from marketd.sdk import AmountError, parse_amount

REQUIRED = ("sku", "ean", "title", "brand", "price", "currency", "stock")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def ean13_ok(ean: str) -> bool:
    if len(ean) != 13 or not ean.isdigit():
        return False
    digits = [int(c) for c in ean]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == digits[12]


def check_ean(ean: str) -> str | None:
    if not ean:
        return "EAN is empty"
    if not ean.isdigit():
        if re.fullmatch(r"\d+(\.\d+)?[eE]\+?\d+", ean):
            return f"EAN {ean!r} is in scientific notation (a spreadsheet turned it into a number); format the column as text"
        return f"EAN {ean!r} must be 13 digits"
    if len(ean) == 12 and ean13_ok("0" + ean):
        return f"EAN {ean!r} has 12 digits: a leading zero was probably lost in a spreadsheet (0{ean})"
    if len(ean) != 13:
        return f"EAN {ean!r} has {len(ean)} digits, 13 are required"
    if not ean13_ok(ean):
        return f"EAN {ean!r} has a wrong check digit"
    return None


def check_row(row: dict, decimal_sep: str) -> tuple[dict, list[tuple[str, str]]]:
    """Returns the cleaned product and a list of (column, reason) problems."""
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
    price_text = row.get("price", "").strip()
    try:
        price = parse_amount(price_text, decimal_sep)
        if price < 0:
            problems.append(("price", f"price {price_text!r} is negative"))
        out["price"] = format(price.quantize(Decimal("0.01")) if price == price.quantize(Decimal("0.01")) else price, "f")
    except AmountError:
        problems.append(("price", f"price {price_text!r} is not an amount (use e.g. 12.50 or 12,50)"))
    cur = row.get("currency", "").strip().upper()
    if not _CURRENCY.match(cur):
        problems.append(("currency", f"currency {row.get('currency', '')!r} is not an ISO 4217 code such as EUR"))
    out["currency"] = cur
    stock_text = row.get("stock", "").strip()
    try:
        stock_dec = parse_amount(stock_text, decimal_sep)
        if stock_dec != stock_dec.to_integral_value() or stock_dec < 0:
            raise AmountError(stock_text)
        out["stock"] = int(stock_dec)
    except AmountError:
        problems.append(("stock", f"stock {stock_text!r} must be a whole number ≥ 0"))
    return out, problems
