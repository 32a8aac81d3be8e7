"""Issue 9 item 7: a fresh `marketd sandbox` start hit "database is locked" (2 of 2 tries: the
first settlement fetch ran twice, the first order sync failed) although busy_timeout is 60 s.

Every registered job, each every second, against the sandbox's fakes, while the inbox worker
applies catalog files and the fetched settlements, on a fresh database: nothing may fail.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
import tomli_w

from tests.conftest import wait_for
from tests.helpers import db_rows, file_states
from tests.samples import catalog_csv

pytestmark = pytest.mark.e2e


def registered_jobs() -> list[str]:
    from marketd.pluginhost import PluginHost

    host = PluginHost()
    host.load_entry_points()
    return sorted(spec.name for spec in host.collect("register_jobs"))


def test_every_job_runs_beside_the_inbox_worker_on_a_fresh_database(tmp_path, daemon_factory):
    from marketd.sandbox import start, stop

    state = start(tmp_path / "sb", orders=40)
    try:
        cfg = Path(state.config)
        conf = tomllib.loads(cfg.read_text())
        jobs = registered_jobs()
        assert {"amazon-orders", "amazon-settlements-fetch", "catalog-summary", "retention"} <= set(jobs)
        conf["jobs"] = {name: {"seconds": 1} for name in jobs}
        conf["daemon"].update(rescan_seconds=1.0, supervise_seconds=0.5)
        conf["inbox"] = {"defaults": {"stability_seconds": 0.3}}
        cfg.write_text(tomli_w.dumps(conf))
        root = cfg.parent
        assert not (root / "var").exists()  # a fresh database
        inbox = root / "inbox" / "catalog"
        for i in range(4):  # the worker writes while the jobs start
            (inbox / f"cat-{i}.csv").write_text(catalog_csv(1500, start=2000 * i))
        d = daemon_factory(cfg, env=state.env)

        def no_lock_error():
            log = d.output()
            assert "database is locked" not in log, log[-4000:]  # fail at once, with the log
            return True

        def every_job_ran_twice():
            no_lock_error()
            runs = dict(db_rows(root, "select job, runs from job_runs"))
            return all((runs.get(j) or 0) >= 2 for j in jobs)

        wait_for(every_job_ran_twice, 90, interval=0.5, what="every job run at least twice")
        for i in range(4, 8):  # and more files while the jobs keep running
            (inbox / f"cat-{i}.csv").write_text(catalog_csv(1500, start=2000 * i))
        wait_for(lambda: no_lock_error() and sum(
            s == "done" for n, s in file_states(root).items() if n.startswith("cat-")) == 8, 90,
            what="eight catalog files applied")
        wait_for(lambda: no_lock_error() and any(
            n.startswith("amazon-") and s == "done" for n, s in file_states(root).items()), 60,
            what="the fetched settlement applied")
        assert d.stop() == 0
        log = d.log_path.read_text(errors="replace")
        assert "database is locked" not in log and "Traceback" not in log, log[-4000:]
        failed = db_rows(root, "select job, failures, last_error from job_runs where failures > 0")
        assert failed == [], failed
        reports = db_rows(root, "select report_id, count(*) from amazon_reports group by report_id")
        assert reports and all(n == 1 for _, n in reports)
        fetched = [n for n in os.listdir(root / "inbox" / "settlements" / ".done" / os.listdir(
            root / "inbox" / "settlements" / ".done")[0]) if "__amazon-" in n]  # the other channels' payouts too
        assert len(fetched) == len(reports), fetched  # each Amazon settlement fetched (and applied) once
        assert not list((root / "inbox" / "settlements" / ".duplicate").rglob("*__*"))
        assert set(file_states(root).values()) == {"done"}
    finally:
        stop(state)
