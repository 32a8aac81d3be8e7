"""The MALL jobs: ``mall-orders`` (order sync, and confirming new orders with ``auto_confirm``)
for every MALL account with ``orders_sync``; the ``mall-finance`` job lives in ``finance_fetch.py``.

New accounts have ``orders_sync = false``: nothing calls MALL for orders until the operator opts
in, and the job says so once per process. MALL throttles partners who poll "complete order lists
… multiple times per hour", so the job runs hourly and lists only the orders that can still move
(``channel.py``). An account that fails makes the job fail (so ``marketd jobs`` shows it) after
every other account had its turn; MALL's daily quota only ends a run early (the next continues).
"""
from __future__ import annotations

import logging

from marketd.sdk import JobSpec, accounts_of, each_account

from .channel import MallChannel

log = logging.getLogger("marketd.mall")

ORDERS_JOB = "mall-orders"
ORDERS_INTERVAL = 3600


def mall_accounts(app) -> dict[str, MallChannel]:
    return accounts_of(app, MallChannel)


def sync_all_orders(app, since) -> dict:
    """Job body: ``func(app, since)``; returns {account: new-or-changed count}."""
    return each_account(app, mall_accounts(app), lambda name, channel: channel.sync_orders(since), log=log,
                        what="mall order sync", enabled=lambda channel: channel.orders_sync,
                        off_note="orders_sync is off, orders are not fetched (set orders_sync = true in "
                                 "[channels.{name}] to start)")


def order_jobs(register) -> None:
    register(JobSpec(ORDERS_JOB, sync_all_orders, trigger="interval", seconds=ORDERS_INTERVAL, catch_up=True,
                     description="MALL orders (MPAPI, orders that can still move) for accounts with orders_sync"))
