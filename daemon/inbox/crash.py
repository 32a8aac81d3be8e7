"""Crash points: where the crash-safety tests kill the real daemon.

``MARKETD_CRASHPOINT=<name>`` makes the process SIGKILL itself when it reaches ``crashpoint(name)``,
so the end-to-end tests can stop it between any two commit steps exactly as a power cut would,
and check that the next start recovers without loss or duplication. Plugins mark their own
points (``shipments_after_ledger`` …) with the same function.

``<name>@<n>`` kills at the n-th time the process reaches that point, not the first: a step
repeated in a batch (one invoice number after another) can then be stopped in the middle of the
batch, with earlier rounds committed.
"""
from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def crashpoint(name: str) -> None:
    want = os.environ.get("MARKETD_CRASHPOINT")
    if not want:
        return
    target, _, nth = want.partition("@")
    if target != name:
        return
    if nth:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] < int(nth):
            return
    os.kill(os.getpid(), signal.SIGKILL)
