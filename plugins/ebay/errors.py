"""eBay's refusals as data, apart from the client so that loading the plugin (the channel class
catches these) does not import httpx: only a call to eBay does."""
from __future__ import annotations

from marketd.sdk import MarketdError, redact_text

from . import mapper


class EbayApiError(MarketdError):
    """eBay refused a call (a 4xx other than 401/429); ``errors`` is eBay's error list."""

    def __init__(self, operation: str, status: int, errors: list | None = None, hint: str = ""):
        self.operation = operation
        self.status = status
        self.errors = errors or []
        text = mapper.error_text(self.errors) or "no error body"
        super().__init__(f"eBay {operation} answered HTTP {status}: {redact_text(text)[:400]}"
                         + (f"; {hint}" if hint else ""))

    @property
    def ids(self) -> set[int]:
        return mapper.error_ids(self.errors)
