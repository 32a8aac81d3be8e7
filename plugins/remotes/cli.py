"""``marketd remotes``: state per remote; ``pull``/``push`` now; ``hostkey`` to pin a server."""
from __future__ import annotations

import asyncio
import json
import sys

import click


def _app(ctx):
    from marketd.sdk import build_app

    return build_app(ctx)


def _remote(app, name: str):
    from .settings import remotes_of

    remotes = remotes_of(app)
    if name not in remotes:
        raise click.ClickException(f"no remote named {name!r} in {app.config.get('_path', 'the config')}; "
                                   f"configured: {', '.join(remotes) or 'none'} ([remotes.<name>], "
                                   "docs/plugins/remotes.md)")
    return remotes[name]


def _now(ctx, name: str, pulls: bool, pushes: bool) -> None:
    from .runner import run

    app = _app(ctx)
    _remote(app, name)
    report = run(app, name, force=True, wait_lock=300, pulls=pulls, pushes=pushes)
    click.echo(report.summary())
    if report.skipped and report.skipped.startswith("busy") or report.error or report.errors:
        sys.exit(1)


def remotes_commands(cli) -> None:
    @cli.group("remotes", invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def remotes(ctx, as_json):
        """SFTP servers marketd pulls from and pushes to: pending, failed, last success per remote."""
        if ctx.invoked_subcommand:
            return
        from .status import lines, overview

        app = _app(ctx)
        if as_json:
            click.echo(json.dumps(overview(app), indent=2, default=str))
            return
        text = lines(app)
        click.echo("\n".join(text) if text else "no remotes configured ([remotes.<name>], docs/plugins/remotes.md)")

    @remotes.command("pull")
    @click.argument("name")
    @click.pass_context
    def pull(ctx, name):
        """Pull every complete file of remote NAME now (all its [[pull]] folders), then archive them
        there. Works while the daemon runs (it waits for the daemon's own run of NAME to end).
        Exits 1 if anything failed."""
        _now(ctx, name, pulls=True, pushes=False)

    @remotes.command("push")
    @click.argument("name")
    @click.pass_context
    def push(ctx, name):
        """Send every queued or new outbox file for remote NAME now, failed ones included."""
        _now(ctx, name, pulls=False, pushes=True)

    @remotes.command("hostkey")
    @click.argument("name")
    @click.pass_context
    def hostkey(ctx, name):
        """Show the host key remote NAME's server offers (nothing is sent to it: no login).
        Check the fingerprint with the server's administrator before pinning it as host_key."""
        from .hostkeys import parse_pins, probe

        app = _app(ctx)
        remote = _remote(app, name)
        try:
            keys = asyncio.run(probe(remote))
        except OSError as exc:
            raise click.ClickException(f"cannot reach {remote.host}:{remote.port}: {exc}")
        pins = parse_pins(remote.host_key) if remote.host_key else None
        for key in keys:
            fp = key.get_fingerprint("sha256")
            pinned = " (pinned)" if pins and pins.matches(key) else ""
            click.echo(f"{fp}  {key.get_algorithm()}{pinned}")
            click.echo(f"  host_key = \"{key.export_public_key('openssh').decode().strip()}\"")
        if pins is None:
            click.echo(f"[remotes.{name}] pins no key yet: after checking the fingerprint out of band, add one of "
                       "the host_key lines above")
        elif not any(pins.matches(k) for k in keys):
            raise click.ClickException(f"none of these matches [remotes.{name}] host_key ({pins.describe()})")

