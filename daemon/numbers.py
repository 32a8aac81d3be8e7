"""The one number parser: every number read from a file (prices, stock, settlement amounts, COD,
weights, dimensions) goes through :func:`parse_decimal`.

Why one parser: a number misread by 100× is worse than a rejected row. ``12,50`` is twelve euros
fifty in a decimal-comma file and *not a number* in a decimal-point file (where ``,`` may only
group thousands, in blocks of exactly three digits) — so the file's decimal style is decided from
*all* its values first (:meth:`DecimalStyle.detect`), then every value is read under that style,
and a value that does not fit is refused with a reason naming the text. Exponents, ``_``,
non-ASCII digits, NaN/infinity and numbers beyond a sane bound per use (:class:`NumberKind`) are
refused the same way, so no caller ever sees ``InvalidOperation``/``OverflowError``: the only
exception is :class:`NumberError`.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# Blanks that ERPs and spreadsheets write as thousands separators: space, no-break space and the
# narrow no-break space French locales use; the apostrophe is Swiss.
_BLANK_GROUPS = " \u00a0\u202f"
MAX_TEXT = 64  # longer is never a number a person typed; bounds the work per value


class NumberError(ValueError):
    """Text that is not a number of the expected kind in the file's style.

    ``str()`` quotes the text and says why (``'12,50' does not fit …``) so a caller can prefix
    its column: ``f"price {exc}"``."""

    def __init__(self, text, why: str, what: str = ""):
        shown = text if isinstance(text, str) else str(text)
        if len(shown) > 40:
            shown = shown[:40] + "…"
        super().__init__(f"{what} {shown!r} {why}" if what else f"{shown!r} {why}")
        self.text = text
        self.why = why  # the reason alone, for messages that must not quote the value


@dataclass(frozen=True)
class NumberKind:
    """Sane bounds for one use of numbers: ``|value| < limit`` with at most ``decimals``
    significant decimal digits (trailing zeros do not count: ERPs write ``12.500000``);
    ``whole`` numbers must be integral."""

    name: str
    limit: Decimal
    decimals: int
    whole: bool = False

    @property
    def max_int_digits(self) -> int:
        return len(str(int(self.limit)))


AMOUNT = NumberKind("amount", Decimal(10) ** 12, 4)
COUNT = NumberKind("count", Decimal(10) ** 9, 4, whole=True)
MEASURE = NumberKind("measure", Decimal(10) ** 6, 6)


@dataclass(frozen=True)
class DecimalStyle:
    """How a file writes numbers: ``sep`` is the decimal separator; the other of ``.``/``,``
    (and blanks, and the apostrophe outside strict mode) may group thousands."""

    sep: str

    @property
    def group(self) -> str:
        return "," if self.sep == "." else "."

    @property
    def label(self) -> str:
        return "a decimal point" if self.sep == "." else "a decimal comma"

    @property
    def example(self) -> str:
        return "1,234.50" if self.sep == "." else "1.234,50"

    @classmethod
    def of(cls, sep: "str | DecimalStyle | None") -> "DecimalStyle | None":
        if sep is None or isinstance(sep, DecimalStyle):
            return sep
        if sep in (".", ","):
            return DOT if sep == "." else COMMA
        if sep in ("", "auto"):
            return None
        raise ValueError(f"decimal separator {sep!r}: use '.' or ','")

    @classmethod
    def detect(cls, values: Iterable, default: "str | DecimalStyle | None" = None) -> "DecimalStyle | None":
        """The style of a whole file from all its values of one kind.

        A value votes *strongly* when only one style can read it (``12,50``, ``1.234,56``,
        ``1,234,567``); the style with more strong votes wins, and the other side's values are
        refused later, each with its row. ``1,234``/``1.234`` fit both (thousands or three
        decimals): they only decide when nothing else does, and never against ``default``.
        Returns ``default`` (``None``: undecided, ambiguous values are then refused) when no value
        decides."""
        return cls.decide(votes(values), default)

    @classmethod
    def decide(cls, counts: dict[str, int], default: "str | DecimalStyle | None" = None) -> "DecimalStyle | None":
        """The style from strong votes counted by :func:`votes` (possibly summed over chunks)."""
        strong_dot, strong_comma = counts.get(".", 0), counts.get(",", 0)
        if strong_dot or strong_comma:
            if strong_dot == strong_comma:
                return cls.of(default) or DOT
            return DOT if strong_dot > strong_comma else COMMA
        return cls.of(default)

    def __str__(self) -> str:
        return self.sep


DOT = DecimalStyle(".")
COMMA = DecimalStyle(",")

_SEPS = re.compile(r"[.,]")  # ASCII digits only, everywhere: Decimal() would read '١٢' as 12


def _vote(text: str) -> str | None:
    """``.``/``,`` when only that decimal separator can read ``text``; None otherwise."""
    seps = _SEPS.findall(text)
    if not seps:
        return None
    last = seps[-1]
    if len(set(seps)) == 2:
        return last if seps.count(last) == 1 else None
    if len(seps) > 1:  # one kind, several times: grouping, so the other one is the decimal
        return "," if last == "." else "."
    tail = text[text.rindex(last) + 1:]
    digits = len(tail) - len(tail.lstrip("0123456789"))
    head = text[:text.rindex(last)]
    lead = len(head) - len(head.rstrip("0123456789"))
    if digits == 3 and 1 <= lead <= 3 and head[len(head) - lead] != "0":
        return None  # 1,234 / 1.234: fits both
    return last


# the shapes almost every value has, counted over a whole column joined into one string
_EDGE = r"(?<![^\x00])", r"(?![^\x00])"
_SHAPE_DOT = re.compile(_EDGE[0] + r"[-+]?[0-9]*\.[0-9]{1,2}" + _EDGE[1])
_SHAPE_COMMA = re.compile(_EDGE[0] + r"[-+]?[0-9]*,[0-9]{1,2}" + _EDGE[1])
_SHAPE_ANY = re.compile(_EDGE[0] + r"[-+]?[0-9]*(?:[.,][0-9]{1,2})?" + _EDGE[1])


_DIGITS_AS_ZERO = str.maketrans("0123456789", "0000000000")


def votes(values: Iterable) -> dict[str, int]:
    """Strong votes per decimal separator, one per value (see :meth:`DecimalStyle.detect`)."""
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    quick = _quick_votes(values)
    if quick is not None:
        return quick
    values = [v for v in values if isinstance(v, str) and v and len(v) <= MAX_TEXT]
    out = {".": 0, ",": 0}
    text = "\x00".join(values)
    if values and text.count("\x00") == len(values) - 1:  # the usual shapes, counted in one pass each
        out["."] = len(_SHAPE_DOT.findall(text))
        out[","] = len(_SHAPE_COMMA.findall(text))
        values = [v for v in _SHAPE_ANY.sub("", text).split("\x00") if v]
    for v, n in Counter(v for v in values if "." in v or "," in v).items():
        s = _vote(v)
        if s:
            out[s] += n
    return out


def _quick_votes(values: list) -> dict[str, int] | None:
    """The votes of a column whose every value is ``12``/``12.5``/``12,50``-shaped (or empty),
    counted without a pass per value: each such value holds at most one separator, followed by
    one or two digits, so it is one strong vote for it. None when the column is not like that
    (then every value is looked at)."""
    try:
        text = "\x00" + "\x00".join(values) + "\x00"
    except TypeError:  # a value that is no text
        return None
    if text.count("\x00") != len(values) + 1 or (values and max(map(len, values)) > MAX_TEXT):
        return None
    rest = text.replace(".", "").replace(",", "").replace("\x00", "")
    if rest and not (rest.isascii() and rest.isdigit()):  # signs, blanks, letters: the slow way
        return None
    shape = text.translate(_DIGITS_AS_ZERO)
    dots, commas = shape.count("."), shape.count(",")
    closed = sum(shape.count(s + tail) for s in ".," for tail in ("0\x00", "00\x00"))
    if closed != dots + commas:  # a separator not followed by one or two digits and the value's end
        return None
    return {".": dots, ",": commas}


def _body_re(style: DecimalStyle, strict: bool) -> re.Pattern:
    groups = re.escape(style.group + _BLANK_GROUPS + ("" if strict else "'"))
    frac = r"\d+" if strict else r"\d*"
    return re.compile(
        rf"(?P<int>[1-9]\d{{0,2}}(?P<g>[{groups}])\d{{3}}(?:(?P=g)\d{{3}})*|\d*)(?:{re.escape(style.sep)}(?P<frac>{frac}))?",
        re.ASCII)


_BODY = {(s.sep, strict): _body_re(s, strict) for s in (DOT, COMMA) for strict in (False, True)}
_ALLOWED = frozenset("0123456789.,'" + _BLANK_GROUPS)
_NOT_FINITE = {"nan", "snan", "inf", "infinity", "-inf", "+inf", "-infinity", "+infinity", "-nan", "+nan"}
_EXPONENT = re.compile(r"[+-]?\d*[.,]?\d+[eE][+-]?\d+", re.ASCII)


def _why_not(body: str, original, style: DecimalStyle | None) -> NumberError:
    """The most useful reason a body (sign removed) is not a number in ``style``."""
    for ch in body:
        if ch not in _ALLOWED:
            if ch.isdigit() or unicodedata.category(ch) == "No":
                return NumberError(original, f"contains the digit {ch!r}, which is not one of 0-9")
            if _EXPONENT.fullmatch(body.strip()):
                return NumberError(original, "is in scientific notation (a spreadsheet turned it into a number?); "
                                             "write the plain number")
            if body.strip().lower() in _NOT_FINITE:
                return NumberError(original, "is not a finite number")
            if ch == "_":
                return NumberError(original, "contains '_'; write digits only")
            return NumberError(original, f"is not a number (it contains {ch!r})")
    if style is not None:
        other = COMMA if style is DOT else DOT
        if _BODY[(other.sep, False)].fullmatch(body) and any(c in body for c in ".,"):
            return NumberError(original, f"does not fit this file's numbers, which use {style.label}: "
                                         f"{style.group!r} may only group thousands in blocks of three digits "
                                         f"(e.g. {style.example})")
        if body.count(style.sep) > 1:
            return NumberError(original, f"has more than one decimal separator {style.sep!r}")
        return NumberError(original, f"is not a number with {style.label} (e.g. {style.example}); thousands "
                                     "separators must group blocks of exactly three digits")
    return NumberError(original, "is not a number (e.g. 1234.50 or 1234,50)")


def parse_decimal(text, style: "DecimalStyle | str | None" = None, kind: NumberKind = AMOUNT, *,
                  strict: bool = False) -> Decimal:
    """Read one number. ``style`` is the file's (see :meth:`DecimalStyle.detect`); ``None``
    reads a value on its own, which refuses the ambiguous ``1,234``/``1.234``.

    Lenient (default) also takes accounting negatives ``(12.00)`` and ``12-``, the apostrophe
    as thousands separator and a trailing ``12.``; ``strict`` (machine-written files such as
    Amazon settlements) takes only a leading sign. Raises :class:`NumberError`, nothing else."""
    style = DecimalStyle.of(style)
    if isinstance(text, bool):
        raise NumberError(text, "is a truth value, not a number")
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise NumberError(str(text), "is not a finite number")
        return _bounded(text, str(text), kind)
    if isinstance(text, int):
        if abs(text) >= kind.limit:
            shown = str(text) if text.bit_length() < 200 else f"<an integer of {text.bit_length()} bits>"
            raise NumberError(shown, f"is beyond the sane limit for {_kind_text(kind)} "
                                              f"(below {_limit_text(kind)})")
        return _bounded(Decimal(text), str(text), kind)
    if isinstance(text, float):
        raise NumberError(repr(text), "is a binary float; pass the text as written or a Decimal")
    original = "" if text is None else str(text)
    s = original.strip()
    if not s:
        raise NumberError(original, "is empty")
    if len(s) > MAX_TEXT:
        raise NumberError(original, f"is {len(s)} characters long: too long to be a number")
    neg = False
    if not strict:
        if s[0] == "(" and s[-1] == ")":
            neg, s = True, s[1:-1].strip()
        elif s[-1] == "-" and s[0] not in "+-":
            neg, s = True, s[:-1].rstrip()
    if s[:1] in ("+", "-"):
        if s[0] == "-":
            neg = not neg
        s = s[1:].lstrip()
    if style is None:
        dot = _BODY[(".", strict)].fullmatch(s)
        comma = _BODY[(",", strict)].fullmatch(s)
        if dot and comma:
            a, b = _value(dot), _value(comma)
            if a != b:
                raise NumberError(original, f"is ambiguous: {a} with a decimal point or {b} with a decimal comma, "
                                            "and no other value in the file decides (set `decimal` for this inbox)")
            m = dot
        else:
            m = dot or comma
    else:
        m = _BODY[(style.sep, strict)].fullmatch(s)
    if m is None or not (m.group("int") or m.group("frac")):
        raise _why_not(s, original, style)
    intpart = m.group("int")
    if m.group("g"):
        intpart = intpart.replace(m.group("g"), "")
    frac = m.group("frac") or ""
    significant = frac.rstrip("0")
    if len(significant) > kind.decimals:
        raise NumberError(original, f"has {len(significant)} decimals; at most {kind.decimals} make sense for "
                                    f"{_kind_text(kind)}")
    frac = frac[:max(kind.decimals, len(significant))]
    if len(intpart.lstrip("0")) > kind.max_int_digits:
        raise NumberError(original, f"is beyond the sane limit for {_kind_text(kind)} (below {_limit_text(kind)})")
    value = Decimal(f"{intpart or '0'}.{frac}" if frac else (intpart or "0"))
    value = _bounded(value, original, kind)
    return -value if neg and value else value


def _value(m: re.Match) -> Decimal:
    intpart = m.group("int")
    if m.group("g"):
        intpart = intpart.replace(m.group("g"), "")
    frac = m.group("frac") or ""
    return Decimal(f"{intpart or '0'}.{frac}" if frac else (intpart or "0"))


def _bounded(value: Decimal, original: str, kind: NumberKind) -> Decimal:
    if abs(value) >= kind.limit:
        raise NumberError(original, f"is beyond the sane limit for {_kind_text(kind)} (below {_limit_text(kind)})")
    if kind.whole and value != value.to_integral_value():
        raise NumberError(original, "is not a whole number")
    if value.is_zero() and value.is_signed():
        value = value.copy_abs()
    return value


def _kind_text(kind: NumberKind) -> str:
    return {"amount": "an amount", "count": "a count", "measure": "a measure"}.get(kind.name, kind.name)


def _limit_text(kind: NumberKind) -> str:
    return f"{int(kind.limit):,}"
