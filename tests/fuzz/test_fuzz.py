"""The fuzz harness at a small budget (300 distinct inputs per format, about a minute for all
formats on the 2-core CI machine): every mutated input ends done or rejected with a reason and
a location, within 10 s, never as a plugin error. ``make fuzz`` runs 10,000 per format.

MARKETD_FUZZ_BUDGET and MARKETD_FUZZ_SEED change the budget and the seed; a failing input is
reproduced by ``python -m tests.fuzz --seed S --format F`` and saved next to a JSON note in the
test's temporary folder (the path is in the failure message).
"""
from __future__ import annotations

import os

import pytest

from .harness import FORMATS, run_format

pytestmark = pytest.mark.fuzz

BUDGET = int(os.environ.get("MARKETD_FUZZ_BUDGET", "300"))
SEED = int(os.environ.get("MARKETD_FUZZ_SEED", "20261130"))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_mutated_input_ends_done_or_rejected_with_reason_and_place(name, tmp_path):
    findings = tmp_path / "findings"
    res = run_format(FORMATS[name], BUDGET, SEED, findings)
    assert res.inputs == BUDGET, f"only {res.inputs} distinct inputs could be made"
    assert res.states["done"] > 0 and res.states["error"] > 0, res.states  # both outcomes are exercised
    assert not res.failures, (
        f"{len(res.crashes)} crashes, {len(res.hangs)} hangs, {len(res.unclear)} unclear rejections "
        f"(seed {SEED}; inputs in {findings}):\n" + "\n".join(
            f"#{f['index']} {f['kind']} {f['mutations']}: {str(f['detail']).strip().splitlines()[-1][:300]}"
            for f in res.failures[:20]))
