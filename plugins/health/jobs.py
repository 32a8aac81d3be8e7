"""The health plugin's scheduled jobs.

- ``health-reports`` (hourly): reports through the channels (:mod:`.fetch`);
- ``health-notifications`` (every minute): notifications from each account's queue (:mod:`.queue`);
- ``health-alerts`` (every minute): route new alert events, deliver by webhook / e-mail with
  retries, escalate overdue cases (:mod:`.delivery`, :mod:`.cases`);
- ``health-digest`` (daily 07:00): one digest of what is open, new and resolved (:mod:`.digest`);
- ``health-page`` (hourly): the HTML health page per account (:mod:`.page`).
"""
from __future__ import annotations

from marketd.sdk import JobSpec

from .settings import AlertsJobSettings, DigestJobSettings, QueueJobSettings, ReportsJobSettings


def _alerts(app, since):
    from .cases import escalate
    from .delivery import deliver

    return {"cases": escalate(app), **deliver(app)}


def _digest(app, since):
    from .digest import make_digest

    return make_digest(app)


def _page(app, since):
    from .page import write_pages

    return write_pages(app)


def _reports(app, since):
    from .fetch import reports_job

    return reports_job(app, since)


def _queue(app, since):
    from .queue import queue_job

    return queue_job(app, since)


def health_jobs(register) -> None:
    register(JobSpec("health-notifications", _queue, seconds=60, catch_up=False, settings_model=QueueJobSettings,
                     description="notifications from each account's queue (Amazon: SQS), deduplicated"))
    register(JobSpec("health-reports", _reports, seconds=3600, settings_model=ReportsJobSettings,
                     description="account-health reports (performance, feedback, returns) through the channels"))
    register(JobSpec("health-alerts", _alerts, seconds=60, catch_up=False, settings_model=AlertsJobSettings,
                     description="alerts: escalate overdue cases, route and deliver (webhook, e-mail) with retries"))
    register(JobSpec("health-digest", _digest, trigger="cron", cron={"hour": 7}, settings_model=DigestJobSettings,
                     description="daily health digest: new, open, resolved alerts and open cases"))
    register(JobSpec("health-page", _page, seconds=3600, description="HTML health page per account in outbox/health/"))
