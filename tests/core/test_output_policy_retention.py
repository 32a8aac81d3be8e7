"""Issue 16 items 3 and 4: the output conflict policies through the engine, the daily catalog
summary run twice in a day, and retention (.duplicate/, today's folder, per-inbox overrides).
Each test names the broken change it catches."""
from __future__ import annotations

import json
import os
import time


from marketd.clock import FakeClock
from marketd.hookspecs import hookimpl
from marketd.inbox import retention
from tests.helpers import engine_for


class FixedName:
    """Writes one row and a report whose name does not vary per input."""
    kind = "ledger"
    completeness = "test"

    def process(self, ctx):
        ctx.db["ledger"].insert({"file": ctx.name}, alter=True)
        ctx.output(f"reports/ledger-{ctx.stem}.txt", f"report of {ctx.file_id}\n")
        return {"rows": 1}


class FixedNamePlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(FixedName())


def run_with_existing_output(app_factory, policy):
    app, eng, clock = engine_for(app_factory, extra={"ledger": FixedNamePlugin()},
                                 daemon={"output_conflict": policy},
                                 inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    existing = app.outbox_dir / "reports" / "ledger-day.txt"
    existing.parent.mkdir(parents=True, exist_ok=True)
    existing.write_text("an earlier report\n")
    (app.inbox_dir / "ledger" / "day.txt").write_text("42\n")
    eng.scan(); clock.advance(1); eng.run_once()
    row = next(app.store.db.query("select * from files"))
    rows = app.store.db.execute("select count(*) from ledger").fetchone()[0] if "ledger" in app.store.db.table_names() else 0
    return app, row, existing, rows


def test_policy_fail_rejects_and_applies_nothing(app_factory):
    app, row, existing, rows = run_with_existing_output(app_factory, "fail")
    assert row["state"] == "error" and json.loads(row["error"])["reason"] == "output_exists"
    assert rows == 0 and existing.read_text() == "an earlier report\n"


def test_policy_replace_replaces_the_existing_output(app_factory):
    """Catches: ``replace`` behaving like ``fail``, or the staging name check ignoring the policy."""
    app, row, existing, rows = run_with_existing_output(app_factory, "replace")
    assert row["state"] == "done", row["error"]
    assert rows == 1 and existing.read_text() == f"report of {row['id']}\n"
    assert sorted(p.name for p in existing.parent.iterdir()) == ["ledger-day.txt"]  # no -1 copy, no temp
    assert json.loads(row["outputs"])[0]["published"] == str(existing)


def test_policy_rename_publishes_next_to_the_existing_output(app_factory):
    app, row, existing, rows = run_with_existing_output(app_factory, "rename")
    assert row["state"] == "done", row["error"]
    assert rows == 1 and existing.read_text() == "an earlier report\n"
    renamed = existing.with_name("ledger-day-1.txt")
    assert renamed.read_text() == f"report of {row['id']}\n"
    assert json.loads(row["outputs"])[0]["published"] == str(renamed)


def test_the_catalog_summary_runs_twice_in_one_day(app_factory):
    """Catches: the daily summary switched from ``replace`` to ``fail`` (the default policy)."""
    from marketd.scheduler import JobRunner

    app = app_factory(clock=FakeClock())
    runner = JobRunner(app)
    assert runner.run_job("catalog-summary") is None
    app.store.db["products"].insert({"sku": "NEW-1", "stock": 0}, alter=True)
    assert runner.run_job("catalog-summary") is None  # the same day: the file is replaced
    (summary,) = (app.outbox_dir / "reports").glob("catalog-summary-*.csv")
    assert summary.read_text().splitlines()[1].split(",")[:4] == ["total", "", "1", "1"]  # the second run's


# -- retention ------------------------------------------------------------------------------------

DAY = 86400


def aged(path, days):
    t = time.time() - days * DAY
    os.utime(path, (t, t))
    return path


def day_folder(app, kind, sub, name, days_old):
    d = app.inbox_dir / kind / sub / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"20200101T000000-aaaaaaaa__{kind}.csv").write_text("x")
    return aged(d, days_old)


def test_retention_prunes_old_duplicate_day_folders(app_factory):
    """Catches: ``.duplicate/`` never pruned."""
    app = app_factory(clock=FakeClock(), inbox={"defaults": {"retention_done_days": 10}})
    old = day_folder(app, "catalog", ".duplicate", "2020-01-01", 40)
    recent = day_folder(app, "catalog", ".duplicate", "2020-02-01", 5)
    assert retention.prune(app) == 1
    assert not old.exists() and recent.exists()


def test_retention_never_deletes_todays_folder(app_factory):
    """Catches: today's folder deleted (with retention 0, or an old mtime after a restore)."""
    clock = FakeClock()
    app = app_factory(clock=clock, inbox={"defaults": {"retention_done_days": 0}})
    today = clock.now().strftime("%Y-%m-%d")
    kept = day_folder(app, "catalog", ".done", today, 40)
    kept_dup = day_folder(app, "catalog", ".duplicate", today, 40)
    gone = day_folder(app, "catalog", ".done", "2020-01-01", 1)
    assert retention.prune(app) == 1
    assert kept.exists() and kept_dup.exists() and not gone.exists()


def test_retention_honours_per_inbox_overrides(app_factory):
    """Catches: [inbox.<kind>] retention ignored (only [inbox.defaults] read), for done and error."""
    app = app_factory(clock=FakeClock(), inbox={
        "defaults": {"retention_done_days": 10, "retention_error_days": 10},
        "catalog": {"retention_done_days": 100, "retention_error_days": 100}})
    kept = day_folder(app, "catalog", ".done", "2020-01-01", 40)
    pruned = day_folder(app, "shipments", ".done", "2020-01-01", 40)
    err_c = app.inbox_dir / "catalog" / ".error"
    err_s = app.inbox_dir / "shipments" / ".error"
    for folder in (err_c, err_s):  # one input rejected 40 days ago, with its two reports
        folder.mkdir(parents=True, exist_ok=True)
        for suffix in ("", ".error.txt", ".error.json"):
            p = folder / f"20200101T000000-bbbbbbbb__f.csv{suffix}"
            p.write_text("x")
            aged(p, 40)
    removed = retention.prune(app)
    assert kept.exists() and not pruned.exists()
    assert len(list(err_c.glob("20200101T000000-bbbbbbbb__*"))) == 3
    assert not list(err_s.glob("20200101T000000-bbbbbbbb__*"))
    assert removed == 1 + 3


def test_the_housekeeping_job_uses_the_inbox_retention(app_factory):
    from marketd.scheduler import JobRunner

    app = app_factory(clock=FakeClock(), inbox={"defaults": {"retention_done_days": 10}})
    old = day_folder(app, "catalog", ".done", "2020-01-01", 40)
    assert JobRunner(app).run_job("retention") is None and not old.exists()
