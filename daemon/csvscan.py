"""One pass over a CSV file's bytes before any row is used: where every record starts, how many
fields it has, and whether the file is text at all.

Why a separate pass: pandas parses a 2,000,000-row catalog fast, but it cannot say which *line* a
row came from (quoted fields may span lines), it pads a short row silently and it knows nothing of
NUL bytes beyond its buffer. This scan knows all of it, in bounded memory (blocks of
:data:`BLOCK` bytes), so every structural problem — NUL anywhere, a byte that is not in the
file's encoding, a row with the wrong number of columns, a row cut off at the end — is refused
with its line before the first row is applied.

The fast scan is vectorised (numpy) and trusts RFC 4180 quoting: a quote opens a field only at its
start and closes it only before a delimiter/line break (``""`` inside is a quote). A file that
quotes any other way (``24" monitor``), ends lines with a bare CR or uses a non-ASCII delimiter
gets the exact scan instead: Python's csv module, record by record, same results, slower.
"""
from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .errors import FileRejected

BLOCK = 1024 * 1024  # small blocks: the temporaries per block stay a few MB
FIX_TEXT = "drop a CSV (or XLSX) export; compressed or binary files are not read here"


@dataclass
class Structure:
    """Per record (header = record 0, blank lines included): the line it starts on and its field
    count; ``blank`` marks records that may hold no value (only delimiters, blanks, quotes).
    ``last_unterminated``: the final record has content and no line break after it."""

    starts: np.ndarray        # int32 (int64 past 2**31 lines), 1-based start line per record
    fields: np.ndarray        # int32, field count per record (None once the columns were checked)
    blank: np.ndarray         # bool, record may be all-blank (confirm on its values)
    last_unterminated: bool
    exact: bool               # True when made by the exact (csv module) scan
    quoted: bool = True       # the file holds a quote byte (False: only the fast scan can say so)

    @property
    def records(self) -> int:
        return len(self.starts)

    def __post_init__(self):
        self.ncols = int(self.fields[0]) if len(self.fields) else 0  # the header's field count
        if len(self.starts) and self.starts[-1] < 2 ** 31:  # 4 bytes a row: 2,000,000 rows cost 8 MB
            self.starts = self.starts.astype(np.int32, copy=False)


class _Irregular(Exception):
    """The file quotes in a way the vectorised scan does not model: use the exact scan."""


def _decoder(encoding: str):
    """A strict incremental decoder; UTF-8 with BOM is checked as UTF-8 (the BOM is valid UTF-8),
    so error offsets count from the file's first byte."""
    name = codecs.lookup(encoding).name
    return codecs.getincrementaldecoder("utf-8" if name == "utf-8-sig" else name)(errors="strict")


def check_bytes(path, encoding: str) -> None:
    """Refuse a NUL byte anywhere and any byte sequence that is not ``encoding``, naming the line
    and byte offset. Used on its own by the exact scan; the fast scan does the same inline."""
    dec = _decoder(encoding)
    offset = 0
    line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(BLOCK)
            _check_block(block, offset, line, dec, encoding, final=not block)
            if not block:
                return
            line += block.count(b"\n")
            offset += len(block)


def _check_block(block: bytes, offset: int, line: int, dec, encoding: str, final: bool) -> None:
    nul = block.find(b"\x00")
    if nul >= 0:
        at = line + block.count(b"\n", 0, nul)
        raise FileRejected(
            "binary", f"the file contains a NUL byte (0x00) at byte {offset + nul}: it is not a text file, or it "
            "was damaged in transfer (UTF-16 exports also contain NUL bytes)",
            where=f"line {at}, byte {offset + nul}", fix=FIX_TEXT + "; export CSV as UTF-8")
    pending = len(dec.getstate()[0])
    try:
        dec.decode(block, final)
    except UnicodeDecodeError as exc:
        pos = exc.start - pending  # relative to this block (may be negative: bytes held from the last one)
        at = line + (block.count(b"\n", 0, pos) if pos > 0 else 0)
        byte = offset + pos
        raise FileRejected(
            "encoding", f"the text is not valid {encoding}: byte {byte} ({exc.reason}); the file mixes encodings "
            "or was damaged", where=f"line {at}, byte {byte}",
            fix="export the whole file in one encoding (UTF-8 recommended), or set `encoding` for this inbox")


def scan(path, encoding: str, delimiter: str, bom: int) -> Structure:
    """The fast scan where the file allows it, else the exact one."""
    if len(delimiter) == 1 and ord(delimiter) < 128 and delimiter not in '"\r\n':
        try:
            return _scan_fast(path, encoding, ord(delimiter), bom)
        except _Irregular:
            pass
    check_bytes(path, encoding)
    return scan_exact(path, encoding, delimiter)


_QUOTE, _LF, _CR = 34, 10, 13


def _scan_fast(path, encoding: str, delim: int, bom: int) -> Structure:
    # bytes that may belong to a blank record: blanks, the delimiter, quotes and any non-ASCII byte
    # (U+00A0 is blank to str.strip). A record of only these is a *candidate*: confirmed on its
    # values, or, where that is not possible, the exact scan decides.
    blank_byte = np.zeros(256, dtype=bool)
    blank_byte[[delim, 32, 9, 11, 12, _CR, _LF, _QUOTE, 28, 29, 30, 31, *range(128, 256)]] = True
    dec = _decoder(encoding)
    starts: list[np.ndarray] = []
    fields: list[np.ndarray] = []
    blanks: list[np.ndarray] = []
    offset = 0            # global byte offset of the block
    lines_before = 0      # newlines before the block
    quotes_before = 0     # quote bytes before the block (parity = inside a quoted field)
    rec_start_line = 1    # start line of the record in progress
    rec_delims = 0        # delimiters outside quotes seen in the record in progress
    rec_content = False   # the record in progress has a non-blank byte
    rec_bytes = 0         # bytes of the record in progress (an empty last "record" is no record)
    prev = -1             # last byte of the previous block
    check_close = False   # the previous block ended with a closing quote: the next byte must allow it
    with open(path, "rb") as fh:
        while True:
            block = fh.read(BLOCK)
            _check_block(block, offset, lines_before + 1, dec, encoding, final=not block)
            if not block:
                break
            a = np.frombuffer(block, dtype=np.uint8)
            if check_close and a[0] not in (delim, _LF, _CR, _QUOTE):
                raise _Irregular
            if prev == _CR and a[0] != _LF:
                raise _Irregular
            cr = np.flatnonzero(a[:-1] == _CR)
            if len(cr) and (a[cr + 1] != _LF).any():
                raise _Irregular  # bare CR line ends (or a CR inside a value)
            q = np.flatnonzero(a == _QUOTE)
            nl = np.flatnonzero(a == _LF)
            de = np.flatnonzero(a == delim)
            check_close = False
            if len(q):
                ordinal = quotes_before + np.arange(len(q))
                opening = (ordinal & 1) == 0
                before = np.where(q > 0, a[np.maximum(q - 1, 0)], prev).astype(np.int64)
                at_start = (q + offset) == bom
                ok_open = at_start | (before == delim) | (before == _LF) | (before == _QUOTE)
                if (opening & ~ok_open).any():
                    raise _Irregular
                closing = ~opening
                inside_block = q < len(a) - 1
                after = a[np.minimum(q + 1, len(a) - 1)].astype(np.int64)
                ok_close = (after == delim) | (after == _LF) | (after == _CR) | (after == _QUOTE)
                if (closing & inside_block & ~ok_close).any():
                    raise _Irregular
                check_close = bool(closing[-1]) and q[-1] == len(a) - 1
                nl_out = nl[((quotes_before + np.searchsorted(q, nl)) & 1) == 0]
                de_out = de[((quotes_before + np.searchsorted(q, de)) & 1) == 0]
            else:
                inside = quotes_before & 1
                nl_out = nl if not inside else nl[:0]
                de_out = de if not inside else de[:0]
            if len(nl_out):
                nl_ordinal = lines_before + np.searchsorted(nl, nl_out)  # 0-based ordinal of each record end
                rec_lines = np.empty(len(nl_out), dtype=np.int64)
                rec_lines[0] = rec_start_line
                rec_lines[1:] = nl_ordinal[:-1] + 2
                cum = np.searchsorted(de_out, nl_out)
                counts = np.diff(cum, prepend=0).astype(np.int32) + 1
                counts[0] += rec_delims
                visible = (~blank_byte[a[:int(nl_out[-1]) + 1]]).view(np.uint8)
                seg = np.empty(len(nl_out), dtype=np.int64)  # each record's bytes up to its line break
                seg[0] = 0
                seg[1:] = nl_out[:-1] + 1
                is_blank = np.maximum.reduceat(visible, seg) == 0
                is_blank[0] = is_blank[0] and not rec_content
                starts.append(rec_lines.astype(np.int32) if rec_lines[-1] < 2 ** 31 else rec_lines)
                fields.append(counts)
                blanks.append(is_blank)
                tail_from = int(nl_out[-1]) + 1
                rec_start_line = int(nl_ordinal[-1]) + 2
                rec_delims = len(de_out) - int(cum[-1])
                rec_content = bool((~blank_byte[a[tail_from:]]).any())
                rec_bytes = len(a) - tail_from
            else:
                rec_delims += len(de_out)
                rec_content = rec_content or bool((~blank_byte[a]).any())
                rec_bytes += len(a)
            quotes_before += len(q)
            lines_before += len(nl)
            prev = int(a[-1])
            offset += len(a)
    if prev == _CR:
        raise _Irregular  # the last line ends with a bare CR
    if quotes_before & 1:
        raise FileRejected(
            "truncated", "a quoted value is never closed: the file was cut off mid-value (an interrupted upload?) "
            "or a quote is missing", where=f"line {rec_start_line}",
            fix="upload the file again; if it is complete, fix the quoting on that line")
    last_unterminated = False
    if rec_bytes and not rec_content:
        raise _Irregular  # a last line of blanks without a line break: blank or cut off? the exact scan knows
    if rec_bytes:
        starts.append(np.asarray([rec_start_line], dtype=np.int64 if rec_start_line >= 2 ** 31 else np.int32))
        fields.append(np.asarray([rec_delims + 1], dtype=np.int32))
        blanks.append(np.asarray([not rec_content]))
        last_unterminated = rec_content
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dtype=dt))
    if any(p.dtype == np.int64 for p in starts):
        starts = [p.astype(np.int64) for p in starts]
    st = Structure(cat(starts, np.int32), cat(fields, np.int32), cat(blanks, bool), last_unterminated,
                   exact=False, quoted=quotes_before > 0)
    if st.records > 1 and (st.blank[1:] & (st.fields[1:] != st.fields[0])).any():
        raise _Irregular  # a maybe-blank record with another field count: skipped or refused? exact scan
    return st


def scan_exact(path, encoding: str, delimiter: str) -> Structure:
    """The same facts as the fast scan, from Python's csv module (any quoting, CR line ends)."""
    starts: list[int] = []
    fields: list[int] = []
    blank: list[bool] = []
    with open(path, "r", encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        line = 0
        try:
            for record in reader:
                starts.append(line + 1)
                line = reader.line_num
                fields.append(len(record) if record else 1)
                blank.append(all(not c.strip() for c in record))
        except csv.Error as exc:
            eof = "EOF" in str(exc) or "end of data" in str(exc)
            raise FileRejected(
                "truncated" if eof else "csv_syntax",
                ("a quoted value is never closed: the file was cut off mid-value (an interrupted upload?) or a "
                 "quote is missing" if eof else f"CSV syntax error: {exc}"),
                where=f"line {line + 1}", fix="fix the quoting on that line, or upload the file again")
        ends_with_newline = _ends_with_newline(path)
    last_unterminated = bool(starts) and not ends_with_newline and not blank[-1]
    return Structure(np.asarray(starts, dtype=np.int64), np.asarray(fields, dtype=np.int32),
                     np.asarray(blank, dtype=bool), last_unterminated, exact=True)


def _ends_with_newline(path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return False
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")


def line_blocks(fh, size: int) -> Iterator[bytes]:
    """``fh``'s bytes in blocks of about ``size`` that end at a line break (a block holds whole
    lines only: a longer line makes a longer block); the last line gets a line break it lacks.
    Both byte-level readers (:func:`column_values`, ``tabular``'s quote-free split) cut here."""
    tail = b""
    while True:
        block = fh.read(size)
        data = tail + block
        if block:
            end = data.rfind(b"\n") + 1
            tail, data = data[end:], data[:end]
            if not data:
                continue  # no line break yet: a long line goes on in the next block
        elif not data:
            return
        else:
            tail = b""
            if not data.endswith(b"\n"):
                data += b"\n"  # the last record has no line break
        yield data


def column_values(path, encoding: str, delimiter: str, st: Structure, pos: int) -> Iterator[list[str]]:
    """The text of field ``pos`` of every record after the header (blank ones included: they
    hold no value), block by block, read from the bytes with no CSV parser at all.

    Only for a file the fast scan read and found without a single quote byte (``st.quoted`` is
    False): then every line break ends a record and every delimiter ends a field. A first look
    at one column (a catalog's prices, to decide its decimal style) then costs a few vectorised
    passes instead of a parse of the whole file."""
    assert not st.quoted and not st.exact
    delim = ord(delimiter)
    record = 0
    with open(path, "rb") as fh:
        for data in line_blocks(fh, BLOCK):
            a = np.frombuffer(data, dtype=np.uint8)
            ends = np.flatnonzero(a == _LF)
            begins = np.empty(len(ends), dtype=np.int64)
            begins[0] = 0
            begins[1:] = ends[:-1] + 1
            de = np.flatnonzero(a == delim)
            first = np.searchsorted(de, begins)  # each record's first delimiter
            if pos:
                k = first + pos - 1
                has = k < len(de)
                has[has] = de[k[has]] < ends[has]
                start = np.where(has, de[np.minimum(k, max(len(de) - 1, 0))] + 1 if len(de) else 0, ends)
            else:
                start = begins
            k = first + pos
            closed = k < len(de)
            closed[closed] = de[k[closed]] < ends[closed]
            stop = np.where(closed, de[np.minimum(k, max(len(de) - 1, 0))] if len(de) else 0, ends)
            stop = np.where(~closed & (stop > start) & (a[np.maximum(stop - 1, 0)] == _CR), stop - 1, stop)
            stop = np.maximum(stop, start)
            if record == 0:
                start, stop = start[1:], stop[1:]  # the header
            record += len(ends)
            if not len(start):
                continue
            width = stop - start + 1  # the field and one byte after it, which becomes the separator
            bounds = np.cumsum(width)
            picked = a[_gather_index(bounds, width, start)]
            picked[bounds - 1] = 0
            yield picked.tobytes().decode(encoding).split("\x00")[:-1]
    if record != st.records:
        raise RuntimeError(f"column_values: {record} records read, the scan counted {st.records}")


def _gather_index(bounds: np.ndarray, width: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The byte positions of fields ``start[k]`` … ``start[k] + width[k] - 1`` one after the other
    (``bounds``: the running total of ``width``); in 32 bits where a block allows, which halves
    the memory this index passes through (it is the largest array of a column's gather)."""
    small = int(bounds[-1]) < 2 ** 31 and int(start[-1]) + int(width[-1]) < 2 ** 31
    dt = np.int32 if small else np.int64
    return np.arange(int(bounds[-1]), dtype=dt) - np.repeat((bounds - width - start).astype(dt), width)


# Encodings in which a byte below 128 is always that ASCII character (never part of a multi-byte
# one): only in these may a file be cut into fields at its delimiter and line-break bytes.
ASCII_SAFE = frozenset({"utf-8", "utf-8-sig", "cp1252", "iso8859-1", "iso8859-15", "ascii"})


def split_columns(data: bytes, delimiter: str, ncols: int, encoding: str,
                  usecols: list[int] | None = None) -> list[list[str]] | None:
    """``data`` — whole records of a file without any quote byte, each ending with a line break
    (LF or CRLF) and holding exactly ``ncols`` fields — as one list of texts per column (an
    unwanted column of ``usecols`` as empty texts); None when the field count does not fit.

    Why not ``str.split`` of the decoded text: that makes the values row by row, so one column's
    strings lie scattered among the others' in memory, and every later pass over a column (the
    checks, hashing, SQLite binding) runs about twice as slow as over the strings a parser makes
    column by column. Here each column's bytes are first gathered into one run (numpy), then
    decoded and split at once: the strings of a column are made, and lie, together."""
    a = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero((a == ord(delimiter)) | (a == _LF))  # the byte after each field
    if len(ends) % ncols or (len(ends) and a[ends[ncols - 1::ncols]] != _LF).any():
        return None
    n = len(ends) // ncols
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    line_ends = ends[ncols - 1::ncols]
    cr = (line_ends > starts[ncols - 1::ncols]) & (a[np.maximum(line_ends - 1, 0)] == _CR)
    if cr.any():
        ends = ends.copy()
        ends[ncols - 1::ncols] -= cr  # CRLF: the CR ends the last field
    name = "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding
    columns = []
    for i in range(ncols):
        if usecols is not None and i not in usecols:
            columns.append([""] * n)
            continue
        s, e = starts[i::ncols], ends[i::ncols]
        width = e - s + 1  # the field and the byte after it, which becomes the separator
        bounds = np.cumsum(width)
        if not len(bounds):
            columns.append([])
            continue
        picked = a[_gather_index(bounds, width, s)]
        picked[bounds - 1] = 0
        values = picked.tobytes().decode(name).split("\x00")
        values.pop()
        columns.append(values)
    return columns


def check_columns(st: Structure, delimiter: str) -> None:
    """Refuse the first record whose field count differs from the header's (blank records aside);
    a short final record without a line break after it is a cut-off file."""
    if not st.records:
        return
    ncols = st.ncols
    bad = np.flatnonzero((st.fields != ncols) & ~st.blank)
    bad = bad[bad > 0]
    if not len(bad):
        return
    k = int(bad[0])
    line = int(st.starts[k])
    n = int(st.fields[k])
    if k == st.records - 1 and st.last_unterminated and n < ncols:
        raise FileRejected(
            "truncated", f"the last row has {n} of {ncols} columns and the file does not end with a line break: "
            "it was cut off mid-row (an interrupted upload?)", where=f"line {line}",
            fix="upload the file again; ERPs should upload to a temporary name and rename when done "
                "(inbox mode require_rename)")
    fix = f"check quoting and the delimiter ({delimiter!r}) on that line"
    if k == 1 and n > ncols:
        fix = ("if the file starts with title line(s) above the column names, delete them so that line 1 holds "
               "the column names; otherwise " + fix)
    raise FileRejected("column_count", f"row has {n} columns but the header has {ncols}", where=f"line {line}",
                       fix=fix)
