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

from marketd.sdk import ConfigError, JobSpec, MarketdError, TransientError

from .channel import EbayChannel

log = logging.getLogger("marketd.ebay")

ORDERS_JOB = "ebay-orders"
PAYOUTS_JOB = "ebay-payouts"
ORDERS_INTERVAL = 900        # ~5 calls per 1,000 orders: far inside 100,000 calls a day
PAYOUTS_INTERVAL = 6 * 3600  # eBay pays out at most daily


def ebay_accounts(app) -> dict[str, EbayChannel]:
    return {name: ch for name, ch in app.channels.items() if isinstance(ch, EbayChannel)}


def log_once(app, key: str, message: str, *args) -> None:
    seen = app.__dict__.setdefault("_ebay_logged_once", set())
    if key not in seen:
        seen.add(key)
        log.info(message, *args)


def sync_all_orders(app, since) -> dict:
    results, failures = {}, []
    for name, channel in ebay_accounts(app).items():
        if not channel.orders_sync:
            log_once(app, f"orders_sync_off:{name}", "ebay %s: orders_sync is off, orders are not fetched (set "
                     "orders_sync = true in [channels.%s] to start)", name, name)
            continue
        try:
            results[name] = channel.sync_orders(since)
        except (TransientError, ConfigError, MarketdError) as exc:
            failures.append(f"{name}: {exc}")
            log.error("ebay %s: order sync failed: %s", name, exc)
            with app.store.transaction() as db:
                db["ebay_order_sync"].upsert({"channel": name, "last_error": str(exc)[:500],
                                              "last_run_at": app.clock.now().isoformat()}, pk="channel")
    if failures:
        raise TransientError("ebay order sync failed for " + "; ".join(failures))
    return results


def fetch_all_payouts(app, since) -> dict:
    from .payouts import fetch_payouts

    results, failures = {}, []
    for name, channel in ebay_accounts(app).items():
        if not channel.settlements_fetch:
            log_once(app, f"settlements_fetch_off:{name}", "ebay %s: settlements_fetch is off, payouts are not "
                     "fetched from the Finances API", name)
            continue
        try:
            results[name] = len(fetch_payouts(app, channel))
        except (TransientError, ConfigError, MarketdError) as exc:
            failures.append(f"{name}: {exc}")
            log.error("ebay %s: payout fetch failed: %s", name, exc)
    if failures:
        raise TransientError("ebay payout fetch failed for " + "; ".join(failures))
    return results


def jobs(register) -> None:
    register(JobSpec(ORDERS_JOB, sync_all_orders, trigger="interval", seconds=ORDERS_INTERVAL, catch_up=True,
                     description="eBay orders (Fulfillment getOrders, incremental) for accounts with orders_sync"))
    register(JobSpec(PAYOUTS_JOB, fetch_all_payouts, trigger="interval", seconds=PAYOUTS_INTERVAL, catch_up=True,
                     description="eBay payouts (Finances API) into inbox/settlements/ for accounts with "
                                 "settlements_fetch"))
