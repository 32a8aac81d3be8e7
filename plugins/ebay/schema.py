"""Tables of the eBay plugin (component ``ebay``)."""
from __future__ import annotations

COMPONENT = "ebay"


def _v1(db) -> None:
    # Per-account order watermark: the next getOrders window starts at synced_until - overlap.
    db["ebay_order_sync"].create(
        {"channel": str, "synced_until": str, "last_run_at": str, "orders_seen": int, "last_error": str},
        pk="channel")
    # One row per package sent to createShippingFulfillment (exactly once per package):
    # state confirmed | refused | unknown (a 5xx/timeout whose outcome eBay did not show yet).
    db["ebay_fulfillments"].create(
        {"channel": str, "order_id": str, "package_ref": str, "tracking_number": str, "carrier_code": str,
         "fulfillment_id": str, "body_sha256": str, "state": str, "status": int, "errors": str, "updated_at": str},
        pk=("channel", "order_id", "package_ref"))
    db["ebay_fulfillments"].create_index(["channel", "order_id", "tracking_number"])
    # Calls counted against eBay's daily limits, per quota day (midnight Pacific) and resource.
    db["ebay_quota"].create({"channel": str, "day": str, "resource": str, "used": int},
                            pk=("channel", "day", "resource"))
    # Payouts written into inbox/settlements/ by the ebay-payouts job (fetched once each).
    db["ebay_payouts_fetched"].create(
        {"channel": str, "payout_id": str, "payout_date": str, "payout_status": str, "transactions": int,
         "file_name": str, "sha256": str, "fetched_at": str},
        pk=("channel", "payout_id"))


MIGRATIONS = [(1, _v1)]
