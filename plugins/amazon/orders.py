"""The ``amazon-orders`` job: incremental order sync for every Amazon account with ``orders_sync``.

New accounts have ``orders_sync = false`` (nothing calls Amazon until the operator opts in); the
job skips them and says so once per process. Each account keeps its own watermark
(``amazon_order_sync``), so one account with broken credentials neither blocks the others nor
makes them re-read a growing window; the job's ``since`` (last successful run, from
``job_runs``) is the starting point of an account that has none yet. A run never sleeps for
the rate limit beyond ``max_wait_seconds``: a long backlog is read over several runs, resuming
from Amazon's ``paginationToken`` (see ``AmazonChannel.sync_orders``). An account that fails makes
the job fail (so ``marketd jobs`` shows it) after every other account has been synced.
"""
from __future__ import annotations

import logging

from marketd.sdk import JobSpec, accounts_of, each_account

from .channel import AmazonChannel

log = logging.getLogger("marketd.amazon")

JOB_NAME = "amazon-orders"
INTERVAL = 900  # searchOrders refills one request per ~3 minutes (0.0056/s, burst 20)


def amazon_accounts(app) -> dict[str, AmazonChannel]:
    return accounts_of(app, AmazonChannel)


def sync_all_orders(app, since) -> dict:
    """Job body: ``func(app, since)``; returns {account: new-or-changed count}."""
    return each_account(app, amazon_accounts(app), lambda name, channel: channel.sync_orders(since), log=log,
                        what="amazon order sync", enabled=lambda channel: channel.orders_sync,
                        off_note="orders_sync is off, orders are not fetched (set orders_sync = true in "
                                 "[channels.{name}] to start)", failure_table="amazon_order_sync")


def order_jobs(register) -> None:
    register(JobSpec(JOB_NAME, sync_all_orders, trigger="interval", seconds=INTERVAL, catch_up=True,
                     description="Amazon orders (SP-API searchOrders, incremental) for accounts with orders_sync"))
