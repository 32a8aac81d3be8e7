"""``python -m tests.mutation [--module NAME ...] [--sample N] [--jobs J]``: mutation testing of
the modules where a silent error costs money or data (``make mutate``; not in CI: too slow for
2 cores). Prints each surviving mutant (line, change) and the score per module.

Why not mutmut: mutmut 3 copies the tree to ``mutants/`` and matches mutants to modules by file
path (``daemon/numbers.py`` → ``daemon.numbers``), while the tests import ``marketd.numbers``
through setuptools' package-dir mapping; it found "no test case for any mutant". Here the
package is laid out as installed (``marketd/`` with ``plugins/`` inside) in a scratch folder
that comes first on ``sys.path``; one mutant at a time is written there and the module's tests
run in a child forked from a process that already imported the heavy third-party libraries.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from .mutants import mutants

REPO = Path(__file__).resolve().parents[2]

MODULES = {
    "numbers": ("daemon/numbers.py", ["tests/core/test_numbers.py", "tests/core/test_money_tabular.py",
                                      "tests/amazon/test_settlement_numbers.py", "tests/carriers/test_shipment_numbers.py",
                                      "tests/core/test_numbers_edges.py"]),
    "money": ("daemon/money.py", ["tests/core/test_numbers.py", "tests/core/test_money_tabular.py",
                                  "tests/core/test_numbers_edges.py"]),
    "settlement_parser": ("plugins/amazon/settlement_parser.py", [
        "tests/amazon/test_settlement_parser.py", "tests/amazon/test_settlement_numbers.py",
        "tests/amazon/test_settlement_robust.py", "tests/amazon/test_settlement_parser_edges.py"]),
    # reconciliation: a payout's lines against its stated total (frame.py) and its references to
    # the stored orders (matching.py)
    "reconcile": ("plugins/settlements/frame.py", ["tests/settlements/test_frame_check.py",
                                                   "tests/settlements/test_settlements_store.py",
                                                   "tests/settlements/test_matching_accounts.py",
                                                   "tests/settlements/test_fees_report.py",
                                                   "tests/amazon/test_settlement_reconcile.py"]),
    "matching": ("plugins/settlements/matching.py", ["tests/settlements/test_matching_accounts.py",
                                                     "tests/settlements/test_settlements_store.py",
                                                     "tests/settlements/test_orders_list_cli.py",
                                                     "tests/amazon/test_settlement_reconcile.py"]),
    "commit": ("daemon/inbox/commit.py", ["tests/core/test_commit_edges.py", "tests/core/test_engine.py", "tests/core/test_reliability.py",
                                          "tests/core/test_output_policy_retention.py",
                                          "tests/core/test_output_done_files.py"]),
    "publish": ("daemon/inbox/publish.py", ["tests/core/test_commit_edges.py", "tests/core/test_engine.py", "tests/core/test_reliability.py",
                                            "tests/core/test_output_policy_retention.py",
                                            "tests/core/test_output_done_files.py", "tests/core/test_permissions.py"]),
    "ledger": ("plugins/shipments/ledger.py", ["tests/carriers/test_ledger.py", "tests/carriers/test_shipments_file.py",
                                               "tests/carriers/test_requeue_failed_lines.py",
                                               "tests/carriers/test_hardening.py"]),
}
PRELOAD = ["pandas", "numpy", "openpyxl", "xlsxwriter", "pydantic", "httpx", "sqlite_utils", "apscheduler",
           "pluggy", "watchdog", "click", "pytest", "pypdf", "fpdf", "jsonschema", "tomli_w", "_pytest.python"]


def installed_layout(dest: Path) -> Path:
    """``dest/marketd`` = daemon/ with plugins/ inside, as pip lays it out; returns ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "daemon", dest / "marketd", ignore=ignore)
    shutil.copytree(REPO / "plugins", dest / "marketd" / "plugins", ignore=ignore)
    return dest


def target_in_layout(src: Path, rel: str) -> Path:
    top, rest = rel.split("/", 1)
    return src / "marketd" / rest if top == "daemon" else src / "marketd" / "plugins" / rest


def run_tests(tests: list[str], timeout: float) -> tuple[str, float]:
    """Run ``tests`` in a forked child; 'passed', 'failed' or 'timeout'."""
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: pytest on the layout (first on sys.path), quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            import pytest
            code = pytest.main(["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--timeout", "120",
                                *tests])
        except BaseException:  # noqa: BLE001 - any failure to run counts as "the tests failed"
            code = 3
        os._exit(0 if code == 0 else 1)
    deadline = t0 + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return ("passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"), time.monotonic() - t0
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - t0
        time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.mutation")
    ap.add_argument("--module", action="append", choices=sorted(MODULES))
    ap.add_argument("--sample", type=int, default=0, help="test a seeded random sample of N mutants per module")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--index", default="", help="only these mutant numbers (comma-separated): re-check survivors")
    ap.add_argument("--out", type=Path, default=None, help="JSON with every mutant's outcome")
    a = ap.parse_args()
    sys.dont_write_bytecode = True  # a mutant must never be read from a stale .pyc
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    work = Path(tempfile.mkdtemp(prefix="marketd-mutation-"))
    src = installed_layout(work / "src")
    sys.path.insert(0, str(src))
    os.chdir(REPO)
    for name in PRELOAD:
        __import__(name)
    report = {}
    try:
        for mod in a.module or list(MODULES):
            rel, tests = MODULES[mod]
            tests = [t for t in tests if (REPO / t).exists()]
            path = target_in_layout(src, rel)
            original = path.read_text()
            outcome, base = run_tests(tests, 900)
            if outcome != "passed":
                print(f"{mod}: the tests fail without any mutant ({outcome}); skipped", flush=True)
                continue
            ms = mutants(original)
            total = len(ms)
            if a.index:
                wanted = {int(i) for i in a.index.split(",") if i.strip()}
                ms = [m for m in ms if m.index in wanted]
            elif a.sample and a.sample < len(ms):
                ms = sorted(random.Random(f"{a.seed}:{mod}").sample(ms, a.sample), key=lambda m: m.index)
            print(f"{mod}: {rel}, {total} mutants, testing {len(ms)}; tests take {base:.1f}s", flush=True)
            killed, survived = 0, []
            rows = []
            try:
                for m in ms:
                    path.write_text(m.source)
                    res, took = run_tests(tests, max(60.0, base * 4))
                    rows.append({"index": m.index, "line": m.line, "what": m.what, "result": res,
                                 "seconds": round(took, 1)})
                    if res == "passed":
                        survived.append(m)
                        print(f"  survived #{m.index} line {m.line}: {m.what}", flush=True)
                    else:
                        killed += 1
                        print(f"  killed   #{m.index} line {m.line}: {m.what} ({res}, {took:.0f}s)", flush=True)
            finally:
                path.write_text(original)
            score = 100.0 * killed / len(ms) if ms else 100.0
            print(f"{mod}: {killed}/{len(ms)} killed = {score:.1f}%", flush=True)
            report[mod] = {"file": rel, "mutants": total, "tested": len(ms), "killed": killed, "score": round(score, 1),
                           "tests": tests, "outcomes": rows}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.out:
        a.out.write_text(json.dumps(report, indent=1))
    print("\n" + "\n".join(f"{m:18s} {r['killed']:4d}/{r['tested']:4d} killed ({r['mutants']} mutants) "
                           f"{r['score']:5.1f}%" for m, r in report.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
