"""Built-in plugin: Amazon Custom personalisation (docs/plugins/custom.md).

When an order sync announces an order whose items carry a personalisation archive
(``customized_url``), the ``custom-downloads`` job fetches it through the order's channel
(``Capabilities.fetch_customizations``), unpacks it without trusting it (no path traversal,
absolute paths, links, encrypted or overlapping entries; size, count and ratio caps) into
``outbox/custom/<order>/<item>/`` (owner-only) and writes a production sheet PDF beside it.
"""
from __future__ import annotations

from marketd.sdk import JobSpec, hookimpl


@hookimpl
def register_migrations(register):
    from .schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


@hookimpl
def register_jobs(register):
    from .job import download_job
    from .settings import CustomSettings

    register(JobSpec("custom-downloads", download_job, trigger="interval", seconds=120, catch_up=True,
                     description="download Amazon Custom archives into outbox/custom/<order>/<item>/ with a "
                                 "production sheet", settings_model=CustomSettings))


@hookimpl
def order_imported(app, order):
    from .job import note_order

    note_order(app, order)


@hookimpl
def status_sections(app):
    db = app.store.db
    if "custom_items" not in db.table_names():
        return None
    counts = dict(db.execute("select state, count(*) from custom_items group by state").fetchall())
    if not counts:
        return None
    lines = [", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))]
    for r in db.query("select order_id, item_id, reason from custom_items where state in ('refused', 'failed') "
                      "order by noted_at desc limit 5"):
        lines.append(f"{r['order_id']} item {r['item_id']}: {r['reason']}")
    return {"Amazon Custom": lines}


@hookimpl
def buyer_data_hold(app, order):
    db = app.store.db
    if "custom_items" in db.table_names() and db.execute(
            "select 1 from custom_items where order_key = ? and state = 'waiting'", [order["key"]]).fetchone():
        return "its personalisation archive is not downloaded yet"
    return None


@hookimpl
def buyer_data_purged(app, order):
    """The archives and production sheets hold the buyer's texts and photos: removed with the rest."""
    from .job import forget_order

    forget_order(app, order)
