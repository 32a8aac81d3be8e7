"""The ``health-reports`` job: account-health reports through the channels, into ``inbox/health/``.

For each account in ``[jobs.health-reports] accounts`` whose channel declares
``capabilities.account_health``:

1. every request made on an earlier run is asked for again (``health_report_poll``); a finished
   report is written atomically into ``inbox/health/`` (0600: feedback holds rater e-mails) and
   the request is marked fetched, so the inbox handler takes it like a dropped file;
2. a kind whose last request is older than ``every_hours`` (and has none pending) is requested
   (``health_report_request``), and polled once straight away.

A crash between writing the file and marking the request leaves the request pending: the next
run writes the same name with the same bytes, which the inbox takes as a duplicate.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from marketd.sdk import ConfigError, MarketdError, TransientError, crashpoint, each_account, inbox_settings_for

from .names import file_name
from .settings import ReportsJobSettings

log = logging.getLogger("marketd.health")
JOB_NAME = "health-reports"


def job_settings(app, name: str, model):
    s = (app.config.get("jobs") or {}).get(name)
    return s if isinstance(s, model) else model()


def _write_atomic(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / name)
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return folder / name


def health_channel(app, name: str):
    ch = app.channel(name)
    caps = getattr(ch, "capabilities", None)
    if not getattr(caps, "account_health", False):
        raise ConfigError(f"[jobs.{JOB_NAME}] accounts names {name!r}, a {getattr(ch, 'type', '?')} channel that "
                          "offers no account-health reports (capabilities.account_health)")
    return ch


def collect(app, account: str, channel, row: dict) -> str:
    res = channel.health_report_poll(row["request_id"])
    state = res["state"]
    if state == "pending":
        return state
    now = app.clock.now().isoformat()
    fname, detail = None, res.get("detail")
    if state == "done":
        fname = file_name(getattr(channel, "type", "x"), account, row["kind"], row["request_id"],
                          res.get("format") or "txt")
        folder = Path(app.inbox_dir) / "health"
        _write_atomic(folder, fname, res["data"])
        if inbox_settings_for(app, "health").get("mode") == "done_file":
            (folder / (fname + inbox_settings_for(app, "health").get("done_suffix", ".done"))).touch()
        crashpoint("health_report_written")
        state = "fetched"
        log.info("health %s: %s report %s -> inbox/health/%s (%d bytes)", account, row["kind"], row["request_id"],
                 fname, len(res["data"]))
    elif state == "failed":
        log.warning("health %s: %s report %s failed: %s", account, row["kind"], row["request_id"], detail)
    with app.store.transaction() as db:
        db.execute("update health_requests set state = ?, finished_at = ?, file_name = ?, detail = ? where id = ?",
                   [state, now, fname, (detail or "")[:500], row["id"]])
    return state


def run_account(app, account: str, settings: ReportsJobSettings) -> dict:
    channel = health_channel(app, account)
    kinds = [k for k in settings.kinds if k in (getattr(channel, "health_report_kinds", ()) or ())]
    out: dict = {}
    db = app.store.db
    for row in list(db.query("select * from health_requests where account = ? and state = 'pending' order by id",
                             [account])):
        try:
            out[f"{row['kind']}:{row['request_id']}"] = collect(app, account, channel, dict(row))
        except (TransientError, ConfigError):
            raise
        except MarketdError as exc:  # refused for good (a 404 for a report Amazon dropped): not asked again
            log.warning("health %s: %s report %s refused: %s", account, row["kind"], row["request_id"], exc)
            with app.store.transaction() as tx:
                tx.execute("update health_requests set state = 'failed', finished_at = ?, detail = ? where id = ?",
                           [app.clock.now().isoformat(), str(exc)[:500], row["id"]])
            out[f"{row['kind']}:{row['request_id']}"] = "failed"
    now = app.clock.now()
    for kind in kinds:
        last = db.execute("select max(requested_at), sum(state = 'pending') from health_requests where account = ? "
                          "and kind = ?", [account, kind]).fetchone()
        if last[1]:
            continue
        if last[0] and now - datetime.fromisoformat(last[0]) < timedelta(hours=settings.every_hours):
            continue
        rid = channel.health_report_request(kind)
        with app.store.transaction() as tx:
            tx["health_requests"].insert({"account": account, "kind": kind, "request_id": str(rid), "state": "pending",
                                          "requested_at": now.isoformat()})
        row = next(db.query("select * from health_requests where account = ? and request_id = ?",
                            [account, str(rid)]))
        out[f"{kind}:{rid}"] = collect(app, account, channel, row)
    return out


def reports_job(app, since) -> dict:
    settings = job_settings(app, JOB_NAME, ReportsJobSettings)
    return each_account(app, {a: a for a in settings.accounts}, lambda account, _: run_account(app, account, settings),
                        log=log, what="health report fetch")
