"""Tables of the MALL plugin (component ``mall``).

- ``mall_order_sync``: per channel account, when the order sync last ran, what it saw, and when
  delivered orders were last checked for returns (MALL's basic order rows carry no update time,
  so there is no watermark: the sync compares each listed order with the stored one).
- ``mall_quota``: our count of MPAPI calls per account, MALL day and quota group, so a restart
  does not start the day's count at zero (MALL's limiter is a daily quota per endpoint group).
- ``mall_finance_docs``: self-billing invoices and offsets already written into
  ``inbox/settlements/`` by the ``mall-finance`` job (each fetched once).
"""
from __future__ import annotations

COMPONENT = "mall"


def _v1(db) -> None:
    db["mall_order_sync"].create(
        {"channel": str, "last_run_at": str, "orders_seen": int, "orders_fetched": int, "last_error": str,
         "returns_checked_at": str, "initial_done": int}, pk="channel")
    db["mall_quota"].create({"channel": str, "day": str, "grp": str, "used": int}, pk=("channel", "day", "grp"))
    db["mall_finance_docs"].create(
        {"channel": str, "kind": str, "doc_id": str, "number": str, "file_name": str, "sha256": str,
         "fetched_at": str}, pk=("channel", "kind", "doc_id"))


MIGRATIONS = [(1, _v1)]
