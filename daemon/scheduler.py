"""Scheduled jobs on APScheduler 3.x, with our own last-success table as the source of truth.

APScheduler's default misfire grace (1 s) silently drops a run missed while the daemon was down,
and a pickled job store loses schedules when a function is renamed. So jobs live in memory,
are rebuilt from plugins at each start, and a job whose window passed since its last success
(read from ``job_runs``) runs once at start-up, however many windows were missed.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .models import JobSpec

log = logging.getLogger("marketd.scheduler")


def effective_specs(app) -> list[JobSpec]:
    """Plugin job specs with ``[jobs.<name>]`` overrides (enabled, seconds, cron) applied."""
    out = []
    for spec in app.job_specs():
        over = app.config.get("jobs", {}).get(spec.name, {})
        if "enabled" in over:
            spec.enabled = bool(over["enabled"])
        if "seconds" in over:
            spec.trigger, spec.seconds = "interval", int(over["seconds"])
        if "cron" in over:
            spec.trigger, spec.cron = "cron", dict(over["cron"])
        out.append(spec)
    return out


def make_trigger(spec: JobSpec, tz):
    if spec.trigger == "cron":
        return CronTrigger(timezone=tz, **spec.cron)
    return IntervalTrigger(seconds=spec.seconds, timezone=tz)


_CRON_ORDER = ("minute", "hour", "day", "month", "day_of_week")


def describe_schedule(spec: JobSpec) -> str:
    """``every 300s`` or a crontab-style ``cron 30 3 * * *`` (minute hour day month weekday, plus
    any ``second``/``week``/``year`` field named after it), never a Python dict."""
    if spec.trigger != "cron":
        return f"every {spec.seconds}s"
    # Read the fields back from the trigger APScheduler builds: a field left out below the most
    # significant one given is its minimum there, not "*" (``{"hour": 7}`` runs at 07:00, once;
    # printing the config as given showed ``cron * 7 * * *``, "every minute from 07:00").
    fields = {f.name: str(f) for f in CronTrigger(**dict(spec.cron or {})).fields}
    shown = [fields.pop(k) for k in _CRON_ORDER]
    extra = " ".join(f"{k}={v}" for k, v in sorted(fields.items())
                     if (k, v) not in {("second", "0"), ("week", "*"), ("year", "*")})
    return "cron " + " ".join(shown) + (f" ({extra})" if extra else "")


def missed_since(spec: JobSpec, last_success: datetime | None, now: datetime, tz) -> bool:
    """Did at least one scheduled window pass since the last successful run?"""
    if last_success is None:
        return spec.trigger == "interval"  # never ran: interval jobs start now, cron jobs wait
    if spec.trigger == "interval":
        return now - last_success >= timedelta(seconds=spec.seconds)
    nxt = make_trigger(spec, tz).get_next_fire_time(None, last_success + timedelta(seconds=1))
    return nxt is not None and nxt <= now


class JobRunner:
    def __init__(self, app):
        self.app = app
        self.tz = ZoneInfo(app.config["daemon"]["timezone"])
        self.specs = {s.name: s for s in effective_specs(app) if s.enabled}
        self._locks = {name: threading.Lock() for name in self.specs}
        self.sched: BackgroundScheduler | None = None

    def run_job(self, name: str) -> str | None:
        """Run one job now (scheduler thread or CLI); returns the error text or None.

        A second call while the job runs is skipped: never two concurrent runs of one job.
        """
        spec = self.specs[name]
        lock = self._locks[name]
        if not lock.acquire(blocking=False):
            log.info("job %s is still running; this run is skipped", name)
            return "already running"
        try:
            store = self.app.store
            row = store.job_run(name) or {}
            since = datetime.fromisoformat(row["last_success_at"]) if row.get("last_success_at") else None
            started = self.app.clock.now()
            store.job_started(name, started)
            error = None
            try:
                spec.func(self.app, since)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.exception("job %s failed", name)
            store.job_finished(name, started, self.app.clock.now(), error)
            return error
        finally:
            lock.release()

    def start(self) -> None:
        self.sched = BackgroundScheduler(
            timezone=self.tz,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 7 * 24 * 3600},
        )
        self.sched.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        now = self.app.clock.now()
        for name, spec in self.specs.items():
            trigger = make_trigger(spec, self.tz)
            row = self.app.store.job_run(name) or {}
            last = datetime.fromisoformat(row["last_success_at"]) if row.get("last_success_at") else None
            kwargs = {}
            if spec.catch_up and missed_since(spec, last, now, self.tz):
                kwargs["next_run_time"] = datetime.now(self.tz)
                if last is None:
                    log.info("job %s has not run on this instance yet: running it now", name)
                else:
                    log.info("job %s missed a run since its last success at %s: catching up once now", name,
                             last.astimezone(self.tz).isoformat(timespec="seconds"))
            self.sched.add_job(self.run_job, trigger, args=[name], id=name, name=name, replace_existing=True, **kwargs)
        self.sched.start()

    def _on_event(self, event) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run time %s", event.job_id, event.scheduled_run_time)
        else:
            log.error("job %s raised: %s", event.job_id, event.exception)

    def shutdown(self) -> None:
        if self.sched is not None:
            self.sched.shutdown(wait=True)
            self.sched = None

    def listing(self) -> list[dict]:
        rows = []
        for name, spec in sorted(self.specs.items()):
            run = self.app.store.job_run(name) or {}
            nxt = None
            if self.sched is not None:
                job = self.sched.get_job(name)
                nxt = job.next_run_time if job else None
            else:
                nxt = make_trigger(spec, self.tz).get_next_fire_time(None, datetime.now(self.tz))
            rows.append({
                "job": name, "schedule": describe_schedule(spec),
                "next_run": nxt.isoformat() if nxt else "", "last_success": run.get("last_success_at") or "",
                "last_error": run.get("last_error") or "", "description": spec.description,
            })
        return rows
