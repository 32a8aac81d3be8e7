"""``marketd brands …``: where each brand stands, what blocks it and who must act; set a checklist
value, preview or send the monitoring, issue and rotate data-link tokens, build a week's package
or a month's statement, and look after the mail queue."""
from __future__ import annotations

import json
from datetime import date

import click

from marketd.sdk import ConfigError, build_app

from . import checklist
from .settings import brand_of, brands_of


def _today(app, brand) -> date:
    return app.clock.now().astimezone(brand.tz).date()


def _fail(exc: Exception):
    raise click.ClickException(str(exc))


def brands_commands(cli) -> None:
    @cli.group("brands", invoke_without_command=True)
    @click.pass_context
    def brands(ctx):
        """Brands: onboarding phases, go-live, data links, weekly package, statements (docs/plugins/brands.md)."""
        if ctx.invoked_subcommand is None:
            ctx.invoke(overview)

    @brands.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def overview(ctx, as_json=False):
        """One line per brand: phase, live/activated, what blocks it, who acts next."""
        from . import golive
        from .jobs import refresh_skus

        app = build_app(ctx)
        try:

            refresh_skus(app)
            out = []
            for bid, b in sorted(brands_of(app).items()):
                today = _today(app, b)
                items = checklist.rows(app.store.db, bid, b, today, app)
                block = checklist.blockers(items)
                st = golive.statuses(app.store.db, bid, b, today)
                out.append({"brand": bid, "name": b.name, "phase": checklist.phase_of(items),
                            "live": sum(s.status == "live" for s in st), "activated": len(st),
                            "overdue": sum(s.status == "overdue" for s in st), "blocking": len(block),
                            "next_actor": block[0].actor if block else "",
                            "overdue_items": sum(r.overdue for r in block)})
        finally:
            app.close()
        if as_json:
            click.echo(json.dumps(out, indent=2))
            return
        if not out:
            click.echo("no brands configured ([brands.<id>] in the config; docs/plugins/brands.md)")
        for r in out:
            click.echo(f"{r['brand']:<16} {r['phase']:<13} live {r['live']}/{r['activated']} overdue {r['overdue']:<4} "
                       f"blocking {r['blocking']} (next: {r['next_actor'] or '-'})")

    @brands.command("show")
    @click.argument("brand")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def show(ctx, brand, as_json):
        """A brand's checklist by phase (status, date, due, who acts) and its go-live summary."""
        from . import golive

        app = build_app(ctx)
        try:
            try:
                b = brand_of(app, brand)
            except ConfigError as exc:
                _fail(exc)
            db = app.store.db
            today = _today(app, b)
            items = checklist.rows(db, brand, b, today, app)
            st = golive.statuses(db, brand, b, today)
            links = db.execute("select count(*) from link_tokens where brand=? and revoked_at is null",
                               [brand]).fetchone()[0]
            data = {"brand": brand, "name": b.name, "phase": checklist.phase_of(items),
                    "blocking": [vars(r) for r in checklist.blockers(items)],
                    "checklist": [vars(r) for r in items], "golive": golive.summary(st, b.platforms),
                    "links_issued": bool(links)}
        finally:
            app.close()
        if as_json:
            click.echo(json.dumps(data, indent=2, default=str))
            return
        click.echo(f"{brand} ({b.name}): phase {data['phase']}")
        if data["blocking"]:
            click.echo("blocking the next phase:")
            for r in data["blocking"]:
                where = "/".join(x for x in (r["platform"], r["subject"]) if x)
                due = f" due {r['due']}" + (" OVERDUE" if r["overdue"] else "") if r["due"] else ""
                click.echo(f"  {r['item']}{' [' + where + ']' if where else ''}: {r['status']} -> {r['actor']}{due}")
        for phase in checklist.PHASES:
            click.echo(f"{phase}:")
            for r in data["checklist"]:
                if r["phase"] == phase:
                    where = "/".join(x for x in (r["platform"], r["subject"]) if x)
                    click.echo(f"  {'x' if r['status'] in checklist.DONE else ' '} {r['item']}"
                               f"{' [' + where + ']' if where else ''}: {r['status']}"
                               f"{' ' + r['date'] if r['date'] else ''} ({r['actor']})")
        for s in data["golive"]:
            click.echo(f"go-live {s['platform']}: {s['live']} live, {s['pending']} pending, {s['overdue']} overdue "
                       f"of {s['activated']}")
        click.echo(f"data links issued: {'yes' if data['links_issued'] else 'no'}")

    @brands.command("set")
    @click.argument("brand")
    @click.argument("key")
    @click.argument("value", required=False)
    @click.option("--platform", default="")
    @click.option("--subject", default="", help="product type (data_model)")
    @click.option("--date", "day", default=None, help="2025-01-06 or 06.01.2025 (a date alone means done)")
    @click.option("--note", default=None)
    @click.pass_context
    def set_item(ctx, brand, key, value, platform, subject, day, note):
        """Record checklist item KEY: VALUE is its status (open, requested, done, refused, n/a)."""
        app = build_app(ctx)
        try:
            try:
                b = brand_of(app, brand)
                status = value if value in checklist.STATUSES else None
                item, platform, subject, status, day = checklist.normalise(brand, b, key, platform, subject,
                                                                           status or value, day, app)
            except (ConfigError, ValueError) as exc:
                _fail(exc)
            with app.store.transaction() as db:
                changed = checklist.record(db, brand, item, platform, subject, status, day, None, note, "cli",
                                           app.clock.now().isoformat())
        finally:
            app.close()
        click.echo(f"{brand} {item}{' ' + platform if platform else ''}{' ' + subject if subject else ''}: {status}"
                   f"{' ' + day if day else ''}{'' if changed else ' (unchanged)'}")

    @brands.command("golive")
    @click.argument("brand")
    @click.option("--as-of", "as_of", default=None, help="brand-local day (default today)")
    @click.option("--send", is_flag=True, help="make the report now (once per day) and queue its mail")
    @click.pass_context
    def golive_cmd(ctx, brand, as_of, send):
        """Preview the Go Live Monitoring (or make and send it with --send)."""
        from . import mailq, monitoring

        app = build_app(ctx)
        try:
            try:
                b = brand_of(app, brand)
            except ConfigError as exc:
                _fail(exc)
            day = date.fromisoformat(as_of) if as_of else _today(app, b)
            if send:
                got = monitoring.run(app, brand, b, day)
                if got is None:
                    click.echo(f"the report for {day} exists already (not made or mailed again)")
                else:
                    mailq.send_due(app)
                    click.echo(f"made {', '.join(got['outputs'])}; {got['queued']} mail(s) queued")
                return
            data = monitoring.build(app.store.db, brand, b, day, monitoring.previous_cutoff(app.store.db, brand),
                                    app.clock.now().isoformat(), app)
        finally:
            app.close()
        for s in data["summary"]:
            click.echo(f"{s['platform']}: {s['live']} live, {s['pending']} pending, {s['overdue']} overdue of "
                       f"{s['activated']}")
        for r in data["overdue"]:
            click.echo(f"  overdue {r.sku} {r.platform}: due {r.due}, {r.days_late} working day(s) late")

    @brands.group("mail")
    def mail():
        """The brands' mail queue (addresses are never shown: only their hash)."""

    @mail.command("list")
    @click.pass_context
    def mail_list(ctx):
        from marketd.sdk import mail

        from . import mailq

        app = build_app(ctx)
        try:
            for r in mail.listing(app.store.db, mailq.ORIGIN):
                click.echo(f"{r['id']:>5} {r['state']:<9} {r['ref']} {r['kind']} to#{r['recipient_hash']}"
                           f" attempts {r['attempts']}{' - ' + r['last_error'] if r['last_error'] else ''}")
        finally:
            app.close()

    @mail.command("release")
    @click.argument("mail_id", type=int)
    @click.pass_context
    def mail_release(ctx, mail_id):
        """Send an uncertain, given-up or rejected mail again (after checking it did not arrive)."""
        from . import mailq

        app = build_app(ctx)
        try:
            ok = mailq.release(app, mail_id)
        finally:
            app.close()
        if not ok:
            raise click.ClickException(f"mail {mail_id} is not uncertain, gave_up or rejected")
        click.echo(f"mail {mail_id} queued again")

    activate_command(brands)

    from .cli_more import more_commands

    more_commands(brands)


def activate_command(brands) -> None:
    @brands.command("activate")
    @click.argument("brand")
    @click.option("--platform", "platforms", multiple=True, help="default: every platform of the brand")
    @click.option("--sku", "skus", multiple=True, help="default: every SKU of the brand")
    @click.option("--dry-run", is_flag=True)
    @click.pass_context
    def activate(ctx, brand, platforms, skus, dry_run):
        """Record the activation of the brand's ready SKUs on its approved platforms (due dates start)."""
        from . import activate as act
        from .jobs import refresh_skus

        app = build_app(ctx)
        try:
            try:
                b = brand_of(app, brand)
            except ConfigError as exc:
                _fail(exc)
            refresh_skus(app)
            got = act.activate(app, brand, b, platforms=list(platforms), skus=list(skus), dry_run=dry_run)
        finally:
            app.close()
        verb = "would activate" if dry_run else "activated"
        click.echo(f"{verb} {len(got['activated'])} SKU x platform(s); {got['already']} were active already")
        for sku, platform, why in got["skipped"][:200]:
            click.echo(f"  skipped {sku} {platform}: {why}")
        if len(got["skipped"]) > 200:
            click.echo(f"  … and {len(got['skipped']) - 200} more skipped")
