"""Built-in plugin: brands (``[brands.<id>]``): the four onboarding phases and platform approvals,
go-live tracking with the Go Live Monitoring report, the data package (three data links served
by a small read-only HTTP endpoint, a weekly dashboard and six reports by e-mail) and the partner
settlement statement. See docs/plugins/brands.md.

The statement's money comes from the settlements plugin through the ``order_finance`` hook;
plugins never import each other.
"""
from __future__ import annotations

from marketd.sdk import hookimpl


@hookimpl
def register_inbox_handlers(register):
    from .handlers import GoliveHandler, OnboardingHandler

    register(OnboardingHandler())
    register(GoliveHandler())


@hookimpl
def register_migrations(register):
    from .schema import MIGRATIONS

    register("brands", MIGRATIONS)


@hookimpl
def register_jobs(register, app):
    from .jobs import register as jobs

    if app is not None:
        from .settings import brands_of

        brands_of(app)  # a wrong [brands.<id>] stops the start like any config error
    jobs(register)


@hookimpl
def register_commands(cli):
    from .cli import brands_commands

    brands_commands(cli)


@hookimpl
def status_sections(app):
    db = app.store.db
    from marketd.sdk import mail

    from .mailq import ORIGIN

    counts = mail.counts(db, ORIGIN)
    lines = [f"mail {state}: {n}" for state, n in counts.items() if state != "sent"]
    held = sum(counts.get(s, 0) for s in mail.HELD)
    if held:
        lines.append(f"{held} mail(s) need a person: `marketd brands mail list`")
    return {"brands": lines} if lines else None
