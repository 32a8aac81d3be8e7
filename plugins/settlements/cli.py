"""``marketd settlements`` (list, show, forget): the payouts of every channel and their check."""
from __future__ import annotations

import json

import click

LIST_COLUMNS = ("payout_key", "channel", "paid_at", "stated_total", "computed_total", "difference", "status",
                "orders", "matched", "unmatched", "file_name")


def _app(ctx):
    from marketd.sdk import build_app

    return build_app(ctx)


def find_payouts(db, ident: str) -> list[dict]:
    """A payout by its key (``amazon:24288684721``) or by its bare id when that is unique across
    channel types (so ``settlements show 24288684721`` works as it always did)."""
    if "payouts" not in db.table_names():
        return []
    rows = list(db.query("select * from payouts where payout_key = ?", [ident]))
    return rows or list(db.query("select * from payouts where payout_id = ? order by payout_key", [ident]))


def one_payout(db, ident: str) -> dict:
    rows = find_payouts(db, ident)
    if not rows:
        raise click.ClickException(f"no payout {ident} (see `marketd settlements`)")
    if len(rows) > 1:
        raise click.ClickException(f"{ident} names {len(rows)} payouts ({', '.join(r['payout_key'] for r in rows)}): "
                                   "give the payout key")
    return rows[0]


def settlement_commands(cli) -> None:
    @cli.group("settlements", invoke_without_command=True)
    @click.option("--channel", help="Only this account or channel type (amazon, ebay …).")
    @click.option("--status", help="Only payouts with this check status (ok, inconsistent, unchecked, open).")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.option("--limit", default=50, show_default=True)
    @click.pass_context
    def settlements(ctx, channel, status, as_json, limit):
        """Payouts of every channel: stated and computed total, difference, check status, orders matched."""
        if ctx.invoked_subcommand:
            return
        db = _app(ctx).store.db
        rows = []
        if "payouts" in db.table_names():
            where, params = [], []
            if channel:
                where.append("(channel = ? or channel_type = ? or instr(',' || coalesce(match_channels, '') || ',', "
                             "',' || ? || ',') > 0)")
                params += [channel, channel, channel]
            if status:
                where.append("status = ?")
                params.append(status)
            rows = list(db.query(
                "select * from payouts" + (" where " + " and ".join(where) if where else "")
                + " order by coalesce(paid_at, period_end, ingested_at) desc, pid desc limit ?", [*params, limit]))
        if as_json:
            for r in rows:
                r["meta"] = json.loads(r["meta"] or "{}")
                r["warnings"] = json.loads(r["warnings"] or "[]")
            click.echo(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            click.echo("no payouts")
            return
        click.echo(f"{'payout':28} {'channel':12} {'paid':10} {'stated':>14} {'computed':>14} {'cur':4} "
                   f"{'difference':>10} {'status':12} {'orders':>7} {'matched':>7} {'unmatched':>9}  file")
        for r in rows:
            click.echo(f"{r['payout_key']:28} {(r['channel'] or r['match_channels'] or '')[:12]:12} "
                       f"{(r['paid_at'] or r['period_end'] or '')[:10]:10} {r['stated_total'] or '-':>14} "
                       f"{r['computed_total'] or '':>14} {(r['currency'] or ''):4} {r['difference'] or '-':>10} "
                       f"{r['status']:12} {r['orders'] or 0:>7} {r['matched'] or 0:>7} {r['unmatched'] or 0:>9}  "
                       f"{r['file_name'] or ''}")

    @settlements.command("show")
    @click.argument("payout")
    @click.pass_context
    def show(ctx, payout):
        """One payout (by key, or by its id when unique): totals by category and the check."""
        row = one_payout(_app(ctx).store.db, payout)
        for k, v in row.items():
            if k.endswith("_e4") or k == "pid":
                continue
            click.echo(f"{k:20} {v if v is not None else ''}")

    @settlements.command("forget")
    @click.argument("payout")
    @click.pass_context
    def forget(ctx, payout):
        """Remove an applied payout and its per-order money (to apply a corrected copy)."""
        from marketd.sdk import exclusive

        from .apply import forget as forget_payout

        app = _app(ctx)
        with exclusive(app, "stop the daemon first (systemctl stop marketd)"):
            with app.store.transaction() as db:
                row = one_payout(db, payout)
                n = forget_payout(db, row["pid"])
                db.conn.execute("delete from business_keys where key = ?", [row["business_key"]])
        click.echo(f"payout {row['payout_key']} forgotten (its money for {n} stored order(s) removed); drop the "
                   "corrected file into inbox/settlements/ (or `marketd requeue FILE_ID`)")
