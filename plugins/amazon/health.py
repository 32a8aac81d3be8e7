"""Account health through SP-API, for the health plugin (``capabilities.account_health``): the
health plugin asks ``app.channel(name).health_report_request(kind)`` and, on later runs,
``health_report_poll(request_id)``; it never imports this plugin.

Kinds and the Reports API types behind them (research content-and-health §4.2–4.4):

- ``performance``: ``GET_V2_SELLER_PERFORMANCE_REPORT`` (JSON, account statuses and metrics);
- ``feedback``: ``GET_SELLER_FEEDBACK_DATA`` (tab-separated, seller ratings);
- ``returns``: ``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`` (tab-separated).

Requesting and collecting are two steps because Amazon makes a report in minutes: a job that
slept for it would hold a worker thread, so the health plugin keeps the request id in its store
and asks again on its next run. ``CANCELLED`` is Amazon's word for "no data in the range" (an
empty report, not a failure); ``FATAL`` is a failure whose document, if any, says why.
"""
from __future__ import annotations

from datetime import datetime, timedelta

KINDS = {
    "performance": "GET_V2_SELLER_PERFORMANCE_REPORT",
    "feedback": "GET_SELLER_FEEDBACK_DATA",
    "returns": "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE",
}
KIND_OF = {v: k for k, v in KINDS.items()}
FORMATS = {"performance": "json", "feedback": "tsv", "returns": "tsv"}
# Date-ranged reports: how far back a request reaches (Amazon's returns report takes up to 60 days).
WINDOW_DAYS = {"feedback": 30, "returns": 30}


def request(api, marketplace_id: str, kind: str, now: datetime) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown account-health report kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    start = end = None
    if kind in WINDOW_DAYS:
        start, end = now - timedelta(days=WINDOW_DAYS[kind]), now
    return api.create_report(KINDS[kind], [marketplace_id], data_start=start, data_end=end)


def poll(api, report_id: str) -> dict:
    """``{"state": pending|done|empty|failed, "kind", "report_id", "data"?, "format"?, "detail"?}``."""
    rep = api.get_report(report_id)
    status = rep.get("processingStatus")
    kind = KIND_OF.get(rep.get("reportType", ""), rep.get("reportType", ""))
    out = {"kind": kind, "report_id": report_id, "created": rep.get("createdTime")}
    if status in ("IN_QUEUE", "IN_PROGRESS"):
        return {**out, "state": "pending"}
    if status == "CANCELLED":
        return {**out, "state": "empty"}
    if status == "DONE" and rep.get("reportDocumentId"):
        data, _charset = api.fetch_document(rep["reportDocumentId"])
        return {**out, "state": "done", "data": data, "format": FORMATS.get(kind, "txt")}
    detail = ""
    if rep.get("reportDocumentId"):
        detail = api.fetch_document(rep["reportDocumentId"])[0][:500].decode("utf-8", "replace")
    return {**out, "state": "failed", "detail": detail or f"processingStatus {status}"}
