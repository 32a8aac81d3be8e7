"""``marketd orders show ORDER`` (the order and what Amazon paid / charged for it) and
``marketd settlements`` (list, show, forget)."""
from __future__ import annotations

import json
from decimal import Decimal

import click

from .settlement_schema import AMOUNTS

LABELS = {
    "revenue": "revenue (item price, shipping, gift wrap, tax collected)",
    "fees": "fees paid to Amazon (commission, FBA, ...)",
    "promotions": "promotions",
    "withheld_tax": "tax withheld by Amazon (marketplace facilitator)",
    "refunds": "refunds",
    "other": "other",
    "unclassified": "unclassified",
    "net": "net paid out for this order",
}


def _app(ctx):
    from marketd.sdk import build_app

    return build_app(ctx)


def find_order(db, ref: str) -> list[dict]:
    """Orders by key, order id or merchant order id — or by the order-id a settlement line matched
    to them gave (an MCF ``S01-…`` id names the seller's own shop order)."""
    if "orders" not in db.table_names():
        return []
    by_line, params = "", [ref, ref, ref]
    if "settlement_orders" in db.table_names():
        by_line = " or key in (select order_key from settlement_orders where order_ref = ? and order_key is not null)"
        params.append(ref)
    return list(db.query("select * from orders where key = ? or order_id = ? or merchant_order_id = ?"
                         f"{by_line} order by key", params))


def order_finance_view(db, ref: str) -> dict:
    """Everything known about one order: the stored order(s), its finance over all settlements,
    its line in each settlement, and settlement lines for that order-id not matched to a stored
    order."""
    orders = find_order(db, ref)
    out = {"orders": orders, "finance": [], "settlements": [], "unmatched": []}
    if "settlement_orders" not in db.table_names():
        return out
    from .reconcile import order_finance  # pandas: only when a command runs, not for `marketd --help`

    for o in orders:
        finance = order_finance(db, o["key"])
        if finance:
            out["finance"].append(finance)
        out["settlements"] += list(db.query(
            "select so.*, s.deposit_date, s.status as settlement_status from settlement_orders so "
            "left join settlements s on s.settlement_id = so.settlement_id where so.order_key = ? "
            "order by so.posted_first, so.settlement_id", [o["key"]]))
    for oid in sorted({ref} | {o["order_id"] for o in orders}):
        out["unmatched"] += list(db.query(
            "select * from settlement_orders where order_key is null and order_ref = ?", [oid]))
    return out


def _money(value, currency) -> str:
    if value in (None, ""):
        return "-"
    return f"{Decimal(value):>12} {currency or ''}".rstrip()


def settlement_commands(cli) -> None:
    group = cli.commands.get("orders")
    if group is None or not isinstance(group, click.Group):
        @cli.group("orders")
        def orders():
            """Orders imported from the channels."""
        group = orders

    @group.command("show")
    @click.argument("order")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def show(ctx, order, as_json):
        """One order (by key, order id, merchant order id or a settlement's MCF order-id) and its
        finance from settlements: revenue, fees paid to Amazon, promotions, withheld tax, refunds, net."""
        db = _app(ctx).store.db
        view = order_finance_view(db, order)
        if not view["orders"] and not view["unmatched"]:
            raise click.ClickException(f"no order {order} (and no settlement line for that order id)")
        if as_json:
            for o in view["orders"]:
                o.pop("raw", None)
            click.echo(json.dumps(view, indent=2, default=str))
            return
        for o in view["orders"]:
            click.echo(f"order       {o['key']}")
            for k in ("channel", "order_id", "merchant_order_id", "status", "purchased_at", "updated_at"):
                click.echo(f"  {k:18} {o.get(k) or ''}")
            click.echo(f"  {'total':18} {_money(o.get('total'), o.get('currency'))}")
            try:
                items = json.loads(o.get("items") or "[]")
            except ValueError:
                items = []
            for it in items:
                click.echo(f"  item: {it.get('quantity') or ''} x {it.get('sku') or ''} {it.get('title') or ''}".rstrip())
        if view["orders"] and not view["finance"]:
            click.echo("finance: not in any settlement yet")
        width = max(len(v) for v in LABELS.values())
        for f in view["finance"]:
            cur = f.get("currency")
            click.echo(f"finance     {f['order_key']} (settlements: {f.get('settlements')})")
            for a in AMOUNTS:
                click.echo(f"  {LABELS[a]:{width}} {_money(f.get(a), cur)}")
        for s in view["settlements"]:
            click.echo(f"  settlement {s['settlement_id']} (deposit {(s.get('deposit_date') or '')[:10]}, "
                       f"{s.get('settlement_status')}): fees {s.get('fees')}, revenue {s.get('revenue')}, "
                       f"refunds {s.get('refunds')}, net {s.get('net')} {s.get('currency') or ''}")
        for s in view["unmatched"]:
            click.echo(f"unmatched settlement line {s['settlement_id']} order-id {s['order_ref']}: net {s.get('net')} "
                       f"{s.get('currency') or ''} (no stored order with this id)")

    @cli.group("settlements", invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.option("--limit", default=50, show_default=True)
    @click.pass_context
    def settlements(ctx, as_json, limit):
        """Amazon settlements applied: payout, payout check, orders matched."""
        if ctx.invoked_subcommand:
            return
        db = _app(ctx).store.db
        if "settlements" not in db.table_names():
            click.echo("no settlements")
            return
        rows = list(db.query("select * from settlements order by coalesce(end_date, ingested_at) desc limit ?",
                             [limit]))
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            click.echo("no settlements")
            return
        click.echo(f"{'settlement':14} {'end':10} {'payout':>14} {'cur':4} {'difference':>10} {'status':24} "
                   f"{'orders':>7} {'matched':>7} {'unmatched':>9}  file")
        for r in rows:
            click.echo(f"{r['settlement_id']:14} {(r['end_date'] or '')[:10]:10} {r['total_amount']:>14} "
                       f"{(r['currency'] or ''):4} {r['difference']:>10} {r['status']:24} {r['orders'] or 0:>7} "
                       f"{r['matched'] or 0:>7} {r['unmatched'] or 0:>9}  {r['file_name'] or ''}")

    @settlements.command("show")
    @click.argument("settlement_id")
    @click.pass_context
    def show_settlement(ctx, settlement_id):
        """One settlement: totals by category and the payout check."""
        db = _app(ctx).store.db
        rows = list(db.query("select * from settlements where settlement_id = ?", [settlement_id])) \
            if "settlements" in db.table_names() else []
        if not rows:
            raise click.ClickException(f"no settlement {settlement_id}")
        for k, v in rows[0].items():
            click.echo(f"{k:18} {v if v is not None else ''}")

    @settlements.command("forget")
    @click.argument("settlement_id")
    @click.pass_context
    def forget(ctx, settlement_id):
        """Remove an applied settlement and its per-order amounts (to apply a corrected copy)."""
        from marketd.sdk import exclusive

        app = _app(ctx)
        with exclusive(app, "stop the daemon first (systemctl stop marketd)"):
            with app.store.transaction() as db:
                if "settlements" not in db.table_names() or not list(
                        db.query("select 1 from settlements where settlement_id = ?", [settlement_id])):
                    raise click.ClickException(f"no settlement {settlement_id}")
                from .reconcile import forget_settlement

                n = forget_settlement(db, settlement_id)
                db.conn.execute("delete from business_keys where key = ?", [f"amazon-settlement:{settlement_id}"])
        click.echo(f"settlement {settlement_id} forgotten (its amounts for {n} stored order(s) removed); drop the "
                   "corrected file into inbox/settlements/ (or `marketd requeue FILE_ID`)")


__all__ = ["settlement_commands", "order_finance_view"]
