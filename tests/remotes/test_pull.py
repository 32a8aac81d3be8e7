"""Pulling from a real OpenSSH ``internal-sftp`` (chrooted when the tests run as root) into an
in-process app's inboxes: the completeness rules, the remote after-steps, and "exactly once"."""
from __future__ import annotations

import os
import threading
import time

import pytest

from marketd.plugins.remotes.ledger import Ledger
from marketd.plugins.remotes.runner import run
from tests.remotes.faultproxy import FaultProxy

pytestmark = [pytest.mark.sftp]


def inbox_files(app, kind="catalog") -> dict[str, bytes]:
    """The files the inbox would take (dot-names are temp names it never takes)."""
    folder = app.inbox_dir / kind
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def pulls(app) -> list[dict]:
    return Ledger.of(app).query("select * from pulls order by id")


def pull_cfg(erp, **kw) -> dict:
    return {"remote_dir": erp.remote("export"), "inbox": "catalog", "completeness": "final_name", "seconds": 1, **kw}


def test_final_name_files_land_once_in_the_inbox_and_are_archived_on_the_remote(erp_sshd, remote_app):
    erp = erp_sshd
    files = {f"c{i}.csv": os.urandom(1000 + i * 70_000) for i in range(4)}  # up to ~210 KB: several blocks
    for name, data in files.items():
        erp.local(f"export/{name}").write_bytes(data)
    erp.local("export/half.csv.filepart").write_bytes(b"still uploading")
    erp.local("export/.hidden.csv").write_bytes(b"dot-named")
    erp.mkdirs("export/sub")
    os.symlink("/etc/passwd", erp.local("export/link.csv"))
    old = time.time() - 86400
    os.utime(erp.local("export/c0.csv"), (old, old))
    app = remote_app(erp, pull=[pull_cfg(erp)])

    report = run(app, "erp", force=True)
    assert (report.pulled, report.error, report.errors) == (4, None, []), report.summary()
    assert inbox_files(app) == files
    for name in files:
        st = os.stat(app.inbox_dir / "catalog" / name)
        assert st.st_mode & 0o777 == 0o600  # may hold buyer data
    assert int(os.stat(app.inbox_dir / "catalog" / "c0.csv").st_mtime) == int(old)  # the sender's time
    remaining = sorted(p.name for p in erp.local("export").iterdir())
    assert remaining == [".hidden.csv", "done", "half.csv.filepart", "link.csv", "sub"]
    assert {p.name: p.read_bytes() for p in erp.local("export/done").iterdir()} == files
    rows = pulls(app)
    assert [r["state"] for r in rows] == ["done"] * 4 and all(r["sha256"] for r in rows)
    assert not [p for p in (app.inbox_dir / "catalog").iterdir() if p.name.startswith(".marketd-pull")]

    again = run(app, "erp", force=True)
    assert again.pulled == 0 and len(pulls(app)) == 4


def test_stable_rule_waits_for_a_growing_file_and_takes_it_once_it_holds_still(erp_sshd, remote_app):
    erp = erp_sshd
    target = erp.local("export/growing.csv")
    target.write_bytes(b"header\n")
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            with open(target, "ab") as fh:
                fh.write(b"row\n")
            time.sleep(0.3)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    app = remote_app(erp, pull=[pull_cfg(erp, completeness="stable", stable_seconds=1.5)])
    try:
        report = run(app, "erp", force=True)
    finally:
        stop.set()
        t.join()
    assert report.pulled == 0 and report.waiting == 1, report.summary()
    assert inbox_files(app) == {}
    final = target.read_bytes()
    started = time.monotonic()
    report = run(app, "erp", force=True)  # first sight unchanged: waits out the window in the run, lists again
    assert report.pulled == 1, report.summary()
    assert time.monotonic() - started < 10
    assert inbox_files(app) == {"growing.csv": final}


def test_done_file_rule_takes_data_only_with_its_marker_and_archives_both(erp_sshd, remote_app):
    erp = erp_sshd
    erp.local("export/a.csv").write_bytes(b"a")
    erp.local("export/b.csv").write_bytes(b"b")
    erp.local("export/b.csv.ok").write_bytes(b"")
    app = remote_app(erp, pull=[pull_cfg(erp, completeness="done_file", done_suffix=".ok")],
                     inbox={"catalog": {"mode": "done_file"}})
    report = run(app, "erp", force=True)
    assert report.pulled == 1
    # the inbox is in done_file mode itself: the pulled file gets its local marker
    assert set(inbox_files(app)) == {"b.csv", "b.csv.done"}
    assert sorted(p.name for p in erp.local("export/done").iterdir()) == ["b.csv", "b.csv.ok"]
    assert erp.local("export/a.csv").exists()


def test_delete_and_keep(erp_sshd, remote_app):
    erp = erp_sshd
    erp.mkdirs("keep")
    erp.local("export/d.csv").write_bytes(b"delete me")
    erp.local("keep/k.csv").write_bytes(b"keep me")
    app = remote_app(erp, pull=[pull_cfg(erp, after="delete"),
                                pull_cfg(erp, remote_dir=erp.remote("keep"), inbox="shipments", after="keep")])
    assert run(app, "erp", force=True).pulled == 2
    assert not erp.local("export/d.csv").exists() and not erp.local("export/done").exists()
    assert erp.local("keep/k.csv").read_bytes() == b"keep me"
    assert inbox_files(app, "shipments") == {"k.csv": b"keep me"}
    # kept on the remote: the same file is never pulled again, a changed one is
    (app.inbox_dir / "shipments" / "k.csv").unlink()
    assert run(app, "erp", force=True).pulled == 0
    erp.local("keep/k.csv").write_bytes(b"keep me, version 2")
    assert run(app, "erp", force=True).pulled == 1
    assert inbox_files(app, "shipments") == {"k.csv": b"keep me, version 2"}


def test_an_archive_name_already_taken_keeps_both_files(erp_sshd, remote_app):
    erp = erp_sshd
    erp.mkdirs("export/done")
    erp.local("export/done/x.csv").write_bytes(b"yesterday's")
    erp.local("export/x.csv").write_bytes(b"today's")
    app = remote_app(erp, pull=[pull_cfg(erp)])
    assert run(app, "erp", force=True).pulled == 1
    archived = {p.name: p.read_bytes() for p in erp.local("export/done").iterdir()}
    assert archived.pop("x.csv") == b"yesterday's"
    (name, data), = archived.items()
    assert data == b"today's" and name.startswith("x-") and name.endswith(".csv")
    assert pulls(app)[0]["note"].startswith("archived as ")


def test_a_name_still_waiting_in_the_inbox_is_never_overwritten(erp_sshd, remote_app):
    erp = erp_sshd
    erp.local("export/same.csv").write_bytes(b"from the ERP")
    app = remote_app(erp, pull=[pull_cfg(erp)])
    (app.inbox_dir / "catalog").mkdir(parents=True, exist_ok=True)
    (app.inbox_dir / "catalog" / "same.csv").write_bytes(b"dropped by a person")
    report = run(app, "erp", force=True)
    assert report.pulled == 0 and report.blocked == 1
    assert inbox_files(app) == {"same.csv": b"dropped by a person"}
    assert erp.local("export/same.csv").exists()  # not archived: it is not in the inbox yet
    assert [r["state"] for r in pulls(app)] == ["fetched"]
    temp, = [p for p in (app.inbox_dir / "catalog").iterdir() if p.name.startswith(".marketd-pull-erp-")]
    assert temp.read_bytes() == b"from the ERP" and pulls(app)[0]["temp"] == temp.name
    (app.inbox_dir / "catalog" / "same.csv").unlink()  # the inbox took the other file
    report = run(app, "erp", force=True)
    assert inbox_files(app) == {"same.csv": b"from the ERP"}
    assert not erp.local("export/same.csv").exists()
    assert [r["state"] for r in pulls(app)] == ["done"]
    assert len([p for p in (app.inbox_dir / "catalog").iterdir()]) == 1


def test_a_file_that_grows_during_the_download_is_dropped_and_taken_whole_later(erp_sshd, remote_app):
    erp = erp_sshd
    target = erp.local("export/big.csv")
    target.write_bytes(os.urandom(400_000))
    proxy = FaultProxy(erp.port)
    proxy.rate = 200_000  # ~2 s for the file
    app = remote_app(erp, port=proxy.port, pull=[pull_cfg(erp)])

    def append_later():
        time.sleep(0.8)
        with open(target, "ab") as fh:
            fh.write(os.urandom(50_000))

    t = threading.Thread(target=append_later)
    t.start()
    try:
        report = run(app, "erp", force=True)
    finally:
        t.join()
    assert report.pulled == 0 and report.changed == 1, report.summary()
    assert inbox_files(app) == {} and target.exists()
    proxy.healthy()
    assert run(app, "erp", force=True).pulled == 1
    assert inbox_files(app) == {"big.csv": (erp.local("export/done/big.csv")).read_bytes()}
    assert len(inbox_files(app)["big.csv"]) == 450_000
    proxy.close()


def test_a_name_that_is_not_utf8_is_skipped_and_never_blocks_the_folder(erp_sshd, remote_app, caplog):
    erp = erp_sshd
    erp.local("export/ok.csv").write_bytes(b"fine")
    latin = os.fsencode(str(erp.local("export"))) + b"/caf\xe9.csv"  # a Latin-1 export
    with open(latin, "wb") as fh:
        fh.write(b"x")
    app = remote_app(erp, pull=[pull_cfg(erp)])
    report = run(app, "erp", force=True)
    assert (report.pulled, report.errors) == (1, []), report.summary()
    assert inbox_files(app) == {"ok.csv": b"fine"}
    assert os.path.exists(latin)
    assert "is not UTF-8, so it is never pulled" in caplog.text
