"""Hooks are called through pluggy, with each plugin's failures isolated; the CLI is built from the
same plugin host as the App, so a disabled plugin adds nothing anywhere."""
from __future__ import annotations

import logging
import random

import pytest
from click.testing import CliRunner

from marketd.cli import cli
from marketd.pluginhost import PluginHost
from marketd.sdk import Address, Backoff, JobSpec, Message, ShipmentRequest, hookimpl
from tests.conftest import write_config


def _request():
    return ShipmentRequest(carrier="x", parcels=[], recipient=Address())


class Veto:
    def __init__(self, text, order_seen=None):
        self.text = text
        self.seen = order_seen if order_seen is not None else []

    @hookimpl
    def veto_shipment(self, app, order, request, carrier):
        self.seen.append(self.text)
        return Message("test", self.text)


class FirstVeto(Veto):
    @hookimpl(tryfirst=True)
    def veto_shipment(self, app, order, request, carrier):
        self.seen.append(self.text)
        return Message("test", self.text)


class LastVeto(Veto):
    @hookimpl(trylast=True)
    def veto_shipment(self, app, order, request, carrier):
        self.seen.append(self.text)
        return Message("test", self.text)


class Broken:
    @hookimpl
    def veto_shipment(self, app, order, request, carrier):
        raise RuntimeError("boom in veto")

    @hookimpl
    def register_jobs(self, register):
        register(JobSpec("half-registered", lambda app, since: None))
        raise RuntimeError("boom after registering")


class Wrapper:
    """Drops every veto that says 'ignore me' (a wrapper sees and may change the result)."""

    calls = 0

    @hookimpl(wrapper=True)
    def veto_shipment(self, app, order, request, carrier):
        Wrapper.calls += 1
        result = yield
        return [m for m in result if m.text != "ignore me"]


class BrokenWrapper:
    @hookimpl(wrapper=True)
    def veto_shipment(self, app, order, request, carrier):
        result = yield
        raise RuntimeError(f"wrapper broke after {len(result)} results")


def _call(host):
    return host.hook.veto_shipment(app=None, order={"key": "a:1"}, request=_request(), carrier=None)


def test_ordering_tryfirst_trylast_through_pluggy():
    seen: list = []
    host = PluginHost(strict=False)
    host.register(LastVeto("last", seen), "last")
    host.register(Veto("middle", seen), "middle")
    host.register(FirstVeto("first", seen), "first")
    assert [m.text for m in _call(host)] == ["first", "middle", "last"]
    assert seen == ["first", "middle", "last"]


def test_a_wrapper_hookimpl_runs_and_shapes_the_result():
    host = PluginHost(strict=False)
    host.register(Veto("keep"), "keep")
    host.register(Veto("ignore me"), "noise")
    Wrapper.calls = 0
    host.register(Wrapper(), "wrapper")
    assert [m.text for m in _call(host)] == ["keep"]
    assert Wrapper.calls == 1


def test_a_failing_plugin_is_logged_by_name_and_skipped(caplog):
    host = PluginHost(strict=False)
    host.register(Broken(), "broken")
    host.register(Veto("ok"), "fine")
    with caplog.at_level(logging.ERROR, logger="marketd.plugins"):
        assert [m.text for m in _call(host)] == ["ok"]
    assert "plugin broken: veto_shipment raised RuntimeError: boom in veto" in caplog.text
    assert [(f.plugin, f.hook) for f in host.failures] == [("broken", "veto_shipment")]


def test_a_failing_wrapper_is_skipped_and_the_result_kept(caplog):
    host = PluginHost(strict=False)
    host.register(Veto("ok"), "fine")
    host.register(BrokenWrapper(), "bad-wrapper")
    with caplog.at_level(logging.ERROR, logger="marketd.plugins"):
        assert [m.text for m in _call(host)] == ["ok"]
    assert "plugin bad-wrapper: veto_shipment raised RuntimeError: wrapper broke after 1 results" in caplog.text


def test_strict_mode_makes_a_hook_failure_fatal(monkeypatch):
    monkeypatch.setenv("MARKETD_STRICT_PLUGINS", "1")
    host = PluginHost()
    host.register(Broken(), "broken")
    with pytest.raises(RuntimeError, match="boom in veto"):
        _call(host)


def test_what_a_failing_plugin_registered_in_the_same_call_is_dropped():
    class Good:
        @hookimpl
        def register_jobs(self, register):
            register(JobSpec("good-job", lambda app, since: None))

    host = PluginHost(strict=False)
    host.register(Broken(), "broken")
    host.register(Good(), "good")
    assert [(plugin, spec.name) for plugin, spec in host.collect_from("register_jobs")] == [("good", "good-job")]


def test_event_listener_failure_never_reaches_the_caller(tmp_path, caplog):
    from marketd.sdk.testing import make_app

    got = []

    class Listener:
        @hookimpl
        def order_imported(self, app, order):
            got.append(order["order_id"])

    class BadListener:
        @hookimpl
        def order_imported(self, app, order):
            raise ValueError("listener bug")

    app = make_app(tmp_path, {"bad": BadListener(), "listener": Listener()})
    try:
        with caplog.at_level(logging.ERROR, logger="marketd.plugins"):
            app.emit("order_imported", order={"order_id": "1"})
        assert got == ["1"]
        assert "plugin bad: order_imported raised ValueError: listener bug" in caplog.text
    finally:
        app.close()


# -- the CLI and the App share one host that reads the config ---------------------------------------
def _run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_disabled_plugin_adds_no_cli_command(tmp_path):
    on = write_config(tmp_path / "on")
    assert _run("--config", str(on), "shipments", "--help").exit_code == 0
    off = write_config(tmp_path / "off", plugins={"disabled": ["shipments"]})
    res = _run("--config", str(off), "shipments")
    assert res.exit_code == 2 and "No such command 'shipments'" in res.output
    listing = _run("--config", str(off), "plugins").output
    assert any(line.startswith("shipments") and "disabled" in line for line in listing.splitlines())
    assert "shipments" not in _run("--config", str(off), "--help").output.split("Commands:")[1]


def test_env_disabled_plugin_adds_no_cli_command(tmp_path):
    cfg = write_config(tmp_path / "i")
    res = _run("--config", str(cfg), "shipments", "--help", env={"MARKETD_DISABLE_PLUGINS": "shipments"})
    assert res.exit_code == 2 and "No such command 'shipments'" in res.output
    assert _run("--config", str(cfg), "shipments", "--help").exit_code == 0


def test_a_renamed_plugins_old_name_still_disables_it(tmp_path, caplog):
    """mall_delivery became mall (a MALL channel will share it): a config written before still means it."""
    caplog.set_level(logging.WARNING, logger="marketd.plugins")
    off = write_config(tmp_path / "off", plugins={"disabled": ["mall_delivery"]})
    listing = _run("--config", str(off), "plugins").output.splitlines()
    assert any(line.split()[:2] == ["mall", "disabled"] for line in listing), listing
    assert "plugin 'mall_delivery' is now called 'mall'" in caplog.text
    on = write_config(tmp_path / "on", carriers={"m": {"type": "mall_delivery"}})  # the carrier type keeps its name
    assert any(line.split()[:2] == ["mall", "loaded"] for line in _run("--config", str(on), "plugins").output.splitlines())


def test_plugin_commands_and_the_app_use_one_host(tmp_path, monkeypatch):
    """`marketd shipments` builds its App from the very host that added the command."""
    import marketd.cli as cli_mod

    hosts = []
    real = cli_mod.plugin_host

    def spy(ctx):
        host = real(ctx)
        hosts.append(host)
        return host

    monkeypatch.setattr(cli_mod, "plugin_host", spy)
    cfg = write_config(tmp_path / "i")
    assert _run("--config", str(cfg), "shipments").exit_code == 0
    assert len(hosts) >= 2 and all(h is hosts[0] for h in hosts)


# -- one backoff ------------------------------------------------------------------------------------
def test_backoff_doubles_to_its_cap_and_never_overflows():
    b = Backoff(base=1.0, cap=900.0)
    assert [b.delay(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert b.delay(11) == 900.0 and b.delay(10 ** 6) == 900.0 and b.delay(0) == 1.0
    jittered = Backoff(base=10.0, cap=100.0, jitter=0.5)
    rng = random.Random(7)
    for n in range(1, 8):
        d = jittered.delay(n, rng)
        full = min(100.0, 10.0 * 2 ** (n - 1))
        assert full * 0.5 <= d <= full


def test_init_with_a_disabled_plugin_writes_a_config_that_loads(tmp_path):
    env = {"MARKETD_DISABLE_PLUGINS": "amazon,ebay,mall,manomano,settlements"}  # every plugin with payout formats goes too
    res = _run("init", str(tmp_path / "inst"), env=env)
    assert res.exit_code == 0, res.output
    text = (tmp_path / "inst" / "marketd.toml").read_text()
    assert "[inbox.settlements]" not in text and "[inbox.shipments]" in text
    assert _run("--config", str(tmp_path / "inst" / "marketd.toml"), "status", env=env).exit_code == 0


def test_settlement_formats_without_the_plugin_that_reads_them_stop_the_start(tmp_path):
    """Amazon, eBay, ManoMano and MALL register their payout formats; with the settlements plugin disabled nobody
    would read the files dropped for them: the start stops with a clear config error, not a silent pile."""
    assert _run("init", str(tmp_path / "inst"),
                env={"MARKETD_DISABLE_PLUGINS": "amazon,ebay,mall,manomano,settlements"}).exit_code == 0
    res = _run("--config", str(tmp_path / "inst" / "marketd.toml"), "status",
               env={"MARKETD_DISABLE_PLUGINS": "mall,manomano,settlements"})
    assert res.exit_code != 0
    assert ("plugin(s) amazon, ebay register settlement formats (amazon-flat-v1, amazon-flat-v2, "
            "ebay-finances-api, ebay-transaction-report)") in res.output
    assert "'settlements' plugin is disabled" in res.output


def test_the_sdk_re_exports_the_core_objects_themselves():
    """One implementation of each thing: the SDK names the core's objects, it does not copy them."""
    import importlib

    import marketd.sdk as sdk

    owners = {"marketd.carriers": ["Carrier", "ShipmentRequest", "TrackingStatus", "InFlight", "to_decimal"],
              "marketd.http": ["HttpClient", "RetryPolicy", "RateLimiter", "TokenBucket", "RateLimited", "utc_iso",
                               "redact_headers", "redact_url", "redact_form", "redact_text"],
              "marketd.context": ["FileContext"], "marketd.errors": ["FileRejected", "TransientError", "ConfigError"],
              "marketd.models": ["JobSpec", "Channel", "Capabilities", "Money"], "marketd.backoff": ["Backoff"],
              "marketd.money": ["parse_amount", "AmountError", "fmt", "guess_decimal_separator"],
              "marketd.tabular": ["read_table", "TableFile", "write_csv", "csv_text", "safe_cell"],
              "marketd.clock": ["Clock", "FakeClock", "SYSTEM_CLOCK"], "marketd.store": ["ThreadConnections"],
              "marketd.inbox": ["crashpoint"], "marketd.cli": ["build_app", "exclusive"],
              "marketd.hookspecs": ["hookimpl"], "marketd.settings": ["Settings", "InboxSettings", "SecretRef"]}
    for module, names in owners.items():
        for name in names:
            assert getattr(sdk, name) is getattr(importlib.import_module(module), name), name
    assert all(hasattr(sdk, name) for name in sdk.__all__)


def test_hook_calls_can_be_traced(monkeypatch, caplog):
    monkeypatch.setenv("MARKETD_TRACE_HOOKS", "1")
    host = PluginHost(strict=False)
    host.register(Veto("traced"), "tracer")
    with caplog.at_level(logging.INFO, logger="marketd.plugins"):
        _call(host)
    assert "hook veto_shipment(app, order, request, carrier) -> tracer" in caplog.text
    assert "hook veto_shipment returned [Message(carrier='test', text='traced'" in caplog.text
