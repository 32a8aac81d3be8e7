"""The research checklist against the real daemon: what the other e2e tests did not prove.

- every arrival form is picked up from the watcher's events alone (rescans off);
- an inotify queue overflow (events lost, watchdog only logs a warning) is followed by a rescan;
- a reader of the outbox never sees a partial or temp-named output while the daemon publishes;
- SIGTERM with a file that outlasts the stop budget: exit 0 in time, nothing of the file
  committed, and the next start applies it exactly once;
- the watchdog ping stops while an inbox cannot be watched, and resumes when it can.
"""
from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import assert_no_table, db_rows, file_states, install_plugin, n_products
from tests.samples import catalog_csv

pytestmark = pytest.mark.e2e


def test_every_arrival_form_is_taken_from_events_alone(tmp_path, daemon_factory):
    """Rescans off: a direct write (close), rename(2) (move), link+unlink (create without close)
    and a move in from another folder (create) must each reach the engine as events."""
    root = tmp_path / "i"
    cfg = write_config(root, daemon={"rescan_seconds": 3600.0})
    daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    (inbox / "direct.csv").write_text(catalog_csv(2, start=0))
    (inbox / "moved.csv.filepart").write_text(catalog_csv(2, start=100))
    os.rename(inbox / "moved.csv.filepart", inbox / "moved.csv")
    (inbox / "linked.csv.tmp").write_text(catalog_csv(2, start=200))
    os.link(inbox / "linked.csv.tmp", inbox / "linked.csv")
    os.unlink(inbox / "linked.csv.tmp")
    outside = tmp_path / "export.csv"
    outside.write_text(catalog_csv(2, start=300))
    os.rename(outside, inbox / "fromoutside.csv")
    names = ("direct.csv", "moved.csv", "linked.csv", "fromoutside.csv")
    wait_for(lambda: all(file_states(root).get(n) == "done" for n in names), 60, what="all four arrival forms")
    assert n_products(root) == 8


def test_events_lost_to_an_inotify_queue_overflow_are_recovered_by_a_rescan(tmp_path, daemon_factory):
    """§0.4: watchdog 7.1 logs "Inotify queue overflowed" and sends no event. With rescans every
    hour, only the overflow itself can make the daemon look again."""
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    except OSError:
        pytest.skip("no /proc/sys/fs/inotify/max_queued_events")
    if limit > 200_000:
        pytest.skip(f"max_queued_events is {limit}: too many events to overflow it in a test")
    root = tmp_path / "i"
    cfg = write_config(root, daemon={"rescan_seconds": 3600.0})
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    (inbox / "first.csv").write_text(catalog_csv(1, start=500))  # the worker is past its start-up scan
    wait_for(lambda: file_states(root).get("first.csv") == "done", 30, what="a first file")
    os.kill(d.proc.pid, signal.SIGSTOP)  # nobody reads the inotify queue now
    try:
        for i in range(limit + 1000):  # at least create + close + delete each: the queue overflows
            p = inbox / f".noise-{i}.tmp"
            p.write_bytes(b"")
            p.unlink()
        (inbox / "lost.csv").write_text(catalog_csv(3))  # its events are dropped by the kernel
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    wait_for(lambda: file_states(root).get("lost.csv") == "done", 60, what="file whose events were lost")
    wait_for(lambda: "inotify event queue overflowed" in d.output(), 30, what="the overflow logged")
    assert d.stop() == 0


def test_a_reader_of_the_outbox_never_sees_a_partial_or_temp_output(tmp_path, daemon_factory):
    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg)
    inbox = root / "inbox" / "catalog"
    reports = root / "outbox" / "reports"
    seen: dict[str, set] = {}
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                entries = list(os.scandir(reports))
            except FileNotFoundError:
                continue
            for e in entries:
                if e.name.startswith("."):
                    continue  # dot-names are temp names by contract
                try:
                    with open(e.path, "rb") as fh:
                        seen.setdefault(e.name, set()).add(hashlib.sha256(fh.read()).hexdigest())
                except FileNotFoundError:
                    pass

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        for i in range(40):
            staging = tmp_path / f"f{i:02d}.csv"
            staging.write_text(catalog_csv(400, start=i * 1000))
            os.rename(staging, inbox / staging.name)
        wait_for(lambda: sum(1 for s in file_states(root).values() if s == "done") == 40, 180,
                 what="40 files done")
    finally:
        stop.set()
        t.join(10)
    assert d.stop() == 0
    assert len(seen) == 40, sorted(seen)
    for name, hashes in seen.items():
        assert not name.endswith(".tmp")
        final = hashlib.sha256((reports / name).read_bytes()).hexdigest()
        assert hashes == {final}, f"{name} was seen with other content than its final one"


SLOW_PLUGIN = '''
import os, time
from marketd import hookimpl

class Slow:
    kind = "slow"
    completeness = "none"
    def process(self, ctx):
        ctx.db["slow_rows"].insert({"file": ctx.name}, alter=True)
        ctx.output(f"reports/slow-{ctx.stem}-{ctx.stamp}.txt", "applied\\n")
        release = os.environ["SLOW_RELEASE"]
        deadline = time.monotonic() + 300
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.05)
        return {}

@hookimpl
def register_inbox_handlers(register):
    register(Slow())
'''


def test_sigterm_with_a_file_past_the_stop_budget_exits_0_and_the_file_is_applied_once_later(
        tmp_path, daemon_factory):
    release = tmp_path / "release"
    env = {**install_plugin(tmp_path / "site", "marketd_slow", SLOW_PLUGIN), "SLOW_RELEASE": str(release)}
    root = tmp_path / "i"
    cfg = write_config(root, daemon={"stop_timeout_seconds": 2.0})
    d = daemon_factory(cfg, env=env)
    inbox = root / "inbox" / "slow"
    (inbox / "job.txt").write_text("x")
    outbox = root / "outbox" / "reports"
    wait_for(lambda: outbox.is_dir() and any(p.name.endswith(".tmp") for p in outbox.iterdir()), 30,
             interval=0.05, what="the handler staged its output and is now waiting")
    d.proc.send_signal(signal.SIGTERM)
    try:
        rc = d.proc.wait(timeout=60)  # the units' TimeoutStopSec is 120: far below, even on a slow machine
    except Exception:
        raise AssertionError(f"the daemon did not stop past its budget:\n{d.output()}")
    out = d.output()
    d._close()
    assert rc == 0, out
    assert "abandoning" in out
    assert dict(db_rows(root, "select name, state from files")) == {"job.txt": "claimed"}
    assert_no_table(root, "slow_rows")  # nothing committed: the table made by its insert was rolled back
    assert not [p for p in outbox.iterdir() if not p.name.startswith(".")]  # nothing published
    release.write_text("go")
    d2 = daemon_factory(cfg, env=env)
    wait_for(lambda: file_states(root).get("job.txt") == "done", 60, what="the abandoned file after restart")
    assert d2.stop() == 0
    assert db_rows(root, "select count(*) from slow_rows") == [(1,)]
    assert [p.name.startswith("slow-job-") for p in outbox.iterdir()] == [True]
    assert len(list((inbox / ".done").rglob("*__job.txt"))) == 1 and not any((inbox / ".processing").iterdir())


def test_watchdog_ping_stops_while_an_inbox_cannot_be_watched_and_resumes(tmp_path, daemon_factory):
    import shutil

    root = tmp_path / "i"
    cfg = write_config(root)
    d = daemon_factory(cfg, env={"WATCHDOG_USEC": "1000000"})  # a ping every 0.5 s
    wait_for(lambda: (d.poll_messages(), "WATCHDOG=1" in d.messages)[1], 20, what="first ping")
    inbox = root / "inbox" / "catalog"
    shutil.rmtree(inbox)
    inbox.write_text("a file where the inbox folder was")
    wait_for(lambda: d.output().count("could not rebuild the watcher for catalog") >= 2, 30,
             what="two failed rebuilds")
    d.poll_messages()
    d.messages.clear()
    time.sleep(2.0)  # four ping intervals
    d.poll_messages()
    assert "WATCHDOG=1" not in d.messages, d.messages
    inbox.unlink()
    wait_for(lambda: (d.poll_messages(), "WATCHDOG=1" in d.messages)[1], 30, what="pings resume")
    (inbox / "back.csv").write_text(catalog_csv(2))
    wait_for(lambda: file_states(root).get("back.csv") == "done", 30, what="a file in the restored inbox")
    assert d.stop() == 0
