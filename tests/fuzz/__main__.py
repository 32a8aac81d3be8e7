"""``python -m tests.fuzz [--budget N] [--seed S] [--format NAME ...] [--findings DIR]``: the
campaign ``make fuzz`` runs; prints inputs, outcomes, crashes and hangs per format and exits 1
when any input failed (the inputs are in the findings folder)."""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from .harness import FORMATS, campaign


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz")
    ap.add_argument("--budget", type=int, default=10_000, help="distinct inputs per format")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    ap.add_argument("--format", action="append", choices=sorted(FORMATS), help="repeatable; default: all")
    ap.add_argument("--findings", type=Path, default=Path(tempfile.gettempdir()) / "marketd-fuzz-findings")
    a = ap.parse_args()
    logging.disable(logging.CRITICAL)  # rejections are expected by the thousand; outcomes are judged from the journal
    t0 = time.monotonic()
    results = campaign(a.budget, a.seed, a.format, a.findings, log=lambda m: print(m, flush=True))
    print(f"\nseed {a.seed}, {a.budget} inputs per format, {time.monotonic() - t0:.0f}s; findings in {a.findings}")
    for r in results:
        print(r.line())
        print("   rejections: " + ", ".join(f"{k} {v}" for k, v in r.reasons.most_common()))
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
