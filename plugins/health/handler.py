"""``inbox/health/``: every file about account health, told apart by its content.

- ``.json``: a seller performance report (``GET_V2_SELLER_PERFORMANCE_REPORT``), or eBay listing
  violations (Compliance API, as the report job writes them);
- ``.eml``: an Amazon e-mail saved from the mail client (case log, compliance request);
- CSV/TSV/XLSX: Voice of the Customer export, seller feedback, returns report, or a case-log /
  compliance-request export, recognised by their column names (DE or EN).

Anything else is refused with a reason (``.error.txt``); nothing is half-stored (the file's
store changes share one transaction, and its outputs are published after the commit).
"""
from __future__ import annotations

from marketd.sdk import FileRejected

from .names import account_for
from .settings import HealthSettings, NotificationsSettings


class HealthHandler:
    kind = "health"
    completeness = ("JSON and XLSX are complete or unreadable; CSV/TSV: a last row cut mid-line is refused; "
                    "the report job writes its files atomically")
    settings_model = HealthSettings

    def process(self, ctx) -> dict:
        name = ctx.name.lower()
        account = account_for(ctx)
        if name.endswith(".json"):
            head = ctx.path.read_bytes()[:4096]
            if b'"listingViolations"' in head or b'"ebay.compliance"' in head:
                from .compliance_ingest import ingest as compliance

                return compliance(ctx, account)
            from .perf_ingest import ingest

            return ingest(ctx, account)
        if name.endswith(".eml"):
            from .cases import ingest_eml

            return ingest_eml(ctx, account)
        if name.endswith((".csv", ".tsv", ".txt", ".xlsx")):
            from .tables_ingest import ingest_table

            return ingest_table(ctx, account)
        raise FileRejected("unknown_file", f"{ctx.name}: not a file account health reads", where="the file name",
                           fix="drop a performance report (.json), a saved Amazon e-mail (.eml), or a VoC / "
                               "feedback / returns / case-log table (.csv, .tsv, .txt, .xlsx)")

    def on_duplicate(self, ctx, first: dict) -> None:
        """The same bytes again (a report fetched twice): nothing new to take."""


class NotificationsHandler:
    kind = "notifications"
    completeness = "JSON is complete or unreadable; JSON Lines: a last line cut mid-object is refused"
    settings_model = NotificationsSettings

    def process(self, ctx) -> dict:
        from .notifications import ingest_file

        return ingest_file(ctx)

    def on_duplicate(self, ctx, first: dict) -> None:
        """The same file again: every notification in it is known by (type, id) already."""
