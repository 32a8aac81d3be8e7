"""An ERP's server that lies about who it is, drops the connection mid-file, runs out of disk,
refuses a rename, crawls, hangs or is down: nothing is lost locally, nothing doubled remotely."""
from __future__ import annotations

import os
import threading
import time

import asyncssh
import pytest

from marketd.plugins.remotes.ledger import Ledger
from marketd.plugins.remotes.runner import run
from marketd.plugins.remotes.status import lines
from tests.remotes.faultproxy import FaultProxy

pytestmark = [pytest.mark.sftp]


def inbox_files(app, kind="catalog") -> dict[str, bytes]:
    folder = app.inbox_dir / kind
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if folder.exists() else {}


def rows(app, table) -> list[dict]:
    return Ledger.of(app).query(f"select * from {table} order by id")


def pull_cfg(erp, **kw):
    return {"remote_dir": erp.remote("export"), "inbox": "catalog", "completeness": "final_name", **kw}


def push_cfg(erp, **kw):
    return {"outbox": "labels", "remote_dir": erp.remote("import"), "existing": "push", **kw}


@pytest.fixture
def proxy_for():
    made = []

    def make(server):
        p = FaultProxy(server.port)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


# -- who is on the other end --------------------------------------------------------------------
def test_an_unpinned_host_key_is_refused_before_any_login_naming_its_fingerprint(erp_sshd, remote_app):
    erp = erp_sshd
    erp.local("export/a.csv").write_bytes(b"a")
    app = remote_app(erp, host_key=None, pull=[pull_cfg(erp)])
    report = run(app, "erp", force=True)
    offered = asyncssh.read_public_key(f"{erp.host_key}.pub").get_fingerprint("sha256")
    assert report.pulled == 0
    assert f"offers host key {offered} (ssh-ed25519)" in report.error and "pins none" in report.error
    assert "nothing was sent" in report.error
    log = erp.log()
    assert "Accepted publickey" not in log and "Failed publickey" not in log and "Postponed" not in log
    assert erp.local("export/a.csv").exists() and inbox_files(app) == {}


def test_a_changed_host_key_is_refused_naming_both_fingerprints(erp_sshd, remote_app):
    erp = erp_sshd
    pinned = asyncssh.generate_private_key("ssh-ed25519")
    app = remote_app(erp, host_key=pinned.export_public_key().decode().strip(), pull=[pull_cfg(erp)])
    report = run(app, "erp", force=True)
    offered = asyncssh.read_public_key(f"{erp.host_key}.pub").get_fingerprint("sha256")
    assert "HOST KEY MISMATCH" in report.error
    assert offered in report.error and pinned.get_fingerprint("sha256") in report.error
    assert "Accepted publickey" not in erp.log()
    assert any("HOST KEY MISMATCH" in line for line in lines(app))


def test_a_sha256_fingerprint_pin_is_enough(erp_sshd, remote_app):
    erp = erp_sshd
    erp.local("export/a.csv").write_bytes(b"a")
    fp = asyncssh.read_public_key(f"{erp.host_key}.pub").get_fingerprint("sha256")
    app = remote_app(erp, host_key=fp, pull=[pull_cfg(erp)])
    assert run(app, "erp", force=True).pulled == 1


# -- the connection -----------------------------------------------------------------------------
def test_a_connection_dropped_mid_download_leaves_nothing_in_the_inbox_and_the_file_on_the_remote(
        erp_sshd, remote_app, proxy_for):
    erp = erp_sshd
    data = os.urandom(1_500_000)
    erp.local("export/big.csv").write_bytes(data)
    proxy = proxy_for(erp)
    proxy.cut_after = 600_000
    app = remote_app(erp, port=proxy.port, pull=[pull_cfg(erp)])
    report = run(app, "erp", force=True)
    assert proxy.cuts == 1 and report.pulled == 0 and report.error, report.summary()
    assert os.listdir(app.inbox_dir / "catalog") == []  # no file, no temp
    assert erp.local("export/big.csv").read_bytes() == data
    row, = rows(app, "pulls")
    assert row["state"] == "downloading" and row["attempts"] == 1 and row["next_attempt_at"]
    proxy.healthy()
    assert run(app, "erp", force=True).pulled == 1
    assert inbox_files(app) == {"big.csv": data}
    assert [r["state"] for r in rows(app, "pulls")] == ["done"]


def test_a_connection_dropped_mid_upload_is_resent_once_and_no_temp_name_stays(erp_sshd, remote_app, proxy_for, app_factory):
    erp = erp_sshd
    proxy = proxy_for(erp)
    proxy.cut_upstream, proxy.cut_after = True, 500_000
    app = remote_app(erp, port=proxy.port, push=[push_cfg(erp)])
    label = app.outbox.write("labels/big.pdf", os.urandom(1_200_000))
    report = run(app, "erp", force=True)
    assert proxy.cuts == 1 and report.pushed == 0 and report.error
    assert not erp.local("import/big.pdf").exists()
    proxy.healthy()
    assert run(app, "erp", force=True).pushed == 1
    assert {p.name: p.read_bytes() for p in erp.local("import").iterdir()} == {"big.pdf": label.read_bytes()}


def test_a_slow_link_is_not_a_dead_one(erp_sshd, remote_app, proxy_for):
    erp = erp_sshd
    data = os.urandom(900_000)
    erp.local("export/slow.csv").write_bytes(data)
    proxy = proxy_for(erp)
    proxy.rate = 300_000  # ~3 s for the file, well over read_timeout_seconds
    app = remote_app(erp, port=proxy.port, read_timeout_seconds=1.5, pull=[pull_cfg(erp)])
    started = time.monotonic()
    report = run(app, "erp", force=True)
    assert report.pulled == 1, report.summary()
    assert time.monotonic() - started > 2.5
    assert inbox_files(app) == {"slow.csv": data}


def test_a_hung_link_is_given_up_after_read_timeout_and_nothing_lands(erp_sshd, remote_app, proxy_for):
    erp = erp_sshd
    erp.local("export/hang.csv").write_bytes(os.urandom(2_000_000))
    proxy = proxy_for(erp)
    proxy.rate = 400_000
    app = remote_app(erp, port=proxy.port, read_timeout_seconds=1.5, pull=[pull_cfg(erp)])
    timer = threading.Timer(1.5, lambda: setattr(proxy, "stall", True))
    timer.start()
    started = time.monotonic()
    report = run(app, "erp", force=True)
    took = time.monotonic() - started
    timer.cancel()
    assert report.pulled == 0 and "no data for" in (report.error or ""), report.summary()
    assert took < 15
    assert os.listdir(app.inbox_dir / "catalog") == []
    assert erp.local("export/hang.csv").exists()


def test_a_remote_that_is_down_backs_off_and_shows_in_status(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp)])
    app.outbox.write("labels/a.pdf", b"x")
    erp.stop()
    report = run(app, "erp", force=True)
    assert report.error and "cannot connect" in report.error
    again = run(app, "erp")
    assert again.skipped and again.skipped.startswith("backing off")
    text = "\n".join(lines(app))
    assert "FAILING since" in text and "1 pending" in text
    assert (app.outbox_dir / "labels" / "a.pdf").read_bytes() == b"x"  # nothing lost locally


# -- the remote's disk and permissions ------------------------------------------------------------
def test_a_full_remote_disk_fails_the_push_and_it_goes_through_once_there_is_room(erp_sshd, remote_app):
    erp = erp_sshd
    disk = erp.small_disk("import", "1m")
    if disk is None:
        pytest.skip("mounting a tmpfs needs root (the asyncssh quota test covers this fault unprivileged)")
    blocker = disk / "blocker.bin"
    blocker.write_bytes(b"\0" * 700_000)
    app = remote_app(erp, push=[push_cfg(erp)])
    label = app.outbox.write("labels/a.pdf", os.urandom(600_000))
    report = run(app, "erp", force=True)
    assert report.pushed == 0 and report.errors, report.summary()
    assert not (disk / "a.pdf").exists()
    row, = rows(app, "pushes")
    assert row["state"] == "pending" and row["last_error"]
    blocker.unlink()
    assert run(app, "erp", force=True).pushed == 1
    assert sorted(p.name for p in disk.iterdir()) == ["a.pdf"]
    assert (disk / "a.pdf").read_bytes() == label.read_bytes()


def test_a_quota_error_from_the_server_fails_the_push_until_it_is_lifted(async_erp, remote_app):
    erp = async_erp
    erp.quota = 100_000
    app = remote_app(erp, push=[push_cfg(erp)])
    label = app.outbox.write("labels/a.pdf", os.urandom(300_000))
    report = run(app, "erp", force=True)
    assert report.pushed == 0 and "No space" in report.errors[0]
    erp.quota = None
    assert run(app, "erp", force=True).pushed == 1
    assert {p.name: p.read_bytes() for p in erp.local("import").iterdir()} == {"a.pdf": label.read_bytes()}


def test_a_refused_rename_keeps_the_upload_and_only_the_rename_is_retried(async_erp, remote_app):
    erp = async_erp
    erp.deny_rename = True
    app = remote_app(erp, push=[push_cfg(erp)])
    label = app.outbox.write("labels/a.pdf", os.urandom(50_000))
    report = run(app, "erp", force=True)
    assert report.pushed == 0 and "Permission denied" in report.errors[0]
    assert sorted(p.name for p in erp.local("import").iterdir()) == ["a.pdf.tmp"]
    assert rows(app, "pushes")[0]["state"] == "renaming"
    written = erp.written
    erp.deny_rename = False
    assert run(app, "erp", force=True).pushed == 1
    assert erp.written == written  # not uploaded a second time
    assert {p.name: p.read_bytes() for p in erp.local("import").iterdir()} == {"a.pdf": label.read_bytes()}


def test_a_refused_archive_keeps_the_file_pulled_once_and_archives_it_later(async_erp, remote_app):
    erp = async_erp
    erp.local("export/a.csv").write_bytes(b"catalog")
    erp.deny_rename = True
    app = remote_app(erp, pull=[pull_cfg(erp)])
    report = run(app, "erp", force=True)
    assert report.pulled == 1 and "Permission denied" in report.errors[0]
    assert inbox_files(app) == {"a.csv": b"catalog"}
    (app.inbox_dir / "catalog" / "a.csv").unlink()  # the daemon took and processed it
    row, = rows(app, "pulls")
    assert row["state"] == "landed" and "Permission denied" in row["last_error"]
    assert run(app, "erp", force=True).pulled == 0  # still refused, and never pulled again
    assert inbox_files(app) == {} and len(rows(app, "pulls")) == 1
    erp.deny_rename = False
    run(app, "erp", force=True)
    assert sorted(p.name for p in erp.local("export").iterdir()) == ["done"]
    assert (erp.local("export/done/a.csv")).read_bytes() == b"catalog"
    assert rows(app, "pulls")[0]["state"] == "done" and inbox_files(app) == {}


def test_a_landed_file_replaced_on_the_remote_is_not_archived_unseen(async_erp, remote_app):
    erp = async_erp
    src = erp.local("export/a.csv")
    src.write_bytes(b"version one")
    erp.deny_rename = True
    app = remote_app(erp, pull=[pull_cfg(erp)])
    run(app, "erp", force=True)
    (app.inbox_dir / "catalog" / "a.csv").unlink()
    st = src.stat()
    src.write_bytes(b"version two")  # same size, same second: only the content tells
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    erp.deny_rename = False
    report = run(app, "erp", force=True)
    assert report.pulled == 1, report.summary()
    assert inbox_files(app) == {"a.csv": b"version two"}
    first, second = rows(app, "pulls")
    assert "other content" in first["note"] and second["state"] == "done"
