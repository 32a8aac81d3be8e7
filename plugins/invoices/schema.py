"""Store tables of the invoices plugin (component ``invoices``).

- ``invoice_work``: orders the ``order_imported`` event announced, waiting for the issue job
  (a hint only: the job also scans the orders table, so a lost hint costs nothing).
- ``number_series``: the next number per (series, year). It is read and advanced in the same
  ``BEGIN IMMEDIATE`` transaction that inserts the document row, so a number exists exactly when
  its document exists: a kill -9 before the commit rolls both back, after it both are durable
  (``synchronous=FULL``). There is no separate reservation to lose.
- ``documents``: one row per numbered invoice or credit note, with the snapshot the PDF is
  rendered from (so a crash between the commit and the file only means rendering again) and
  ``state`` ``numbered`` → ``published`` (file written, sha256 recorded). Nothing numbered is ever
  deleted or renumbered; a document that must not stand is cancelled by a credit note.
- ``documents_blocked``: orders that could not be issued (no VAT rate, no lines …) with the
  reason and the fix; no number was consumed for them.
- ``document_uploads``: one row per published document of an account with ``upload`` on:
  ``api`` rows go ``waiting → claimed → done`` (``failed``, ``uncertain`` when a crash came
  between the claim and the recorded answer), ``manual`` rows wait in ``pending`` on the list a
  person works through until ``marketd invoices mark-uploaded``.
- ``vcs_reports`` / ``vcs_orders``: Amazon VCS accounts' VAT invoice data report in flight, and
  what it said per order (``vcs.py``).
- ``payout_refund_scan``: one row, when the payouts were last scanned for refunds to credit
  (``payout_refunds.py``).
"""
from __future__ import annotations

COMPONENT = "invoices"


def _v1(db) -> None:
    db.execute("CREATE TABLE invoice_work (order_key TEXT PRIMARY KEY, noted_at TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE number_series (series TEXT NOT NULL, year INTEGER NOT NULL, next INTEGER NOT NULL, "
               "last_issue_date TEXT, PRIMARY KEY (series, year)) WITHOUT ROWID")
    db.execute(
        "CREATE TABLE documents (id INTEGER PRIMARY KEY, series TEXT NOT NULL, year INTEGER NOT NULL, "
        "number INTEGER NOT NULL, doc_no TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, order_key TEXT NOT NULL, "
        "channel TEXT NOT NULL, trigger_key TEXT NOT NULL, refers_to INTEGER REFERENCES documents(id), "
        "issue_date TEXT NOT NULL, currency TEXT NOT NULL, total_gross TEXT NOT NULL, total_vat TEXT NOT NULL, "
        "snapshot TEXT NOT NULL, state TEXT NOT NULL, pdf_path TEXT, pdf_sha256 TEXT, "
        "created_at TEXT NOT NULL, published_at TEXT, "
        "UNIQUE (series, year, number), UNIQUE (order_key, kind, trigger_key))")
    db.execute("CREATE INDEX idx_documents_state ON documents (state)")
    db.execute("CREATE TABLE documents_blocked (order_key TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, "
               "message TEXT NOT NULL, fix TEXT, at TEXT NOT NULL, PRIMARY KEY (order_key, kind)) WITHOUT ROWID")


def _v2(db) -> None:
    """Uploads of published documents to the marketplace (or to a person's list)."""
    db.execute(
        "CREATE TABLE document_uploads (doc_id INTEGER PRIMARY KEY REFERENCES documents(id), channel TEXT NOT NULL, "
        "mode TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, claimed_at TEXT, "
        "next_attempt_at TEXT, remote_ref TEXT, result TEXT, reason TEXT, created_at TEXT NOT NULL, "
        "updated_at TEXT NOT NULL, done_at TEXT, done_by TEXT)")
    db.execute("CREATE INDEX idx_document_uploads_state ON document_uploads (state, next_attempt_at)")


def _v3(db) -> None:
    """Orders handed to an external invoicing provider (one export per order)."""
    db.execute("CREATE TABLE provider_exports (order_key TEXT PRIMARY KEY, provider TEXT NOT NULL, path TEXT NOT NULL, "
               "exported_at TEXT NOT NULL) WITHOUT ROWID")


def _v4(db) -> None:
    """When the payouts were last scanned for refunds: ``hints`` counts committed settlements
    files, ``scanned`` is the count the last scan started from, ``full_at`` its time."""
    db.execute("CREATE TABLE payout_refund_scan (id INTEGER PRIMARY KEY CHECK (id = 1), hints INTEGER NOT NULL, "
               "scanned INTEGER NOT NULL, full_at TEXT)")


def _v5(db) -> None:
    """Amazon VCS accounts: the VAT invoice data report in flight per account, and what it said
    per order (ids, status, Amazon's VAT per SKU; no recipient data)."""
    db.execute("CREATE TABLE vcs_reports (channel TEXT PRIMARY KEY, report_id TEXT, requested_at TEXT, done_at TEXT, "
               "note TEXT) WITHOUT ROWID")
    db.execute("CREATE TABLE vcs_orders (order_key TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, "
               "seen_at TEXT NOT NULL, PRIMARY KEY (order_key, kind)) WITHOUT ROWID")


MIGRATIONS = [(1, _v1), (2, _v2), (3, _v3), (4, _v4), (5, _v5)]
