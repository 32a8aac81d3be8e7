"""Pushing outbox files to a real OpenSSH ``internal-sftp``: temp name, rename, done file, the
conflict policy, what counts as new, and that each file is delivered exactly once."""
from __future__ import annotations

import json
import os
import time

import pytest

from marketd.plugins.remotes.ledger import Ledger
from marketd.plugins.remotes.runner import run

pytestmark = [pytest.mark.sftp]


def remote_files(erp, rel="import") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in erp.local(rel).iterdir()}


def pushes(app) -> list[dict]:
    return Ledger.of(app).query("select * from pushes order by id")


def push_cfg(erp, **kw) -> dict:
    return {"outbox": "labels", "remote_dir": erp.remote("import"), **kw}


def publish(app, name: str, data: bytes, private: bool = False):
    return app.outbox.write(f"labels/{name}", data, private=private)


def processed(app, *paths) -> None:
    """What the inbox worker does after publishing a file's outputs."""
    outputs = [{"tmp": "", "final": str(p), "published": str(p)} for p in paths]
    app.emit("file_processed", record={"id": "x", "state": "done", "outputs": json.dumps(outputs)})


def test_published_outputs_are_uploaded_as_tmp_renamed_and_delivered_once(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp)])
    label = publish(app, "L1.pdf", b"%PDF- buyer address inside", private=True)
    manifest = publish(app, "manifest.csv", os.urandom(700_000))
    processed(app, label, manifest)
    assert [r["state"] for r in pushes(app)] == ["pending", "pending"]  # queued, nothing sent by the listener
    assert remote_files(erp) == {}

    report = run(app, "erp", force=True)
    assert (report.pushed, report.error, report.errors) == (2, None, []), report.summary()
    assert remote_files(erp) == {"L1.pdf": label.read_bytes(), "manifest.csv": manifest.read_bytes()}
    # the remote file gets the local file's permission bits: private stays private on the ERP
    assert erp.local("import/L1.pdf").stat().st_mode & 0o777 == 0o600
    assert erp.local("import/manifest.csv").stat().st_mode & 0o777 == manifest.stat().st_mode & 0o777 != 0o600
    assert [r["state"] for r in pushes(app)] == ["done", "done"]
    again = run(app, "erp", force=True)
    assert again.pushed == 0 and len(pushes(app)) == 2


def test_the_sweep_skips_what_was_there_before_and_finds_what_no_event_announced(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp)])
    publish(app, "old.pdf", b"last year")
    time.sleep(0.05)
    assert run(app, "erp").pushed == 0  # first sight of this push: "old.pdf" is existing
    time.sleep(0.05)
    publish(app, "new.pdf", b"from a job, no event")
    (app.outbox_dir / "labels" / ".partial.pdf.x.tmp").write_bytes(b"being written")
    (app.outbox_dir / "labels" / "new.pdf.done").write_bytes(b"")
    assert run(app, "erp", force=True).pushed == 1
    assert remote_files(erp) == {"new.pdf": b"from a job, no event"}


def test_existing_push_sends_the_whole_folder(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp, existing="push")])
    for i in range(3):
        publish(app, f"{i}.pdf", b"x" * i)
    assert run(app, "erp", force=True).pushed == 3
    assert sorted(remote_files(erp)) == ["0.pdf", "1.pdf", "2.pdf"]


def test_done_file_follows_the_data_and_a_custom_temp_name_is_used(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp, existing="push", done_file=True, temp_name=".{name}.part")])
    publish(app, "a.csv", b"data")
    assert run(app, "erp", force=True).pushed == 1
    assert remote_files(erp) == {"a.csv": b"data", "a.csv.done": b""}


def test_an_existing_remote_name_is_never_overwritten_unless_replace(erp_sshd, remote_app):
    erp = erp_sshd
    erp.local("import/a.pdf").write_bytes(b"the ERP's own file")
    app = remote_app(erp, push=[push_cfg(erp, existing="push")])
    publish(app, "a.pdf", b"ours")
    report = run(app, "erp", force=True)
    assert report.pushed == 0 and "already exists on the remote" in report.errors[0]
    assert remote_files(erp) == {"a.pdf": b"the ERP's own file", "a.pdf.tmp": b"ours"}
    row = pushes(app)[0]
    assert row["state"] == "renaming" and row["attempts"] == 1 and "nothing was overwritten" in row["last_error"]
    assert run(app, "erp").skipped  # backing off: not tried again at once
    erp.local("import/a.pdf").unlink()  # the ERP took its file away
    assert run(app, "erp", force=True).pushed == 1
    assert remote_files(erp) == {"a.pdf": b"ours"}


def test_replace_overwrites(erp_sshd, remote_app):
    erp = erp_sshd
    erp.local("import/a.pdf").write_bytes(b"stale")
    app = remote_app(erp, push=[push_cfg(erp, existing="push", conflict="replace")])
    publish(app, "a.pdf", b"fresh")
    assert run(app, "erp", force=True).pushed == 1
    assert remote_files(erp) == {"a.pdf": b"fresh"}


def test_touch_resends_and_a_vanished_file_is_recorded_not_retried(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp, existing="push")])
    path = publish(app, "r.pdf", b"v1")
    assert run(app, "erp", force=True).pushed == 1
    erp.local("import/r.pdf").unlink()  # the ERP consumed it
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert run(app, "erp", force=True).pushed == 1
    assert remote_files(erp) == {"r.pdf": b"v1"}
    gone = publish(app, "g.pdf", b"short-lived")
    processed(app, gone)
    gone.unlink()
    report = run(app, "erp", force=True)
    assert report.pushed == 0 and not report.errors
    assert pushes(app)[-1]["state"] == "gone"


def test_a_missing_remote_folder_is_a_clear_per_file_error(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp, remote_dir=erp.remote("nope"), existing="push")])
    publish(app, "a.pdf", b"x")
    report = run(app, "erp", force=True)
    assert report.pushed == 0 and report.error is None
    assert "does the remote folder" in report.errors[0] and erp.remote("nope") in report.errors[0]


def test_subfolders_are_mirrored_only_when_asked(erp_sshd, remote_app):
    erp = erp_sshd
    app = remote_app(erp, push=[push_cfg(erp, existing="push", subfolders=True)])
    flat = publish(app, "print-run.pdf", b"all labels")
    nested = app.outbox.write("labels/20261130-batch/0001-1of1.pdf", b"one label", private=True)
    (app.outbox_dir / "labels" / ".hidden").mkdir()
    (app.outbox_dir / "labels" / ".hidden" / "x.pdf").write_bytes(b"never")
    processed(app, nested)  # the event for a file in a sub-folder is taken too
    assert run(app, "erp", force=True).pushed == 2
    assert erp.local("import/print-run.pdf").read_bytes() == flat.read_bytes()
    assert erp.local("import/20261130-batch/0001-1of1.pdf").read_bytes() == b"one label"
    assert not erp.local("import/.hidden").exists()
    app2 = remote_app(erp, push=[push_cfg(erp, remote_dir=erp.remote("flat"), existing="push")])
    erp.mkdirs("flat")
    app2.outbox.write("labels/sub/x.pdf", b"x")
    app2.outbox.write("labels/top.pdf", b"t")
    assert run(app2, "erp", force=True).pushed == 1
    assert sorted(p.name for p in erp.local("flat").iterdir()) == ["top.pdf"]
