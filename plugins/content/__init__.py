"""Built-in plugin: product content (``inbox/content/``): data models per platform, completeness
reports, GPSR, the first-image check. See docs/plugins/content.md.

The platforms' APIs are reached only through channel accounts (``app.channel(name)``) whose
channel declares ``capabilities.data_models`` (the Amazon channel: Product Type Definitions);
plugins never import each other. Other plugins announce model changes with the
``data_models_changed`` hook (account health: Amazon's PRODUCT_TYPE_DEFINITIONS_CHANGE) and
changed listings with ``listing_changed`` (LISTINGS_ITEM_STATUS_CHANGE / _ISSUES_CHANGE: audited
by the ``listings-audit`` job).
"""
from __future__ import annotations

from marketd.sdk import hookimpl


@hookimpl
def register_inbox_handlers(register):
    from .handler import ContentHandler

    register(ContentHandler())


@hookimpl
def register_migrations(register):
    from .schema import MIGRATIONS

    register("content", MIGRATIONS)
    from .listings.schema import COMPONENT, MIGRATIONS as LISTINGS

    register(COMPONENT, LISTINGS)
    from .listings.notified import COMPONENT as NOTIFIED, MIGRATIONS as NOTIFIED_MIGRATIONS

    register(NOTIFIED, NOTIFIED_MIGRATIONS)


@hookimpl
def register_jobs(register):
    from .jobs import content_jobs

    content_jobs(register)
    from .listings.jobs import listings_jobs

    listings_jobs(register)
    from .listings.notified import notified_jobs

    notified_jobs(register)


@hookimpl
def register_commands(cli):
    from .cli import content_commands

    content_commands(cli)
    from .listings.cli import listings_commands

    listings_commands(cli)


@hookimpl
def data_models_changed(app, platform, marketplace, models, source):
    """Record the change for the next ``content-models`` run (a listener only records work)."""
    from .modelsync import record_event

    with app.store.transaction() as db:
        record_event(db, platform=platform, marketplace=marketplace or "", models=list(models or []),
                     source=source or "", now=app.clock.now().isoformat())


@hookimpl
def listing_changed(app, platform, account, marketplace, sku, reason, source):
    """Record an audit of that listing for the ``listings-audit`` job (a listener only records work)."""
    from .listings.notified import record_request

    with app.store.transaction() as db:
        if db["listing_audit_requests"].exists():
            record_request(db, platform=platform, account=account or "", marketplace=marketplace or "", sku=sku,
                           reason=reason or "", source=source or "", now=app.clock.now().isoformat())


@hookimpl
def status_sections(app):
    """The latest run per brand and the model changes waiting for the ``content-models`` job."""
    import json

    db = app.store.db
    if not db["content_runs"].exists():
        return None
    lines = []
    for r in db.query("select r.* from content_runs r join (select brand, max(id) id from content_runs group by brand) "
                      "m on m.id = r.id order by r.brand"):
        c = json.loads(r["counts"] or "{}")
        lines.append(f"{r['brand']}: run {r['id']} ({r['reason']}, {r['finished_at'][:16]}): {c.get('skus', 0)} SKUs, "
                     f"{c.get('errors', 0)} errors, {c.get('warnings', 0)} warnings, {c.get('blocked_skus', 0)} "
                     f"blocked; {c.get('new', 0)} new, {c.get('fixed', 0)} fixed -> {r['report_dir']}")
    if db["listing_batches"].exists():
        from .listings.cli import status_lines

        lines += status_lines(db)
    pending = db.execute("select count(*) from content_model_events where handled_at is null").fetchone()[0]
    if pending:
        lines.append(f"{pending} announced model change(s) wait for the content-models job")
    return {"content": lines} if lines else None
