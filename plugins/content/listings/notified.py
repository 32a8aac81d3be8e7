"""Audits a platform asks for: a listing changed there (Amazon's LISTINGS_ITEM_STATUS_CHANGE or
LISTINGS_ITEM_ISSUES_CHANGE), so that SKU is pulled and audited now rather than at the next daily
``listings-pull``.

The notification reaches the content plugin through the ``listing_changed`` hook (account health
ingests notifications: files in ``inbox/notifications/`` or its SQS queue; plugins never import
each other). The listener only records a request in the notification's own transaction (taken
twice, recorded once: ``source`` + SKU is the key); the ``listings-audit`` job (every minute)
pulls the named SKUs from each matching platform, audits them and writes
``deviations-<YYYYMMDD>T<HHMMSS>-skus.csv``. A platform matches when its type is the announcing
platform's, its channel is the account the notification came through (or either is unknown) and
its ``marketplace_id`` is the notification's (or either is unknown). A pull that fails leaves the
request pending for the next run.
"""
from __future__ import annotations

import json
import logging

from marketd.sdk import JobSpec, inbox_settings_for

log = logging.getLogger("marketd.content.listings")
COMPONENT = "listings_audit"


def _v1(db):
    db["listing_audit_requests"].create({"source": str, "sku": str, "platform_type": str, "account": str,
                                         "marketplace": str, "reason": str, "requested_at": str, "handled_at": str,
                                         "result": str}, pk=("source", "sku"))
    db["listing_audit_requests"].create_index(["handled_at"])


MIGRATIONS = [(1, _v1)]


def record_request(db, *, platform: str, account: str, marketplace: str, sku: str, reason: str, source: str,
                   now: str) -> None:
    db.execute("insert or ignore into listing_audit_requests (source, sku, platform_type, account, marketplace, "
               "reason, requested_at) values (?, ?, ?, ?, ?, ?, ?)",
               [source, sku, platform, account or "", marketplace or "", reason or "", now])


def matches(ps, req: dict) -> bool:
    if ps.type != req["platform_type"]:
        return False
    if req["account"] and ps.channel and ps.channel != req["account"]:
        return False
    return not (req["marketplace"] and ps.marketplace_id and ps.marketplace_id != req["marketplace"])


def audit_requested(app, since=None) -> dict:
    from . import deviations, pull

    db = app.store.db
    if not db["listing_audit_requests"].exists():
        return {}
    pending = [dict(r) for r in db.query("select * from listing_audit_requests where handled_at is null "
                                         "order by requested_at, source, sku")]
    if not pending:
        return {}
    settings = inbox_settings_for(app, "content")
    key = lambda r: (r["source"], r["sku"])  # noqa: E731
    audited, failed, out = set(), set(), {}
    for name, ps in sorted(settings.platforms.items()):
        if not settings.listings.pulled(name):
            continue
        mine = [r for r in pending if matches(ps, r)]
        if not mine:
            continue
        skus = {r["sku"] for r in mine}
        pulled = pull.pull_platform(app, name, ps, only=skus)
        if "error" in pulled:  # tried again next run
            log.warning("listings-audit %s: pull failed, %d request(s) stay pending: %s", name, len(mine),
                        pulled["error"])
            failed |= {key(r) for r in mine}
            continue
        result = deviations.run_audit(app, platforms={name}, skus=skus).get(name, {})
        out[name] = {"skus": sorted(skus), "pulled": pulled, "deviations": result.get("deviations", 0),
                     "reports": result.get("reports", [])}
        audited |= {key(r) for r in mine}
    now = app.clock.now().isoformat()
    with app.store.transaction() as tx:
        for r in pending:
            k = key(r)
            if k in failed:
                continue
            # no pulled platform matches: closed with the reason rather than retried forever
            result = {"audited": True} if k in audited else {"audited": False, "why": "no pulled platform matches"}
            tx.execute("update listing_audit_requests set handled_at = ?, result = ? where source = ? and sku = ?",
                       [now, json.dumps(result), *k])
    return out


def notified_jobs(register) -> None:
    register(JobSpec("listings-audit", audit_requested, seconds=60,
                     description="listings a platform announced as changed: pulled and audited now"))
