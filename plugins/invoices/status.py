"""The invoices section of ``marketd status``."""
from __future__ import annotations


def status_lines(app) -> dict | None:
    from .settings import invoice_settings

    db = app.store.db
    if "documents" not in db.table_names():
        return None
    settings = invoice_settings(app)
    if not settings.configured():
        return {"Invoices": ["not configured ([jobs.invoices] seller name, VAT id or tax number, channels)"]}
    counts = {f"{k}/{s}": n for k, s, n in db.execute("select kind, state, count(*) from documents group by 1, 2")}
    blocked = db.execute("select count(*) from documents_blocked").fetchone()[0]
    lines = [", ".join(f"{k}: {n}" for k, n in sorted(counts.items())) or "no documents yet"]
    if blocked:
        lines.append(f"{blocked} order(s) without a document: `marketd invoices blocked`")
    if "vcs_reports" in db.table_names():
        for channel, pending, done_at, note in db.execute(
                "select channel, report_id, done_at, note from vcs_reports order by channel"):
            state = "report requested, waiting for Amazon" if pending else f"last read {done_at}: {note}"
            lines.append(f"VCS {channel}: {state}")
    return {"Invoices": lines}
