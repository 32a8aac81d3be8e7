"""When to ask a carrier again: the tracking sync's polling policy.

Settings live in ``[jobs.tracking-sync]`` (``seconds`` there is the job's own period, read by
the scheduler); all values are seconds unless the name says otherwise.

While a shipment is *pending* (the carrier does not know it yet; BRT registers parcels minutes
to hours after creation, often only at the evening pickup) the interval grows:
``first_check``, then ×``pending_factor`` per check, capped at ``pending_max``. Once moving it
is polled every ``transit_interval`` (``out_for_delivery_interval`` on the last mile). After
``pending_alert_hours`` without a scan the shipment is reported once; after
``give_up_days`` without a final status it is closed as ``unknown``.

A round is bounded: polling stops taking new chunks after ``round_seconds``, and so does pushing
(so one round takes about twice that at most, plus one HTTP call). What is left is still due and
comes first in the next round. This keeps ``systemctl stop`` (``TimeoutStopSec=120``, which
waits for a running job) from killing the daemon in the middle of a long backlog.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from marketd.sdk import Backoff, TrackingStatus


@dataclass
class TrackingPolicy:
    first_check: float = 600
    pending_factor: float = 2.0
    pending_max: float = 3600
    transit_interval: float = 7200
    out_for_delivery_interval: float = 3600
    failed_interval: float = 7200
    error_base: float = 300
    error_max: float = 3600
    pending_alert_hours: float = 48
    give_up_days: float = 30
    batch_size: int = 5000
    chunk: int = 50
    push_retry: float = 900
    label_retention_days: int = 30
    round_seconds: float = 45

    def next_check(self, status: TrackingStatus, pending_checks: int, now: datetime) -> datetime:
        if status in (TrackingStatus.pending, TrackingStatus.unknown):
            interval = min(self.first_check * (self.pending_factor ** max(0, pending_checks)), self.pending_max)
        elif status == TrackingStatus.out_for_delivery:
            interval = self.out_for_delivery_interval
        elif status == TrackingStatus.delivery_failed:
            interval = self.failed_interval
        else:
            interval = self.transit_interval
        return now + timedelta(seconds=interval)

    def after_error(self, errors: int, now: datetime) -> datetime:
        return now + timedelta(seconds=Backoff(self.error_base, self.error_max).delay(errors))

    def push_backoff(self, attempts: int) -> float:
        """Seconds before retrying a channel push after its ``attempts``-th transient failure."""
        return Backoff(self.push_retry, self.push_retry * 64).delay(attempts)


def tracking_policy(app) -> TrackingPolicy:
    cfg = (app.config.get("jobs") or {}).get("tracking-sync") or {}  # TrackingSyncSettings once checked
    known = {f.name: f.type for f in fields(TrackingPolicy)}
    kw = {}
    for k, v in cfg.items():
        if k in known and v is not None:
            kw[k] = int(v) if known[k] in ("int", int) else float(v)
    return TrackingPolicy(**kw)
