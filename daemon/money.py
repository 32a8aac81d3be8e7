"""Amounts as Decimal, parsed the way European marketplace exports write them.

Floats never appear: a settlement's rows must add up to its payout to the cent, and a float
sum of a million rows does not. Parsing itself lives in :mod:`marketd.numbers` (one parser for
every number a file carries); this module keeps the amount-shaped entry points.
"""
from __future__ import annotations

from decimal import Decimal

from .numbers import (AMOUNT, COMMA, COUNT, DOT, MEASURE, DecimalStyle, NumberError, NumberKind,
                      parse_decimal)

__all__ = ["AMOUNT", "COMMA", "COUNT", "DOT", "MEASURE", "AmountError", "DecimalStyle", "NumberError", "NumberKind",
           "fmt", "guess_decimal_separator", "parse_amount", "parse_decimal"]

AmountError = NumberError  # the historical name: ``except AmountError`` keeps catching every refusal


def guess_decimal_separator(samples) -> str:
    """``.`` or ``,`` for a whole file from all its values (see :meth:`DecimalStyle.detect`);
    ``.`` when no value decides."""
    return DecimalStyle.detect(samples, default=DOT).sep


def parse_amount(text, decimal_sep: str | DecimalStyle | None = None) -> Decimal:
    """One amount: ``95.00``, ``95,00``, ``1.234,56``, ``1,234.56``, `` -3.5 ``, ``(12.00)``, ``12-``.

    Give the file's ``decimal_sep`` (decided from all its values): without it a value is read
    on its own, and ``1,234``/``1.234`` are refused as ambiguous rather than guessed."""
    return parse_decimal(text, decimal_sep, AMOUNT)


def fmt(amount: Decimal | None) -> str:
    """Render for CSV/ERP output: plain point decimal, no exponent, sign only when negative."""
    if amount is None:
        return ""
    return format(amount, "f")
