"""``marketd sandbox [DIR]``: the fakes every installed plugin ships, served on loopback, and an
instance configured to use them, so a newcomer sees orders arrive, settlements reconcile and
labels print without any account.

The core knows no integration by name: plugins register their fakes (``register_fakes``, a
:class:`marketd.sdk.fakes.SandboxFake` each, the fake itself shipped in the plugin's package) and
this module only serves them, merges the config each one asks for into ``DIR/marketd.toml``,
writes their sandbox credentials to ``DIR/sandbox.env``, and with ``--check`` runs every fake's
own check against an App built from that config. Every fake served is checked: one that cannot
start, has no check, or whose check fails makes ``--check`` exit non-zero, naming it.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

MARKER = "# written by `marketd sandbox`"
BASE = {"daemon": {"state_dir": "var", "inbox_dir": "inbox", "outbox_dir": "outbox", "log_level": "INFO"}}


@dataclass
class Sandbox:
    directory: Path
    config: Path
    env_path: Path
    env: dict = field(default_factory=dict)
    registered: dict = field(default_factory=dict)   # name -> SandboxFake
    fakes: dict = field(default_factory=dict)        # name -> the running fake object
    servers: dict = field(default_factory=dict)      # name -> Served
    hints: dict = field(default_factory=dict)        # name -> lines for the operator
    broken: dict = field(default_factory=dict)       # name (or plugin) -> why it is not served


@dataclass
class Outcome:
    name: str
    ok: bool
    lines: list[str] = field(default_factory=list)
    error: str = ""


def _merge(into: dict, tables: dict, path: str = "") -> None:
    """Deep-merge ``tables`` into ``into``; a key two fakes set differently is an error."""
    for key, value in tables.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, where)
        elif key in into and into[key] != value:
            raise ValueError(f"{where} is set by another fake already")
        else:
            into[key] = value


def _plugin_host():
    from .pluginhost import PluginHost

    host = PluginHost()  # the installed plugins (MARKETD_DISABLE_PLUGINS applies), not a config in the cwd
    host.load_entry_points()
    return host


def start(directory: str | Path, *, port: int = 0, orders: int = 40, force: bool = False, host=None) -> Sandbox:
    """Serve every registered fake and write the instance files; stop it with :func:`stop`.

    ``port`` 0 takes free ports; else the fakes get ``port``, ``port + 1``, … in name order."""
    import tomli_w

    from .outbox import ensure_dir, write_small
    from .sdk.fakes import SandboxOptions, serve

    host = host or _plugin_host()
    directory = Path(directory).resolve()
    config = directory / "marketd.toml"
    if config.exists() and MARKER not in config.read_text(encoding="utf-8", errors="replace") and not force:
        raise click.ClickException(f"{config} exists and was not written by `marketd sandbox`; "
                                   "choose another DIR or pass --force")
    sb = Sandbox(directory, config, directory / "sandbox.env")
    registered = host.collect_from("register_fakes")
    for failure in host.failures:
        if failure.hook == "register_fakes":
            sb.broken[f"plugin {failure.plugin}"] = f"register_fakes failed: {failure.error}"
    for plugin, spec in sorted(registered, key=lambda item: item[1].name):
        if spec.name in sb.registered:
            sb.broken[f"{spec.name} (plugin {plugin})"] = f"a fake named {spec.name!r} is registered already"
            continue
        sb.registered[spec.name] = spec
    cfg: dict = {k: dict(v) for k, v in BASE.items()}
    options = SandboxOptions(orders=orders)
    next_port = port
    try:
        for name, spec in sb.registered.items():
            try:
                fake = spec.make(options)
                served = serve(fake, port=next_port)
                next_port = next_port + 1 if port else 0
                sb.fakes[name], sb.servers[name] = fake, served
                wanted = spec.configure(fake, served.url)
                _merge(cfg, wanted.tables)
            except Exception as exc:  # one broken fake: the others are still served; --check fails on it
                sb.broken[name] = f"{type(exc).__name__}: {exc}"
                if name in sb.servers:
                    sb.servers.pop(name).shutdown()
                    sb.fakes.pop(name, None)
                continue
            sb.env.update(wanted.env)
            sb.hints[name] = list(wanted.hints)
        ensure_dir(directory)
        write_small(config, f"{MARKER} on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: fakes on loopback; "
                            "rewritten on every run (ports change).\n# Sandbox credentials are in sandbox.env.\n\n"
                    + tomli_w.dumps(cfg))
        write_small(sb.env_path, "# sandbox-only credentials of the local fakes (not real secrets)\n"
                    + "".join(f"{k}='{v}'\n" for k, v in sb.env.items()), private=True)
        kinds = {h.kind for h in host.collect("register_inbox_handlers")}
        for sub in [f"inbox/{k}" for k in sorted(kinds)] + ["outbox/reports", "outbox/labels"]:
            ensure_dir(directory / sub)
    except BaseException:
        stop(sb)
        raise
    return sb


def stop(sb: Sandbox) -> None:
    for served in sb.servers.values():
        served.shutdown()
    sb.servers.clear()


def check(sb: Sandbox) -> list[Outcome]:
    """Every fake's check, in-process, against an App on the written config; one outcome per
    fake served or broken."""
    from .app import App
    from .sdk.fakes import SandboxCheckFailed

    outcomes = [Outcome(name, False, error=why) for name, why in sb.broken.items()]
    saved = {k: os.environ.get(k) for k in sb.env}
    os.environ.update(sb.env)
    try:
        app = App.from_config_path(sb.config)
        try:
            for name, spec in sb.registered.items():
                if name in sb.broken:
                    continue
                if spec.check is None:
                    outcomes.append(Outcome(name, False, error="the plugin gives this fake no check"))
                    continue
                try:
                    outcomes.append(Outcome(name, True, list(spec.check(app, sb.fakes[name]) or [])))
                except SandboxCheckFailed as exc:
                    outcomes.append(Outcome(name, False, error=str(exc)))
                except Exception as exc:  # a check that crashes is a failed check, reported like one
                    outcomes.append(Outcome(name, False, error=f"{type(exc).__name__}: {exc}"))
        finally:
            app.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return outcomes


@click.command("sandbox")
@click.argument("directory", type=click.Path(file_okay=False), default="sandbox")
@click.option("--port", type=int, default=0, show_default=True,
              help="Port of the first fake (the others take the next ones); 0 = any free ports.")
@click.option("--orders", type=int, default=40, show_default=True, help="Orders in the fake marketplaces at start.")
@click.option("--check", "run_check", is_flag=True,
              help="Exercise every fake once through its plugin, in-process, print what happened and exit "
                   "(non-zero when any fake fails).")
@click.option("--force", is_flag=True, help="Overwrite DIR/marketd.toml even if it was not written by the sandbox.")
def sandbox(directory, port, orders, run_check, force):
    """Serve the installed plugins' fake marketplaces and carriers on loopback and write an
    instance in DIRECTORY (default ./sandbox) that uses them."""
    sb = start(directory, port=port, orders=orders, force=force)
    try:
        if run_check:
            _report(sb, check(sb))
            return
        _instructions(sb)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopping the fakes")
    finally:
        stop(sb)


def _report(sb: Sandbox, outcomes: list[Outcome]) -> None:
    for o in outcomes:
        for line in o.lines:
            click.echo(line)
        if not o.ok:
            click.echo(f"{o.name}: FAILED: {o.error}")
    failed = [o.name for o in outcomes if not o.ok]
    passed = [o.name for o in outcomes if o.ok]
    if failed or not outcomes:
        raise click.ClickException(f"sandbox check failed for {', '.join(failed) or '(no fake registered)'}"
                                   + (f"; passed: {', '.join(passed)}" if passed else ""))
    click.echo(f"sandbox check passed: {', '.join(passed)} (config {sb.config})")


def _instructions(sb: Sandbox) -> None:
    click.echo("Fakes running on loopback:")
    for name, served in sb.servers.items():
        click.echo(f"  {name:<8} {served.url}")
    for name, why in sb.broken.items():
        click.echo(f"  {name:<8} NOT SERVED: {why}")
    click.echo(f"\nConfig: {sb.config}\nCredentials (sandbox values): {sb.env_path}\n\n"
               "In another terminal run the daemon against them:\n\n"
               f"  set -a; . {sb.env_path}; set +a\n"
               f"  marketd --config {sb.config} run\n\n"
               "Drive the fakes:\n")
    for lines in sb.hints.values():
        for line in lines:
            click.echo("  " + line.replace("{config}", str(sb.config)))
    click.echo("\nCtrl-C stops the fakes.")
