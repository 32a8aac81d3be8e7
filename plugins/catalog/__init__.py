"""Built-in plugin: the product catalog inbox (``inbox/catalog/``) and its daily summary job."""
from marketd.sdk import JobSpec, hookimpl

from .handler import CatalogHandler
from .schema import MIGRATIONS
from .summary import catalog_summary


@hookimpl
def register_inbox_handlers(register):
    register(CatalogHandler())


@hookimpl
def register_migrations(register):
    register("catalog", MIGRATIONS)


@hookimpl
def register_jobs(register):
    register(JobSpec("catalog-summary", catalog_summary, trigger="cron", cron={"hour": 6, "minute": 0},
                     description="daily catalog summary into outbox/reports/"))
