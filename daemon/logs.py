"""journald-friendly logging with secret and personal-data redaction.

Under systemd (``JOURNAL_STREAM`` set) lines carry ``<N>`` syslog priority prefixes and no
timestamp (journald adds its own); elsewhere a plain timestamped format. Every record passes a
filter that masks registered secrets, e-mail addresses, bearer tokens and the signatures of
presigned links, so neither a plugin's
careless ``log.info(order)`` nor an httpx debug line leaks them.

Input files are untrusted and can hold megabyte-long values, so two rules keep logging cheap
and the journal readable whatever a file holds:

- every pattern here runs in time linear in the text: a match can only start at the start of a
  run of its characters (a look-behind) and runs are taken possessively, so no position of a
  long value is scanned twice (the earlier ``[…]+@`` patterns rescanned the rest of a value from
  every position: a 130 KB cell took a minute, a 2 MB one hours, on a worker thread that still
  looked alive);
- messages quote input through :func:`quote_input` (a short excerpt and the length), and the
  filter cuts any line longer than :data:`MAX_LINE` after redacting it, as a backstop for a
  message that quotes input some other way (an exception's text).
"""
from __future__ import annotations

import logging
import os
import re
import sys

from .credentials import REDACTOR

# A match starts only where a run of local-part characters starts; labels and the top-level
# domain are taken possessively (``++``), so a failed attempt never backtracks into the run.
_LOCAL = r"[\w.%+-]"
EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}++@(?:[^\W_][\w-]*+\.)+[^\W\d_]{{2,}}+")
_BEARER = re.compile(r"(?i)(bearer\s++|x-amz-access-token['\"]?\s*+[:=]\s*+['\"]?|Atza\|)[A-Za-z0-9._|\-]++")
_REFRESH = re.compile(r"Atzr\|[A-Za-z0-9._\-|]++")
# Presigned links (S3 report documents, Amazon Custom archives): whoever holds the signature can
# fetch the document, and a Custom archive is the buyer's personal data.
_PRESIGNED = re.compile(r"(?i)((?<![\w-])(?:x-amz-signature|x-amz-credential|x-amz-security-token|signature)=)"
                        r"[^&\s\"'<>]++")
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
MAX_LINE = 1000        # characters per logged line, after redaction
QUOTE_LIMIT = 60       # characters of an input value quoted in a message


def mask_emails(text: str, replacement: str = "<email>") -> str:
    return EMAIL.sub(replacement, text)


def redact(text: str) -> str:
    text = REDACTOR(text)
    text = _REFRESH.sub("Atzr|***", text)
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    text = _PRESIGNED.sub(lambda m: m.group(1) + "***", text)
    return mask_emails(text)


def quote_input(value, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of an input value for a message, cut to ``limit`` characters with the full length
    said: ``'12,5xxxxx…' (130000 characters)``. Control characters come out escaped."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def cap_lines(text: str, limit: int = MAX_LINE) -> str:
    """Each line of ``text`` cut to ``limit`` characters (saying how many were left out)."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    return "\n".join(line if len(line) <= limit else f"{line[:limit]}… [{len(line) - limit} more characters cut]"
                     for line in lines)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            return True
        clean = cap_lines(redact(msg))
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        return True


class JournalFormatter(logging.Formatter):
    def format(self, record):
        return f"<{_PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


def setup(level: str = "INFO") -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # libraries that log their own routine work at INFO (fontTools prints ~75 lines per subset font
    # of a PDF, matplotlib its font cache): an operator reads marketd's lines, not theirs
    for noisy in ("httpx", "httpcore", "watchdog", "apscheduler", "asyncssh", "fontTools", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
