"""The health plugin's tables (component ``health``).

- ``health_alerts``: one row per distinct alert key; raised again while open it only counts
  (``occurrences``, ``last_seen``), so a condition seen every day is one alert, not a flood;
- ``health_events``: what the delivery job must send (a new, reopened or escalated alert), in the
  same transaction as the alert itself, so an alert is never lost between store and delivery;
- ``health_deliveries``: one row per (event or digest, channel): attempts, next try, sent/dead;
- ``health_metrics``: the performance report's metrics per reporting period (trends);
- ``health_requests``: report requests made through a channel, collected on later runs;
- ``health_notifications``: every notification taken, keyed by (type, id): Amazon delivers at
  least once, and its official examples reuse one NotificationId across types;
- ``health_voc``, ``health_feedback``, ``health_returns``: the latest VoC ratings per ASIN,
  seller feedback per order, returns per (order, SKU, RMA);
- ``health_cases``: case-log entries and compliance requests, tracked until someone closes them;
- ``health_digests``: digests made (one per day at most);
- ``health_drift`` (v2): per file, how far the documents were from the known contract (schema
  drift: counted and shown, never a rejection), with the most frequent paths.
"""
from __future__ import annotations


def _v1(db):
    db["health_alerts"].create({
        "id": int, "key": str, "severity": str, "source": str, "account": str, "brand": str, "marketplace": str,
        "sku": str, "asin": str, "title": str, "detail": str, "state": str, "first_seen": str, "last_seen": str,
        "occurrences": int, "resolved_at": str, "acked_at": str}, pk="id")
    db["health_alerts"].create_index(["key"], unique=True)
    db["health_alerts"].create_index(["state", "severity"])
    db["health_events"].create({"id": int, "alert_id": int, "what": str, "severity": str, "created_at": str,
                                "routed": int}, pk="id")
    db["health_events"].create_index(["routed"])
    db["health_deliveries"].create({
        "delivery_id": str, "kind": str, "event_id": int, "digest_id": int, "channel": str, "body": str,
        "state": str, "attempts": int,
        "next_attempt_at": str, "created_at": str, "last_error": str, "sent_at": str}, pk="delivery_id")
    db["health_deliveries"].create_index(["state", "next_attempt_at"])
    db["health_metrics"].create({
        "account": str, "marketplace": str, "metric": str, "sub": str, "reporting_from": str, "reporting_to": str,
        "status": str, "rate": str, "target_value": str, "target_condition": str, "count": int, "raw": str,
        "source": str, "seen_at": str}, pk=("account", "marketplace", "metric", "sub", "reporting_to"))
    db["health_requests"].create({
        "id": int, "account": str, "kind": str, "request_id": str, "state": str, "requested_at": str,
        "finished_at": str, "file_name": str, "detail": str}, pk="id")
    db["health_requests"].create_index(["account", "kind", "state"])
    db["health_notifications"].create({
        "type": str, "notification_id": str, "account": str, "received_at": str, "event_time": str,
        "payload_sha256": str, "source": str, "raw": str}, pk=("type", "notification_id"))
    db["health_voc"].create({
        "account": str, "asin": str, "sku": str, "brand": str, "title": str, "rating": str, "rating_label": str,
        "ncx_rate": str, "ncx_orders": str, "orders": str, "top_reason": str, "comment": str, "raw": str,
        "source": str, "seen_at": str}, pk=("account", "asin"))
    db["health_feedback"].create({
        "account": str, "order_id": str, "date": str, "rating": int, "comments": str, "response": str,
        "rater_hash": str, "topic": str, "sku": str, "raw": str, "source": str}, pk=("account", "order_id"))
    db["health_returns"].create({
        "account": str, "order_id": str, "sku": str, "rma": str, "asin": str, "requested": str, "quantity": int,
        "reason": str, "status": str, "raw": str, "source": str}, pk=("account", "order_id", "sku", "rma"))
    db["health_cases"].create({
        "id": str, "account": str, "kind": str, "case_id": str, "subject": str, "asin": str, "sku": str,
        "marketplace": str, "opened_at": str, "deadline": str, "deadline_assumed": int, "status": str,
        "closed_at": str, "note": str, "source": str, "updated_at": str}, pk="id")
    db["health_digests"].create({"id": int, "day": str, "created_at": str, "counts": str, "file": str}, pk="id")
    db["health_digests"].create_index(["day"], unique=True)


def _v2(db):
    db.execute("CREATE TABLE health_drift (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL, "
               "source TEXT NOT NULL, seen_at TEXT NOT NULL, count INTEGER NOT NULL, paths TEXT NOT NULL)")
    db.execute("CREATE INDEX idx_health_drift_seen ON health_drift (seen_at)")


MIGRATIONS = [(1, _v1), (2, _v2)]
