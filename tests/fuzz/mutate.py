"""A seeded mutator for text and tabular inputs: each mutation is one thing a broken export, an
interrupted transfer or a hostile sender does to a file.

Every choice comes from the ``random.Random`` passed in, so an input is reproduced exactly from
(seed, format, index): the harness derives one generator per input.
"""
from __future__ import annotations

import random

# numbers as people, spreadsheets and other locales write them (and as they must be refused)
ODD_NUMBERS = [
    "12,50", "1.234,56", "1,234.56", "12.50.00", "1 234,56", "1\u00a0234,56", "1'234.56", "1e-999", "1E5",
    "1_000", "٣٤", "１２", "NaN", "nan", "inf", "-Infinity", "+5", "-0", "0x10", ".5", "5.", "--5", "5-",
    "(5.00)", "€ 5,00", "5,00 €", "12,345", "0,000001", "99999999999999999999999999999", "1" * 400,
    "-" + "9" * 40, "1.0000000001", "12.5%", "", " ", "0", "٫5", "5\u2212", "\u22125",
]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff",
           "\ud800", "\r", "\n", "\t", '"', "'", ";", ",", "=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0"]
BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x2b\x2f\x76"]
ENCODINGS = ["cp1252", "latin-1", "utf-16", "utf-16-le", "utf-32", "mac_roman", "cp437", "utf-8-sig"]
DELIMITERS = [",", ";", "\t", "|", " ", ":"]
NEWLINES = [b"\n", b"\r\n", b"\r"]


# -- bytes ------------------------------------------------------------------------------------------
def flip_bytes(rnd: random.Random, data: bytes) -> bytes:
    if not data:
        return bytes([rnd.randrange(256)])
    buf = bytearray(data)
    for _ in range(rnd.choice((1, 1, 2, 4, 16))):
        i = rnd.randrange(len(buf))
        buf[i] = rnd.choice((buf[i] ^ (1 << rnd.randrange(8)), rnd.randrange(256), 0, 0xFF, 0x80))
    return bytes(buf)


def truncate(rnd: random.Random, data: bytes) -> bytes:
    return data[:rnd.randrange(len(data) + 1)] if data else data


def insert_bytes(rnd: random.Random, data: bytes) -> bytes:
    i = rnd.randrange(len(data) + 1)
    junk = rnd.choice([bytes([rnd.randrange(256)]), b"\x00", b"\xff\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80",
                       b"\"", b"\r", b"\n\n\n", b"\x1a", rnd.choice(BOMS)])
    return data[:i] + junk + data[i:]


def add_bom(rnd: random.Random, data: bytes) -> bytes:
    return rnd.choice(BOMS) + data


def reencode(rnd: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    enc = rnd.choice(ENCODINGS)
    return text.encode(enc, "replace")


def change_newlines(rnd: random.Random, data: bytes) -> bytes:
    nl = rnd.choice(NEWLINES)
    out = data.replace(b"\r\n", b"\n").replace(b"\n", nl)
    return out.rstrip(b"\r\n") if rnd.random() < 0.3 else out  # sometimes no final line break


# -- lines ------------------------------------------------------------------------------------------
def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def duplicate_line(rnd: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = rnd.randrange(len(lines))
    for _ in range(rnd.choice((1, 1, 2, 50))):
        lines.insert(i, lines[i])
    return b"\n".join(lines)


def delete_line(rnd: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    if len(lines) > 1:
        del lines[rnd.randrange(len(lines))]
    return b"\n".join(lines)


def swap_lines(rnd: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    if len(lines) > 2:
        i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def swap_delimiter(rnd: random.Random, data: bytes) -> bytes:
    old, new = rnd.sample(DELIMITERS, 2)
    if rnd.random() < 0.5:  # the whole file, or one line of it
        return data.replace(old.encode(), new.encode())
    lines = _lines(data)
    i = rnd.randrange(len(lines))
    lines[i] = lines[i].replace(old.encode(), new.encode())
    return b"\n".join(lines)


# -- fields -----------------------------------------------------------------------------------------
def _field_spans(line: bytes, delims: bytes = b",;\t|") -> list[tuple[int, int]]:
    spans, start = [], 0
    for i, c in enumerate(line):
        if c in delims:
            spans.append((start, i))
            start = i + 1
    spans.append((start, len(line)))
    return spans


def replace_field(rnd: random.Random, data: bytes, value: bytes) -> bytes:
    lines = _lines(data)
    i = rnd.randrange(len(lines))
    spans = _field_spans(lines[i])
    a, b = rnd.choice(spans)
    lines[i] = lines[i][:a] + value + lines[i][b:]
    return b"\n".join(lines)


def odd_number(rnd: random.Random, data: bytes) -> bytes:
    return replace_field(rnd, data, rnd.choice(ODD_NUMBERS).encode("utf-8"))


def control_chars(rnd: random.Random, data: bytes) -> bytes:
    value = "".join(rnd.choice(CONTROL) for _ in range(rnd.choice((1, 2, 5))))
    return replace_field(rnd, data, ("x" + value + "y").encode("utf-8", "surrogatepass"))


def huge_value(rnd: random.Random, data: bytes) -> bytes:
    size = rnd.choice((300, 5_000, 70_000, 1_100_000))
    unit = rnd.choice((b"9", b"a", b"a@b.c ", b'"', b"\xc3\xa4", b" ", b"1,"))
    return replace_field(rnd, data, (unit * (size // len(unit) + 1))[:size])


def many_columns(rnd: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = rnd.randrange(min(len(lines), 3))
    sep = rnd.choice((b",", b"\t", b";"))
    lines[i] = lines[i] + sep + sep.join(b"c%d" % k for k in range(rnd.choice((5, 300, 50_000))))
    return b"\n".join(lines)


def quote_chaos(rnd: random.Random, data: bytes) -> bytes:
    i = rnd.randrange(len(data) + 1)
    return data[:i] + rnd.choice((b'"', b'""', b'"a"b"', b'"\n"', b"'")) + data[i:]


BYTE_MUTATIONS = [flip_bytes, truncate, insert_bytes, add_bom, reencode, change_newlines, duplicate_line,
                  delete_line, swap_lines, swap_delimiter, odd_number, control_chars, huge_value, many_columns,
                  quote_chaos]


def mutate_bytes(rnd: random.Random, data: bytes, mutations=BYTE_MUTATIONS) -> tuple[bytes, list[str]]:
    """1-3 stacked mutations; returns the bytes and the names applied (for the findings log)."""
    names = []
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        m = rnd.choice(mutations)
        data = m(rnd, data)
        names.append(m.__name__)
    return data, names


# -- JSON -------------------------------------------------------------------------------------------
def deep_json(rnd: random.Random, data: bytes) -> bytes:
    depth = rnd.choice((50, 1_000, 100_000))
    opener, closer = rnd.choice(((b"[", b"]"), (b'{"a":', b"}")))
    nest = opener * depth + b"1" + closer * depth
    if rnd.random() < 0.5:
        return nest
    return replace_json_value(rnd, data, nest)


JSON_VALUES = [b"null", b"true", b"[]", b"{}", b"[1]", b"1e999", b"-0", b'"\\ud800"', b'"\\u0000"', b"1" * 5000,
               b"1.5e-400", b'"' + b"x" * 70_000 + b'"', b"NaN", b"Infinity", b'"12,50"', b'"1e-999"',
               b'{"order": 1}', b'[{"order": null}]', b'"\\uD83D"', b'"a\\tb\\u001b"', b'""']


def replace_json_value(rnd: random.Random, data: bytes, value: bytes | None = None) -> bytes:
    """Replace a scalar (after a ``:`` or inside a list) with another JSON value."""
    value = value if value is not None else rnd.choice(JSON_VALUES)
    spots = [i + 1 for i, c in enumerate(data) if c in b":[,"]
    if not spots:
        return value
    i = rnd.choice(spots)
    j = i
    while j < len(data) and data[j] in b" \n":
        j += 1
    if j < len(data) and data[j] == ord('"'):  # a string: up to its closing quote
        k = data.find(b'"', j + 1)
        end = k + 1 if k > 0 else len(data)
    else:
        end = j
        while end < len(data) and data[end] not in b",]}\n":
            end += 1
    return data[:i] + value + data[end:]


JSON_MUTATIONS = [deep_json, replace_json_value, replace_json_value, flip_bytes, truncate, insert_bytes, add_bom,
                  reencode, quote_chaos, duplicate_line, delete_line]


def mutate_json(rnd: random.Random, data: bytes) -> tuple[bytes, list[str]]:
    return mutate_bytes(rnd, data, JSON_MUTATIONS)


# -- tables (for XLSX: mutate the cells, then write a real workbook) ----------------------------------
def mutate_table(rnd: random.Random, rows: list[list]) -> tuple[list[list], list[str]]:
    rows = [list(r) for r in rows]
    names = []
    for _ in range(rnd.choice((1, 1, 2, 3))):
        op = rnd.choice(("cell_number", "cell_control", "cell_huge", "cell_type", "dup_row", "del_row",
                         "title_rows", "dup_header", "drop_column", "empty_rows", "formula", "wide"))
        names.append(op)
        r = rnd.randrange(len(rows))
        c = rnd.randrange(max(1, len(rows[r])))
        if op == "cell_number" and rows[r]:
            rows[r][c] = rnd.choice(ODD_NUMBERS)
        elif op == "cell_control" and rows[r]:
            rows[r][c] = "x" + rnd.choice(CONTROL) + "y"
        elif op == "cell_huge" and rows[r]:
            rows[r][c] = rnd.choice(("9", "a", "ä")) * rnd.choice((300, 32_000))
        elif op == "cell_type" and rows[r]:
            rows[r][c] = rnd.choice((1e308, -1e-308, 2 ** 63, -(2 ** 63) - 1, 12.5, True, None, 0.1 + 0.2, 4006381333931,
                                     float("nan"), 1e20))
        elif op == "dup_row":
            rows.insert(r, list(rows[r]))
        elif op == "del_row" and len(rows) > 1:
            del rows[r]
        elif op == "title_rows":
            rows[:0] = [["Export vom 02.11.2026"], []]
        elif op == "dup_header" and len(rows[0]) > 1:
            k = rnd.randrange(len(rows[0]))
            rows[0][k] = rows[0][(k + 1) % len(rows[0])]
        elif op == "drop_column":
            for row in rows:
                if c < len(row):
                    del row[c]
        elif op == "empty_rows":
            rows[r:r] = [[], [None, None], [""]]
        elif op == "formula" and rows[r]:
            rows[r][c] = rnd.choice(("=1/0", "=A1", "=SUM(1,2)", "=HYPERLINK(\"http://x\")"))
        elif op == "wide":
            rows[r] = rows[r] + [f"c{k}" for k in range(rnd.choice((20, 2000)))]
    return rows, names
