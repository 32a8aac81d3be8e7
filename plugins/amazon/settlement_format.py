"""Amazon settlement flat files as payout formats of the ``settlements`` plugin:
``amazon-flat-v2`` (Flat File V2) and ``amazon-flat-v1`` (archived V1), registered through
``register_settlement_formats``. The parser (:mod:`.settlement_parser`) and the mapper
(:mod:`.settlement_mapper`) are Amazon's; the plugin does the rest (docs/plugins/settlements.md).
"""
from __future__ import annotations

import re

from marketd.sdk import FileRejected
from marketd.sdk.settlements import ParsedSettlement

# The parser and the mapper (numpy, pandas) are imported when a file is looked at: every command
# line registers these formats, and a catalog import or `marketd status` must not pay for pandas.

_FETCHED_NAME = re.compile(r"amazon-(?P<slug>.+)-settlement-[^/]*$")
_AMAZONISH = re.compile(r"settlement[ _-]?id|total-amount", re.I)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def _whole_lines(head: bytes) -> bytes:
    """The head up to its last line break: a 64 KiB window may end inside a multi-byte character,
    which would make a valid UTF-8 file look like neither UTF-8 nor cp1252."""
    if len(head) >= 1 << 16 and b"\n" in head:
        return head[:head.rfind(b"\n") + 1]
    return head


def channels_for(ctx) -> list[str] | None:
    """Which Amazon accounts' orders a settlement is matched against: ``[inbox.settlements]
    channel``, else the account in a name written by the SP-API fetcher
    (``amazon-<account>-settlement-<reportId>.txt``), else every Amazon account (None)."""
    configured = ctx.configured_channels("amazon")
    if configured:
        return configured
    m = _FETCHED_NAME.match(ctx.name)
    if m:
        for name in ctx.accounts("amazon"):
            if _slug(name) == m.group("slug"):
                return [name]
    return None


class AmazonFlatFormat:
    channel_type = "amazon"

    def __init__(self, layout: str):
        self.layout = layout
        self.name = f"amazon-flat-{layout}"
        self.describe = ("Amazon settlement, Flat File V2 (tab-separated, Seller Central > Reports > Payments > All "
                         "Statements > Download Flat File V2, or the amazon-settlements-fetch job)" if layout == "v2"
                         else "Amazon settlement, archived Flat File V1 (tab-separated)")

    def sniff(self, head: bytes, name: str) -> bool:
        """A tab-separated header with Amazon's settlement columns of this layout."""
        from .settlement_parser import _layout, _scan

        try:
            scan = _scan(_whole_lines(head), None)
            return _layout(scan.header, scan.raw_header, scan.head) == self.layout
        except FileRejected:
            return False

    def explain(self, head: bytes, name: str) -> FileRejected | None:
        """A file no format took that is recognisably Amazon's: the Date Range report, a
        settlement re-saved by a spreadsheet, one with columns missing or doubled — say so."""
        text = head[:8192].decode("utf-8", errors="replace")
        if not _AMAZONISH.search(text):
            return None
        from .settlement_parser import _layout, _scan

        try:
            scan = _scan(_whole_lines(head), None)
            _layout(scan.header, scan.raw_header, scan.head)
        except FileRejected as exc:
            return exc
        return None

    def peek_keys(self, ctx) -> list[str] | None:
        from .settlement_parser import peek_settlement_id

        sid = peek_settlement_id(ctx.path, ctx.settings or {})
        return [f"amazon-settlement:{sid}"] if sid else None

    def parse(self, ctx) -> ParsedSettlement:
        from .settlement_mapper import to_payout
        from .settlement_parser import parse_settlement

        parsed = parse_settlement(ctx.path, ctx.settings or {})
        payout = to_payout(parsed, channels=channels_for(ctx), prefetch=ctx.prefetch)
        return ParsedSettlement(payouts=[payout])


FORMATS = (AmazonFlatFormat("v2"), AmazonFlatFormat("v1"))


def settlement_formats(register) -> None:
    for fmt in FORMATS:
        register(fmt)
