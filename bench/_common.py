"""Shared bits for benchmarks: an instance, a daemon subprocess, peak RSS, medians."""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import DaemonProcess, wait_for, write_config  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size, read from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def median(values):
    return statistics.median(values)


def workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"marketd-bench-{name}-"))
