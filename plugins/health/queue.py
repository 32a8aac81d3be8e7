"""The ``health-notifications`` job: notifications from each account's queue (Amazon: SQS),
through the channel (``notifications_receive`` / ``notifications_delete``).

Per batch: parse → record and apply in one transaction (the same path as a dropped file, with
the same (type, id) dedupe) → only then delete the messages. A crash between commit and delete
means SQS delivers them again, and the dedupe makes that a no-op. A message that cannot be parsed
stays in the queue (another try after its visibility timeout); once SQS has delivered it more
than ``max_receives`` times it is written to ``<state_dir>/health/rejected/<message id>.json``
(0600), deleted, and logged as an error, so one bad message never blocks the queue.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from marketd.sdk import (ConfigError, FileRejected, crashpoint, each_account,
                         inbox_settings_for)

from .fetch import job_settings
from .jsonfile import loads
from .notifications import _account, normalise, take
from .settings import QueueJobSettings

log = logging.getLogger("marketd.health")
JOB = "health-notifications"


def _reject(app, msg: dict, why: str) -> None:
    folder = Path(app.state_dir) / "health" / "rejected"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (str(msg["id"]).replace("/", "_") + ".json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"message_id": msg["id"], "reason": why, "body": msg["body"]}, fh)
    log.error("health: notification message %s rejected after %d deliveries (%s); kept in %s", msg["id"],
              msg["receive_count"], why, path)


def drain(app, account: str, s: QueueJobSettings) -> dict:
    ch = app.channel(account)
    if not hasattr(ch, "notifications_receive"):
        raise ConfigError(f"[jobs.{JOB}] accounts names {account!r}, whose channel has no notification queue")
    settings = inbox_settings_for(app, "notifications")
    out = {"messages": 0, "new": 0, "duplicates": 0, "rejected": 0, "left": 0}
    for _ in range(s.max_batches):
        msgs = ch.notifications_receive(10, s.wait_seconds, s.visibility_seconds)
        if not msgs:
            break
        done, parsed = [], []
        for m in msgs:
            out["messages"] += 1
            try:
                doc = loads(m["body"] or "", "SQS message")
                parsed.append((m, normalise(doc), doc))
            except FileRejected as exc:
                why = exc.message
                if m["receive_count"] > s.max_receives:
                    _reject(app, m, why)
                    done.append(m["handle"])
                    out["rejected"] += 1
                else:
                    out["left"] += 1
        from .listing_state import prefetch

        prefetch(app, account, [n for _, n, _ in parsed])  # network before the write transaction
        with app.store.transaction() as db:
            for m, n, doc in parsed:
                acct = _account(app, {"accounts_by_seller": settings.get("accounts_by_seller") or {}, "account": account},
                                n["payload"])
                r = take(app, db, n, acct, f"sqs:{m['id']}", json.dumps(doc, sort_keys=True)[:20000])
                out["duplicates" if r is None else "new"] += 1
                done.append(m["handle"])
        crashpoint("health_sqs_committed")
        if done:
            ch.notifications_delete(done)
    return out


def queue_job(app, since) -> dict:
    s = job_settings(app, JOB, QueueJobSettings)
    return each_account(app, {a: a for a in s.accounts}, lambda account, _: drain(app, account, s), log=log,
                        what="health notification queue")
