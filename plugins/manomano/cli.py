"""``marketd manomano``: what waits for a person (PENDING orders) and sending their decision.

- ``marketd manomano pending [--channel NAME] [--refresh] [--json]``: the PENDING orders per
  account, oldest first, with how long they have waited and the last decision tried; from the
  store (the last order sync), or asked from ManoMano first with ``--refresh``.
- ``marketd manomano accept REF…`` / ``marketd manomano refuse REF… --yes``: one call per
  account with the given orders; ManoMano's per-order answer is printed line by line. Refusing
  cannot be undone at ManoMano, so it asks for ``--yes``.

The lists come from the store (the last order sync), the decisions go to ManoMano at once;
``marketd status`` counts the waiting orders too. Buyer names are never printed.
"""
from __future__ import annotations

import json
from datetime import datetime

import click

from marketd.sdk import shown_time


def _app(ctx):
    from marketd.sdk import build_app

    return build_app(ctx)


def _accounts(app, channel: str | None) -> dict:
    from .orders import manomano_accounts

    accounts = manomano_accounts(app)
    if channel:
        if channel not in accounts:
            raise click.ClickException(f"no ManoMano account named {channel!r} (accounts: "
                                       f"{', '.join(sorted(accounts)) or 'none configured'})")
        return {channel: accounts[channel]}
    if not accounts:
        raise click.ClickException("no [channels.<name>] with type = \"manomano\" in the config")
    return accounts


def waiting(app, channel: str | None = None) -> list[dict]:
    """Every stored PENDING order of the chosen account(s), with its last decision."""
    out = []
    now = app.clock.now()
    for name, ch in _accounts(app, channel).items():
        decisions = {(r["order_reference"], r["action"]): r for r in app.store.db.query(
            "select * from manomano_decisions where channel = ?", [name])}
        for row in ch.pending_orders():
            ref = row["order_id"]
            last = decisions.get((ref, "accept")) or decisions.get((ref, "refuse"))
            since = row.get("purchased_at")
            hours = (now - datetime.fromisoformat(since)).total_seconds() / 3600 if since else None
            out.append({"channel": name, "order_reference": ref, "purchased_at": since,
                        "waiting_hours": round(hours, 1) if hours is not None else None,
                        "total": row.get("total"), "currency": row.get("currency"),
                        "items": sum(int(i.get("quantity") or 0) for i in json.loads(row.get("items") or "[]")),
                        "accept_mode": ch.accept_mode,
                        "last_decision": None if last is None else
                        f"{last['action']} {last['state']}" + (f": {last['result']}" if last.get("result") else "")})
    return out


def _owner(app, ref: str, channel: str | None) -> str:
    accounts = _accounts(app, channel)
    if len(accounts) == 1:
        return next(iter(accounts))
    marks = ",".join("?" * len(accounts))
    rows = list(app.store.db.query(f"select channel from orders where order_id = ? and channel in ({marks})",
                                   [ref, *accounts]))
    if len(rows) == 1:
        return rows[0]["channel"]
    raise click.ClickException(f"order {ref}: {'no stored order' if not rows else 'several accounts have it'}; "
                               "name the account with --channel")


def _decide(ctx, action: str, refs: tuple[str, ...], channel: str | None) -> None:
    from marketd.sdk import MarketdError

    app = _app(ctx)
    by_account: dict[str, list[str]] = {}
    for ref in refs:
        by_account.setdefault(_owner(app, ref, channel), []).append(ref)
    failed = 0
    for name, todo in by_account.items():
        try:
            results = app.channel(name).decide(action, todo, mode="manual")
        except MarketdError as exc:
            raise click.ClickException(f"{name}: {exc}")
        for ref, r in results.items():
            word = "done" if r["ok"] else "REFUSED"
            click.echo(f"{name}  {ref}  {action} {word}" + (f": {r['text']}" if r["text"] else ""))
            failed += not r["ok"]
    if failed:
        raise SystemExit(1)


def commands(cli) -> None:
    @cli.group("manomano")
    def manomano():
        """ManoMano: PENDING orders waiting for a decision, and sending it."""

    @manomano.command("pending")
    @click.option("--channel", help="One ManoMano account (default: all).")
    @click.option("--refresh", is_flag=True, help="Ask ManoMano first (one listing per account), not only the store.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def pending(ctx, channel, refresh, as_json):
        """Orders in status PENDING (accept or refuse them at ManoMano), as of the last sync."""
        from marketd.sdk import MarketdError

        app = _app(ctx)
        if refresh:
            for name, ch in _accounts(app, channel).items():
                try:
                    ch.refresh_pending()
                except MarketdError as exc:
                    raise click.ClickException(f"{name}: {exc}")
        rows = waiting(app, channel)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo("no ManoMano order waits for acceptance (as of the last order sync)")
            return
        click.echo(f"{len(rows)} ManoMano order(s) wait for acceptance:")
        for r in rows:
            hours = "-" if r["waiting_hours"] is None else f"{r['waiting_hours']:g} h"
            click.echo(f"  {r['channel']}  {r['order_reference']}  since {shown_time(r['purchased_at'], app.config['daemon']['timezone'])} ({hours})  "
                       f"{r['total'] or '-'} {r['currency'] or ''}  {r['items']} item(s)"
                       + (f"  [{r['last_decision']}]" if r["last_decision"] else ""))
        click.echo("accept with `marketd manomano accept REF...`, refuse with `marketd manomano refuse REF... --yes`")

    @manomano.command("accept")
    @click.argument("refs", nargs=-1, required=True)
    @click.option("--channel", help="The ManoMano account (needed when several have the order).")
    @click.pass_context
    def accept(ctx, refs, channel):
        """Accept PENDING orders at ManoMano (they move to PREPARATION, ready to ship)."""
        _decide(ctx, "accept", refs, channel)

    @manomano.command("refuse")
    @click.argument("refs", nargs=-1, required=True)
    @click.option("--channel", help="The ManoMano account (needed when several have the order).")
    @click.option("--yes", is_flag=True, help="Confirm: a refusal cannot be undone at ManoMano.")
    @click.pass_context
    def refuse(ctx, refs, channel, yes):
        """Refuse PENDING orders at ManoMano (cannot be undone)."""
        if not yes:
            raise click.ClickException("a refusal cannot be undone at ManoMano: add --yes to send it")
        _decide(ctx, "refuse", refs, channel)
