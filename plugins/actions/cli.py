"""``marketd orders act`` and ``marketd orders actions``: fulfilment actions on remote orders."""
from __future__ import annotations

import json
import os

import click

from marketd.sdk import shown_time


def _app(ctx):
    from marketd.sdk import build_app

    return build_app(ctx)


def _order(app, ref: str, channel: str | None) -> dict:
    rows = [o for o in app.store.find_orders_by_ref(ref) if not channel or o["channel"] == channel]
    if not rows:
        raise click.ClickException(f"no order {ref} (see `marketd orders list`)")
    if len(rows) > 1:
        raise click.ClickException(f"{ref} names {len(rows)} orders ({', '.join(r['key'] for r in rows)}): "
                                   "give the key or --channel")
    return rows[0]


def action_commands(cli) -> None:
    from .ledger import ACTIONS, REASONS

    @cli.group("orders")
    def orders():
        """Orders imported from the channels."""  # merged into the core's `orders` group

    @orders.command("act")
    @click.argument("order")
    @click.argument("action", type=click.Choice(list(ACTIONS)))
    @click.option("--channel", help="The account, when the order id exists on several.")
    @click.option("--lines", help="SKU:QTY,… (cancel or refund these lines only).")
    @click.option("--amount", help="Refund this gross amount (default: the whole order).")
    @click.option("--currency", help="Currency of --amount.")
    @click.option("--reason", type=click.Choice(REASONS), help="Why (refuse, cancel, refund; default other).")
    @click.option("--note", help="Free text kept with the action.")
    @click.option("--by", help="Who asks (default: $SUDO_USER or $USER).")
    @click.option("--force", is_flag=True, help="Act on an order flagged manual, or send an uncertain/failed action "
                                                "again (check the marketplace first).")
    @click.option("--record-manual", is_flag=True, help="It was done by hand in the portal: record it and flag the "
                                                        "order, send nothing.")
    @click.pass_context
    def act(ctx, order, action, channel, lines, amount, currency, reason, note, by, force, record_manual):
        """Perform ACTION on ORDER at its marketplace (only there), once: the same request twice is done once."""
        from marketd.sdk import mark_manual, order_guard

        from .ledger import ActionError, normalise, perform, request

        app = _app(ctx)
        row = _order(app, order, channel)
        who = by or os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"
        try:
            params = normalise(action, lines=lines, amount=amount, currency=currency, reason=reason)
        except ActionError as exc:
            raise click.BadParameter(str(exc))
        if record_manual:
            mark_manual(app.store, row["key"], by=who, reason=f"{action} done by hand in the portal"
                        + (f": {note}" if note else ""), source="action", at=app.clock.now().isoformat())
            click.echo(f"{row['key']}: {action} recorded as done by hand; the order is flagged manual")
            return
        flagged = order_guard(app, row["key"], f"{action} action")
        if flagged and not force:
            raise click.ClickException(flagged + "; --force acts anyway")
        entry, new = request(app, row, action, params, by=who, source="cli", note=note)
        if not new:
            if entry["state"] == "done":
                click.echo(f"{row['key']}: {action} already done ({shown_time(entry['done_at'], app.config['daemon']['timezone'])}, asked by {entry['requested_by']})")
                return
            if entry["state"] in ("uncertain", "failed", "skipped") and force:
                with app.store.transaction() as db:
                    db.execute("update order_actions set state = 'waiting', owner = null, next_attempt_at = null "
                               "where id = ?", [entry["id"]])
            elif entry["state"] != "waiting":
                raise click.ClickException(f"{row['key']}: {action} is {entry['state']}: {entry['error'] or ''}"
                                           + (" (--force sends it again)" if entry["state"] in ("uncertain", "failed")
                                              else ""))
        done = perform(app, entry["id"], explicit=True)
        if done["state"] == "done":
            click.echo(f"{row['key']}: {action} done" + (f" ({done['remote_ref']})" if done["remote_ref"] else ""))
            return
        raise click.ClickException(f"{row['key']}: {action} {done['state']}: {done['error'] or ''}")

    @orders.command("actions")
    @click.argument("order", required=False)
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def actions(ctx, order, as_json):
        """Fulfilment actions asked for (all, or ORDER's): who, when, why, what the marketplace said."""
        app = _app(ctx)
        where, params = "", []
        if order:
            where, params = " where order_key = ?", [_order(app, order, None)["key"]]
        rows = list(app.store.db.query(f"select * from order_actions{where} order by id", params))
        if as_json:
            click.echo(json.dumps(rows, indent=1))
            return
        for r in rows:
            click.echo(f"{r['id']:>5} {r['order_key']:<30} {r['action']:<22} {r['state']:<9} {r['requested_by']} "
                       f"{shown_time(r['requested_at'], app.config['daemon']['timezone'])} {r['reason'] or ''} {r['error'] or r['remote_ref'] or ''}".rstrip())
        if not rows:
            click.echo("no actions")
