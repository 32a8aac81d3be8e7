"""A tiny payout format for the settlements plugin's own tests (channel type ``demo``): what a
channel plugin provides, in a few lines, so the plugin's generic rules (several payouts per
file, unchecked/open payouts, breakdowns, currencies, informational lines) are tested without
any marketplace's parser.

File (UTF-8 CSV, first line ``#demo-payouts``)::

    payout,<id>,<stated total or empty>,<paid_at ISO>,<kind>[,<account>][,mcf]
    line,<payout id>,<order_ref or empty>,<category>,<subtype>,<amount>,<currency>,<posted ISO>[,info][,alt=<ref>]
        [,merchant=<ref>]
    breakdown,<order_ref>,<gross>,<fee>,<net>,<currency>

``mcf`` sets ``match_merchant_refs`` (a line's ``merchant=`` is the seller's own order id).

A payout of kind ``open`` has status ``open``; one without a stated total is ``unchecked``.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from marketd.sdk import FileRejected, hookimpl
from marketd.sdk.settlements import Breakdown, ParsedSettlement, Payout, PayoutLine, PayoutStatus

MAGIC = b"#demo-payouts"


class DemoFormat:
    name = "demo-payouts-v1"
    channel_type = "demo"
    describe = "the demo marketplace's payout CSV (#demo-payouts)"

    def sniff(self, head: bytes, name: str) -> bool:
        return head.startswith(MAGIC)

    def peek_keys(self, ctx):
        keys = []
        for line in ctx.path.read_text(encoding="utf-8").splitlines()[1:]:
            cells = line.split(",")
            if cells[0] == "payout":
                account = cells[5] if len(cells) > 5 and cells[5] else None
                keys.append(Payout("demo", cells[1], self.name, "EUR", channel=account, kind=cells[4]).bkey())
        return keys

    def parse(self, ctx) -> ParsedSettlement:
        payouts: dict[str, Payout] = {}
        lines: dict[str, list] = {}
        breakdowns = []
        for no, line in enumerate(ctx.path.read_text(encoding="utf-8").splitlines()[1:], start=2):
            cells = line.split(",")
            if not line.strip():
                continue
            if cells[0] == "payout":
                pid, stated, paid, kind = cells[1:5]
                account = cells[5] if len(cells) > 5 and cells[5] else None
                payouts[pid] = Payout(
                    "demo", pid, self.name, "EUR", channel=account, match_channels=(account,) if account else None,
                    kind=kind, stated_total=Decimal(stated) if stated else None, match_merchant_refs="mcf" in cells[6:],
                    paid_at=datetime.fromisoformat(paid), status=PayoutStatus.OPEN if kind == "open" else None)
                lines[pid] = []
            elif cells[0] == "line":
                pid, ref, cat, sub, amount, cur, posted = cells[1:8]
                extra = cells[8:]
                alt = tuple(x[4:] for x in extra if x.startswith("alt="))
                merchant = next((x[9:] for x in extra if x.startswith("merchant=")), None)
                lines[pid].append(PayoutLine(cat, Decimal(amount), cur, order_ref=ref or None, subtype=sub or None,
                                             merchant_ref=merchant,
                                             posted_first=datetime.fromisoformat(posted),
                                             posted_last=datetime.fromisoformat(posted),
                                             informational="info" in extra, alt_refs=alt, description=f"{cat} row"))
            elif cells[0] == "breakdown":
                ref, gross, fee, net, cur = cells[1:6]
                breakdowns.append(Breakdown("demo", ref, Decimal(gross), Decimal(fee), Decimal(net), cur))
            else:
                raise FileRejected("bad_row", f"unknown row type {cells[0]!r}", where=f"line {no}",
                                   fix="use payout, line or breakdown rows")
        for pid, p in payouts.items():
            p.lines = lines[pid]
        return ParsedSettlement(payouts=list(payouts.values()), breakdowns=breakdowns)


FORMAT = DemoFormat()


@hookimpl
def register_settlement_formats(register):
    register(FORMAT)


def render(*rows: str) -> bytes:
    return ("#demo-payouts\n" + "\n".join(rows) + "\n").encode()
