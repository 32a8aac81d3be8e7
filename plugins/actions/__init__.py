"""Built-in plugin: fulfilment actions on remote orders (docs/plugins/actions.md).

``marketd orders act ORDER ACTION`` and the ``inbox/actions/`` drop ask a marketplace to accept,
refuse, cancel, refund or mark shipped an order, once, recorded with who/when/why; the
``order-actions`` job performs what the drop asked. Each channel declares what its API allows
(``Capabilities.accept_order`` …); the rest is the marketplace's portal, and an order a person
handled there is flagged (``marketd orders mark-manual``) so nothing automatic acts on it again.
"""
from __future__ import annotations

from marketd.sdk import JobSpec, hookimpl


@hookimpl
def register_migrations(register):
    from .schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


@hookimpl
def register_inbox_handlers(register):
    from .handler import ActionsHandler

    register(ActionsHandler())


@hookimpl
def register_jobs(register):
    from .ledger import run_waiting

    register(JobSpec("order-actions", run_waiting, trigger="interval", seconds=60, catch_up=True,
                     description="perform the fulfilment actions asked for in inbox/actions/"))


@hookimpl
def register_commands(cli):
    from .cli import action_commands

    action_commands(cli)


@hookimpl
def status_sections(app):
    db = app.store.db
    if "order_actions" not in db.table_names():
        return None
    counts = dict(db.execute("select state, count(*) from order_actions group by state").fetchall())
    if not counts:
        return None
    lines = [", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))]
    if counts.get("uncertain"):
        lines.append(f"{counts['uncertain']} action(s) interrupted mid-call: check the marketplace "
                     "(`marketd orders actions`)")
    return {"Order actions": lines}


@hookimpl
def buyer_data_hold(app, order):
    db = app.store.db
    if "order_actions" in db.table_names() and db.execute(
            "select 1 from order_actions where order_key = ? and state in ('waiting', 'claimed', 'uncertain')",
            [order["key"]]).fetchone():
        return "a fulfilment action on it is not settled"
    return None
