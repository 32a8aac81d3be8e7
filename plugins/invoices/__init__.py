"""Built-in plugin: invoices and credit notes for channel orders (docs/plugins/invoices.md).

The ``order_imported`` event notes an order; the ``invoices`` job issues the documents due:
numbered gap-free per series and year in the same transaction as the document row, rendered to
``outbox/invoices/<channel>/<year>/<doc_no>.pdf`` (0600: buyer data). Refunded orders get a
credit note referencing the invoice, and so does a refund a payout file reports
(``payout_refunds.py``). ``marketd invoices`` lists, checks and issues by hand.
"""
from __future__ import annotations

from marketd.sdk import JobSpec, hookimpl


@hookimpl
def register_migrations(register):
    from .schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


@hookimpl
def register_inbox_handlers(register):
    from .provider import ProviderInvoicesHandler

    register(ProviderInvoicesHandler())


@hookimpl
def register_jobs(register):
    from .job import issue_job
    from .settings import InvoicesSettings

    register(JobSpec("invoices", issue_job, trigger="interval", seconds=300, catch_up=True,
                     description="issue the invoices and credit notes due (outbox/invoices/<channel>/<year>/)",
                     settings_model=InvoicesSettings))


@hookimpl
def order_imported(app, order):
    from .job import note_order

    note_order(app, order)


@hookimpl
def register_commands(cli):
    from .cli import invoice_commands

    invoice_commands(cli)


@hookimpl
def status_sections(app):
    from .status import status_lines

    return status_lines(app)


@hookimpl
def buyer_data_hold(app, order):
    """An invoice still due (blocked, or numbered and not yet rendered) needs the buyer's address.
    Issued documents keep their own copy (the snapshot) for the tax retention."""
    db = app.store.db
    if "documents" not in db.table_names():
        return None
    if db.execute("select 1 from documents_blocked where order_key = ? and reason not like 'issued_by_%' "
                  "and reason != 'not_configured' union all select 1 from documents where order_key = ? and "
                  "state = 'numbered'", [order["key"], order["key"]]).fetchone():
        return "its invoice is not issued yet"
    return None


@hookimpl
def file_processed(app, record):
    """A committed payout file may hold refunds: the job scans for credit notes due."""
    from .payout_refunds import note_payouts

    note_payouts(app, record)


@hookimpl
def order_action_done(app, action):
    """A refund made through ``marketd orders act`` gets its credit note (once per action)."""
    if action.get("action") != "refund":
        return
    from .issuer import credit_for_refund

    credit_for_refund(app, action)
