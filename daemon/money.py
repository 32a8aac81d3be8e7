"""Amounts as Decimal, parsed the way European marketplace exports write them.

Floats never appear: a settlement's rows must add up to its payout to the cent, and a float
sum of a million rows does not.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SPACES = re.compile(r"[\s\u00a0\u202f']")


class AmountError(ValueError):
    """Text that is not an amount; the message quotes it."""


def guess_decimal_separator(samples) -> str:
    """Decide ``.`` or ``,`` for a whole column/file from sample values (decided per file).

    A value like ``1.234`` is ambiguous on its own; the file decides: if any sample has a comma
    followed by exactly two digits at the end, or a dot used as thousands separator before a
    comma, the file uses decimal comma.
    """
    comma = dot = 0
    for raw in samples:
        s = _SPACES.sub("", str(raw or ""))
        if not s:
            continue
        last_comma, last_dot = s.rfind(","), s.rfind(".")
        if last_comma > last_dot:
            comma += 1
        elif last_dot > last_comma:
            dot += 1
    return "," if comma > dot else "."


def parse_amount(text, decimal_sep: str | None = None) -> Decimal:
    """Parse ``95.00``, ``95,00``, ``1.234,56``, ``1,234.56``, `` -3.5 ``, ``(12.00)``, ``12-``.

    With ``decimal_sep`` given the other separator is taken as grouping; without it, the last
    of ``.``/``,`` is the decimal separator when followed by 1–3 digits and no other separator
    of the same kind follows (``1.234`` alone is read as 1.234, so give ``decimal_sep`` for
    files that group thousands without decimals).
    """
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        raise AmountError(f"refusing float amount {text!r}: pass text or Decimal")
    s = _SPACES.sub("", str(text or ""))
    if not s:
        raise AmountError("empty amount")
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg, s = True, s[1:-1]
    if s.endswith("-") and not s.startswith("-"):
        neg, s = True, s[:-1]
    if s.startswith("+"):
        s = s[1:]
    if s.startswith("-"):
        neg, s = not neg, s[1:]
    if decimal_sep is None:
        lc, ld = s.rfind(","), s.rfind(".")
        if lc >= 0 and ld >= 0:
            decimal_sep = "," if lc > ld else "."
        elif lc >= 0:
            decimal_sep = "," if s.count(",") == 1 else "."
        else:
            decimal_sep = "."
    group = "." if decimal_sep == "," else ","
    s = s.replace(group, "")
    if decimal_sep == ",":
        s = s.replace(",", ".")
    if s.count(".") > 1 or not re.fullmatch(r"\d*\.?\d*", s) or s in ("", "."):
        raise AmountError(f"not an amount: {text!r}")
    try:
        value = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - regex above guards
        raise AmountError(f"not an amount: {text!r}") from exc
    return -value if neg else value


def fmt(amount: Decimal | None) -> str:
    """Render for CSV/ERP output: plain point decimal, no exponent, sign only when negative."""
    if amount is None:
        return ""
    return format(amount, "f")
