"""``marketd mall``: confirming new MALL orders by hand (what ``auto_confirm`` does after each sync).

MALL wants every new order confirmed by the partner before it may be shipped; an order left
unconfirmed is cancelled by MALL after a while. ``marketd mall unconfirmed`` lists them (MALL's
``/v1/orders/unconfirmed``), ``marketd mall confirm ORDER…`` confirms them.
"""
from __future__ import annotations

import json

import click


def _accounts(ctx, account: str | None):
    from marketd.sdk import ConfigError, build_app

    from .jobs import mall_accounts

    app = build_app(ctx)
    accounts = mall_accounts(app)
    if account:
        if account not in accounts:
            raise ConfigError(f"no MALL channel account named {account!r} (MALL accounts: "
                              f"{', '.join(sorted(accounts)) or 'none'})")
        accounts = {account: accounts[account]}
    if not accounts:
        raise ConfigError("no [channels.<name>] with type = \"mall\" in the config")
    return app, accounts


@click.group("mall")
def mall_commands():
    """MALL marketplace accounts: confirm new orders."""


@mall_commands.command("unconfirmed")
@click.option("--account", help="One MALL channel account (default: all).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def unconfirmed(ctx, account, as_json):
    """New MALL orders waiting for the partner's confirmation."""
    app, accounts = _accounts(ctx, account)
    out = {name: ch.unconfirmed() for name, ch in accounts.items()}
    for ch in accounts.values():
        ch.save_quota()
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for name, ids in out.items():
        click.echo(f"{name}: {len(ids)} unconfirmed order(s){': ' + ' '.join(ids) if ids else ''}")


@mall_commands.command("confirm")
@click.argument("orders", nargs=-1, required=True)
@click.option("--account", help="The MALL channel account (needed when there are several).")
@click.pass_context
def confirm(ctx, orders, account):
    """Confirm MALL orders (MALL's order ids)."""
    app, accounts = _accounts(ctx, account)
    if len(accounts) > 1:
        raise click.UsageError("several MALL accounts: say which with --account")
    (name, ch), = accounts.items()
    failed = 0
    for oid in orders:
        res = ch.confirm_order(oid)
        click.echo(f"{name} {oid}: " + ("confirmed" if res["ok"] else f"not confirmed: {res['error']}"))
        failed += not res["ok"]
    ch.save_quota()
    if failed:
        ctx.exit(1)
