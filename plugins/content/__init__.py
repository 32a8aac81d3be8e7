"""Built-in plugin: product content (``inbox/content/``): data models per platform, completeness
reports, GPSR, the first-image check. See docs/plugins/content.md.

The platforms' APIs are reached only through channel accounts (``app.channel(name)``) whose
channel declares ``capabilities.data_models`` (the Amazon channel: Product Type Definitions);
plugins never import each other. Other plugins announce model changes with the
``data_models_changed`` hook (account health: Amazon's PRODUCT_TYPE_DEFINITIONS_CHANGE).
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


@hookimpl
def register_jobs(register):
    from .jobs import content_jobs

    content_jobs(register)


@hookimpl
def register_commands(cli):
    from .cli import content_commands

    content_commands(cli)


@hookimpl
def data_models_changed(app, platform, marketplace, models, source):
    """Record the change for the next ``content-models`` run (a listener only records work)."""
    from .modelsync import record_event

    with app.store.transaction() as db:
        record_event(db, platform=platform, marketplace=marketplace or "", models=list(models or []),
                     source=source or "", now=app.clock.now().isoformat())
