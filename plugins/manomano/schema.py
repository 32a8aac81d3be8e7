"""Tables of the ManoMano plugin (component ``manomano``)."""
from __future__ import annotations

COMPONENT = "manomano"


def _v1(db) -> None:
    # Per-account (= per contract) order watermark: everything whose status changed up to
    # synced_until has been read; the next listing asks from synced_until - overlap. It moves with
    # each part of a window, so a pass the rate limit stops goes on from there.
    db["manomano_order_sync"].create(
        {"channel": str, "synced_until": str, "last_run_at": str, "orders_seen": int, "last_error": str},
        pk="channel")
    # Every accept/refuse decision sent (or refused before sending): what a person or the auto
    # mode decided, and what ManoMano answered.
    db["manomano_decisions"].create(
        {"channel": str, "order_reference": str, "action": str, "mode": str, "state": str, "status": int,
         "result": str, "decided_at": str, "answered_at": str},
        pk=("channel", "order_reference", "action"))
    # One row per tracking push: 'sending' is committed before the POST, so a lost answer (5xx,
    # timeout, kill -9) is read back from the order before anything is sent again.
    db["manomano_shippings"].create(
        {"channel": str, "order_reference": str, "package_ref": str, "tracking_number": str, "carrier": str,
         "body_sha256": str, "state": str, "status": int, "result": str, "sent_at": str, "updated_at": str},
        pk=("channel", "order_reference", "package_ref"))


MIGRATIONS = [(1, _v1)]
