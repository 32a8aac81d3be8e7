"""Issue 9 item 10: one permission rule for everything marketd writes (daemon/outbox.py):
nothing for others; buyer data owner-only. Checked at each place that used to break it."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.helpers import engine_for
from tests.samples import catalog_csv


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_marketd_process_keeps_a_private_input_private(app_factory, tmp_path):
    """`marketd process` archived a 0600 shipments file as 0644 (shutil.copyfile)."""
    app, eng, clock = engine_for(app_factory)
    src = tmp_path / "private.csv"
    src.write_text(catalog_csv(2))
    src.chmod(0o600)
    row = eng.adopt("catalog", src)
    assert row["state"] == "done" and mode(Path(row["final_path"])) == 0o600
    assert mode(src) == 0o600 and src.exists()  # the operator's file is left as it was
    shared = tmp_path / "shared.csv"
    shared.write_text(catalog_csv(2, start=50))
    shared.chmod(0o644)
    row = eng.adopt("catalog", shared)
    assert mode(Path(row["final_path"])) == 0o640  # the group keeps reading, others lose it


def test_a_dropped_file_marketd_owns_loses_the_bits_for_others_at_the_claim(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    p = app.inbox_dir / "catalog" / "c.csv"
    p.write_text(catalog_csv(2))
    p.chmod(0o644)
    eng.scan(); clock.advance(1); eng.run_once()
    (done,) = (app.inbox_dir / "catalog" / ".done").rglob("*__c.csv")
    assert mode(done) == 0o640


def test_outputs_reports_and_folders_have_nothing_for_others(app_factory):
    old = os.umask(0o022)  # a login shell's umask: 0644 files, 0755 folders unless marketd says otherwise
    try:
        app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
        assert mode(app.outbox.write("reports/x.csv", "a\n")) == 0o640
        assert mode(app.outbox.write("labels/new/l.zpl", "^XA^XZ", private=True)) == 0o600
        (app.inbox_dir / "catalog" / "bad.csv").write_text("foo\n1\n")
        eng.scan(); clock.advance(1); eng.run_once()
        err = app.inbox_dir / "catalog" / ".error"
        reports = list(err.glob("*.error.*"))
        assert len(reports) == 2 and all(mode(r) == 0o640 for r in reports)
        created = [app.outbox_dir / "labels" / "new", app.inbox_dir / "catalog" / ".processing", err]
        assert all(mode(d) & 0o007 == 0 for d in created), [oct(mode(d)) for d in created]
    finally:
        os.umask(old)


def test_marketd_init_creates_nothing_others_can_read(tmp_path):
    """Instance folders from `marketd init` were 0755."""
    root = tmp_path / "shop"
    subprocess.run([sys.executable, "-m", "marketd", "init", str(root)], check=True, capture_output=True,
                   preexec_fn=lambda: os.umask(0o022), timeout=120)
    paths = [root, *root.rglob("*")]
    assert len(paths) > 10
    loose = [f"{p} {oct(mode(p))}" for p in paths if mode(p) & 0o007]
    assert loose == []
