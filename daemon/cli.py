"""The ``marketd`` command line: init, run, status, process, requeue, plugins, report, jobs, orders.

Plugins add their own commands through the ``register_commands`` hook (``marketd orders``,
``marketd shipments`` …); ``marketd sandbox`` (``sandbox.py``) serves the fakes they register.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from functools import partial
from pathlib import Path

import click

from . import __version__
from . import config as config_mod
from .clock import shown_time
from .errors import AlreadyRunning, ConfigError, MarketdError

DEFAULT_CONFIG = "config/marketd.toml"


def find_config(explicit: str | None) -> Path:
    """``--config`` (or ``$MARKETD_CONFIG``), else ./marketd.toml, else ./config/marketd.toml.

    A config named explicitly must exist: falling back to another file would run the command
    on another instance than the one the operator meant."""
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path.resolve()
        source = "--config" if explicit != os.environ.get("MARKETD_CONFIG") else "$MARKETD_CONFIG"
        if path.is_dir():
            hint = (f"use {path / 'marketd.toml'}" if (path / "marketd.toml").is_file()
                    else f"create one with `marketd init {path}`")
            raise click.ClickException(f"{source} {explicit} is a folder, not a config file: {hint}")
        raise click.ClickException(f"config file not found: {path.resolve()} (from {source}); check the path, "
                                   "or create an instance with `marketd init DIR`")
    for candidate in ("marketd.toml", DEFAULT_CONFIG):
        if Path(candidate).is_file():
            return Path(candidate).resolve()
    raise click.ClickException(
        "no config found (looked for --config, $MARKETD_CONFIG, ./marketd.toml, ./config/marketd.toml); "
        "create an instance with `marketd init DIR`")


def _load_config(ctx: click.Context) -> dict:
    """The instance's config, read once per command line (``--config`` as given to the group)."""
    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if obj.get("cfg") is None:
        # --help is handled before --config is (eager options first): then the raw argument counts.
        explicit = (obj.get("config") or root.params.get("config_path") or root.meta.get("marketd.config_arg")
                    or os.environ.get("MARKETD_CONFIG"))
        obj["cfg"] = config_mod.load(find_config(explicit))
    return obj["cfg"]


def plugin_host(ctx: click.Context):
    """The one plugin host of this command line: the CLI's plugin commands, ``marketd plugins``
    and the App all come from it, so a plugin disabled in the config (``[plugins] disabled``) or
    by ``MARKETD_DISABLE_PLUGINS`` adds nothing anywhere. Without a readable config only the
    environment's list applies (``marketd init``, ``marketd --help`` outside an instance)."""
    from .pluginhost import PluginHost

    obj = ctx.find_root().ensure_object(dict)
    if obj.get("host") is None:
        try:
            disabled = _load_config(ctx)["plugins"]["disabled"]
        except (click.ClickException, ConfigError) as exc:
            obj["config_problem"] = exc.message if isinstance(exc, click.ClickException) else str(exc)
            disabled = []
        obj["host"] = PluginHost(disabled=disabled)
        obj["host"].load_entry_points()
    return obj["host"]


def build_app(ctx: click.Context):
    """The App for a one-shot command (plugin commands use it too, through ``marketd.sdk``)."""
    from .app import App
    from . import logs

    obj = ctx.find_root().ensure_object(dict)
    if obj.get("app") is None:
        cfg = _load_config(ctx)
        logs.setup(obj.get("log_level") or cfg["daemon"]["log_level"])
        obj["app"] = App(cfg, plugins=plugin_host(ctx))
    return obj["app"]


@contextlib.contextmanager
def exclusive(app, advice: str):
    """Hold the instance lock for a one-shot command; a running daemon owns the inboxes."""
    from .service import InstanceLock

    lock = InstanceLock(app.state_dir)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        raise click.ClickException(f"{exc}; {advice}")
    try:
        yield
    finally:
        lock.release()


def _config_argument(args: list[str]) -> str | None:
    """``--config``/``-c`` among the group's own options (before the command name), unparsed."""
    for i, arg in enumerate(args):
        if arg in ("--config", "-c"):
            return args[i + 1] if i + 1 < len(args) else None
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg.startswith("-c") and len(arg) > 2 and not arg.startswith("--"):
            return arg[2:]
        if arg == "--log-level":
            continue
        if not arg.startswith("-") and (i == 0 or args[i - 1] != "--log-level"):
            return None  # the command name: what follows is the command's own
    return None


class Group(click.Group):
    """marketd's own commands plus the plugins' (``register_commands``, added from the command
    line's one plugin host when first asked for), and marketd's errors as one clear line
    instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ConfigError, AlreadyRunning, MarketdError) as exc:
            raise click.ClickException(str(exc))

    def parse_args(self, ctx, args):
        ctx.meta["marketd.config_arg"] = _config_argument(args)
        return super().parse_args(ctx, args)

    def _plugin_commands(self, ctx: click.Context) -> dict:
        obj = ctx.find_root().ensure_object(dict)
        if obj.get("plugin_commands") is None:
            group = click.Group("marketd")
            plugin_host(ctx).hook.register_commands(cli=group)
            obj["plugin_commands"] = group.commands
        return obj["plugin_commands"]

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx, name):
        core = super().get_command(ctx, name)
        if core is not None and not isinstance(core, click.Group):
            # a core command always wins over a plugin's of the same name: asking every plugin
            # for its commands (importing their CLI modules) would only slow ``marketd process``
            return core
        extra = self._plugin_commands(ctx).get(name)
        if isinstance(core, click.Group) and isinstance(extra, click.Group):
            # A plugin adding subcommands to a core group (``marketd orders act`` from the actions
            # plugin): one group with both, the core's winning a clash; the core group is not changed.
            return click.Group(name, commands={**extra.commands, **core.commands}, help=core.help,
                               short_help=core.short_help, callback=core.callback, params=core.params,
                               invoke_without_command=core.invoke_without_command)
        return core or extra


@click.group(cls=Group)
@click.version_option(__version__, prog_name="marketd")
@click.option("--config", "-c", "config_path", envvar="MARKETD_CONFIG", metavar="FILE",
              help="The instance's marketd.toml (default: $MARKETD_CONFIG, ./marketd.toml, ./config/marketd.toml).")
@click.option("--log-level", default=None, type=click.Choice(config_mod.LOG_LEVELS[:4], case_sensitive=False),
              help="Log level for this run (default: [daemon] log_level).")
@click.pass_context
def cli(ctx, config_path, log_level):
    ctx.ensure_object(dict)
    ctx.obj["config"] = config_path
    ctx.obj["log_level"] = log_level


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing DIRECTORY/marketd.toml (folders and data are kept).")
def init(directory, force):
    """Create an instance in DIRECTORY (default: the current folder): a commented marketd.toml
    with every default, and the inbox/outbox folder tree."""
    from .app import App

    root = Path(directory).resolve()
    cfg_path = root / "marketd.toml"
    if cfg_path.exists() and not force:
        raise click.ClickException(f"{cfg_path} exists; use --force to overwrite it")
    from .outbox import ensure_dir, write_small

    ensure_dir(root)  # like every folder marketd creates: nothing for others (docs/operations.md)
    from .pluginhost import PluginHost

    host = PluginHost()  # the new instance's plugins: not any config found in the current folder
    host.load_entry_points()
    kinds = {h.kind for h in host.collect("register_inbox_handlers")}
    write_small(cfg_path, config_mod.render_starter(kinds))
    app = App(config_mod.load(cfg_path), plugins=host)
    from .inbox import InboxEngine

    engine = InboxEngine(app)
    engine.ensure_dirs()
    for sub in ("reports", "labels"):
        ensure_dir(app.outbox_dir / sub)
    app.close()
    click.echo(f"wrote {cfg_path}")
    click.echo(f"inboxes: {', '.join(sorted(engine.inboxes))} under {app.inbox_dir}")
    click.echo(f"start it with: cd {root} && marketd run")


@cli.command()
@click.pass_context
def run(ctx):
    """Run the daemon in the foreground (systemd: Type=notify).

    SIGTERM (`systemctl stop`) or Ctrl-C (SIGINT) finishes the file in hand and stops; SIGHUP re-reads
    the [inbox.*] settings."""
    from .service import Daemon

    app = build_app(ctx)
    try:
        code = Daemon(app).run()
    except AlreadyRunning as exc:
        raise click.ClickException(str(exc))
    sys.exit(code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx, as_json):
    """Files waiting (and why), in progress, retrying, failed; last processed; next scheduled jobs."""
    from .inbox.status import inbox_status
    from .scheduler import JobRunner
    from .service import InstanceLock

    app = build_app(ctx)
    pid = InstanceLock(app.state_dir).holder()
    data = {"daemon": f"running (pid {pid})" if pid else "not running",
            **inbox_status(app, daemon_running=bool(pid)), "plugin_errors": app.store.plugin_error_count(),
            "jobs": JobRunner(app).listing(), "sections": plugin_status_sections(app)}
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    when = partial(shown_time, tz=app.config["daemon"]["timezone"])
    click.echo(f"daemon:      {data['daemon']}")
    click.echo("waiting:     " + (", ".join(f"{k}={v}" for k, v in data["waiting"].items()) or "none"))
    for w in data["waiting_files"]:
        until = f" (at {when(w['until'])})" if w.get("until") else ""
        click.echo(f"  {w['kind']}/{w['name']}: {w['text']}{until}")
    click.echo(f"in progress: {len(data['in_progress'])}"
               + "".join(f"\n  {r['kind']}/{r['name']} ({r['id']}, {r['state']})" for r in data["in_progress"]))
    click.echo(f"retrying:    {len(data['retrying'])}" + "".join(
        f"\n  {r['kind']}/{r['name']} ({r['id']}): attempt {r['attempts']}"
        + (f" of {r['max_attempts']}" if r["max_attempts"] else "")
        + f", next at {when(r['next_attempt_at'])}; last error: {r['last_error'] or '-'}" for r in data["retrying"]))
    click.echo("totals:      " + (", ".join(f"{k}={v}" for k, v in sorted(data["totals"].items())) or "none"))
    failed = data["totals"].get("error", 0)
    if failed:
        click.echo(f"failed:      {failed} (see inbox/<kind>/.error/*.error.txt)")
    if data["plugin_errors"]:
        click.echo(f"bugs:        {data['plugin_errors']} file(s) failed with an internal plugin error "
                   "(plugin_error: not the files' fault; tracebacks in the daemon log)")
    click.echo("last processed:")
    for r in data["last_processed"]:
        click.echo(f"  {when(r['finished_at'])}  {_outcome_text(r):<9} {r['kind']}/{r['name']} ({r['id']})")
    click.echo("next jobs:")
    for j in data["jobs"]:
        click.echo(f"  {j['job']:<26} next {when(j['next_run'])}  last ok {when(j['last_success'])}"
                   + (f"  last error: {j['last_error']}" if j["last_error"] else ""))
    for title, lines in data["sections"].items():
        click.echo(f"{title}:" + "".join(f"\n  {line}" for line in lines))


def plugin_status_sections(app) -> dict[str, list[str]]:
    """The plugins' ``status_sections``; a plugin that raises shows one line instead of its own."""
    before = len(app.plugins.failures)
    sections: dict[str, list[str]] = {}
    for got in app.hook.status_sections(app=app):
        for title, lines in (got or {}).items():
            sections[str(title)] = [str(x) for x in ([lines] if isinstance(lines, str) else lines)]
    for failure in app.plugins.failures[before:]:
        if failure.hook == "status_sections":
            sections[failure.plugin] = [f"(status unavailable: {failure.error}; see the log)"]
    return sections


def _outcome_text(r: dict) -> str:
    if r["outcome"] == "done_all_rejected":
        return f"done, but all {r['lines']} lines rejected:"
    if r["outcome"] == "done_some_rejected":
        return f"done, {r['rejected_lines']} of {r['lines']} lines rejected:"
    if r["state"] == "error" and r.get("reason"):
        return f"error [{r['reason']}]"
    return r["state"]


def _echo_result(row: dict) -> None:
    """One line per file, its outputs, and for a rejected file the reason and its report; exit 1 then."""
    click.echo(f"{row['state']}: {row['kind']}/{row['name']} ({row['id']})")
    for out in json.loads(row["outputs"] or "[]"):
        click.echo(f"  output: {out.get('published') or out['final']}")
    if row["state"] == "error":
        err = json.loads(row["error"])
        click.echo(f"  [{err['reason']}] {err['message']}" + (f" at {err['where']}" if err.get("where") else ""))
        click.echo(f"  report: {Path(row['final_path']).with_name(Path(row['final_path']).name + '.error.txt')}")
        sys.exit(1)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", help="Inbox kind (catalog, settlements, …); default: the file's folder name.")
@click.pass_context
def process(ctx, file, kind):
    """Process one file now, through the same code path as a dropped file.

    A file from elsewhere is copied in and left where it is; a file already in its inbox
    folder is taken out of it (it ends up in .done/, .duplicate/ or .error/). The daemon must
    be stopped. Exits 1 when the file is rejected.
    """
    from .inbox import InboxEngine

    app = build_app(ctx)
    path = Path(file).resolve()
    engine = InboxEngine(app)
    kind = kind or path.parent.name
    if kind not in engine.inboxes:
        raise click.ClickException(f"unknown inbox kind {kind!r}; use --kind with one of: {', '.join(engine.inboxes)}")
    with exclusive(app, f"drop the file into {app.inbox_dir / kind} instead"):
        engine.ensure_dirs()
        engine.recover()
        row = engine.adopt(kind, path)
    _echo_result(row)


@cli.command()
@click.argument("file_id")
@click.pass_context
def requeue(ctx, file_id):
    """Process a finished file (error, duplicate or done) again under a new id, bypassing the
    same-content check. FILE_ID is the id in `marketd status` and the `<id>__` prefix of the
    file in .error/, .duplicate/ or .done/. The daemon must be stopped. Exits 1 when the file
    is rejected again."""
    from .inbox import InboxEngine

    app = build_app(ctx)
    with exclusive(app, "stop it first, or move the file back into its inbox"):
        try:
            row = InboxEngine(app).requeue(file_id)
        except (KeyError, ValueError, FileNotFoundError) as exc:
            if isinstance(exc, KeyError):
                raise click.ClickException(f"{exc.args[0]} (file ids are listed by `marketd status` and prefix "
                                           "the files in inbox/<kind>/.error/, .duplicate/ and .done/<day>/)")
            if isinstance(exc, FileNotFoundError):
                raise click.ClickException(f"{exc}: it was requeued already (use the newer id in `marketd status`) "
                                           "or moved away; to process a copy, use `marketd process FILE --kind K`")
            raise click.ClickException(str(exc))
    _echo_result(row)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins(ctx, as_json):
    """Built-in and third-party plugins with versions, and any that failed to load."""
    host = plugin_host(ctx)
    rows = [vars(i) for i in host.info]
    problem = ctx.find_root().obj.get("config_problem")
    if problem and ctx.find_root().params.get("config_path"):
        click.echo(f"warning: the config was not read, [plugins] disabled is not applied: {problem}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        origin = "built-in" if r["builtin"] else r["distribution"]
        line = f"{r['name']:<16} {r['status']:<9} {origin} {r['version']}"
        if r["error"]:
            line += f"  ({r['error']})"
        click.echo(line)


@cli.command()
@click.argument("name", required=False)
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE", help="An option of the report (repeatable).")
@click.pass_context
def report(ctx, name, options):
    """List the reports plugins provide, or build NAME now into the outbox."""
    from .settings import did_you_mean

    app = build_app(ctx)
    reports = app.reports()
    if not name:
        import inspect

        for known in sorted(reports):
            doc = (reports[known].__doc__ or "").strip().splitlines()
            # a report's options are its keyword parameters after ``app``: say how to pass them
            params = [p for p in list(inspect.signature(reports[known]).parameters.values())[1:]
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            usage = " ".join(f"--set {p.name}=…" for p in params)
            click.echo(f"{known:<26} {doc[0] if doc else ''}" + (f"  [{usage}]" if usage else ""))
        return
    if name not in reports:
        raise click.ClickException(f"no report {name!r}: {did_you_mean(name, reports) or 'known: ' + ', '.join(sorted(reports))}")
    bad = [o for o in options if "=" not in o]
    if bad:
        raise click.ClickException(f"--set {bad[0]!r}: write KEY=VALUE")
    for path in reports[name](app, **dict(o.split("=", 1) for o in options)) or []:
        click.echo(f"output: {path}")


@cli.group(invoke_without_command=True)
@click.pass_context
def jobs(ctx):
    """Scheduled jobs: schedule, next run, last success/error. `marketd jobs run NAME` runs one now."""
    if ctx.invoked_subcommand is None:
        from .scheduler import JobRunner

        app = build_app(ctx)
        when = partial(shown_time, tz=app.config["daemon"]["timezone"])
        for j in JobRunner(app).listing():
            click.echo(f"{j['job']:<26} {j['schedule']:<28} next {when(j['next_run'])}  "
                       f"last ok {when(j['last_success'])}" + (f"  error: {j['last_error']}" if j['last_error'] else ""))


@jobs.command("run")
@click.argument("name")
@click.pass_context
def jobs_run(ctx, name):
    """Run one job now, in this process (also while the daemon runs)."""
    from .scheduler import JobRunner, effective_specs

    app = build_app(ctx)
    runner = JobRunner(app)
    if name not in runner.specs:
        if name in {s.name for s in effective_specs(app)}:
            raise click.ClickException(f"job {name} is disabled ([jobs.{name}] enabled = false in "
                                       f"{app.config.get('_path', 'the config')})")
        raise click.ClickException(f"no job {name!r}; known: {', '.join(runner.specs)}")
    error = runner.run_job(name)
    if error:
        raise click.ClickException(f"job {name} failed: {error}")
    click.echo(f"job {name}: ok")


def _add_core_commands() -> None:
    from .sandbox import sandbox  # the fakes come from the plugins (register_fakes); the command is the core's

    cli.add_command(sandbox)
    from .orders_cli import orders_commands  # the orders group: list, show

    orders_commands(cli)


_add_core_commands()


def main() -> None:
    # marketd does no linear algebra: the BLAS thread pool numpy starts on import (one thread per
    # CPU) would only cost every command and the daemon start-up time (~60 ms) and memory. Set
    # before anything imports numpy; an operator's own value wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    cli(prog_name="marketd")
