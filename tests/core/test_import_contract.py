"""The plugin door, enforced: import-linter's contracts in pyproject.toml ([tool.importlinter]).

Plugins import only ``marketd.sdk`` from the core and never another plugin. The contracts are run
on the real sources; a second run on a copy with a planted violation proves they can fail.

Why a copy: ``marketd`` and ``marketd.plugins`` live in two folders (``daemon/`` and ``plugins/``,
joined by setuptools' package-dir), and import-linter reads one folder per package. The copy lays
them out as installed (``marketd/plugins/`` inside ``marketd/``). Run it by hand with
``python -m pytest -q tests/core/test_import_contract.py``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import importlinter  # noqa: F401  (a test extra: if it is missing the install is broken; never a skip)
import pytest

REPO = Path(__file__).resolve().parents[2]


def installed_layout(dest: Path) -> Path:
    """``dest/src/marketd`` = daemon/ with plugins/ inside it as ``marketd/plugins``; returns src."""
    src = dest / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "daemon", src / "marketd", ignore=ignore)
    shutil.copytree(REPO / "plugins", src / "marketd" / "plugins", ignore=ignore)
    return src


def lint(src: Path, workdir: Path) -> subprocess.CompletedProcess:
    """Run import-linter with the project's contracts over the tree at ``src``."""
    config = workdir / "importlinter.toml"
    config.write_text((REPO / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)


def test_contracts_are_declared():
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert {c["id"] for c in contracts} >= {"plugins-use-the-sdk", "plugins-are-independent"}


def test_plugins_keep_to_the_sdk(tmp_path):
    res = lint(installed_layout(tmp_path), tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Contracts: 3 kept, 0 broken." in res.stdout


@pytest.mark.parametrize("planted, broken", [
    ("from marketd.store import ThreadConnections\n", "Plugins import only marketd.sdk from the core"),
    ("from marketd import hookimpl\n", "Plugins do not import from the marketd package root"),
    ("from marketd.plugins.shipments.records import shipment_row\n", "No plugin imports another plugin"),
])
def test_a_planted_violation_breaks_the_contract(tmp_path, planted, broken):
    src = installed_layout(tmp_path)
    (src / "marketd" / "plugins" / "brt" / "planted.py").write_text(planted)
    res = lint(src, tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"{broken} BROKEN" in res.stdout and "marketd.plugins.brt.planted" in res.stdout
