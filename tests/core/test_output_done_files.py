"""Optional output done-files: ``[daemon] output_done_files`` puts an empty ``<name>.done`` beside
each output of the listed outbox folders, only once the output is in place."""
import os

import pytest

from marketd.config import ConfigError
from marketd.outbox import Outbox
from tests.helpers import drop, engine_for
from tests.samples import catalog_csv


def test_outbox_write_adds_a_marker_only_in_listed_folders(tmp_path):
    out = Outbox(tmp_path / "outbox", done_folders=["reports"])
    report = out.write("reports/summary.csv", "a,b\n")
    label = out.write("labels/l.zpl", "^XA^XZ", private=True)
    assert (report.parent / "summary.csv.done").read_bytes() == b""
    assert not (label.parent / "l.zpl.done").exists()
    everything = Outbox(tmp_path / "outbox", done_folders=["*"])
    label2 = everything.write("labels/l2.zpl", "^XA^XZ", private=True)
    marker = label2.parent / "l2.zpl.done"
    assert marker.exists()
    assert os.stat(marker).st_mode & 0o777 == 0o600  # as private as the file it stands for


def test_marker_is_idempotent_and_never_before_its_file(tmp_path):
    out = Outbox(tmp_path / "outbox", done_folders=["*"])
    final = tmp_path / "outbox" / "reports" / "x.csv"
    with pytest.raises(FileNotFoundError):
        out.write_done_marker(final)  # no data file: no marker
    assert not (final.parent / "x.csv.done").exists()
    out.write("reports/x.csv", "1\n")
    assert out.write_done_marker(final) == final.parent / "x.csv.done"  # again: harmless


def test_engine_publishes_markers_for_listed_folders(app_factory):
    app, eng, clock = engine_for(app_factory, daemon={"output_done_files": ["reports"]},
                                 inbox={"defaults": {"stability_seconds": 1, "watch": "poll"}})
    drop(app, "c.csv", catalog_csv(3))
    eng.scan()
    clock.advance(2)
    assert eng.run_once() == 1
    reports = sorted(p.name for p in (app.outbox_dir / "reports").iterdir())
    data = [n for n in reports if not n.endswith(".done")]
    assert data and reports == sorted(data + [n + ".done" for n in data])


def test_engine_writes_no_markers_by_default(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1, "watch": "poll"}})
    drop(app, "c.csv", catalog_csv(3))
    eng.scan()
    clock.advance(2)
    assert eng.run_once() == 1
    assert [p for p in app.outbox_dir.rglob("*.done")] == []


@pytest.mark.parametrize("value", ["reports", ["reports/sub"], [""], [3]])
def test_bad_setting_is_a_clear_config_error(app_factory, value):
    with pytest.raises(ConfigError, match="output_done_files"):
        app_factory(daemon={"output_done_files": value})
