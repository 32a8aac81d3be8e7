"""Tables of the settlement-file side of the Amazon plugin (component ``amazon_settlements``).

Money columns are TEXT holding ``format(Decimal, "f")``; times are ISO-8601 UTC.

- ``settlements``: one row per settlement id (totals by category, payout check, file).
- ``settlement_orders``: one row per (settlement, order-id in the file) with that settlement's
  amounts for the order, stored on the order through ``order_key`` (``orders.key``; NULL while
  no stored order matches, attached later). An order's finance over all settlements (a refund
  may come in an earlier or later settlement than the sale) is the exact Decimal sum of its
  rows: ``reconcile.order_finance``. Clustered by settlement (``WITHOUT ROWID``, key
  ``(settlement_id, order_ref)``); the index ``(order_key, order_ref)`` serves "everything for
  this order", "still unmatched" and "unmatched lines with this order-id".
  A settlement is applied once: re-ingesting is recognised by ``settlements`` / the business key.
- ``settlement_paid_lines`` (v2): one row per (order-id, SKU) a settlement paid revenue for
  (the sale of that order line), keyed by order-id first: a later settlement paying the same
  line again is found with one index probe per line and flagged in its report (real
  settlements never overlap: it is a double payment, or a copy applied under a new id).
  Settlements applied before v2 have no rows here.
"""
from __future__ import annotations

COMPONENT = "amazon_settlements"

AMOUNTS = ("revenue", "fees", "promotions", "withheld_tax", "refunds", "other", "unclassified", "net")
_AMOUNT_COLUMNS = ", ".join(f"{a} TEXT" for a in AMOUNTS)


def _v1(db) -> None:
    db["settlements"].create(
        {"settlement_id": str, "status": str, "currency": str, "start_date": str, "end_date": str,
         "deposit_date": str, "total_amount": str, "computed_total": str, "difference": str,
         **{a: str for a in AMOUNTS},
         "layout": str, "columns": int, "encoding": str, "decimal_sep": str, "date_formats": str,
         "rows": int, "amount_rows": int, "orders": int, "matched": int, "unmatched": int,
         "fba_shipment_refs": int, "no_order_rows": int, "unclassified_rows": int, "warnings": str,
         "file_id": str, "file_name": str, "file_sha256": str, "channel": str, "ingested_at": str},
        pk="settlement_id")
    db.execute(
        "CREATE TABLE settlement_orders (settlement_id TEXT NOT NULL, order_ref TEXT NOT NULL, "
        "merchant_order_id TEXT, order_key TEXT, channel TEXT, match TEXT, marketplace TEXT, currency TEXT, "
        f"{_AMOUNT_COLUMNS}, rows INTEGER, posted_first TEXT, posted_last TEXT, "
        "PRIMARY KEY (settlement_id, order_ref)) WITHOUT ROWID")
    db.execute("CREATE INDEX idx_settlement_orders_order_key ON settlement_orders (order_key, order_ref)")


def _v2(db) -> None:
    db.execute(
        "CREATE TABLE settlement_paid_lines (order_ref TEXT NOT NULL, sku TEXT NOT NULL, settlement_id TEXT NOT NULL, "
        "PRIMARY KEY (order_ref, sku, settlement_id)) WITHOUT ROWID")


MIGRATIONS = [(1, _v1), (2, _v2)]
