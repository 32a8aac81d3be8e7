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

from marketd.sdk import ConfigError, JobSpec, MarketdError, TransientError

from .channel import MallChannel

log = logging.getLogger("marketd.mall")

ORDERS_JOB = "mall-orders"
ORDERS_INTERVAL = 3600


def mall_accounts(app) -> dict[str, MallChannel]:
    return {name: ch for name, ch in app.channels.items() if isinstance(ch, MallChannel)}


def log_once(app, key: str, message: str, *args) -> None:
    seen = app.__dict__.setdefault("_mall_logged_once", set())
    if key not in seen:
        seen.add(key)
        log.info(message, *args)


def sync_all_orders(app, since) -> dict:
    """Job body: ``func(app, since)``; returns {account: new-or-changed count}."""
    results, failures = {}, []
    for name, channel in mall_accounts(app).items():
        if not channel.orders_sync:
            log_once(app, f"orders_sync_off:{name}", "mall %s: orders_sync is off, orders are not fetched (set "
                     "orders_sync = true in [channels.%s] to start)", name, name)
            continue
        try:
            results[name] = channel.sync_orders(since)
        except (TransientError, ConfigError, MarketdError) as exc:
            failures.append(f"{name}: {exc}")
            log.error("mall %s: order sync failed: %s", name, exc)
    if failures:
        raise TransientError("mall order sync failed for " + "; ".join(failures))
    return results


def order_jobs(register) -> None:
    register(JobSpec(ORDERS_JOB, sync_all_orders, trigger="interval", seconds=ORDERS_INTERVAL, catch_up=True,
                     description="MALL orders (MPAPI, orders that can still move) for accounts with orders_sync"))
