"""The brands jobs. Each runs often and asks, per brand and in the brand's own time zone, "is
something due that has not been made yet?" (a period key per report), so one schedule serves
brands in several time zones, and a run missed while the daemon was down is made on its next
pass, once.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from marketd.sdk import JobSpec

from . import checklist, skus
from .settings import WEEKDAYS, LinksSettings, MailSettings, WeeklySettings, brands_of, job_table

log = logging.getLogger("marketd.brands")


def refresh_skus(app) -> int:
    with app.store.transaction() as db:
        return skus.refresh(db, brands_of(app))


def handed_over(db, bid: str) -> bool:
    r = db.execute("select status from brand_checklist where brand=? and item='handover.partner_management' and "
                   "platform='' and subject=''", [bid]).fetchone()
    return bool(r and r[0] in checklist.DONE)


def golive_due(app, bid: str, brand, now: datetime) -> date | None:
    """The brand-local day whose monitoring is due now, or None."""
    local = now.astimezone(brand.tz)
    if WEEKDAYS[local.weekday()] not in brand.monitoring_weekdays or local.time() < brand.monitoring_at():
        return None
    db = app.store.db
    if not db.execute("select 1 from golive where brand=? limit 1", [bid]).fetchone() or handed_over(db, bid):
        return None
    return local.date()


def golive_job(app, since=None) -> dict:
    from . import mailq, monitoring

    refresh_skus(app)
    made = {}
    now = app.clock.now()
    for bid, brand in brands_of(app).items():
        day = golive_due(app, bid, brand, now)
        if day is not None:
            got = monitoring.run(app, bid, brand, day)
            if got:
                made[bid] = got["period"]
                log.info("Go Live Monitoring %s %s: %s queued mail(s)", bid, got["period"], got["queued"])
    mailq.send_due(app)
    return made


def mail_job(app, since=None) -> dict:
    from . import mailq

    return mailq.send_due(app)


def weekly_due(brand, settings: WeeklySettings, now: datetime) -> str | None:
    """The ISO week (``2025-W02``) whose package is due now: the week before the configured day."""
    local = now.astimezone(brand.tz)
    h, m = (int(x) for x in settings.time.split(":"))
    if WEEKDAYS[local.weekday()] != settings.weekday or (local.hour, local.minute) < (h, m):
        return None
    y, w, _ = (local.date() - timedelta(days=7)).isocalendar()
    return f"{y}-W{w:02d}"


def weekly_job(app, since=None) -> dict:
    from . import mailq, weekly

    refresh_skus(app)
    settings = job_table(app, "brands-weekly", WeeklySettings)
    made = {}
    due = {bid: weekly_due(brand, settings, app.clock.now()) for bid, brand in brands_of(app).items()}
    pre = {}
    for bid, brand in brands_of(app).items():
        week = due[bid]
        if week:
            if week not in pre and sum(w == week for w in due.values()) > 1:
                pre[week] = weekly.prefetch(app, week)
            got = weekly.run(app, bid, brand, week, pre=pre.get(week))
            if got:
                made[bid] = week
    mailq.send_due(app)
    return made


def links_job(app, since=None) -> dict:
    from . import links, web

    settings = job_table(app, "brands-links", LinksSettings)
    if settings.serve:
        try:
            web.ensure_serving(app, settings)
        except OSError as exc:   # the port is taken (another instance, `marketd jobs run` beside the daemon)
            log.warning("data links not served on %s:%s: %s; the files are still refreshed", settings.bind,
                        settings.port, exc)
    refresh_skus(app)
    made = {}
    now = app.clock.now()
    h, m = (int(x) for x in settings.refresh_time.split(":"))
    todo = {}
    for bid, brand in brands_of(app).items():
        if not brand.links:
            continue
        local = now.astimezone(brand.tz)
        if (local.hour, local.minute) < (h, m):
            continue
        day = local.date() - timedelta(days=1)
        if links.built_for(app, bid) != day.isoformat():
            todo[bid] = day
    pre = {}
    for bid, day in todo.items():
        if day not in pre and sum(d == day for d in todo.values()) > 1:
            pre[day] = links.prefetch(app, day)
        links.build(app, bid, brands_of(app)[bid], day, pre.get(day))
        made[bid] = day.isoformat()
    return made


def register(register_fn) -> None:
    register_fn(JobSpec("brands-golive", golive_job, trigger="interval", seconds=900, catch_up=True,
                        description="Go Live Monitoring on each brand's weekdays (default Tue/Thu), mailed"))
    register_fn(JobSpec("brands-mail", mail_job, trigger="interval", seconds=60, catch_up=True,
                        settings_model=MailSettings, description="send queued brand mails (SMTP), retry, hold uncertain"))
    register_fn(JobSpec("brands-links", links_job, trigger="interval", seconds=300, catch_up=True,
                        settings_model=LinksSettings,
                        description="serve the data links and refresh them each morning with the previous day"))
    register_fn(JobSpec("brands-weekly", weekly_job, trigger="interval", seconds=900, catch_up=True,
                        settings_model=WeeklySettings, description="weekly dashboard and six reports per brand, mailed"))
