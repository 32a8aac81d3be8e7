"""journald-friendly logging with secret and personal-data redaction.

Under systemd (``JOURNAL_STREAM`` set) lines carry ``<N>`` syslog priority prefixes and no
timestamp (journald adds its own); elsewhere a plain timestamped format. Every record passes a
filter that masks registered secrets, e-mail addresses and bearer tokens, so neither a plugin's
careless ``log.info(order)`` nor an httpx debug line leaks them.
"""
from __future__ import annotations

import logging
import os
import re
import sys

from .credentials import REDACTOR

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BEARER = re.compile(r"(?i)(bearer\s+|x-amz-access-token['\"]?\s*[:=]\s*['\"]?|Atza\|)[A-Za-z0-9._|\-]+")
_REFRESH = re.compile(r"Atzr\|[A-Za-z0-9._\-|]+")
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def redact(text: str) -> str:
    text = REDACTOR(text)
    text = _REFRESH.sub("Atzr|***", text)
    text = _BEARER.sub(lambda m: m.group(1) + "***", text)
    return _EMAIL.sub("<email>", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            return True
        clean = redact(msg)
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
    for noisy in ("httpx", "httpcore", "watchdog", "apscheduler", "asyncssh"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
