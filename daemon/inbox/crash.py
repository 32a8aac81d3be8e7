"""Crash points: where the crash-safety tests kill the real daemon.

``MARKETD_CRASHPOINT=<name>`` makes the process SIGKILL itself when it reaches ``crashpoint(name)``,
so the end-to-end tests can stop it between any two commit steps exactly as a power cut would,
and check that the next start recovers without loss or duplication. Plugins mark their own
points (``shipments_after_ledger`` …) with the same function.
"""
from __future__ import annotations

import os
import signal


def crashpoint(name: str) -> None:
    if os.environ.get("MARKETD_CRASHPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
