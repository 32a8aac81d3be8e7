"""MALL's invoices and offsets as payout formats of the ``settlements`` plugin: ``mall-invoice``
(self-billing invoices and credit notes) and ``mall-offset``, registered through
``register_settlement_formats``. The plugin stores, matches, checks and reports them like every
other marketplace's payouts (docs/plugins/settlements.md); the money rules are ``finance.py``.

A file is recognised in three shapes, all JSON:

- what the ``mall-finance`` job writes: ``{"marketd_source": "mall-financial-v1", "channel",
  "kind", …, "envelope": <MALL's answer>}``;
- MALL's API answer as saved by hand: ``{"result": …, "data": <document>}``;
- the bare document, as MALL's portal offers it for download ("Billing / Vyúčtování").

A file that names no account (the last two) is matched against ``[inbox.settlements] channel``,
else against the one MALL account configured; with several and none named it is refused, saying
so. For each invoiced order already stored, the order's gross (what the buyer paid) goes along
as a breakdown, so the invoice's net amount splits into revenue and MALL's margin.
"""
from __future__ import annotations

import json
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketd.sdk import FileRejected
from marketd.sdk.settlements import ParsedSettlement

from . import finance
from .finance_fetch import SOURCE
from .mapper import PRAGUE

MAX_BYTES = 20 << 20   # a MALL document is a few KB; anything this big is not one


def _shape(head: bytes) -> str | None:
    """``invoice``, ``offset`` or None, from the start of a file (cheap; never raises)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return None
    if b'"marketd_source"' in text[:400] and SOURCE.encode() in text[:400]:
        if b'"kind": "invoice"' in text[:400]:
            return "invoice"
        if b'"kind": "offset"' in text[:400]:
            return "offset"
        return None
    if b'"documentNumber"' in text and b'"diffPrice"' in text:
        return "offset"
    if b'"invoiceNumber"' in text and (b'"taxRecap"' in text or b'"invoiceType"' in text) and b'"diffPrice"' not in text:
        return "invoice"
    return None


def _load(ctx) -> dict:
    size = ctx.path.stat().st_size
    if size > MAX_BYTES:
        raise FileRejected("too_large", f"{size} bytes is no MALL document (they are a few KB)",
                           fix="drop one MALL invoice or offset per file")
    raw = ctx.path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise FileRejected("encoding", "the MALL document is not UTF-8", where=f"byte {exc.start}",
                           fix="drop the document exactly as MALL gave it") from None
    except json.JSONDecodeError as exc:
        raise FileRejected("mall_json", f"the MALL document is not complete JSON: {exc.msg}",
                           where=f"line {exc.lineno}, column {exc.colno}",
                           fix="drop the whole document again (a cut download?)") from None


def _document(top: dict) -> tuple[dict, str | None, str]:
    """(the document, the account it names or None, where it is in the file)."""
    if top.get("marketd_source") == SOURCE:
        env = top.get("envelope") if isinstance(top.get("envelope"), dict) else {}
        data = env.get("data")
        if not isinstance(data, dict):
            raise FileRejected("mall_document", "the file holds no MALL document (envelope.data)",
                               where="envelope.data", fix="fetch it again (the mall-finance job) or drop MALL's JSON")
        return data, top.get("channel"), "envelope.data"
    if isinstance(top.get("result"), dict) and isinstance(top.get("data"), dict):
        return top["data"], None, "data"
    return top, None, "(document)"


def _channel(ctx, named: str | None) -> str:
    accounts = ctx.accounts("mall")
    if named:
        if named not in accounts:
            raise FileRejected("mall_account", f"the document is for MALL account {named!r}, which is not configured",
                               where="channel", fix=f"configure [channels.{named}] type = \"mall\", or drop it "
                               "into an instance that has it")
        return named
    configured = ctx.configured_channels("mall")
    if configured and len(configured) == 1:
        return configured[0]
    if len(accounts) == 1:
        return accounts[0]
    raise FileRejected("mall_account", "the MALL document names no account and "
                       + (f"there are several ({', '.join(sorted(accounts))})" if accounts else
                          "no [channels.<name>] type = \"mall\" is configured"),
                       fix="set [inbox.settlements] channel = \"<your MALL account>\", or let the mall-finance job "
                           "fetch the documents")


def _tz(ctx, channel: str) -> ZoneInfo:
    section = ((getattr(ctx.app, "config", None) or {}).get("channels") or {}).get(channel) or {}
    try:
        return ZoneInfo(section.get("timezone") or "Europe/Prague")
    except Exception:
        return PRAGUE


def _gross(ctx, channel: str, refs: list[str]) -> dict[str, tuple[Decimal, str]]:
    """The stored gross (order total) of the invoiced orders of ``channel``."""
    out: dict[str, tuple[Decimal, str]] = {}
    for start in range(0, len(refs), 500):
        chunk = refs[start:start + 500]
        rows = ctx.app.store.db.execute(
            f"select order_id, total, currency from orders where channel = ? and order_id in "
            f"({', '.join('?' * len(chunk))}) and total is not null", [channel, *chunk]).fetchall()
        for order_id, total, currency in rows:
            try:
                out[str(order_id)] = (Decimal(str(total)), str(currency or "").upper())
            except ArithmeticError:
                continue
    return out


class MallFormat:
    channel_type = "mall"
    unsettled_statuses = ("DELIVERED",)   # MALL invoices delivered orders only: shipped ones are not late yet

    def __init__(self, kind: str):
        self.kind = kind
        self.name = f"mall-{kind}"
        self.describe = ("MALL self-billing invoice or credit note (JSON: the mall-finance job, or MALL's portal / "
                         "API)" if kind == "invoice" else "MALL offset, zápočet (JSON: the mall-finance job, or MALL's "
                         "portal / API)")

    def sniff(self, head: bytes, name: str) -> bool:
        return _shape(head) == self.kind

    def _payout(self, ctx):
        top = _load(ctx)
        if not isinstance(top, dict):
            raise FileRejected("mall_document", "the file is JSON but not a MALL document (an object)",
                               where="line 1", fix="drop one MALL invoice or offset per file")
        doc, named, where = _document(top)
        channel = _channel(ctx, named)
        tz = _tz(ctx, channel)
        if self.kind == "offset":
            return finance.offset_payout(doc, channel, tz, where=where)
        return finance.invoice_payout(doc, channel, tz, where=where)

    def parse(self, ctx) -> ParsedSettlement:
        payout = self._payout(ctx)
        if payout.kind != "invoice":
            return ParsedSettlement(payouts=[payout])
        channel = payout.channel
        refs = [ln.order_ref for ln in payout.lines if ln.order_ref]
        ctx.prefetch(order_refs=refs, channels=(channel,))
        gross = _gross(ctx, channel, refs)
        missing = sorted(set(refs) - set(gross))
        if missing:
            payout.warnings.append(f"{len(missing)} invoiced order(s) not in the store yet "
                                   f"({', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}): their amount stays "
                                   "one net line until MALL's fee can be told from the order's gross")
        return ParsedSettlement(payouts=[payout], breakdowns=finance.breakdowns(payout, gross))

    def peek_keys(self, ctx) -> list[str] | None:
        try:
            return [self._payout(ctx).bkey()]
        except FileRejected:
            return None


FORMATS = (MallFormat("invoice"), MallFormat("offset"))


def settlement_formats(register) -> None:
    for fmt in FORMATS:
        register(fmt)
