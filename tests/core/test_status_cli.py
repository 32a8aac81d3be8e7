"""`marketd status` and `marketd jobs` as a newcomer reads them (issue 9 item 16): a file whose
lines were all rejected is not plain "done", `--json` holds no JSON inside strings, schedules
read like crontab lines, and a fresh instance's first job run is not "missed a run since None"."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from marketd import config as config_mod
from marketd.app import App
from marketd.clock import FakeClock
from marketd.hookspecs import hookimpl
from marketd.inbox import InboxEngine
from marketd.models import JobSpec
from marketd.scheduler import JobRunner, describe_schedule
from tests.conftest import write_config


class AllRefused:
    kind = "refusing"  # its summary says every line was refused (the convention: lines, rejected)
    completeness = "test"

    def process(self, ctx):
        return {"lines": 4, "rejected": 4}


class RefusingPlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(AllRefused())


def marketd(cfg, *args):
    return subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=120, check=True, env={**os.environ}).stdout


def strings_holding_json(node) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings_holding_json(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings_holding_json(v)]
    if isinstance(node, str) and node.strip()[:1] in ("{", "["):
        try:
            json.loads(node)
            return [node]
        except ValueError:
            pass
    return []


def test_status_shows_all_rejected_files_and_its_json_has_no_json_in_strings(tmp_path):
    cfg = write_config(tmp_path / "i", inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    clock = FakeClock()
    app = App(config_mod.load(cfg), clock=clock, extra_plugins={"refusing": RefusingPlugin()})
    eng = InboxEngine(app)
    eng.ensure_dirs()
    (app.inbox_dir / "refusing" / "refused.csv").write_text("a\n1\n2\n3\n4\n")
    (app.inbox_dir / "refusing" / "empty.csv").write_text("")
    eng.scan(); clock.advance(1); eng.run_once()
    app.close()
    text = marketd(cfg, "status")
    (line,) = [ln for ln in text.splitlines() if "refused.csv" in ln]
    assert "all 4 lines rejected" in line
    (line,) = [ln for ln in text.splitlines() if "empty.csv" in ln]
    assert "error [empty_file]" in line
    data = json.loads(marketd(cfg, "status", "--json"))
    last = {r["name"]: r for r in data["last_processed"]}
    assert last["refused.csv"]["outcome"] == "done_all_rejected" and last["refused.csv"]["lines"] == 4
    assert last["empty.csv"]["reason"] == "empty_file" and "empty" in last["empty.csv"]["message"]
    assert strings_holding_json(data) == []
    assert {j["job"]: j["schedule"] for j in data["jobs"]}["retention"] == "cron 30 3 * * *"


def test_jobs_listing_reads_like_crontab(tmp_path):
    cfg = write_config(tmp_path / "i", jobs={"catalog-summary": {"cron": {"hour": 7, "minute": 15,
                                                                          "day_of_week": "mon-fri"}}})
    out = marketd(cfg, "jobs")
    assert "{" not in out and "cron 15 7 * * mon-fri" in out
    assert describe_schedule(JobSpec("x", None, seconds=300)) == "every 300s"
    assert describe_schedule(JobSpec("x", None, trigger="cron", cron={"second": 5})) == "cron * * * * * (second=5)"
    # a field left out below the most significant one given is its minimum (APScheduler's rule):
    # {"hour": 7} is once a day at 07:00, not every minute of 07:xx
    assert describe_schedule(JobSpec("x", None, trigger="cron", cron={"hour": 7})) == "cron 0 7 * * *"
    assert describe_schedule(JobSpec("x", None, trigger="cron", cron={"day": 1})) == "cron 0 0 1 * *"


def test_a_fresh_instance_says_a_job_has_not_run_yet(app_factory, caplog):
    app = app_factory()
    caplog.set_level(logging.INFO, logger="marketd.scheduler")
    runner = JobRunner(app)
    runner.specs = {n: s for n, s in runner.specs.items() if n == "catalog-summary"}
    runner.specs["catalog-summary"].trigger, runner.specs["catalog-summary"].seconds = "interval", 3600
    runner.start()
    try:
        msgs = [r.getMessage() for r in caplog.records]
        assert any("catalog-summary has not run on this instance yet: running it now" in m for m in msgs), msgs
        assert not any("None" in m for m in msgs), msgs
    finally:
        runner.shutdown()
