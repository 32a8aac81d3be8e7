"""Which table a dropped file is (VoC, feedback, returns, case log), by its columns."""
from __future__ import annotations

from marketd.sdk import FileRejected, read_table

from . import cases, feedback, returns, voc
from .tables import match_columns

KINDS = [
    # (kind, module, columns that must all be there)
    ("returns", returns, ("order_id", "reason", "quantity")),
    ("feedback", feedback, ("date", "rating", "comments")),
    ("cases", cases, ("case_id",)),
    ("voc", voc, ("asin",)),
]


def ingest_table(ctx, account: str) -> dict:
    table = read_table(ctx.path, ctx.settings)
    for kind, module, needed in KINDS:
        cols = match_columns(table.columns, module.SYNONYMS)
        if all(n in cols for n in needed) and (kind != "voc" or voc.looks_like_voc(table, cols)):
            return {"kind": kind, "account": account, **module.ingest(ctx, table, cols, account)}
    raise FileRejected("unknown_table", "the columns match no table account health reads: "
                       + ", ".join(table.columns[:12]) + ("…" if len(table.columns) > 12 else ""),
                       where="line 1",
                       fix="drop a Voice of the Customer export (ASIN, CX Health), a feedback report (Date, Rating, "
                           "Comments), a returns report (Order ID, Return Reason, Return quantity) or a case log "
                           "(Case ID / Fall-ID); docs/plugins/health.md lists the column names")
