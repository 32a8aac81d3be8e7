import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from marketd import config as config_mod
from marketd.errors import ConfigError
from marketd.models import JobSpec
from marketd.pluginhost import PluginHost
from marketd.scheduler import JobRunner, missed_since
from marketd.hookspecs import hookimpl
from tests.helpers import install_plugin


GOOD = '''
from marketd.sdk import hookimpl

class Upper:
    kind = "notes"
    completeness = "any text"
    def process(self, ctx):
        text = ctx.path.read_text()
        ctx.output(f"reports/notes-{ctx.stem}.txt", text.upper())
        return {"chars": len(text)}

@hookimpl
def register_inbox_handlers(register):
    register(Upper())
'''

BROKEN = "raise ImportError('this plugin is broken on purpose')\n"


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site, "marketd_notes", GOOD, version="1.2.3")
    install_plugin(site, "marketd_broken", BROKEN, version="1.2.3")
    monkeypatch.syspath_prepend(str(site))
    import importlib
    importlib.invalidate_caches()
    return site


def test_third_party_plugin_loads_and_broken_one_is_reported(third_party):
    host = PluginHost()
    host.load_entry_points()
    info = {i.name: i for i in host.info}
    assert info["marketd_notes"].status == "loaded" and info["marketd_notes"].version == "1.2.3"
    assert not info["marketd_notes"].builtin
    assert info["marketd_broken"].status == "failed" and "broken on purpose" in info["marketd_broken"].error
    assert info["catalog"].builtin and info["catalog"].status == "loaded"


def test_strict_mode_makes_load_failure_fatal(third_party, monkeypatch):
    monkeypatch.setenv("MARKETD_STRICT_PLUGINS", "1")
    with pytest.raises(ImportError):
        PluginHost().load_entry_points()


def test_disable_plugins_env(third_party, monkeypatch):
    monkeypatch.setenv("MARKETD_DISABLE_PLUGINS", "marketd_broken")
    host = PluginHost()
    host.load_entry_points()
    assert {i.name: i.status for i in host.info}["marketd_broken"] == "disabled"


def test_third_party_handler_used_by_the_real_daemon(third_party, tmp_path, daemon_factory):
    from tests.conftest import write_config, wait_for
    import os

    cfg = write_config(tmp_path / "inst")
    env = {"PYTHONPATH": f"{third_party}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "plugins"], env={**os.environ, **env},
                         capture_output=True, text=True, check=True).stdout
    assert "marketd_notes" in out and "loaded" in out and "marketd_broken" in out and "failed" in out
    d = daemon_factory(cfg, env=env)
    (tmp_path / "inst" / "inbox" / "notes" / "hello.txt").write_text("hello")
    report = tmp_path / "inst" / "outbox" / "reports" / "notes-hello.txt"
    wait_for(report.exists, 20, what="third-party plugin output")
    assert report.read_text() == "HELLO"
    assert d.stop() == 0


def test_config_validation(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('[inbox.catalog]\nmode = "sometimes"\n')
    with pytest.raises(ConfigError, match="mode"):
        config_mod.load(p)
    p.write_text('[channels.amz]\ntype = "amazon"\nrefresh_token = "Atzr|abc"\n')
    with pytest.raises(ConfigError, match="environment"):
        config_mod.load(p)
    p.write_text('[daemon]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match="time zone"):
        config_mod.load(p)
    with pytest.raises(ConfigError, match="not found"):
        config_mod.load(tmp_path / "nope.toml")


def test_starter_config_is_valid_and_commented(tmp_path):
    text = config_mod.render_starter()
    assert "# Per-inbox behaviour" in text and "require_rename" in text
    p = tmp_path / "m.toml"
    p.write_text(text)
    cfg = config_mod.load(p)
    assert cfg["inbox"]["catalog"]["columns"]["Artikelnummer"] == "sku"
    assert cfg["daemon"]["state_dir"] == str(tmp_path / "var")


def test_missed_since():
    tz = timezone.utc
    daily = JobSpec("d", lambda a, s: None, trigger="cron", cron={"hour": 6})
    now = datetime(2026, 11, 5, 12, tzinfo=tz)
    assert missed_since(daily, datetime(2026, 11, 2, 7, tzinfo=tz), now, tz)  # three windows missed
    assert not missed_since(daily, datetime(2026, 11, 5, 6, 0, 1, tzinfo=tz), now, tz)
    every = JobSpec("i", lambda a, s: None, seconds=300)
    assert missed_since(every, None, now, tz)
    assert not missed_since(every, now - timedelta(seconds=100), now, tz)


class Jobs:
    calls = []
    ran = None  # a threading.Event set by each run

    @hookimpl
    def register_jobs(self, register):
        register(JobSpec("daily-x", Jobs.run, trigger="cron", cron={"hour": 6}))

    @staticmethod
    def run(app, since):
        Jobs.calls.append(since)
        Jobs.ran.set()


def test_catch_up_runs_once_with_since(app_factory):
    import threading

    Jobs.calls = []
    Jobs.ran = threading.Event()
    app = app_factory(extra_plugins={"jobs": Jobs()})
    last = datetime.now(timezone.utc) - timedelta(days=3)
    app.store.job_started("daily-x", last)
    app.store.job_finished("daily-x", last, last, None)
    runner = JobRunner(app)
    runner.start()
    try:
        assert Jobs.ran.wait(60), "the catch-up did not run"
        # once the catch-up was handed out, the next run is the cron's next 06:00, not "now"
        # again: the deterministic form of "no second catch-up" (no sleeping to see if one comes)
        next_run = runner.sched.get_job("daily-x").next_run_time
    finally:
        runner.shutdown()  # waits for the running job
    assert next_run > datetime.now(timezone.utc) and (next_run.hour, next_run.minute) == (6, 0)
    assert len(Jobs.calls) == 1 and Jobs.calls[0] == last  # one catch-up for three missed days
    assert app.store.job_run("daily-x")["last_success_at"] > last.isoformat()


def test_never_two_concurrent_runs(app_factory):
    import threading

    gate, in_job = threading.Event(), threading.Event()
    started = []

    class Slow:
        @hookimpl
        def register_jobs(self, register):
            register(JobSpec("slow", lambda app, since: (started.append(1), in_job.set(), gate.wait(60)),
                             seconds=3600))

    app = app_factory(extra_plugins={"slow": Slow()})
    runner = JobRunner(app)
    t = threading.Thread(target=runner.run_job, args=["slow"])
    t.start()
    assert in_job.wait(60), "the first run never started"
    assert runner.run_job("slow") == "already running"
    gate.set()
    t.join()
    assert len(started) == 1


def test_failing_job_recorded_not_fatal(app_factory):
    class Bad:
        @hookimpl
        def register_jobs(self, register):
            register(JobSpec("bad", lambda app, since: 1 / 0, seconds=60))

    app = app_factory(extra_plugins={"bad": Bad()})
    runner = JobRunner(app)
    assert "ZeroDivisionError" in runner.run_job("bad")
    row = app.store.job_run("bad")
    assert row["failures"] == 1 and row["last_success_at"] is None
