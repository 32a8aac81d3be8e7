"""The real daemon (``marketd run`` subprocess) against a real OpenSSH server playing the ERP:
catalogs pulled from the ERP's export folder are processed, their reports pushed back — and a
``kill -9`` at every step of a pull and of a push, or in the middle of a transfer, ends with
each file exactly once on each side after a restart."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import db_rows, db_value, table_exists
from tests.remotes.erp import remote_section
from tests.remotes.faultproxy import FaultProxy
from tests.samples import catalog_csv

pytestmark = [pytest.mark.e2e, pytest.mark.sftp]

PULL_POINTS = ["remote_pull_downloaded", "remote_pull_fetched", "remote_pull_linked", "remote_pull_landed",
               "remote_pull_archived"]
REMOTES = "remotes.sqlite"  # the pull and push ledgers
PUSH_POINTS = ["remote_push_uploaded", "remote_push_renaming", "remote_push_renamed", "remote_push_marked"]


def journal_states(root: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, state in db_rows(root, "select name, state from files order by claimed_at"):
        out.setdefault(name, []).append(state)
    return out


def instance(tmp_path, erp, port=None, **remote_extra) -> Path:
    erp.mkdirs("export", "import")
    section = remote_section(
        erp, port=port, push_seconds=1,
        pull=[{"remote_dir": erp.remote("export"), "inbox": "catalog", "completeness": "final_name", "seconds": 1}],
        push=[{"outbox": "reports", "remote_dir": erp.remote("import"), "done_file": True}],
        **remote_extra)
    return write_config(tmp_path / "inst", daemon={"stop_timeout_seconds": 5.0},
                        inbox={"catalog": {"mode": "require_rename"}}, remotes={"erp": section})


def export_catalogs(erp, n: int, rows: int = 20) -> list[str]:
    names = []
    for i in range(n):
        name = f"c{i}.csv"
        erp.local(f"export/{name}").write_text(catalog_csv(rows, start=1000 * i), encoding="utf-8")
        names.append(name)
    return names


def settled(root: Path, erp, names: list[str]) -> bool:
    """Every catalog processed, archived on the ERP, its report and marker delivered, ledgers closed."""
    states = journal_states(root)
    if any(states.get(n) != ["done"] for n in names):
        return False
    if sorted(p.name for p in erp.local("export").iterdir()) != ["done"]:
        return False
    delivered = sorted(p.name for p in erp.local("import").iterdir())
    if len(delivered) != 2 * len(names):
        return False
    if not (table_exists(root, "pulls", REMOTES) and table_exists(root, "pushes", REMOTES)):
        return False
    open_rows = db_value(root, "select count(*) from pulls where state != 'done'", db=REMOTES) + \
        db_value(root, "select count(*) from pushes where state != 'done'", db=REMOTES)
    return open_rows == 0


def assert_exactly_once(root: Path, erp, names: list[str]) -> None:
    states = journal_states(root)
    assert {n: states.get(n) for n in names} == {n: ["done"] for n in names}, states
    assert set(states) == set(names), f"unexpected inputs: {states}"
    inbox = root / "inbox" / "catalog"
    assert [p.name for p in inbox.iterdir() if p.is_file()] == [], "left in the inbox (temps included)"
    archived = sorted(p.name for p in (inbox / ".done").rglob("*") if p.is_file())
    assert len(archived) == len(names) and all(any(a.endswith(f"__{n}") for a in archived) for n in names)
    assert sorted(p.name for p in erp.local("export/done").iterdir()) == sorted(names)
    reports = sorted(p.name for p in (root / "outbox" / "reports").iterdir() if not p.name.endswith(".done"))
    assert len(reports) == len(names)
    delivered = sorted(p.name for p in erp.local("import").iterdir())
    assert delivered == sorted(reports + [r + ".done" for r in reports]), delivered
    for r in reports:
        assert erp.local(f"import/{r}").read_bytes() == (root / "outbox" / "reports" / r).read_bytes()
    pulls = db_rows(root, "select path, state from pulls", db=REMOTES)
    assert sorted(p for p, _ in pulls) == sorted(erp.remote(f"export/{n}") for n in names), pulls
    pushes = db_rows(root, "select remote_path, state from pushes", db=REMOTES)
    assert len(pushes) == len(names) and {s for _, s in pushes} == {"done"}, pushes


@pytest.fixture
def erp(erp_sshd):
    return erp_sshd


def test_daemon_pulls_processes_and_pushes_back_and_status_shows_it(tmp_path, daemon_factory, erp):
    cfg = instance(tmp_path, erp)
    names = export_catalogs(erp, 4)
    d = daemon_factory(cfg)
    root = cfg.parent
    wait_for(lambda: settled(root, erp, names), 90, interval=0.25, what="pull, process and push")
    assert_exactly_once(root, erp, names)
    status = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "status"],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert "remotes:" in status.stdout and "4 delivered" in status.stdout and "4 pulled" in status.stdout
    listing = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "remotes"],
                             capture_output=True, text=True, timeout=60)
    assert "erp (root@127.0.0.1" in listing.stdout or "erp (" in listing.stdout, listing.stdout
    assert d.stop() == 0, d.log_path.read_text(errors="replace")[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("point", PULL_POINTS + PUSH_POINTS)
def test_kill_9_at_every_step_then_restart_gives_each_file_once_on_each_side(tmp_path, daemon_factory, erp, point):
    cfg = instance(tmp_path, erp)
    names = export_catalogs(erp, 3)
    root = cfg.parent
    crashed = daemon_factory(cfg, env={"MARKETD_CRASHPOINT": point}, start=False)
    crashed.start(wait_ready=False)
    crashed.proc.wait(90)
    assert crashed.proc.returncode == -9, f"{point} was never reached:\n{crashed.output()}"
    crashed.kill()
    d = daemon_factory(cfg)
    wait_for(lambda: settled(root, erp, names), 120, interval=0.25, what=f"recovery after a kill at {point}")
    assert_exactly_once(root, erp, names)
    assert d.stop() == 0, d.log_path.read_text(errors="replace")[-3000:]


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_download_and_of_an_upload(tmp_path, daemon_factory, erp):
    proxy = FaultProxy(erp.port)
    try:
        proxy.rate = 1_000_000
        cfg = instance(tmp_path, erp, port=proxy.port)
        root = cfg.parent
        big = erp.local("export/big.csv")
        big.write_text(catalog_csv(40_000, start=0), encoding="utf-8")  # ~3.5 MB: a few seconds at 1 MB/s
        d = daemon_factory(cfg)
        part = root / "inbox" / "catalog"
        wait_for(lambda: any(p.name.startswith(".marketd-pull-") and p.stat().st_size > 200_000
                             for p in part.iterdir()), 60, interval=0.05, what="the download under way")
        d.kill()
        assert not (part / "big.csv").exists() and journal_states(root) == {}
        assert big.exists()

        # an upload: a large output already in the outbox, pushed as the restarted daemon starts
        proxy.rate = None
        report = root / "outbox" / "reports" / "manual-report.csv"
        report.parent.mkdir(parents=True, exist_ok=True)
        d = daemon_factory(cfg)
        wait_for(lambda: journal_states(root).get("big.csv") == ["done"], 120, what="big.csv processed")
        report.write_bytes(os.urandom(4_000_000))
        proxy.rate = 1_000_000
        wait_for(lambda: (erp.local("import/manual-report.csv.tmp").exists()
                          and erp.local("import/manual-report.csv.tmp").stat().st_size > 300_000),
                 60, interval=0.05, what="the upload under way")
        d.kill()
        assert not erp.local("import/manual-report.csv").exists()
        proxy.rate = None
        d = daemon_factory(cfg)
        wait_for(lambda: erp.local("import/manual-report.csv.done").exists(), 60, what="the upload finished")
        assert erp.local("import/manual-report.csv").read_bytes() == report.read_bytes()
        assert not list(erp.local("import").glob("*.tmp"))
        assert journal_states(root) == {"big.csv": ["done"]}
        assert sorted(p.name for p in erp.local("export/done").iterdir()) == ["big.csv"]
        assert d.stop() == 0, d.log_path.read_text(errors="replace")[-3000:]
    finally:
        proxy.close()


@pytest.mark.slow
def test_a_hung_remote_never_holds_up_the_inboxes_or_the_stop(tmp_path, daemon_factory, erp):
    proxy = FaultProxy(erp.port)
    try:
        cfg = instance(tmp_path, erp, port=proxy.port, read_timeout_seconds=60)
        root = cfg.parent
        erp.local("export/huge.csv").write_bytes(os.urandom(5_000_000))
        proxy.rate = 200_000
        d = daemon_factory(cfg)
        part = root / "inbox" / "catalog"
        wait_for(lambda: any(p.name.startswith(".marketd-pull-") for p in part.iterdir()), 60, interval=0.05,
                 what="the download under way")
        proxy.stall = True  # the ERP's server stops answering mid-file
        tmp = part / "local.csv.tmp"
        tmp.write_text(catalog_csv(10, start=50_000), encoding="utf-8")
        dropped = time.monotonic()
        os.rename(tmp, part / "local.csv")
        wait_for(lambda: journal_states(root).get("local.csv") == ["done"], 30, what="a local drop processed")
        assert time.monotonic() - dropped < 15
        started = time.monotonic()
        assert d.stop() == 0, d.log_path.read_text(errors="replace")[-3000:]
        assert time.monotonic() - started < 30  # stop_timeout_seconds = 5: the hung transfer is abandoned
        assert not (part / "huge.csv").exists()
        assert erp.local("export/huge.csv").exists()
    finally:
        proxy.close()
