"""The cookbook plugin as a real third-party distribution: built from tests/cookbook/marketd_demo,
pip-installed into this environment (entry point group ``marketd``), then seen by a real daemon
(its inbox handler), by ``marketd jobs run`` (its job, against its fake on loopback), by the
``marketd`` command line (its command and its report) and by ``marketd sandbox --check`` (its fake);
uninstalled at the end."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from marketd.sdk.fakes import serve

from .marketd_demo.fake import API_KEY, DemoFake

HERE = Path(__file__).resolve().parent
DIST = "marketd-demo"
PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "marketd-demo"
version = "0.3.0"
dependencies = ["marketd"]

[project.entry-points.marketd]
demo = "marketd_demo"

[tool.setuptools]
packages = ["marketd_demo"]
"""


def _can_build_wheels() -> bool:
    if importlib.util.find_spec("setuptools") is None:
        return False
    if importlib.util.find_spec("wheel") is not None:
        return True
    import setuptools

    return tuple(int(x) for x in setuptools.__version__.split(".")[:2]) >= (70, 1)  # bdist_wheel built in


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    src = tmp_path_factory.mktemp("marketd-demo-src")
    shutil.copytree(HERE / "marketd_demo", src / "marketd_demo", ignore=shutil.ignore_patterns("__pycache__"))
    (src / "pyproject.toml").write_text(PYPROJECT)
    # Without build isolation when this environment can build a wheel itself (no download);
    # --no-deps: marketd is installed already.
    isolation = ["--no-build-isolation"] if _can_build_wheels() else []
    res = _pip("install", "--no-deps", *isolation, str(src))
    assert res.returncode == 0, res.stdout + res.stderr
    try:
        yield
    finally:
        res = _pip("uninstall", "-y", DIST)
        assert res.returncode == 0, res.stdout + res.stderr


def _marketd(config: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "marketd", "--config", str(config), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


@pytest.mark.e2e
def test_an_installed_third_party_plugin_is_used_everywhere(installed, tmp_path, daemon_factory):
    fake = DemoFake()
    fake.add_order("9001")
    with serve(fake) as served:
        env = {"DEMO_SHOP_API_KEY": API_KEY, "DEMO_POST_API_KEY": API_KEY}
        cfg = write_config(tmp_path / "inst", channels={"shop": {"type": "demoshop", "base_url": served.url}},
                           inbox={"stock": {"warehouse": "milano"}})
        listing = _marketd(cfg, "plugins", env=env)
        assert any(line.split()[:4] == ["demo", "loaded", DIST, "0.3.0"] for line in listing.stdout.splitlines()), \
            listing.stdout

        # its inbox handler, in the real daemon
        d = daemon_factory(cfg, env=env)
        (tmp_path / "inst" / "inbox" / "stock" / "counts.csv").write_text("sku,qty\nA-1,2\nB-2,40\n")
        reports = tmp_path / "inst" / "outbox" / "reports"
        wait_for(lambda: list(reports.glob("stock-counts-*.csv")), 30, what="the stock receipt")
        assert d.stop() == 0

        # its job, run by `marketd jobs run`, against its fake over loopback
        res = _marketd(cfg, "jobs", "run", "demo-orders", env=env)
        assert res.returncode == 0 and "job demo-orders: ok" in res.stdout, res.stdout + res.stderr
        assert fake.calls >= 1

        # its command and its report
        res = _marketd(cfg, "demo", "stock", env=env)
        assert res.returncode == 0 and res.stdout.split() == ["A-1", "milano", "2", "B-2", "milano", "40"], res.stdout
        res = _marketd(cfg, "report", "low-stock", "--set", "threshold=5", env=env)
        assert res.returncode == 0 and "low-stock-" in res.stdout, res.stdout + res.stderr

        # its fake, served by `marketd sandbox` beside the built-in ones and proven by --check
        res = subprocess.run([sys.executable, "-m", "marketd", "sandbox", str(tmp_path / "sb"), "--check",
                              "--orders", "3"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "demo: 3 order(s) imported; DemoPost shipment DP000001: in_transit" in res.stdout
        assert "sandbox check passed: amazon, brt, demo, ebay, mall" in res.stdout

        # disabled: its command is gone with it
        res = _marketd(cfg, "demo", "stock", env={**env, "MARKETD_DISABLE_PLUGINS": "demo"})
        assert res.returncode == 2 and "No such command 'demo'" in res.stderr
