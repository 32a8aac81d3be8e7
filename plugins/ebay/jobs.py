"""The eBay jobs: ``ebay-orders`` (order sync) and ``ebay-payouts`` (Finances API payouts into
``inbox/settlements/``), for every eBay account that has them switched on.

New accounts have ``orders_sync = false`` and ``settlements_fetch = false``: nothing calls eBay
until the operator opts in; the jobs skip them and say so once per process. Each account keeps
its own watermark, so one account with broken credentials neither blocks the others nor makes
them re-read a growing window. An account that fails makes the job fail (``marketd jobs`` shows
it) after every other account has run.
"""
from __future__ import annotations

import logging

from marketd.sdk import JobSpec, accounts_of, each_account

from .channel import EbayChannel

log = logging.getLogger("marketd.ebay")

ORDERS_JOB = "ebay-orders"
PAYOUTS_JOB = "ebay-payouts"
ORDERS_INTERVAL = 900        # ~5 calls per 1,000 orders: far inside 100,000 calls a day
PAYOUTS_INTERVAL = 6 * 3600  # eBay pays out at most daily


def ebay_accounts(app) -> dict[str, EbayChannel]:
    return accounts_of(app, EbayChannel)


def sync_all_orders(app, since) -> dict:
    return each_account(app, ebay_accounts(app), lambda name, channel: channel.sync_orders(since), log=log,
                        what="ebay order sync", enabled=lambda channel: channel.orders_sync,
                        off_note="orders_sync is off, orders are not fetched (set orders_sync = true in "
                                 "[channels.{name}] to start)", failure_table="ebay_order_sync")


def fetch_all_payouts(app, since) -> dict:
    from .payouts import fetch_payouts

    return each_account(app, ebay_accounts(app), lambda name, channel: len(fetch_payouts(app, channel)), log=log,
                        what="ebay payout fetch", enabled=lambda channel: channel.settlements_fetch,
                        off_note="settlements_fetch is off, payouts are not fetched from the Finances API")


def jobs(register) -> None:
    register(JobSpec(ORDERS_JOB, sync_all_orders, trigger="interval", seconds=ORDERS_INTERVAL, catch_up=True,
                     description="eBay orders (Fulfillment getOrders, incremental) for accounts with orders_sync"))
    register(JobSpec(PAYOUTS_JOB, fetch_all_payouts, trigger="interval", seconds=PAYOUTS_INTERVAL, catch_up=True,
                     description="eBay payouts (Finances API) into inbox/settlements/ for accounts with "
                                 "settlements_fetch"))
