"""The one way the health plugin reads JSON it is given (reports, notifications, queue messages):
every failure is a :class:`FileRejected` with a reason and a place, never an exception out of a
handler. The fuzz harness found each of these: a byte that is not UTF-8 (``UnicodeDecodeError``),
a document nested thousands deep (``RecursionError`` from the stdlib parser), and an escaped lone
surrogate (``"\\ud800"``: valid JSON, but no UTF-8 text for the store)."""
from __future__ import annotations

import json

from marketd.sdk import FileRejected

FIX = "drop the JSON as the platform sent it (UTF-8)"


def text_of(data: bytes, what: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", f"the {what} is not UTF-8 ({exc.reason})", where=f"byte {exc.start}",
                           fix=FIX) from None


def loads(text: str, what: str, line: int | None = None):
    where = (lambda ln, col: f"line {line if line is not None else ln}" + (f" column {col}" if line is None else ""))
    try:
        doc = json.loads(text)
    except RecursionError:
        raise FileRejected("json", f"the {what} is nested too deeply to be read", where=where(1, 1), fix=FIX) from None
    except ValueError as exc:
        ln, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        raise FileRejected("json", f"the {what} is not JSON ({getattr(exc, 'msg', exc)})", where=where(ln, col),
                           fix=FIX) from None
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise FileRejected("json", f"the {what} holds an escaped lone surrogate (\\ud800-\\udfff), which is no text",
                           where=where(1, 1), fix=FIX) from None
    except RecursionError:
        raise FileRejected("json", f"the {what} is nested too deeply to be read", where=where(1, 1), fix=FIX) from None
    return doc


def load(data: bytes, what: str):
    return loads(text_of(data, what), what)
