"""The README's two commands on a fresh Debian/Ubuntu (issue 9 item 12): ``make run`` failed with
PEP 668's "externally-managed-environment" because it ran ``pip install`` with the system
``python3``. Every install must go through the interpreter of a virtual environment that the
Makefile makes first, and the daemon must be started from there.

Read from ``make -n`` (the commands make would run, none run), so the test is quick and needs no
network; the venv and pip themselves are what the Makefile delegates to.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")


def dry_run(target: str, venv: Path, py: str = "python3") -> list[str]:
    # CI runs the suite from inside `make test`: the inherited MAKELEVEL/MAKEFLAGS would make this
    # make print "Entering/Leaving directory" lines around the commands, so start it as a top-level make.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}}
    out = subprocess.run(["make", "--no-print-directory", "-n", "-B", target, f"VENV={venv}", f"PY={py}"], cwd=REPO,
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def pip_calls(lines: list[str]) -> list[str]:
    return [ln for ln in lines if re.search(r"\bpip\b", ln) and "install" in ln and "apt-get" not in ln]


@pytest.mark.parametrize("target", ["run", "test", "install"])
def test_every_pip_install_runs_in_the_venv_it_makes_first(tmp_path, target):
    venv = tmp_path / "venv"
    lines = dry_run(target, venv, py="python3.11")
    made = [i for i, ln in enumerate(lines) if re.fullmatch(rf"python3\.11 -m venv {re.escape(str(venv))}", ln.strip())]
    assert made, f"`make {target}` never makes the venv from PY:\n" + "\n".join(lines)
    calls = pip_calls(lines)
    assert calls, f"`make {target}` installs nothing:\n" + "\n".join(lines)
    for i, ln in enumerate(lines):
        if ln in calls:
            assert ln.strip().startswith(f"{venv}/bin/python -m pip install"), f"pip outside the venv: {ln!r}"
            assert i > made[0], f"pip before the venv exists: {ln!r}"


def test_make_run_starts_the_daemon_from_the_venv_on_the_sample_config(tmp_path):
    venv = tmp_path / "venv"
    lines = [ln.strip() for ln in dry_run("run", venv)]
    assert lines[-1] == f"{venv}/bin/marketd --config config/marketd.toml run"
    assert (REPO / "config" / "marketd.toml").is_file()


def test_the_readme_says_where_marketd_is_installed():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make run" in text and "./.venv" in text and "PEP 668" in text
