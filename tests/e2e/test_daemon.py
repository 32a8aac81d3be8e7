"""The real daemon process: readiness, lock, signals, crash safety, bad input, watcher recovery."""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.samples import catalog_csv

pytestmark = pytest.mark.e2e


def db_rows(root: Path, sql: str, params=()):
    db = root / "var" / "marketd.sqlite"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def file_states(root):
    return dict(db_rows(root, "select name, state from files"))


def n_products(root):
    rows = db_rows(root, "select count(*) from products")
    return rows[0][0] if rows else 0


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
    cfg = write_config(root, inbox={"defaults": {"stability_seconds": 1.0}})
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    text = catalog_csv(3000, start=0)
    # a slow writer: 2.5 s of appends with pauses shorter than the stability window
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
    assert db_rows(root, "select count(*) from files")[0][0] == 3
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
    wait_for(lambda: any((root / "inbox" / "catalog" / ".processing").iterdir()), 30, interval=0.02,
             what="claim")
    time.sleep(0.3)  # well inside the several seconds the file takes
    d.kill()
    assert file_states(root).get("big.csv") in (None, "claimed")
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
    time.sleep(1.5)  # supervision notices the new inode and re-watches
    (inbox / "after.csv").write_text(catalog_csv(4))
    wait_for(lambda: file_states(root).get("after.csv") == "done", 20, what="file in the replaced folder")
    assert "rebuilding" in d.output()
    d.stop()
