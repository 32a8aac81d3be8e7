"""``marketd brands`` commands for the data package and the statement: data-link tokens, a week's
dashboard and reports, a month's statement, services billed separately."""
from __future__ import annotations

from datetime import timedelta

import click

from marketd.sdk import ConfigError, build_app

from .settings import LinksSettings, brand_of, job_table


def _brand(app, bid):
    try:
        return brand_of(app, bid)
    except ConfigError as exc:
        raise click.ClickException(str(exc))


def more_commands(brands) -> None:
    @brands.command("links")
    @click.argument("brand")
    @click.pass_context
    def links_cmd(ctx, brand):
        """Whether the brand has a live token, and what its files hold (the token is never shown again)."""
        from . import links

        app = build_app(ctx)
        try:
            _brand(app, brand)
            n = app.store.db.execute("select count(*) from link_tokens where brand=? and revoked_at is null",
                                     [brand]).fetchone()[0]
            m = links.read_manifest(links.folder(app, brand))
        finally:
            app.close()
        click.echo(f"token issued: {'yes' if n else 'no (marketd brands rotate-token ' + brand + ')'}")
        if m:
            click.echo(f"files for {m['for_date']} (built {m['built_at']}):")
            for link, f in sorted(m["files"].items()):
                click.echo(f"  {link}: {f['rows']} rows, {f['bytes']} bytes")
        else:
            click.echo("no files built yet (the brands-links job builds them each morning)")

    @brands.command("rotate-token")
    @click.argument("brand")
    @click.option("--build/--no-build", default=True, help="build the files now too")
    @click.pass_context
    def rotate(ctx, brand, build):
        """Revoke the brand's data-link token and print the three new URLs (shown only now)."""
        from . import links

        app = build_app(ctx)
        try:
            b = _brand(app, brand)
            token = links.rotate(app, brand)
            if build and links.built_for(app, brand) is None:
                from .jobs import refresh_skus

                refresh_skus(app)
                links.build(app, brand, b, app.clock.now().astimezone(b.tz).date() - timedelta(days=1))
            s = job_table(app, "brands-links", LinksSettings)
        finally:
            app.close()
        base = (s.base_url or f"http://{s.bind}:{s.port}").rstrip("/")
        click.echo("new data links (the old ones stop working now); keep them secret:")
        for link in links.LINKS:
            click.echo(f"  {base}/l/{token}/{link}")

    @brands.command("report")
    @click.argument("brand")
    @click.option("--week", required=True, help="ISO week, e.g. 2025-W02")
    @click.option("--send/--no-send", default=True, help="queue the mail (once per week and contact)")
    @click.pass_context
    def report(ctx, brand, week, send):
        """Build a week's dashboard and six reports now (once: a week already made is not made again)."""
        import re

        from . import mailq, weekly
        from .jobs import refresh_skus

        if not re.match(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$", week):
            raise click.ClickException(f"--week {week!r}: write an ISO week, e.g. 2025-W02")
        app = build_app(ctx)
        try:
            b = _brand(app, brand)
            refresh_skus(app)
            got = weekly.run(app, brand, b, week, send=send)
            if got and send:
                mailq.send_due(app)
        finally:
            app.close()
        if got is None:
            click.echo(f"week {week} of {brand} was made already (not made or mailed again)")
        else:
            click.echo(f"made {len(got['outputs'])} files in {app.outbox_dir / 'brands' / brand / week}; "
                       f"{got['queued']} mail(s) queued"
                       + ("" if got["queued"] or not send else
                          f" (no 'reports' contact for {brand}: drop a contacts file with brand, role, name, email, "
                          "phone into inbox/onboarding/, see docs/plugins/brands.md)"))

    @brands.command("statement")
    @click.argument("brand")
    @click.option("--month", required=True, help="e.g. 2025-01")
    @click.option("--verify", is_flag=True, help="re-render the issued versions and compare their bytes")
    @click.option("--reissue", is_flag=True, help="the data changed since issue: issue a new version")
    @click.pass_context
    def statement_cmd(ctx, brand, month, verify, reissue):
        """Issue (or show again) the brand's settlement statement for MONTH, as PDF and XLSX."""
        import re

        from . import statement
        from .jobs import refresh_skus

        if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", month):
            raise click.ClickException(f"--month {month!r}: write YYYY-MM, e.g. 2025-01")
        app = build_app(ctx)
        try:
            b = _brand(app, brand)
            refresh_skus(app)
            if verify:
                problems = statement.verify(app, brand, b, month)
                for p in problems:
                    click.echo(p)
                if problems:
                    raise click.ClickException(f"{len(problems)} problem(s)")
                click.echo("every issued version renders to the same bytes")
                return
            try:
                got = statement.issue(app, brand, b, month, reissue=reissue)
            except statement.StatementError as exc:
                raise click.ClickException(str(exc))
        finally:
            app.close()
        click.echo(f"{got['doc_no']} (version {got['version']}{', new' if got['new'] else ', unchanged'}):")
        for cur, t in got["totals"].items():
            click.echo(f"  payout to the brand {t['payout']:.2f} {cur}"
                       + (f", carried forward {t['carried_forward']:.2f} {cur}" if t["carried_forward"] else ""))
        for p in got["outputs"]:
            click.echo(f"  {p}")

    @brands.command("service")
    @click.argument("brand")
    @click.option("--month", required=True)
    @click.option("--kind", type=click.Choice(["content", "logistics", "other"]), required=True)
    @click.option("--text", "description", required=True)
    @click.option("--amount", required=True, help="e.g. 240.00")
    @click.option("--currency", default="EUR")
    @click.pass_context
    def service(ctx, brand, month, kind, description, amount, currency):
        """Record a service billed separately (listed on the statement, not deducted)."""
        from . import statement

        app = build_app(ctx)
        try:
            _brand(app, brand)
            try:
                statement.add_service(app, brand, month, kind, description, amount, currency)
            except (statement.StatementError, ValueError) as exc:
                raise click.ClickException(str(exc))
        finally:
            app.close()
        click.echo(f"recorded {kind} {amount} {currency} for {brand} {month}")
