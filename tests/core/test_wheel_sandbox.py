"""`pip install` of a built wheel into a fresh virtual environment, then `marketd sandbox --check`
from another folder: the one "try it without accounts" path works with no source checkout (the
fakes ship in the plugins' packages; issue 10's "done means"). About 30 s: a wheel build and an
install of the dependencies from the package index."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

from tests.conftest import REPO


def _run(args, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def test_sandbox_check_from_a_plain_wheel_install(tmp_path):
    src = tmp_path / "src"  # what the distribution is built from; the checkout itself stays untouched
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for folder in ("daemon", "plugins"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), "./src"], tmp_path)
    [wheel] = (tmp_path / "dist").glob("marketd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"marketd/plugins/amazon/fake.py", "marketd/plugins/brt/fake.py", "marketd/plugins/mall/fake.py",
            "marketd/plugins/ebay/fake.py", "marketd/plugins/manomano/fake.py", "marketd/sandbox.py",
            "marketd/sdk/fakes.py"} <= set(names)
    assert not [n for n in names if n.startswith("tests/")]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    py, marketd = venv / "bin" / "python", venv / "bin" / "marketd"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], tmp_path)
    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing of it on sys.path
    elsewhere.mkdir()
    where = _run([str(py), "-c", "import importlib.util as u, marketd; print(marketd.__file__); "
                                 "print(u.find_spec('tests'))"], elsewhere).split("\n")
    assert where[0].startswith(str(venv)) and where[1] == "None"  # the installed copy; no tests on the path

    out = _run([str(marketd), "sandbox", str(tmp_path / "sb"), "--check", "--orders", "6"], elsewhere)
    assert "6 order(s) imported" in out and "brt: shipment" in out and "order(s) synced; order 1001, " in out
    assert out.rstrip().splitlines()[-1].startswith("sandbox check passed: amazon, brt, ebay, mall, manomano")
