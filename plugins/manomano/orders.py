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

from marketd.sdk import ConfigError, JobSpec, MarketdError, TransientError

from .channel import ManoManoChannel

log = logging.getLogger("marketd.manomano")

JOB_NAME = "manomano-orders"
INTERVAL = 900  # 4 contracts x 1 page every 15 minutes = 16 of the 250 requests per hour


def manomano_accounts(app) -> dict[str, ManoManoChannel]:
    return {name: ch for name, ch in app.channels.items() if isinstance(ch, ManoManoChannel)}


def log_once(app, key: str, message: str, *args) -> None:
    seen = app.__dict__.setdefault("_manomano_logged_once", set())
    if key not in seen:
        seen.add(key)
        log.info(message, *args)


def sync_all_orders(app, since) -> dict:
    """Job body: ``func(app, since)``; returns {account: new-or-changed count}."""
    results, failures = {}, []
    for name, channel in manomano_accounts(app).items():
        if not channel.orders_sync:
            log_once(app, f"orders_sync_off:{name}",
                     "manomano %s: orders_sync is off, orders are not fetched (set orders_sync = true in "
                     "[channels.%s] to start)", name, name)
            continue
        try:
            results[name] = channel.sync_orders(since)
            if channel.accept_mode == "auto":
                channel.accept_waiting()
        except (TransientError, ConfigError, MarketdError) as exc:
            failures.append(f"{name}: {exc}")
            log.error("manomano %s: order sync failed: %s", name, exc)
            with app.store.transaction() as db:
                db["manomano_order_sync"].upsert({"channel": name, "last_error": str(exc)[:500],
                                                  "last_run_at": app.clock.now().isoformat()}, pk="channel")
    if failures:
        raise TransientError("manomano order sync failed for " + "; ".join(failures))
    return results


def order_jobs(register) -> None:
    register(JobSpec(JOB_NAME, sync_all_orders, trigger="interval", seconds=INTERVAL, catch_up=True,
                     description="ManoMano orders (Partners API, incremental per contract) for accounts with "
                                 "orders_sync; accepts PENDING orders where accept = \"auto\""))
