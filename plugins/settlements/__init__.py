"""Built-in plugin: settlements — every marketplace's payouts in one model (docs/plugins/settlements.md).

Channel plugins register payout file *formats* (``register_settlement_formats``) and only parse;
this plugin owns the rest: the one ``inbox/settlements/`` handler (dispatching a file to the
format whose ``sniff`` recognises it), the tables (``payouts``, ``payout_refs``,
``payout_lines``, ``order_breakdowns``, view ``order_finance``), matching to orders, the payout
check, duplicates and replacements, the per-payout reports, the monthly fees report, ``marketd
settlements``, the finance part of ``marketd orders show`` (``order_finance`` hook) and a
section of ``marketd status``.
"""
from __future__ import annotations

from marketd.sdk import JobSpec, hookimpl


@hookimpl
def register_inbox_handlers(register):
    from .handler import SettlementsHandler

    register(SettlementsHandler())


@hookimpl
def register_migrations(register):
    from .schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


@hookimpl
def register_commands(cli):
    from .cli import settlement_commands

    settlement_commands(cli)


@hookimpl
def register_reports(register):
    from .fees import fees_report

    register("fees", fees_report)


@hookimpl
def register_jobs(register):
    from .fees import fees_job

    register(JobSpec("fees-report", fees_job, trigger="cron", cron={"day": 1, "hour": 6, "minute": 0}, catch_up=True,
                     description="Monthly fees per channel (fee % of revenue): reports/fees-<YYYY-MM>.csv|.xlsx"))


@hookimpl
def order_imported(app, order):
    """An order arrived or changed: attach payout money waiting for it (posted before the order
    was imported). Without this the next payout would do it."""
    from .apply import split_net_lines
    from .matching import rematch_pending

    order = order if isinstance(order, dict) else getattr(order, "__dict__", {})
    order_id, key = order.get("order_id"), order.get("key")
    db = app.store.db
    if not order_id or "payout_refs" not in db.table_names():
        return
    refs = [order_id]
    if key:
        refs += [a for (a,) in db.execute("select alias from order_aliases where order_key = ?", [key])]
    merchant = [order_id] + ([order["merchant_order_id"]] if order.get("merchant_order_id") else [])
    # An order sync emits this for every new or changed order: answer "nothing waits" from the
    # partial indexes of waiting references, without opening a write transaction.
    waiting = db.execute(
        "select 1 from payout_refs where order_key is null and match = 'none' and (order_ref in "
        "(select value from json_each(?)) or merchant_ref in (select value from json_each(?))) limit 1",
        [_json(refs), _json(merchant)]).fetchone()
    if waiting is None:
        return
    with app.store.transaction() as db:
        rematch_pending(db, order_refs=refs)
        rematch_pending(db, merchant_refs=merchant)
        split_net_lines(db, order_refs=refs)


def _json(values) -> str:
    import json

    return json.dumps(list(values))


@hookimpl
def order_finance(app, order_keys, refs):
    from .finance import order_finance as finance

    return finance(app.store.db, order_keys, refs)


@hookimpl
def status_sections(app):
    from .status import status_lines

    return status_lines(app)
