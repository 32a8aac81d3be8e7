"""``marketd sandbox [DIR]``: run marketd against local fakes of Amazon SP-API (and the carriers).

The fakes are the ones the test-suite uses (``tests/fakes/``), served on loopback; so this
command needs a source checkout (``pip install -e .`` from a git clone). It writes
``DIR/marketd.toml`` pointing an ``amazon`` channel at the fake with ``orders_sync = true``,
``DIR/sandbox.env`` with the sandbox credentials, and keeps serving until Ctrl-C.
``--check`` instead runs one order sync and one settlement fetch in-process and exits.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

MARKER = "# written by `marketd sandbox`"
ACCOUNT = "amazon_sandbox"
SANDBOX_CREDENTIALS = {
    "client_id": "amzn1.application-oa2-client.sandbox",
    "client_secret": "sandbox-lwa-client-secret",
    "refresh_token": "Atzr|sandbox-fake",
}


def checkout_root() -> Path:
    """The source checkout holding ``tests/fakes``; a clear error when marketd is installed plainly."""
    import marketd.sdk

    package = Path(marketd.sdk.__file__).resolve().parents[1]
    root = package.parent
    if not (root / "tests" / "fakes" / "spapi.py").is_file():
        raise click.ClickException(
            f"`marketd sandbox` needs a source checkout: {root / 'tests' / 'fakes'} not found next to the "
            f"installed package ({package}). Clone the repository and install it with "
            "`pip install -e .`, then run `marketd sandbox` from there")
    return root


def load_fakes(root: Path) -> dict:
    """Import the fake modules from the checkout: {'spapi': module, 'loopback': module, 'brt'?, 'mall'?}."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    existing = sys.modules.get("tests")
    if existing is not None and getattr(existing, "__file__", None) and \
            Path(existing.__file__).resolve().parent != (root / "tests").resolve():
        raise click.ClickException(f"another package named 'tests' is already imported ({existing.__file__})")
    mods = {"spapi": importlib.import_module("tests.fakes.spapi"),
            "loopback": importlib.import_module("tests.fakes.loopback")}
    for name in ("brt", "mall"):
        if (root / "tests" / "fakes" / f"{name}.py").is_file():
            try:
                mods[name] = importlib.import_module(f"tests.fakes.{name}")
            except Exception as exc:  # optional fakes: a broken one must not stop the sandbox
                click.echo(f"note: the {name} fake could not be loaded ({exc}); continuing without it", err=True)
    return mods


def env_lines(extra: dict) -> dict:
    from .channel import env_name

    env = {env_name(ACCOUNT, "CLIENT_ID"): SANDBOX_CREDENTIALS["client_id"],
           env_name(ACCOUNT, "CLIENT_SECRET"): SANDBOX_CREDENTIALS["client_secret"],
           env_name(ACCOUNT, "REFRESH_TOKEN"): SANDBOX_CREDENTIALS["refresh_token"]}
    env.update(extra)
    return env


def start(directory: Path, *, port: int = 0, orders: int = 40, force: bool = False) -> dict:
    """Start the fakes and write the instance files; returns {'servers', 'fake', 'config', 'env', ...}."""
    import tomli_w

    from marketd.sdk import SYSTEM_CLOCK, FakeClock

    root = checkout_root()
    mods = load_fakes(root)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "marketd.toml"
    if config_path.exists() and MARKER not in config_path.read_text(encoding="utf-8", errors="replace") and not force:
        raise click.ClickException(f"{config_path} exists and was not written by `marketd sandbox`; "
                                   "choose another DIR or pass --force")
    fake = mods["spapi"].SpApiFake(SYSTEM_CLOCK, client_id=SANDBOX_CREDENTIALS["client_id"],
                                   client_secret=SANDBOX_CREDENTIALS["client_secret"],
                                   refresh_token=SANDBOX_CREDENTIALS["refresh_token"])
    fake.populate(orders, days=7)
    fake.add_settlement_report()
    servers = {"amazon": mods["loopback"].serve(fake, port=port)}
    url = servers["amazon"].url
    cfg = {
        "daemon": {"state_dir": "var", "inbox_dir": "inbox", "outbox_dir": "outbox", "log_level": "INFO"},
        "channels": {ACCOUNT: {
            "type": "amazon", "marketplace": "IT", "orders_sync": True, "settlements_fetch": True,
            "endpoint": url, "lwa_endpoint": f"{url}/auth/o2/token", "initial_days": 7}},
        "jobs": {"amazon-orders": {"seconds": 300}},
    }
    extra_env: dict = {}
    carrier_clock = FakeClock(datetime.now(timezone.utc))
    if "brt" in mods:
        brt = mods["brt"].BrtFake(carrier_clock)
        servers["brt"] = mods["loopback"].serve(brt, port=0)
        cfg.setdefault("carriers", {})["brt"] = {
            "type": "brt", "base_url": servers["brt"].url, "user_id": brt.user_id, "departure_depot": 102,
            "sender_customer_code": int(brt.user_id), "channel_carrier_code": "BRT"}
        extra_env["BRT_PASSWORD"] = brt.password
    if "mall" in mods:
        mall = mods["mall"].MallFake(carrier_clock)
        servers["mall"] = mods["loopback"].serve(mall, port=0)
        cfg.setdefault("carriers", {})["mall_delivery"] = {"type": "mall_delivery", "base_url": servers["mall"].url}
        extra_env["MALL_CLIENT_ID"] = mall.client_id
    env = env_lines(extra_env)
    config_path.write_text(f"{MARKER} on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: fakes on loopback; "
                           "rewritten on every run (ports change).\n# Sandbox credentials are in sandbox.env.\n\n"
                           + tomli_w.dumps(cfg), encoding="utf-8")
    env_path = directory / "sandbox.env"
    env_path.write_text("# sandbox-only credentials of the local fakes (not real secrets)\n"
                        + "".join(f"{k}='{v}'\n" for k, v in env.items()), encoding="utf-8")
    for sub in ("inbox/settlements", "inbox/shipments", "inbox/catalog", "outbox"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    return {"servers": servers, "fake": fake, "config": config_path, "env": env, "env_path": env_path}


def stop(state: dict) -> None:
    for served in state["servers"].values():
        served.shutdown()


def check(state: dict) -> dict:
    """One order sync and one settlement fetch through the configured channel, in-process; the
    fetched settlement files then go through the settlements inbox (claim, reconcile, reports)
    exactly as the daemon would take them."""
    from marketd.sdk import open_app, process_file

    from .orders import amazon_accounts
    from .reports_fetch import fetch_settlements

    saved = {k: os.environ.get(k) for k in state["env"]}
    os.environ.update(state["env"])
    try:
        app = open_app(state["config"])
        try:
            channel = amazon_accounts(app)[ACCOUNT]
            n = channel.sync_orders(None)
            files = fetch_settlements(app, channel, None)
            settlements = []
            if "settlements" in app.inbox_handlers():
                for f in files:
                    row = process_file(app, "settlements", f)
                    settlements.append({"file": row["name"], "state": row["state"], **(row["summary"] or {})})
            return {"orders": n, "settlement_files": [str(f) for f in files], "settlements": settlements}
        finally:
            app.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sandbox_commands(cli) -> None:
    @cli.command("sandbox")
    @click.argument("directory", type=click.Path(file_okay=False), default="sandbox")
    @click.option("--port", type=int, default=0, show_default=True, help="Port of the fake SP-API (0 = any free port).")
    @click.option("--orders", type=int, default=40, show_default=True, help="Orders in the fake marketplace at start.")
    @click.option("--check", "run_check", is_flag=True,
                  help="Sync orders and fetch settlements once in-process, print the result and exit.")
    @click.option("--force", is_flag=True, help="Overwrite DIR/marketd.toml even if it was not written by the sandbox.")
    def sandbox(directory, port, orders, run_check, force):
        """Serve fake Amazon SP-API (and carrier) endpoints on loopback and write a config for them."""
        state = start(Path(directory), port=port, orders=orders, force=force)
        try:
            if run_check:
                result = check(state)
                click.echo(f"sandbox check: {result['orders']} order(s) imported, "
                           f"{len(result['settlement_files'])} settlement file(s) in inbox/settlements/")
                for s in result.get("settlements", []):
                    if s.get("settlement_id"):
                        click.echo(f"settlement {s['settlement_id']}: {s.get('status')}, payout {s.get('total_amount')} "
                                   f"{s.get('currency') or ''}, {s.get('matched', 0)} of {s.get('orders', 0)} order(s) "
                                   f"matched; reports in {Path(state['config']).parent / 'outbox' / 'reports'}")
                    else:
                        click.echo(f"settlement file {s['file']}: {s['state']}")
                return
            cfg, env_path = state["config"], state["env_path"]
            click.echo("Fakes running on loopback:")
            for name, served in state["servers"].items():
                click.echo(f"  {name:<8} {served.url}")
            amazon = state["servers"]["amazon"].url
            click.echo(f"\nConfig: {cfg}\nCredentials (sandbox values): {env_path}\n\n"
                       "In another terminal run the daemon against them:\n\n"
                       f"  set -a; . {env_path}; set +a\n"
                       f"  marketd --config {cfg} run\n\n"
                       "or one job at a time:\n\n"
                       f"  marketd --config {cfg} jobs run amazon-orders\n"
                       f"  marketd --config {cfg} jobs run amazon-settlements-fetch\n\n"
                       "Drive the fake marketplace:\n\n"
                       f"  curl -X POST '{amazon}/__control/new_orders?n=5'   # new orders placed now\n"
                       f"  curl -X POST '{amazon}/__control/settlement'       # a new settlement report\n"
                       f"  curl '{amazon}/__control/stats'                    # calls, 429s, contract violations\n\n"
                       "Rate limits are Amazon's defaults (searchOrders: burst 20, then one call every ~3 min).\n"
                       "Ctrl-C stops the fakes.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                click.echo("stopping the fakes")
        finally:
            stop(state)
