"""The settlement-file side of the Amazon plugin as plain functions; ``__init__`` hooks delegate here.

- ``settlement_inbox_handlers(register)`` -> ``register_inbox_handlers``
- ``settlement_migrations(register)``     -> ``register_migrations``
- ``settlement_commands(cli)``            -> ``register_commands``
- ``settlement_order_imported(app, order)`` -> ``order_imported`` (attaches settlement amounts
  that arrived before their order; the next settlement would do it too)
"""
from __future__ import annotations


def settlement_inbox_handlers(register) -> None:
    from .settlement_handler import SettlementHandler

    register(SettlementHandler())


def settlement_migrations(register) -> None:
    from .settlement_schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


def settlement_commands(cli) -> None:
    from .settlement_cli import settlement_commands as add

    add(cli)


def settlement_order_imported(app, order) -> None:
    """An order arrived or changed: attach settlement lines waiting for it (a sale or refund
    posted before the order was imported). Without this hook that happens at the next settlement."""
    from .reconcile import rematch_pending

    order = order if isinstance(order, dict) else getattr(order, "__dict__", {})
    order_id = order.get("order_id")
    if not order_id or "settlement_orders" not in app.store.db.table_names():
        return
    refs = [order_id] + ([order["merchant_order_id"]] if order.get("merchant_order_id") else [])
    # An order sync emits this for every new or changed order: answer "nothing waits" from the
    # (order_key, order_ref) index without opening a write transaction.
    marks = ",".join("?" * len(refs))
    waiting = app.store.db.execute(
        "select 1 from settlement_orders where order_key is null and "
        f"(order_ref = ? or merchant_order_id in ({marks})) limit 1", [order_id, *refs]).fetchone()
    if waiting is None:
        return
    with app.store.transaction() as db:
        rematch_pending(db, order_ids=[order_id])
        rematch_pending(db, merchant_ids=refs)
