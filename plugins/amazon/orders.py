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

from marketd.sdk import ConfigError, JobSpec, MarketdError, TransientError

from .channel import AmazonChannel

log = logging.getLogger("marketd.amazon")

JOB_NAME = "amazon-orders"
INTERVAL = 900  # searchOrders refills one request per ~3 minutes (0.0056/s, burst 20)


def amazon_accounts(app) -> dict[str, AmazonChannel]:
    return {name: ch for name, ch in app.channels.items() if isinstance(ch, AmazonChannel)}


def log_once(app, key: str, message: str, *args) -> None:
    seen = app.__dict__.setdefault("_amazon_logged_once", set())
    if key not in seen:
        seen.add(key)
        log.info(message, *args)


def sync_all_orders(app, since) -> dict:
    """Job body: ``func(app, since)``; returns {account: new-or-changed count}."""
    results, failures = {}, []
    for name, channel in amazon_accounts(app).items():
        if not channel.orders_sync:
            log_once(app, f"orders_sync_off:{name}",
                     "amazon %s: orders_sync is off, orders are not fetched (set orders_sync = true in "
                     "[channels.%s] to start)", name, name)
            continue
        try:
            results[name] = channel.sync_orders(since)
        except (TransientError, ConfigError, MarketdError) as exc:
            failures.append(f"{name}: {exc}")
            log.error("amazon %s: order sync failed: %s", name, exc)
            with app.store.transaction() as db:
                db["amazon_order_sync"].upsert({"channel": name, "last_error": str(exc)[:500],
                                                "last_run_at": app.clock.now().isoformat()}, pk="channel")
    if failures:
        raise TransientError("amazon order sync failed for " + "; ".join(failures))
    return results


def order_jobs(register) -> None:
    register(JobSpec(JOB_NAME, sync_all_orders, trigger="interval", seconds=INTERVAL, catch_up=True,
                     description="Amazon orders (SP-API searchOrders, incremental) for accounts with orders_sync"))
