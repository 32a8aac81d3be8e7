"""Rows of the shipments tables, built in one place for the shipments and tracking inboxes."""
from __future__ import annotations

import json
from datetime import datetime

SHIPMENT_DEFAULTS = {
    "source": "file", "file_id": None, "file_name": None, "line": None, "carrier": "", "carrier_type": "",
    "carrier_code": "", "carrier_label": "", "service": "", "label_format": "", "shipment_id": "",
    "tracking_number": "", "tracking_url": "", "parcel_count": 1, "order_keys": "[]", "refs": "[]",
    "status": "pending", "status_at": None, "final": 0, "open": 1, "trackable": 1, "channel_managed": 0,
    "created_at": None, "updated_at": None, "first_scan_at": None, "delivered_at": None, "next_check_at": None,
    "last_checked_at": None, "checks": 0, "pending_checks": 0, "errors": 0, "last_answer": "", "last_error": None,
    "alerted": None, "meta": "{}",
}


def shipment_row(key: str, now: datetime, **fields) -> dict:
    row = {"key": key, **SHIPMENT_DEFAULTS, **fields}
    for k in ("order_keys", "refs", "meta"):
        if not isinstance(row[k], str):
            row[k] = json.dumps(row[k], default=str)
    row["status_at"] = row["status_at"] or now.isoformat()
    row["created_at"] = row["created_at"] or now.isoformat()
    row["updated_at"] = now.isoformat()
    return row


def event_row(shipment_key: str, now: datetime, old: str | None, new: str, code: str, description: str,
              source: str = "marketd", event_at: str | None = None, location: str = "") -> dict:
    return {"shipment_key": shipment_key, "recorded_at": now.isoformat(), "old_status": old, "new_status": new,
            "event_at": event_at or now.isoformat(), "code": code, "description": description,
            "location": location, "source": source}


def next_package_ref(db_or_finder, order_key: str, taken: dict) -> str:
    """The package's number within its order (Amazon: a positive number unique per order)."""
    if order_key not in taken:
        rows = db_or_finder.query("select count(*) as n from shipment_pushes where order_key = ?", [order_key])
        taken[order_key] = list(rows)[0]["n"]
    taken[order_key] += 1
    return str(taken[order_key])


def push_row(shipment_key: str, order: dict, package_ref: str, now: datetime) -> dict:
    return {"shipment_key": shipment_key, "order_key": order["key"], "channel": order["channel"],
            "order_id": order["order_id"], "package_ref": package_ref, "push_key": f"{shipment_key}:{order['key']}",
            "state": "waiting", "attempts": 0, "owner": None, "started_at": None, "pushed_at": None,
            "next_attempt_at": now.isoformat(), "error": None, "response": None}
