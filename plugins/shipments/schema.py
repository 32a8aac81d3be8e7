"""Store tables of the shipments plugin (component ``shipments``).

- ``shipments``: one row per carrier shipment (one shipment-file line, or one ERP tracking
  line); ``key`` is the line's idempotency key. ``open`` is 1 while the tracking sync polls it,
  ``next_check_at`` says when.
- ``shipment_parcels``: parcel/tracking numbers and the label file written for each parcel.
- ``shipment_events``: every normalised status change (and the carrier event that caused it).
- ``shipment_pushes``: one row per (shipment, order) to confirm on the order's channel, with
  the push state machine ``waiting → pushing → pushed`` (``failed``, ``uncertain``, ``skipped``).
"""
from __future__ import annotations


def _v1(db) -> None:
    db["shipments"].create(
        {
            "key": str, "source": str, "file_id": str, "file_name": str, "line": int,
            "carrier": str, "carrier_type": str, "carrier_code": str, "carrier_label": str,
            "service": str, "label_format": str, "shipment_id": str, "tracking_number": str,
            "tracking_url": str, "parcel_count": int, "order_keys": str, "refs": str,
            "status": str, "status_at": str, "final": int, "open": int, "trackable": int,
            "channel_managed": int, "created_at": str, "updated_at": str, "first_scan_at": str,
            "delivered_at": str, "next_check_at": str, "last_checked_at": str, "checks": int,
            "pending_checks": int, "errors": int, "last_answer": str, "last_error": str,
            "alerted": str, "meta": str,
        },
        pk="key",
    )
    db["shipments"].create_index(["open", "next_check_at"])
    db["shipments"].create_index(["tracking_number"])
    db["shipments"].create_index(["carrier", "shipment_id"])
    db["shipment_parcels"].create(
        {"shipment_key": str, "n": int, "parcel_number": str, "tracking_number": str, "label_file": str},
        pk=("shipment_key", "n"),
    )
    db["shipment_events"].create(
        {"id": int, "shipment_key": str, "recorded_at": str, "old_status": str, "new_status": str,
         "event_at": str, "code": str, "description": str, "location": str, "source": str},
        pk="id",
    )
    db["shipment_events"].create_index(["shipment_key"])
    db["shipment_pushes"].create(
        {"shipment_key": str, "order_key": str, "channel": str, "order_id": str, "package_ref": str,
         "push_key": str, "state": str, "attempts": int, "owner": str, "started_at": str, "pushed_at": str,
         "next_attempt_at": str, "error": str, "response": str},
        pk=("shipment_key", "order_key"),
    )
    db["shipment_pushes"].create_index(["state", "next_attempt_at"])
    db["shipment_pushes"].create_index(["order_key"])


MIGRATIONS = [(1, _v1)]
