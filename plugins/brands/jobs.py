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
from .settings import WEEKDAYS, LinksSettings, WeeklySettings, brands_of, job_table

log = logging.getLogger("marketd.brands")


class BrandFailures(Exception):
    """Some brands' work failed; the others' was done. The job's error names them."""


def each_brand(items, work) -> dict:
    """Run ``work(bid, x)`` for every brand: one brand's failure (a bad file, a full disk for its
    folder) is logged and the others still get their reports; the job then fails naming it."""
    made, failed = {}, {}
    for bid, x in items:
        try:
            got = work(bid, x)
        except Exception as exc:
            log.exception("brand %s: %s", bid, exc)
            failed[bid] = f"{type(exc).__name__}: {exc}"
            continue
        if got is not None:
            made[bid] = got
    if failed:
        raise BrandFailures("; ".join(f"{b}: {e}" for b, e in sorted(failed.items()))
                            + f" (done for {len(made)} other brand(s))")
    return made


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
    from . import listings_sync, mailq, monitoring

    refresh_skus(app)
    got = listings_sync.sync(app, brands_of(app))
    if any(got.values()):
        log.info("go-live from the listings work: %s activated, %s live", got["activated"], got["live"])
    now = app.clock.now()

    def one(bid, brand):
        day = golive_due(app, bid, brand, now)
        got = monitoring.run(app, bid, brand, day) if day is not None else None
        if got:
            log.info("Go Live Monitoring %s %s: %s queued mail(s)", bid, got["period"], got["queued"])
            return got["period"]
        return None

    try:
        return each_brand(brands_of(app).items(), one)
    finally:
        mailq.send_due(app)


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
    from . import finance, mailq, weekly

    refresh_skus(app)
    settings = job_table(app, "brands-weekly", WeeklySettings)
    due = {bid: weekly_due(brand, settings, app.clock.now()) for bid, brand in brands_of(app).items()}
    pre, fin = {}, {}

    def one(bid, brand):
        week = due[bid]
        if not week:
            return None
        if week not in pre and sum(w == week for w in due.values()) > 1:
            pre[week] = weekly.prefetch(app, week)
            fin[week] = finance.prefetch(app, pre[week])     # one settlements read for all brands
        return week if weekly.run(app, bid, brand, week, pre=pre.get(week), fin=fin.get(week)) else None

    try:
        return each_brand(brands_of(app).items(), one)
    finally:
        mailq.send_due(app)


def links_job(app, since=None) -> dict:
    from . import links, web

    settings = job_table(app, "brands-links", LinksSettings)
    # a port is opened only when some brand has data links: an instance without brands listens on nothing
    if settings.serve and any(brand.links for brand in brands_of(app).values()):
        try:
            web.ensure_serving(app, settings)
        except OSError as exc:   # the port is taken (another instance, `marketd jobs run` beside the daemon)
            log.warning("data links not served on %s:%s: %s; the files are still refreshed", settings.bind,
                        settings.port, exc)
    refresh_skus(app)
    now = app.clock.now()
    h, m = (int(x) for x in settings.refresh_time.split(":"))
    todo = {}
    for bid, brand in brands_of(app).items():
        if not brand.links:
            continue
        local = now.astimezone(brand.tz)
        if (local.hour, local.minute) < (h, m):
            continue
        todo[bid] = local.date() - timedelta(days=1)
    pre = {}

    def one(bid, day):
        if links.built_for(app, bid) == day.isoformat():
            return None
        if day not in pre and sum(d == day for d in todo.values()) > 1:
            pre[day] = links.prefetch(app, day)
        links.build(app, bid, brands_of(app)[bid], day, pre.get(day))
        return day.isoformat()

    return each_brand(todo.items(), one)


def register(register_fn) -> None:
    register_fn(JobSpec("brands-golive", golive_job, trigger="interval", seconds=900, catch_up=True,
                        description="Go Live Monitoring on each brand's weekdays (default Tue/Thu), mailed"))
    register_fn(JobSpec("brands-mail", mail_job, trigger="interval", seconds=60, catch_up=True,
                        description="send queued mails through the [mail] server, retry, hold uncertain"))
    register_fn(JobSpec("brands-links", links_job, trigger="interval", seconds=300, catch_up=True,
                        settings_model=LinksSettings,
                        description="serve the data links and refresh them each morning with the previous day"))
    register_fn(JobSpec("brands-weekly", weekly_job, trigger="interval", seconds=900, catch_up=True,
                        settings_model=WeeklySettings, description="weekly dashboard and six reports per brand, mailed"))
