"""The real daemon process: readiness, lock, signals, crash safety, bad input, watcher recovery."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import db_rows, db_value, file_states, n_products
from tests.samples import catalog_csv

pytestmark = pytest.mark.e2e


def assert_exactly_once(root: Path, name: str, rows: int):
    inbox = root / "inbox" / "catalog"
    assert n_products(root) == rows
    done = [p for p in (inbox / ".done").rglob(f"*__{name}")]
    assert len(done) == 1, done
    assert not any((inbox / ".processing").iterdir())
    assert list((inbox / ".error").glob(f"*__{name}")) == []
    stem = Path(name).stem
    reports = list((root / "outbox" / "reports").glob(f"catalog-{stem}-*.csv"))
    assert len(reports) == 1, reports
    assert f"{rows} rows: {rows} new" in reports[0].read_text()
    temps = [p for p in (root / "outbox").rglob("*") if p.name.endswith(".tmp")]
    assert temps == []
    assert db_rows(root, "select state, count(*) from files where name = ? group by state", (name,)) == [("done", 1)]


def test_ready_lock_status_and_clean_stop(tmp_path, daemon_factory):
    cfg = write_config(tmp_path / "i")
    d = daemon_factory(cfg)
    assert any(m.startswith("READY=1") for m in d.messages)
    second = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "run"], capture_output=True,
                            text=True, timeout=60)
    assert second.returncode != 0 and "another marketd" in second.stderr
    st = subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), "status", "--json"],
                        capture_output=True, text=True, timeout=60, check=True)
    status = json.loads(st.stdout)
    assert status["daemon"].startswith("running") and "catalog" in status["waiting"]
    assert {j["job"] for j in status["jobs"]} >= {"catalog-summary", "retention"}
    assert d.stop() == 0
    assert "STOPPING=1" in d.messages


def test_startup_scan_and_drop_while_stopped(tmp_path, daemon_factory):
    cfg = write_config(tmp_path / "i")
    inbox = tmp_path / "i" / "inbox" / "catalog"
    inbox.mkdir(parents=True)
    (inbox / "before.csv").write_text(catalog_csv(10))
    d = daemon_factory(cfg)
    wait_for(lambda: file_states(tmp_path / "i").get("before.csv") == "done", 20, what="startup file")
    d.stop()
    (inbox / "while-down.csv").write_text(catalog_csv(5, start=100))
    d2 = daemon_factory(cfg)
    wait_for(lambda: file_states(tmp_path / "i").get("while-down.csv") == "done", 20, what="file dropped while down")
    assert n_products(tmp_path / "i") == 15
    d2.stop()


def test_slow_writer_copy_rename_and_link_forms(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root, inbox={"defaults": {"stability_seconds": 2.0}})
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    text = catalog_csv(3000, start=0)
    # a slow writer: 2.5 s of appends with pauses 8x shorter than the stability window (a loaded
    # machine may stall the writer; it must not stall it past the window)
    with open(inbox / "slow.csv", "w") as fh:
        chunk = len(text) // 10 + 1
        for i in range(0, len(text), chunk):
            fh.write(text[i:i + chunk]); fh.flush()
            time.sleep(0.25)
    (inbox / "renamed.csv.filepart").write_text(catalog_csv(20, start=10000))
    os.rename(inbox / "renamed.csv.filepart", inbox / "renamed.csv")
    (inbox / "linked.csv.tmp").write_text(catalog_csv(30, start=20000))
    os.link(inbox / "linked.csv.tmp", inbox / "linked.csv")
    os.unlink(inbox / "linked.csv.tmp")
    wait_for(lambda: all(file_states(root).get(n) == "done" for n in ("slow.csv", "renamed.csv", "linked.csv")),
             30, what="three files done")
    assert n_products(root) == 3050
    assert db_value(root, "select count(*) from files") == 3
    d.stop()


CRASHPOINTS = ["after_claim_rename", "before_process", "before_commit", "after_commit", "mid_publish",
               "after_publish", "after_archive_move"]


@pytest.mark.parametrize("point", CRASHPOINTS)
def test_kill9_at_each_commit_step_recovers_exactly_once(tmp_path, daemon_factory, point):
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg, env={"MARKETD_CRASHPOINT": point})
    (root / "inbox" / "catalog" / "c.csv").write_text(catalog_csv(500))
    d.proc.wait(timeout=30)
    assert d.proc.returncode == -signal.SIGKILL, d.output()
    d._close()
    d2 = daemon_factory(cfg)
    wait_for(lambda: file_states(root).get("c.csv") == "done", 30, what=f"recovery after {point}")
    d2.stop()
    assert_exactly_once(root, "c.csv", 500)


def test_external_sigkill_mid_processing_of_a_large_file(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg)
    big = catalog_csv(120_000)
    src = tmp_path / "big.csv"
    src.write_text(big)
    os.link(src, root / "inbox" / "catalog" / "big.csv")
    # the journal row is written at the claim, before the handler starts; 120,000 rows take the
    # handler well over a second, so the kill lands inside it (a machine fast enough to finish
    # first fails the assertion below rather than passing without a kill mid-file)
    wait_for(lambda: file_states(root).get("big.csv") == "claimed", 30, interval=0.02, what="claim journaled")
    d.kill()
    assert file_states(root).get("big.csv") == "claimed"
    d2 = daemon_factory(cfg)
    wait_for(lambda: file_states(root).get("big.csv") == "done", 120, what="large file after kill -9")
    d2.stop()
    assert_exactly_once(root, "big.csv", 120_000)
    archived = next((root / "inbox" / "catalog" / ".done").rglob("*__big.csv"))
    assert hashlib.sha256(archived.read_bytes()).hexdigest() == hashlib.sha256(src.read_bytes()).hexdigest()


def test_sigterm_finishes_file_in_hand_without_half_outputs(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg)
    (tmp_path / "big.csv").write_text(catalog_csv(60_000))
    os.link(tmp_path / "big.csv", root / "inbox" / "catalog" / "big.csv")
    wait_for(lambda: any((root / "inbox" / "catalog" / ".processing").iterdir()), 30, interval=0.02, what="claim")
    assert d.stop() == 0
    assert file_states(root).get("big.csv") == "done"  # finished, not abandoned half-way
    assert_exactly_once(root, "big.csv", 60_000)


def test_bad_files_go_to_error_and_daemon_keeps_running(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    (inbox / "junk.csv").write_bytes(os.urandom(4096))
    (inbox / "empty.csv").write_bytes(b"")
    (inbox / "nosku.csv").write_text("ean,title,price\n4006381333931,x,1\n")
    (inbox / "cut.csv").write_text(catalog_csv(50)[:-30])
    with open(inbox / ".huge.csv.tmp", "wb") as fh:  # 2 GB of (sparse) garbage, renamed in when complete
        fh.truncate(2 * 1024 ** 3)
    os.rename(inbox / ".huge.csv.tmp", inbox / "huge.csv")
    names = ["junk.csv", "empty.csv", "nosku.csv", "cut.csv", "huge.csv"]
    wait_for(lambda: all(file_states(root).get(n) == "error" for n in names), 60, what="bad files rejected")
    reasons = {}
    for n in names:
        report = next((inbox / ".error").glob(f"*__{n}.error.txt")).read_text()
        assert "What:" in report and "Fix:" in report and "Traceback" not in report
        reasons[n] = json.loads(next((inbox / ".error").glob(f"*__{n}.error.json")).read_text())["reason"]
        assert next((inbox / ".error").glob(f"*__{n}")).exists()  # the input itself is kept
    assert reasons == {"junk.csv": "binary", "empty.csv": "empty_file", "nosku.csv": "missing_column",
                       "cut.csv": "truncated", "huge.csv": "too_large"}
    (inbox / "good.csv").write_text(catalog_csv(7))
    wait_for(lambda: file_states(root).get("good.csv") == "done", 20, what="good file after bad ones")
    assert n_products(root) == 7 and d.proc.poll() is None
    d.stop()


def test_watcher_recovers_when_inbox_folder_is_replaced(tmp_path, daemon_factory):
    import shutil

    root = tmp_path / "i"
    cfg = write_config(root, daemon={"rescan_seconds": 3600.0})  # only events or supervision can find the file
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    shutil.rmtree(inbox)
    inbox.mkdir()
    wait_for(lambda: "rebuilding" in d.output(), 20, what="supervision noticing the new inode")
    (inbox / "after.csv").write_text(catalog_csv(4))
    wait_for(lambda: file_states(root).get("after.csv") == "done", 20, what="file in the replaced folder")
    d.stop()


def python_without_dac_override(tmp_path: Path) -> str:
    """An interpreter for the daemon that, like a dedicated service user, cannot read other
    people's private files. Under root that means dropping CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from its bounding set (setpriv); otherwise the plain interpreter."""
    if os.geteuid() != 0:
        return sys.executable
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable for the daemon")
    wrapper = tmp_path / "python-nodac"
    wrapper.write_text(f'#!/bin/sh\nexec {setpriv} --bounding-set -dac_override,-dac_read_search '
                       f'-- {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    res = subprocess.run([str(wrapper), "-c", f"open({str(probe)!r}).read()"], capture_output=True, text=True)
    if "PermissionError" not in res.stderr:
        pytest.skip(f"cannot drop the DAC capabilities here: {res.stderr.strip()[-200:]}")
    return str(wrapper)


def test_unreadable_file_is_rejected_with_a_fix_and_never_stops_the_daemon(tmp_path, daemon_factory, monkeypatch):
    """An upload marketd cannot read (an SFTP upload keeps the sender's 0600) used to kill the
    worker (PermissionError while hashing it), and, left in .processing/ unjournaled, to crash
    every start-up."""
    monkeypatch.setattr(sys, "executable", python_without_dac_override(tmp_path))
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    staging = tmp_path / "secret.csv"
    staging.write_text(catalog_csv(3))
    staging.chmod(0o000)
    os.rename(staging, inbox / "secret.csv")
    wait_for(lambda: file_states(root).get("secret.csv") == "error", 20, what="unreadable file rejected")
    err = json.loads(next((inbox / ".error").glob("*__secret.csv.error.json")).read_text())
    assert err["reason"] == "unreadable" and "Permission denied" in err["message"] and err["sha256"] is None
    text = next((inbox / ".error").glob("*__secret.csv.error.txt")).read_text()
    assert "Fix:" in text and "readable" in text and "move it back into inbox/catalog/" in text
    assert next((inbox / ".error").glob("*__secret.csv")).stat().st_size > 0  # the input is kept as it was
    (inbox / "good.csv").write_text(catalog_csv(4))
    wait_for(lambda: file_states(root).get("good.csv") == "done", 20, what="a good file after the unreadable one")
    assert d.proc.poll() is None and n_products(root) == 4
    assert d.stop() == 0
    lines = [ln for ln in d.log_path.read_text().splitlines() if "secret.csv" in ln]
    assert len(lines) == 1 and "ERROR" in lines[0] and "[unreadable]" in lines[0], lines  # once, no log loop
    stuck = inbox / ".processing" / "20261122T080000-0badcafe__stuck.csv"  # claimed, then killed before the journal
    stuck.write_text(catalog_csv(2))
    stuck.chmod(0o000)
    d2 = daemon_factory(cfg)  # must reach READY
    wait_for(lambda: file_states(root).get("stuck.csv") == "error", 20, what="unreadable adopted file rejected")
    assert d2.proc.poll() is None and d2.stop() == 0


def test_fifo_in_the_inbox_is_reported_once_and_never_blocks_the_daemon(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    os.mkfifo(inbox / "pipe.csv")  # the watcher reports it like any new name
    time.sleep(2.5)  # a few rescans
    (inbox / "good.csv").write_text(catalog_csv(3))
    wait_for(lambda: file_states(root).get("good.csv") == "done", 20, what="a good file next to a FIFO")
    assert (inbox / "pipe.csv").exists() and "pipe.csv" not in file_states(root)
    assert d.stop() == 0
    log = d.log_path.read_text()
    assert log.count("pipe.csv is a named pipe (FIFO), not a regular file") == 1, log


def test_output_name_taken_between_commit_and_publish_is_published_next_to_it(tmp_path, daemon_factory):
    """Output names are checked inside the transaction; one that appears between the commit and the
    publish (here: while the daemon is down after the commit) cannot roll back what is applied, so
    the output goes next to it as name-1.ext, nothing is overwritten, and start-up is not blocked."""
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg, env={"MARKETD_CRASHPOINT": "after_commit"})
    (root / "inbox" / "catalog" / "c.csv").write_text(catalog_csv(5))
    d.proc.wait(timeout=30)
    assert d.proc.returncode == -signal.SIGKILL, d.output()
    d._close()
    final = Path(json.loads(db_rows(root, "select outputs from files where name = 'c.csv'")[0][0])[0]["final"])
    final.parent.mkdir(parents=True, exist_ok=True)
    final.write_text("someone else's file\n")
    d2 = daemon_factory(cfg)
    wait_for(lambda: file_states(root).get("c.csv") == "done", 30, what="recovery publishes next to the taken name")
    assert d2.stop() == 0
    assert final.read_text() == "someone else's file\n"
    beside = final.with_name(f"{final.stem}-1{final.suffix}")
    assert "5 rows: 5 new" in beside.read_text() and n_products(root) == 5
    assert "appeared after c.csv" in d2.log_path.read_text()
