"""``marketd health …``: the one health view, and the operator's actions on it."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import click

from marketd.sdk import ConfigError, build_app

from . import alerts


def _age(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if not m:
        raise click.BadParameter(f"{text!r}: write a number and d, h or m (3d, 12h)")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(days=n) if unit == "d" else timedelta(hours=n) if unit == "h" else timedelta(minutes=n)


def health_commands(cli) -> None:
    @cli.group("health", invoke_without_command=True)
    @click.option("--severity", type=click.Choice(alerts.SEVERITIES))
    @click.option("--brand")
    @click.option("--marketplace")
    @click.option("--older-than", "older", help="only alerts first seen this long ago (3d, 12h)")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def health(ctx, severity, brand, marketplace, older, as_json):
        """Open health alerts by severity (docs/plugins/health.md); subcommands act on them."""
        if ctx.invoked_subcommand:
            return
        app = build_app(ctx)
        try:
            now = app.clock.now()
            cutoff = (now - _age(older)).isoformat() if older else None
            rows = alerts.open_alerts(app.store.db, severity=severity, brand=brand, marketplace=marketplace,
                                      older_than=cutoff)
            cases = [dict(r) for r in app.store.db.query(
                "select * from health_cases where status = 'open' order by deadline")]
        finally:
            app.close()
        if as_json:
            click.echo(json.dumps({"alerts": rows, "cases": cases}, sort_keys=True, default=str))
            return
        if not rows and not cases:
            click.echo("no open health alerts")
        for r in rows:
            from datetime import datetime

            age = now - datetime.fromisoformat(r["first_seen"])
            click.echo(f"#{r['id']:<5} {r['severity']:<8} {r['account'] or '-':<12} {r['marketplace'] or '-':<14} "
                       f"{r['brand'] or '-':<10} {age.days}d  {r['title']}"
                       + (f"  (seen {r['occurrences']}x)" if r["occurrences"] > 1 else "")
                       + ("  [acked]" if r["state"] == "acked" else ""))
        for c in cases:
            overdue = c["deadline"] and c["deadline"] < now.isoformat()
            click.echo(f"case {c['id']:<14} {c['kind']:<20} deadline {(c['deadline'] or '')[:10]}"
                       f"{' OVERDUE' if overdue else ''}{' (assumed)' if c['deadline_assumed'] else ''}  {c['subject']}")

    @health.command("show")
    @click.argument("alert_id", type=int)
    @click.pass_context
    def show(ctx, alert_id):
        """One alert with its details."""
        app = build_app(ctx)
        try:
            rows = list(app.store.db.query("select * from health_alerts where id = ?", [alert_id]))
        finally:
            app.close()
        if not rows:
            raise click.ClickException(f"no alert #{alert_id}")
        r = dict(rows[0])
        r["detail"] = json.loads(r["detail"] or "{}")
        click.echo(json.dumps(r, indent=1, sort_keys=True))

    @health.command("ack")
    @click.argument("alert_id", type=int)
    @click.pass_context
    def ack(ctx, alert_id):
        """Mark an alert as seen: it stays open (and in the digest) until its condition clears."""
        app = build_app(ctx)
        try:
            with app.store.transaction() as db:
                n = db.execute("update health_alerts set state = 'acked', acked_at = ? where id = ? and state = 'open'",
                               [app.clock.now().isoformat(), alert_id]).rowcount
        finally:
            app.close()
        if not n:
            raise click.ClickException(f"no open alert #{alert_id}")
        click.echo(f"alert #{alert_id} acknowledged")

    @health.command("close")
    @click.argument("item")
    @click.option("--note", required=True, help="what was done (kept with the case)")
    @click.pass_context
    def close(ctx, item, note):
        """Close a case or compliance request (its id), or resolve an alert (#N or N), with a note."""
        if not note.strip():
            raise click.ClickException("--note must say what was done")
        from .cases import close_case

        app = build_app(ctx)
        try:
            if close_case(app, item, note):
                click.echo(f"case {item} closed")
                return
            if re.fullmatch(r"#?\d+", item):
                with app.store.transaction() as db:
                    now = app.clock.now().isoformat()
                    n = db.execute("update health_alerts set state = 'resolved', resolved_at = ?, detail = "
                                   "json_set(coalesce(detail, '{}'), '$.closed_note', ?) where id = ? and state != "
                                   "'resolved'", [now, note, int(item.lstrip("#"))]).rowcount
                if n:
                    click.echo(f"alert {item} resolved")
                    return
            raise click.ClickException(f"no open case or alert {item!r} (`marketd health` lists them)")
        finally:
            app.close()

    @health.command("report")
    @click.pass_context
    def report(ctx):
        """Write the open alerts and cases to outbox/health/ as CSV and XLSX now."""
        from .digest import write_open_report

        app = build_app(ctx)
        try:
            for p in write_open_report(app):
                click.echo(str(p))
        finally:
            app.close()

    @health.group("notifications")
    def notifications():
        """Amazon Notifications API subscriptions (SQS destination)."""

    @notifications.command("setup")
    @click.option("--account", required=True, help="the channel account")
    @click.option("--queue-arn", required=True, help="arn:aws:sqs:<region>:<aws account>:<queue>")
    @click.pass_context
    def setup(ctx, account, queue_arn):
        """Create (or reuse) the destination and subscribe to every health notification type."""
        from .notifications import setup_subscriptions

        app = build_app(ctx)
        try:
            result = setup_subscriptions(app, account, queue_arn)
        except ConfigError as exc:
            raise click.ClickException(str(exc))
        finally:
            app.close()
        for t, r in sorted(result["subscriptions"].items()):
            click.echo(f"{t}: {r['state']} {r.get('subscription_id', '')}")
        click.echo(f"destination {result['destination_id']}")

    @notifications.command("status")
    @click.option("--account", required=True)
    @click.pass_context
    def status(ctx, account):
        """The account's subscriptions as Amazon reports them."""
        from .notifications import subscriptions_status

        app = build_app(ctx)
        try:
            result = subscriptions_status(app, account)
        finally:
            app.close()
        click.echo(json.dumps(result, indent=1, sort_keys=True))
