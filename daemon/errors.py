"""Errors that cross the plugin boundary.

The inbox engine turns these into operator-facing reports, so each one carries *what* is wrong,
*where* (line, column, field) and *how to fix it*; tracebacks never reach those reports.
"""
from __future__ import annotations


class MarketdError(Exception):
    """Base class for marketd's own errors."""


class ConfigError(MarketdError):
    """The configuration is invalid; the message names the key and the file."""


class FileRejected(MarketdError):
    """The input file's content is unusable; it goes to the error folder and is never retried.

    ``reason`` is a short stable code (``empty_file``, ``truncated``, ``missing_column`` …)
    that operators and scripts can match on.
    """

    def __init__(self, reason: str, message: str, *, where: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.where = where
        self.fix = fix

    def __str__(self) -> str:
        parts = [f"[{self.reason}] {self.message}"]
        if self.where:
            parts.append(f"where: {self.where}")
        return "; ".join(parts)


class TransientError(MarketdError):
    """A temporary failure (API 5xx/429, disk full); the file is retried with backoff."""


class OutputExists(MarketdError):
    """An output file with the same name already exists and the outbox policy is ``fail``."""


class AlreadyRunning(MarketdError):
    """Another marketd instance holds the lock on this state directory."""
