"""Built-in plugin: account health (docs/plugins/health.md).

Watches what a seller otherwise checks by hand in Seller Central: the performance report,
notifications, Voice of the Customer, seller feedback and returns, the case log and compliance
requests, GPSR data; raises alerts (one per condition, resolved when it clears) and delivers them
by webhook and e-mail, with a daily digest instead of a flood.

Marketplace calls go through channel accounts whose channel declares
``capabilities.account_health`` / ``capabilities.notifications`` (``app.channel(name)``); plugins
never import each other.
"""
from __future__ import annotations

from marketd.sdk import hookimpl


@hookimpl
def register_inbox_handlers(register):
    from .handler import HealthHandler, NotificationsHandler

    register(HealthHandler())
    register(NotificationsHandler())


@hookimpl
def register_migrations(register):
    from .schema import MIGRATIONS

    register("health", MIGRATIONS)


@hookimpl
def register_jobs(register):
    from .jobs import health_jobs

    health_jobs(register)


@hookimpl
def register_commands(cli):
    from .cli import health_commands

    health_commands(cli)


@hookimpl
def status_sections(app):
    from .status import section

    return section(app)
