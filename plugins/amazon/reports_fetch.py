"""The ``amazon-settlements-fetch`` job: settlement reports from SP-API into ``inbox/settlements/``.

Amazon generates settlement reports by itself (they cannot be requested); the job lists the
``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`` reports in state ``DONE``, downloads each one
**once** (``amazon_reports`` remembers the report ids), gunzips it and drops the file into the
settlements inbox atomically (``.<name>.tmp`` then rename; plus the ``.done`` marker when that
inbox uses ``mode = "done_file"``). From there the normal settlement handler ingests it, so an
API download and a file saved from Seller Central take the same code path.

Accounts need ``settlements_fetch = true`` (default false, like ``orders_sync``).
"""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta
from pathlib import Path

from marketd.sdk import JobSpec, each_account, inbox_settings_for, write_atomic

from .orders import amazon_accounts
from .client import SETTLEMENT_V2

log = logging.getLogger("marketd.amazon")

JOB_NAME = "amazon-settlements-fetch"
INTERVAL = 6 * 3600
RETENTION_DAYS = 90  # Amazon keeps reports for 90 days


def _write_atomic(folder: Path, name: str, data: bytes) -> Path:
    final = folder / name
    if final.exists() and final.read_bytes() == data:
        return final
    return write_atomic(final, data)


def file_name(account: str, report: dict) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", account).strip("-").lower() or "amazon"
    return f"amazon-{slug}-settlement-{report['reportId']}.txt"


def fetch_settlements(app, channel, since=None) -> list[Path]:
    """Download the account's new settlement reports into the inbox; returns the files written."""
    # The whole window Amazon keeps is listed every time (a page or two: settlements come about
    # every 14 days), not just "since the last run": a report left over by a run that stopped at
    # the rate limit, or created late, is still found. ``amazon_reports`` makes it download once.
    now = app.clock.now()
    oldest = now - timedelta(days=RETENTION_DAYS) + timedelta(hours=1)
    backfill = now - timedelta(days=channel.settings.settlements_backfill_days)
    created_since = max(oldest, backfill)
    db = app.store.db
    done = {r["report_id"] for r in db.query("select report_id from amazon_reports where channel = ?", [channel.name])}
    reports = [r for r in channel.api.get_reports(report_types=[SETTLEMENT_V2], processing_statuses=["DONE"],
                                                  created_since=created_since)
               if r.get("reportId") not in done and r.get("reportDocumentId")]
    settings = inbox_settings_for(app, "settlements")
    folder = Path(app.inbox_dir) / "settlements"
    written = []
    for report in sorted(reports, key=lambda r: r.get("createdTime") or ""):
        if channel.max_wait is not None and channel.api.http.wait_time("getReportDocument") > channel.max_wait:
            log.info("amazon %s: %d settlement report(s) left for the next run (getReportDocument rate limit)",
                     channel.name, len(reports) - len(written))
            break
        data, _charset = channel.api.fetch_document(report["reportDocumentId"])
        name = file_name(channel.name, report)
        path = _write_atomic(folder, name, data)
        if settings.get("mode") == "done_file":
            (folder / (name + settings.get("done_suffix", ".done"))).touch()
        with app.store.transaction() as tx:
            tx["amazon_reports"].upsert({
                "channel": channel.name, "report_id": report["reportId"], "report_type": report.get("reportType"),
                "document_id": report["reportDocumentId"], "created_time": report.get("createdTime"),
                "file_name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                "fetched_at": app.clock.now().isoformat()}, pk=("channel", "report_id"))
        written.append(path)
        log.info("amazon %s: settlement report %s -> inbox/settlements/%s (%d bytes)", channel.name,
                 report["reportId"], name, len(data))
    return written


def fetch_all_settlements(app, since) -> dict:
    return each_account(app, amazon_accounts(app), lambda name, channel: len(fetch_settlements(app, channel, since)),
                        log=log, what="amazon settlement fetch", enabled=lambda channel: channel.settlements_fetch,
                        off_note="settlements_fetch is off, settlement reports are not downloaded")


def report_jobs(register) -> None:
    register(JobSpec(JOB_NAME, fetch_all_settlements, trigger="interval", seconds=INTERVAL, catch_up=True,
                     description="Amazon settlement reports (SP-API) into inbox/settlements/"))
