"""The brands plugin's store tables (component ``brands``).

Money is Decimal text, times are UTC ISO with offset, dates are brand-local ISO days. Contacts
are personal data: they live only in the store (owner-only file) and in the mails themselves;
the mail queue keeps a hash of the recipient, never the address.
"""
from __future__ import annotations


def _v1(db):
    x = db.execute
    x("CREATE TABLE brand_checklist (brand TEXT NOT NULL, item TEXT NOT NULL, platform TEXT NOT NULL DEFAULT '', "
      "subject TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, date TEXT, value TEXT, note TEXT, source TEXT, "
      "updated_at TEXT NOT NULL, PRIMARY KEY (brand, item, platform, subject))")
    x("CREATE TABLE brand_checklist_log (id INTEGER PRIMARY KEY, brand TEXT NOT NULL, item TEXT NOT NULL, "
      "platform TEXT NOT NULL, subject TEXT NOT NULL, status TEXT NOT NULL, date TEXT, value TEXT, note TEXT, "
      "source TEXT, at TEXT NOT NULL)")
    x("CREATE TABLE brand_contacts (brand TEXT NOT NULL, role TEXT NOT NULL, email TEXT NOT NULL, name TEXT, "
      "phone TEXT, source TEXT, PRIMARY KEY (brand, role, email))")
    x("CREATE TABLE brand_skus (sku TEXT PRIMARY KEY, brand TEXT NOT NULL, source TEXT NOT NULL)")
    x("CREATE INDEX idx_brand_skus_brand ON brand_skus (brand)")
    x("CREATE TABLE golive (sku TEXT NOT NULL, platform TEXT NOT NULL, brand TEXT NOT NULL, activated_at TEXT NOT NULL, "
      "activation_source TEXT, live_at TEXT, live_source TEXT, PRIMARY KEY (sku, platform))")
    x("CREATE INDEX idx_golive_brand ON golive (brand)")
    x("CREATE TABLE brand_reports (brand TEXT NOT NULL, kind TEXT NOT NULL, period TEXT NOT NULL, cutoff TEXT, "
      "generated_at TEXT NOT NULL, outputs TEXT, PRIMARY KEY (brand, kind, period))")
    # the mails themselves are in the core's mail_queue (marketd.sdk.mail), which kept this plugin's old queue
    x("CREATE TABLE link_tokens (token_sha256 TEXT PRIMARY KEY, brand TEXT NOT NULL, created_at TEXT NOT NULL, "
      "revoked_at TEXT)")
    x("CREATE TABLE brand_services (id INTEGER PRIMARY KEY, brand TEXT NOT NULL, month TEXT NOT NULL, "
      "kind TEXT NOT NULL, description TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL, "
      "recorded_at TEXT NOT NULL)")
    x("CREATE TABLE statements (brand TEXT NOT NULL, month TEXT NOT NULL, version INTEGER NOT NULL, "
      "doc_no TEXT NOT NULL UNIQUE, data_sha256 TEXT NOT NULL, pdf_sha256 TEXT NOT NULL, xlsx_sha256 TEXT NOT NULL, "
      "issued_at TEXT NOT NULL, supersedes TEXT, PRIMARY KEY (brand, month, version))")


def _v2(db):
    """A statement's negative balance per currency, carried into the brand's next statement (JSON
    ``{"EUR": "-12.34"}``): written in the same transaction as the statement's number."""
    db.execute("ALTER TABLE statements ADD COLUMN carry_out TEXT")


MIGRATIONS = [(1, _v1), (2, _v2)]
