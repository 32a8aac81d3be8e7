"""The ``manomano-orders`` job: incremental order sync for every ManoMano account (contract)
with ``orders_sync``, and with ``accept = "auto"`` the acceptance of PENDING orders.

New accounts have ``orders_sync = false``: nothing calls ManoMano until the operator opts in;
the job skips them and says so once per process. Each account keeps its own watermark, so one
contract with a problem neither blocks the others nor makes them re-read a growing window. A
run never sleeps for the rate limit beyond ``max_wait_seconds``: a long backlog is read over
several runs. An account that fails makes the job fail (``marketd jobs`` shows it) after every
other account was synced.
"""
from __future__ import annotations

import logging

from marketd.sdk import JobSpec, accounts_of, each_account

from .channel import ManoManoChannel

log = logging.getLogger("marketd.manomano")

JOB_NAME = "manomano-orders"
INTERVAL = 900  # 4 contracts x 1 page every 15 minutes = 16 of the 250 requests per hour


def manomano_accounts(app) -> dict[str, ManoManoChannel]:
    return accounts_of(app, ManoManoChannel)


def _sync_one(channel: ManoManoChannel, since) -> int:
    changed = channel.sync_orders(since)
    if channel.accept_mode == "auto":
        channel.accept_waiting()
    return changed


def sync_all_orders(app, since) -> dict:
    """Job body: ``func(app, since)``; returns {account: new-or-changed count}."""
    return each_account(app, manomano_accounts(app), lambda name, channel: _sync_one(channel, since), log=log,
                        what="manomano order sync", enabled=lambda channel: channel.orders_sync,
                        off_note="orders_sync is off, orders are not fetched (set orders_sync = true in "
                                 "[channels.{name}] to start)", failure_table="manomano_order_sync")


def order_jobs(register) -> None:
    register(JobSpec(JOB_NAME, sync_all_orders, trigger="interval", seconds=INTERVAL, catch_up=True,
                     description="ManoMano orders (Partners API, incremental per contract) for accounts with "
                                 "orders_sync; accepts PENDING orders where accept = \"auto\""))
