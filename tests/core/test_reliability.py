"""The research checklist ("What our daemon must do") items that the engine tests did not prove,
in-process: gates, rescans without an observer, observer supervision and fallbacks, publish
durability, SQLite contention, dedupe of committed files, the store's connections."""
from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import threading
import time

import pytest

from marketd import config as config_mod
from marketd.hookspecs import hookimpl
from marketd.inbox import InboxEngine
from tests.conftest import wait_for
from tests.helpers import engine_for, products, states
from tests.samples import catalog_csv


POLL = {"stability_seconds": 1, "watch": "poll"}


# -- 1. temp names ---------------------------------------------------------------------------------

def test_every_default_temp_pattern_is_never_claimed(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": POLL})
    d = app.inbox_dir / "catalog"
    names = []
    for pat in config_mod.DEFAULT_TEMP_PATTERNS:
        name = pat.replace("*", "c.csv", 1) if pat.startswith("*") else pat.replace("*", "c.csv")
        names.append(name)
        (d / name).write_text(catalog_csv(1))
    assert len(set(names)) == len(config_mod.DEFAULT_TEMP_PATTERNS)
    for _ in range(3):
        eng.scan(); clock.advance(5); eng.run_once()
    assert states(app) == {} and all((d / n).exists() for n in names), names


# -- 2. stability gate ----------------------------------------------------------------------------

def test_min_age_holds_a_stable_file_until_it_is_old_enough(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**POLL, "min_age_seconds": 3600}})
    p = app.inbox_dir / "catalog" / "young.csv"
    p.write_text(catalog_csv(2))
    eng.scan(); clock.advance(10)
    assert eng.run_once() == 0 and states(app) == {}
    old = time.time() - 7200
    os.utime(p, (old, old))  # now two hours old
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1 and states(app) == {"young.csv": "done"}


def test_a_file_replaced_under_its_name_restarts_the_window(app_factory):
    """Same size and mtime, other inode (a rename over it): a new file, observed afresh."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**POLL, "stability_seconds": 5}})
    d = app.inbox_dir / "catalog"
    p = d / "c.csv"
    p.write_text(catalog_csv(2))
    eng.scan(); clock.advance(4)
    st = os.stat(p)
    repl = d / ".c.csv.new"
    repl.write_text(catalog_csv(2).replace("SKU-000000", "SKU-000009"))  # same size, other content
    os.utime(repl, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(repl, p)
    assert os.stat(p).st_ino != st.st_ino and os.stat(p).st_size == st.st_size
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0  # 6 s since the first file, 2 s since this one
    clock.advance(4)
    assert eng.run_once() == 1
    assert app.store.db.execute("select sku from products order by sku").fetchone()[0].startswith("SKU-000009")


# -- 3. done-file mode: a marker without its data is reported -------------------------------------

def test_done_marker_without_data_is_reported_once_after_the_timeout(app_factory, caplog):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**POLL, "mode": "done_file",
                                                                  "done_marker_timeout_seconds": 600}})
    d = app.inbox_dir / "catalog"
    marker = d / "late.csv.done"
    marker.write_text("")
    caplog.set_level("WARNING", logger="marketd.inbox")
    eng.scan(); eng.run_once()
    assert not [r for r in caplog.records if "late.csv.done" in r.getMessage()]  # young: not yet
    old = time.time() - 700
    os.utime(marker, (old, old))
    for _ in range(3):
        eng.scan(); clock.advance(1); eng.run_once()
    msgs = [r.getMessage() for r in caplog.records if "late.csv.done" in r.getMessage()]
    assert len(msgs) == 1 and "has not arrived" in msgs[0], msgs
    (d / "late.csv").write_text(catalog_csv(2))  # the data arrives after all: taken with its marker
    eng.scan(); clock.advance(2); eng.run_once()
    assert states(app) == {"late.csv": "done"} and not marker.exists()


# -- 4. events are hints, scans are the truth -----------------------------------------------------

def test_the_worker_loop_finds_files_by_rescanning_with_no_observer_at_all(app_factory):
    """The observer stopped (or missed the events): the periodic rescan alone processes the file."""
    from marketd.service import Daemon

    app = app_factory(daemon={"rescan_seconds": 1.0}, inbox={"defaults": {"stability_seconds": 0.3}})
    daemon = Daemon(app)
    engine = daemon.engine = InboxEngine(app)
    engine.ensure_dirs()
    worker = threading.Thread(target=daemon._work, daemon=True)
    worker.start()
    try:
        wait_for(lambda: not engine.rescan_requested, 10, what="first scan")
        (app.inbox_dir / "catalog" / "unseen.csv").write_text(catalog_csv(3))  # no watcher: no hint
        assert not engine.gate.pending_hints
        wait_for(lambda: states(app).get("unseen.csv") == "done", 30, what="file found by the periodic rescan")
    finally:
        daemon.stop.set()
        engine.stopping.set()
        engine.wake.set()
        worker.join(10)
    assert daemon.worker_error is None and products(app) == 3


# -- 5. every event type is a hint; the handler never raises --------------------------------------

def test_hint_handler_maps_every_event_type_and_never_raises(app_factory):
    from watchdog.events import (FileAttribEvent, FileClosedEvent, FileCreatedEvent, FileDeletedEvent,
                                 FileModifiedEvent, FileMovedEvent, FileOpenedEvent)

    from marketd.watch import HintHandler

    app, eng, clock = engine_for(app_factory, inbox={"defaults": POLL})
    d = str(app.inbox_dir / "catalog")
    seen = []
    eng.hint = lambda path, event=None, native=True, moved=False: seen.append((os.path.basename(path), event))
    h = HintHandler(eng)
    for ev in (FileCreatedEvent(f"{d}/a"), FileModifiedEvent(f"{d}/b"), FileClosedEvent(f"{d}/c"),
               FileAttribEvent(f"{d}/d"), FileDeletedEvent(f"{d}/e"), FileOpenedEvent(f"{d}/f"),
               FileMovedEvent(f"{d}/g.tmp", f"{d}/g")):
        h.dispatch(ev)
    assert seen == [("a", "created"), ("b", "modified"), ("c", "closed"), ("d", "attrib"), ("e", "deleted"),
                    ("f", "opened"), ("g.tmp", "moved_from"), ("g", "moved")]

    def boom(*a, **k):
        raise RuntimeError("engine bug")

    eng.hint = boom
    h.dispatch(FileCreatedEvent(f"{d}/x"))  # must not raise: it would kill watchdog's dispatch thread


# -- 6. observer supervision -----------------------------------------------------------------------

def test_a_dead_observer_thread_is_rebuilt_and_a_rescan_requested(app_factory):
    from marketd.watch import Watcher

    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1}})
    w = Watcher(eng)
    w.start()
    try:
        old = w.observers["catalog"]
        assert w.healthy("catalog")
        old.stop(); old.join(5)
        assert not w.healthy("catalog")
        eng.rescan_requested = False
        assert w.supervise() is True
        assert w.observers["catalog"] is not old and w.healthy("catalog") and eng.rescan_requested
        p = app.inbox_dir / "catalog" / "after.csv"
        p.write_text("x")
        wait_for(lambda: p in eng.gate.pending_hints, 10, what="an event from the rebuilt observer")
    finally:
        w.stop()


def test_supervision_reports_failure_after_two_failed_rebuilds_and_recovers(app_factory):
    from marketd.watch import Watcher

    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1}})
    w = Watcher(eng)
    w.start()
    d = app.inbox_dir / "catalog"
    try:
        import shutil
        shutil.rmtree(d)
        d.write_text("a file where the inbox folder was")  # the folder cannot be re-created
        assert w.supervise() is True  # one failure: keep pinging, try again
        assert w.supervise() is False  # two in a row: stop WATCHDOG=1 so systemd restarts marketd
        d.unlink()
        assert w.supervise() is True and w.healthy("catalog")
    finally:
        w.stop()


# -- 7. inotify limits ----------------------------------------------------------------------------

def test_inotify_limit_falls_back_to_polling_with_an_error_naming_the_limit(app_factory, monkeypatch, caplog):
    from watchdog.observers import inotify as wd_inotify
    from watchdog.observers.polling import PollingObserver

    from marketd.watch import Watcher

    def no_watch(self):  # where watchdog raises it: adding the watch when the emitter starts
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(wd_inotify.InotifyEmitter, "on_thread_start", no_watch)
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1}})
    caplog.set_level("ERROR", logger="marketd.watch")
    w = Watcher(eng)
    w.start()
    try:
        assert isinstance(w.observers["catalog"], PollingObserver) and w.healthy("catalog")
        msg = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
        assert "fs.inotify.max_user_watches" in msg and "max_user_instances" in msg and "polling" in msg
        p = app.inbox_dir / "catalog" / "polled.csv"
        p.write_text("x")
        wait_for(lambda: p in eng.gate.pending_hints, 15, what="an event from the polling observer")
    finally:
        w.stop()


def test_an_overflow_warning_from_watchdog_forgets_event_evidence_and_requests_a_rescan(app_factory):
    from marketd.watch import Watcher

    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1,
                                                                  "mode": "require_rename"}})
    w = Watcher(eng)
    w.start()
    try:
        p = app.inbox_dir / "catalog" / "x.csv"
        p.write_text("sku\n")
        eng.hint(p, event="created")  # created without a write event (yet): counted as a link
        assert p in eng.gate.evidence.arrivals
        eng.rescan_requested = False
        logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
        assert eng.rescan_requested and p not in eng.gate.evidence.arrivals
    finally:
        w.stop()


# -- 9. dedupe -------------------------------------------------------------------------------------

def test_a_copy_of_a_committed_but_unpublished_file_is_a_duplicate(app_factory, monkeypatch):
    """The first file's changes are committed, its publishing failed (outbox not writable): it is
    applied, so an identical second file must not be applied again."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**POLL, "stability_seconds": 0.1}})
    real = app.outbox.publish

    def broken(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(app.outbox, "publish", broken)
    text = catalog_csv(3)
    (app.inbox_dir / "catalog" / "a.csv").write_text(text)
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app) == {"a.csv": "processed"}
    (app.inbox_dir / "catalog" / "b.csv").write_text(text)
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app)["b.csv"] in ("processed", "duplicate")
    assert app.store.db.execute("select duplicate_of is not null from files where name='b.csv'").fetchone()[0] == 1
    monkeypatch.setattr(app.outbox, "publish", real)
    clock.advance(31); eng.run_once()
    assert states(app) == {"a.csv": "done", "b.csv": "duplicate"} and products(app) == 3


# -- 10. publishing: every folder fsynced before the journal says "published" ----------------------

class TwoFolders:
    kind = "twofold"
    completeness = "none"

    def process(self, ctx):
        ctx.output(f"reports/r-{ctx.stamp}.txt", "report\n")
        ctx.output(f"labels/{ctx.stamp}/l1.txt", "label 1\n")
        ctx.output(f"labels/{ctx.stamp}/l2.txt", "label 2\n")
        return {}


class TwoFoldersPlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(TwoFolders())


def test_publish_fsyncs_every_output_folder_and_new_folder_before_journal_published(app_factory, monkeypatch):
    from marketd import outbox as outbox_mod

    app, eng, clock = engine_for(app_factory, extra={"two": TwoFoldersPlugin()},
                                 inbox={"defaults": {**POLL, "stability_seconds": 0.1}})
    events = []
    real_fsync = outbox_mod.fsync_dir

    def spy(path):
        events.append(("fsync", str(path)))
        real_fsync(path)

    monkeypatch.setattr(outbox_mod, "fsync_dir", spy)
    real_update = app.store.journal_update

    def update(file_id, **fields):
        if fields.get("state") == "published":
            events.append(("published", None))
        real_update(file_id, **fields)

    monkeypatch.setattr(app.store, "journal_update", update)
    (app.inbox_dir / "twofold" / "in.txt").write_text("x")
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app) == {"in.txt": "done"}
    outputs = json.loads(app.store.db.execute("select outputs from files").fetchone()[0])
    folders = {os.path.dirname(o["published"]) for o in outputs}
    assert len(folders) == 2 and all(os.path.exists(o["published"]) for o in outputs)
    cut = events.index(("published", None))
    synced_before = {p for kind, p in events[:cut] if kind == "fsync"}
    assert folders <= synced_before, (folders, events)
    stamp_dir = next(f for f in folders if "/labels/" in f)
    assert os.path.dirname(stamp_dir) in synced_before  # the new <stamp>/ folder's own name is durable


# -- 16. SQLite contention is a temporary failure, not a content error ----------------------------

class ReadThenWrite:
    """Reads, lets another thread commit a write (a scheduler job), then writes: in WAL mode the
    deferred transaction cannot upgrade its stale snapshot (SQLITE_BUSY_SNAPSHOT, at once)."""
    kind = "rw"
    completeness = "none"
    calls = 0
    other: threading.Thread | None = None

    def process(self, ctx):
        ReadThenWrite.calls += 1
        list(ctx.db.query("select count(*) from files"))  # the transaction's snapshot starts here
        if ReadThenWrite.calls == 1:
            app = ctx.app
            t = threading.Thread(target=lambda: app.store.job_started("some-job", app.clock.now()))
            t.start()
            t.join(2)  # the job's commit lands between this transaction's read and its write
            ReadThenWrite.other = t
        ctx.db["rw_rows"].insert({"file": ctx.name})
        return {}


class ReadThenWritePlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(ReadThenWrite())


def test_a_busy_database_sends_the_file_to_retry_not_to_error(app_factory):
    ReadThenWrite.calls = 0
    app, eng, clock = engine_for(app_factory, extra={"rw": ReadThenWritePlugin()},
                                 inbox={"defaults": {**POLL, "stability_seconds": 0.1}})
    app.store.db.execute("create table rw_rows (file text)")
    (app.inbox_dir / "rw" / "f.txt").write_text("x")
    eng.scan(); clock.advance(1); eng.run_once()
    ReadThenWrite.other.join(10)
    st = states(app)["f.txt"]
    err = app.store.db.execute("select error from files").fetchone()[0]
    assert st in ("retry_wait", "done"), err  # never .error as plugin_error
    clock.advance(5); eng.run_once()
    assert states(app) == {"f.txt": "done"}
    assert app.store.db.execute("select count(*) from rw_rows").fetchone()[0] == 1
    assert app.store.job_run("some-job") is not None


def test_transient_db_error_classification():
    from marketd.inbox import is_transient_db_error

    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as real:
        conn.execute("select * from no_such_table")
    assert not is_transient_db_error(real.value)
    assert is_transient_db_error(sqlite3.OperationalError("database is locked"))
    assert is_transient_db_error(sqlite3.OperationalError("database or disk is full"))


# -- 15. the error report counts the attempts ------------------------------------------------------

def test_error_report_counts_the_attempt_that_failed(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**POLL, "stability_seconds": 0.1}})
    (app.inbox_dir / "catalog" / "nosku.csv").write_text("ean,title,price\n4006381333931,x,1\n")
    eng.scan(); clock.advance(1); eng.run_once()
    err = json.loads(next((app.inbox_dir / "catalog" / ".error").glob("*.error.json")).read_text())
    assert err["reason"] == "missing_column" and err["attempts"] == 1


# -- 27. a backlog is taken oldest first, in batches -----------------------------------------------

def test_backlog_is_claimed_oldest_first_in_batches(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**POLL, "stability_seconds": 0.1}})
    d = app.inbox_dir / "catalog"
    now = time.time()
    for i in range(12):  # names in the opposite order of their age
        p = d / f"f{i:02d}.csv"
        p.write_text(catalog_csv(1, start=i * 10))
        os.utime(p, (now - 100 - i, now - 100 - i))
    eng.scan(); clock.advance(1)
    assert eng.run_once(limit=5) == 5
    first = [r["name"] for r in app.store.db.query("select name from files order by rowid")]
    assert first == [f"f{i:02d}.csv" for i in range(11, 6, -1)]
    while eng.run_once(limit=5):
        pass
    names = [r["name"] for r in app.store.db.query("select name from files order by rowid")]
    assert names == [f"f{i:02d}.csv" for i in range(11, -1, -1)]


# -- the store's per-thread connections -------------------------------------------------------------

def test_closed_store_never_reopens_behind_the_callers_back(tmp_path):
    from marketd.store import Store

    store = Store(tmp_path / "s.sqlite")
    store.db.execute("create table t (x)")
    errors = []

    def late_writer():  # a thread still running after shutdown closed the store
        try:
            store.db.execute("insert into t values (1)")
        except sqlite3.ProgrammingError as exc:
            errors.append(str(exc))

    store.close()
    t = threading.Thread(target=late_writer)
    t.start(); t.join()
    with pytest.raises(sqlite3.ProgrammingError):
        store.db.execute("insert into t values (2)")
    assert errors
    check = sqlite3.connect(tmp_path / "s.sqlite")
    assert check.execute("select count(*) from t").fetchone()[0] == 0


def test_connections_of_ended_threads_are_closed(tmp_path):
    from marketd.store import ThreadConnections

    conns = ThreadConnections(tmp_path / "c.sqlite")
    opened = []
    for _ in range(20):  # a pool replacing its threads
        t = threading.Thread(target=lambda: opened.append(conns.get()))
        t.start(); t.join()
    conns.get()  # a new connection reaps the ended threads' ones
    assert len(conns._all) <= 2
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("select 1")  # closed
    conns.close()
