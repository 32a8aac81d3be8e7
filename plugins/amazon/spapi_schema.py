"""Tables of the SP-API side of the Amazon plugin (component ``amazon_spapi``).

The settlement-file side of the same package owns its own component, so the two never collide
on migration version numbers.
"""
from __future__ import annotations

COMPONENT = "amazon_spapi"


def _v1(db) -> None:
    # Per-account order watermark: the next searchOrders asks lastUpdatedAfter = synced_until - overlap.
    # resume_*: a pass stopped early by the rate limit continues from its paginationToken next run.
    db["amazon_order_sync"].create(
        {"channel": str, "synced_until": str, "last_run_at": str, "orders_seen": int, "last_error": str,
         "resume_token": str, "resume_after": str, "resume_watermark": str, "resume_started_at": str},
        pk="channel")
    # One row per confirmed (or refused) package: confirmShipment is sent once per package.
    db["amazon_confirmations"].create(
        {"channel": str, "order_id": str, "package_ref": str, "tracking_number": str, "carrier_code": str,
         "body_sha256": str, "state": str, "status": int, "errors": str, "request_id": str, "updated_at": str},
        pk=("channel", "order_id", "package_ref"))
    db["amazon_confirmations"].create_index(["channel", "order_id", "tracking_number"])
    # Settlement reports already dropped into inbox/settlements/ (downloaded once each).
    db["amazon_reports"].create(
        {"channel": str, "report_id": str, "report_type": str, "document_id": str, "created_time": str,
         "file_name": str, "sha256": str, "size": int, "fetched_at": str},
        pk=("channel", "report_id"))


MIGRATIONS = [(1, _v1)]
