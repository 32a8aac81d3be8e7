"""Which registered format a dropped file is: exactly one format's ``sniff`` must say yes.

None: the file is refused as ``unknown_settlement_format`` — unless a format recognises it as a
*wrong* file of its marketplace (``explain(head, name)``: Amazon's Date Range report, eBay's
Order earnings report, a settlement re-saved by a spreadsheet) and says what to drop instead,
or it is plainly no text (binary, gzip, a workbook, a PDF). The message quotes line 1 and the
fix lists the known formats. Two: a bug in one of the formats (they must not overlap); the
error names both, and nothing is applied.
"""
from __future__ import annotations

import logging

from marketd.sdk import FileRejected, quote_input

log = logging.getLogger("marketd.settlements")
HEAD = 1 << 16


def _first_line(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("cp1252", errors="replace")


def _byte_where(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, byte {offset}"


def known_formats_text(formats: dict) -> str:
    if not formats:
        return ("no payout format is registered (no channel plugin that reads payout files is loaded; see "
                "`marketd plugins`)")
    return "; ".join(f"{name} ({getattr(f, 'describe', '') or f.channel_type})" for name, f in sorted(formats.items()))


def choose(formats: dict, head: bytes, name: str):
    """The one format for this file, or ``FileRejected``."""
    said = []
    for fname, fmt in sorted(formats.items()):
        try:
            if fmt.sniff(head, name):
                said.append((fname, fmt))
        except Exception as exc:  # a sniff must not raise; a broken one must not hide the others
            log.error("settlement format %s: sniff raised %s: %s", fname, type(exc).__name__, exc)
    if len(said) == 1:
        return said[0][1]
    if len(said) > 1:
        names = " and ".join(n for n, _ in said)
        raise FileRejected(
            "ambiguous_settlement_format", f"formats {names} both recognise this file: a bug in one of them "
            "(a file is one marketplace's format)", where="line 1",
            fix="report it to the plugins' authors with this file; meanwhile disable one of the plugins "
                "([plugins] disabled) and drop the file again")
    for fname, fmt in sorted(formats.items()):
        explain = getattr(fmt, "explain", None)
        if explain is None:
            continue
        try:
            problem = explain(head, name)
        except FileRejected as exc:
            problem = exc
        except Exception as exc:
            log.error("settlement format %s: explain raised %s: %s", fname, type(exc).__name__, exc)
            problem = None
        if problem is not None:
            return _raise(problem)
    _not_text(head)
    raise FileRejected(
        "unknown_settlement_format",
        f"no payout format recognises this file: line 1 is {quote_input(_first_line(head))}",
        where="line 1", fix="drop a payout file of one of the known formats (each in its marketplace's original "
        f"form, not re-saved by a spreadsheet): {known_formats_text(formats)}; put other files into their own inbox")


def _raise(problem: FileRejected):
    raise problem


def _not_text(head: bytes) -> None:
    if not head.strip():
        raise FileRejected("empty_file", "the file is empty" + (" (only blank lines)" if head else " (0 bytes)"),
                           fix="drop the complete payout file")
    if head[:2] == b"\x1f\x8b":
        raise FileRejected("compressed", "the file is gzip-compressed", fix="gunzip it first, then drop the file")
    if head[:4] == b"PK\x03\x04":
        raise FileRejected("unknown_settlement_format", "the file is a ZIP/XLSX workbook, not a payout file of a "
                           "known format", fix="drop the marketplace's original payout file (text), not a spreadsheet")
    if head[:5] == b"%PDF-":
        raise FileRejected("unknown_settlement_format", "the file is a PDF document, not a payout file",
                           fix="drop the marketplace's payout file (text), not its PDF")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise FileRejected("binary", "the file is not text (it contains NUL bytes; UTF-16 or binary?)",
                           where=_byte_where(head, nul), fix="drop the marketplace's payout file as it was downloaded")
