"""Built-in plugin: buyer data retention (docs/plugins/privacy.md).

The ``privacy-purge`` job removes buyers' names, addresses, e-mail, personalisation links and
gift messages from orders once their retention has passed (``buyer_data_days`` after the order
was last updated in a final state), asks every plugin to remove its own copies
(``buyer_data_purged``), defers an order a plugin still needs (``buyer_data_hold``), and records
each purge without any personal data in ``purges``.
"""
from __future__ import annotations

from marketd.sdk import JobSpec, hookimpl


@hookimpl
def register_migrations(register):
    from .purge import MIGRATIONS

    register("privacy", MIGRATIONS)


@hookimpl
def register_jobs(register):
    from .purge import PrivacySettings, purge_job

    register(JobSpec("privacy-purge", purge_job, trigger="cron", cron={"hour": 3, "minute": 45}, catch_up=True,
                     description="purge buyer data past its retention ([jobs.privacy-purge] buyer_data_days)",
                     settings_model=PrivacySettings))


@hookimpl
def status_sections(app):
    db = app.store.db
    if "purges" not in db.table_names():
        return None
    n, last = db.execute("select count(*), max(at) from purges").fetchone()
    lines = [f"{n} order(s) purged" + (f", last at {last}" if last else "")]
    if "purged_files" in db.table_names():
        files = db.execute("select count(*) from purged_files").fetchone()[0]
        if files:
            lines.append(f"{files} archived input file(s) with buyer data removed")
    return {"Buyer data": lines}
