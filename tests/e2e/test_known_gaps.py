"""Daemon gaps found while writing the SFTP tests, fixed since; each test now guards its fix.

Three are about how ``require_rename`` tells a renamed upload from a direct write (the watcher
thread keeps the evidence in event order: temp-name inodes until the temp name is gone, a rename
or link onto a final name until that name is written, deleted or holds another inode); two are
about output names (checked inside the store transaction, and unique per input).
"""
from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import assert_no_table, db_value, install_plugin, journal
from tests.samples import catalog_csv

pytestmark = pytest.mark.e2e


def final_state(root, name, timeout=30):
    def done():
        rows = journal(root, name)
        return rows if rows and rows[0]["state"] in ("done", "error") else None

    return wait_for(done, timeout, interval=0.1, what=f"{name} finished")[0]


HOLD = '''
import os, time
from marketd.sdk import hookimpl

class Hold:
    """Keeps the (only) inbox worker busy until the test says so."""
    kind = "hold"
    completeness = "any text"
    def process(self, ctx):
        open(os.environ["HOLD_STARTED"], "w").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(os.environ["HOLD_RELEASE"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return {}

@hookimpl
def register_inbox_handlers(register):
    register(Hold())
'''


def test_link_rename_while_worker_busy_and_ctime_not_after_mtime_is_accepted(tmp_path, daemon_factory):
    """OpenSSH's legacy rename is link()+unlink(). If the worker is busy with another file for the
    whole (short) life of the temp name, only the watcher thread sees it; no move event exists,
    and on kernels with coarse (jiffy) timestamps the link can land in the same tick as the last
    write, leaving ctime == mtime. os.utime emulates that tick here. The complete, renamed file
    used to be sent to .error as not_renamed once the grace period ended.

    The worker is held in a handler (not merely given a big file) until the temp name is gone:
    with a file processed quickly the test used to pass without the worker ever being busy."""
    root = tmp_path / "i"
    cfg = write_config(root, inbox={"catalog": {"mode": "require_rename", "direct_write_grace_seconds": 5}})
    started, release = tmp_path / "hold-started", tmp_path / "hold-release"
    env = {**install_plugin(tmp_path / "site", "marketd_hold", HOLD),
           "HOLD_STARTED": str(started), "HOLD_RELEASE": str(release)}
    daemon_factory(cfg, env=env)
    inbox = root / "inbox" / "catalog"
    (tmp_path / "busy.txt").write_text("x\n")
    os.rename(tmp_path / "busy.txt", root / "inbox" / "hold" / "busy.txt")
    wait_for(started.exists, 30, interval=0.02, what="the worker busy in the hold handler")
    tmp = inbox / "small.csv.tmp"
    tmp.write_text(catalog_csv(10, start=900_000))
    os.link(tmp, inbox / "small.csv")
    os.unlink(tmp)
    soon = time.time_ns() + 50_000_000
    os.utime(inbox / "small.csv", ns=(soon, soon))  # ctime <= mtime, as with a same-tick link
    assert journal(root, "small.csv") == []  # the worker is still held: the link-rename happened meanwhile
    release.write_text("go")
    assert final_state(root, "busy.txt", 30)["state"] == "done"
    row = final_state(root, "small.csv", 60)
    assert row["state"] == "done", row["error"]


def test_direct_write_reusing_a_deleted_temp_files_inode_is_rejected(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root, inbox={"catalog": {"mode": "require_rename", "direct_write_grace_seconds": 3}})
    daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    for _ in range(6):  # inode reuse is usual on ext4 and tmpfs, not guaranteed: try a few times
        (inbox / "aborted.csv.tmp").write_text("sku\n")
        ino = os.stat(inbox / "aborted.csv.tmp").st_ino
        time.sleep(1.5)  # event + rescan: the daemon has seen the temp name and remembers its inode
        os.unlink(inbox / "aborted.csv.tmp")  # the uploader cleans up an aborted upload
        with open(inbox / "direct.csv", "w") as fh:  # then a direct (possibly killed) upload
            fh.write(catalog_csv(10))
        if os.stat(inbox / "direct.csv").st_ino == ino:
            break
        os.unlink(inbox / "direct.csv")  # long before its grace period: never claimed
    else:
        pytest.skip("this filesystem did not reuse the inode number; the gap needs reuse to show")
    row = final_state(root, "direct.csv")
    assert row["state"] == "error", "a direct write was accepted as renamed"


def test_direct_write_under_a_name_that_was_once_renamed_in_is_rejected(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root, inbox={"catalog": {"mode": "require_rename", "direct_write_grace_seconds": 3}})
    daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    keep = tmp_path / "keep.csv"  # holds the renamed file's inode, so no inode reuse is involved
    keep.write_text(catalog_csv(5))
    os.link(keep, inbox / "x.csv.tmp")
    os.rename(inbox / "x.csv.tmp", inbox / "x.csv")
    os.unlink(inbox / "x.csv")  # withdrawn before it was claimed
    time.sleep(2)
    with open(inbox / "x.csv", "w") as fh:  # later, a direct write under the same name
        fh.write(catalog_csv(10, start=50))
    row = final_state(root, "x.csv")
    assert row["state"] == "error", "a direct write was accepted as renamed"


LEDGER = '''
from marketd import hookimpl

class Ledger:
    """Applies rows and writes a report whose name does not vary per input."""
    kind = "ledger"
    completeness = "any text"
    def process(self, ctx):
        for line in ctx.path.read_text().split():
            ctx.db["ledger"].insert({"file": ctx.name, "value": line}, alter=True)
        ctx.output(f"reports/ledger-{ctx.stem}.txt", "ledger report\\n")
        return {"rows": len(ctx.path.read_text().split())}

@hookimpl
def register_inbox_handlers(register):
    register(Ledger())
'''


def test_output_name_conflict_rejects_the_file_without_applying_it(tmp_path, daemon_factory):
    """With output_conflict = "fail", an input whose output name already exists goes to .error as
    output_exists with "Nothing from it was applied", and nothing of it is applied: the names are
    checked inside the store transaction. (It used to be found at publish, after the commit.)"""
    root = tmp_path / "i"
    cfg = write_config(root)
    daemon_factory(cfg, env=install_plugin(tmp_path / "site", "marketd_ledger", LEDGER))
    reports = root / "outbox" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "ledger-feed.txt").write_text("an earlier report\n")
    (tmp_path / "feed.txt").write_text("1\n2\n3\n")
    os.rename(tmp_path / "feed.txt", root / "inbox" / "ledger" / "feed.txt")
    row = final_state(root, "feed.txt")
    assert row["state"] == "error" and json.loads(row["error"])["reason"] == "output_exists", row
    report = next((root / "inbox" / "ledger" / ".error").glob("*__feed.txt.error.txt")).read_text()
    assert "Nothing from it was applied" in report and "ledger-feed.txt" in report
    # the handler's first insert created the table inside the file's transaction: rolled back with it
    assert_no_table(root, "ledger")
    assert (reports / "ledger-feed.txt").read_text() == "an earlier report\n"


def test_same_stem_files_dropped_together_each_get_their_own_report(tmp_path, daemon_factory):
    """feed.csv and feed.tsv dropped together are usually claimed in the same second; their reports
    used to share catalog-feed-<second>.csv, so the second one hit output_exists after its rows
    were applied. The stamp in output names now carries the file id's random part."""
    root = tmp_path / "i"
    cfg = write_config(root)
    daemon_factory(cfg)
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "feed.csv").write_text(catalog_csv(5))
    (staging / "feed.tsv").write_text(catalog_csv(6, start=500, delimiter="\t"))
    for name in ("feed.csv", "feed.tsv"):
        os.rename(staging / name, root / "inbox" / "catalog" / name)
    rows = [final_state(root, n) for n in ("feed.csv", "feed.tsv")]
    assert [r["state"] for r in rows] == ["done", "done"], rows
    assert len(list((root / "outbox" / "reports").glob("catalog-feed-*.csv"))) == 2
    assert db_value(root, "select count(*) from products") == 11
