"""The completeness gate's newer rules, in-process on a fake clock: files found at start-up in a
require_rename inbox, why each waiting file waits, the second window for a file that looks cut,
and the worker surviving a database it cannot write for a while."""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import time

from marketd.hookspecs import hookimpl
from marketd.inbox import unterminated_tail
from tests.helpers import engine_for, states
from tests.samples import catalog_csv


def error_reason(app, name):
    return json.loads(app.store.db.execute("select error from files where name = ?", [name]).fetchone()[0])["reason"]


def renamed_quickly(folder, name, text):
    """An ERP's write-then-rename within one timestamp tick: ctime == mtime, as a direct write."""
    tmp = folder / f"{name}.tmp"
    tmp.write_text(text)
    os.rename(tmp, folder / name)
    soon = time.time_ns() + 50_000_000
    os.utime(folder / name, ns=(soon, soon))  # mtime now past ctime: the timestamps say "direct write"
    st = os.stat(folder / name)
    assert st.st_ctime_ns <= st.st_mtime_ns
    time.sleep(0.06)
    return folder / name


RR = {"stability_seconds": 1, "watch": "poll", "mode": "require_rename", "direct_write_grace_seconds": 30}


# -- require_rename: files that were there before marketd started ---------------------------------

def test_a_file_renamed_in_while_marketd_was_down_is_taken_at_start_up(app_factory, caplog):
    """Issue 9 item 8: 200/200 quick renames made while the daemon was down went to .error/ as
    not_renamed 600 s after the start."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": RR})
    caplog.set_level(logging.INFO, logger="marketd.inbox")
    renamed_quickly(app.inbox_dir / "catalog", "erp.csv", catalog_csv(2))
    eng.scan(startup=True)
    clock.advance(0.5)
    assert eng.run_once() == 0  # still inside the stability window
    clock.advance(1)
    assert eng.run_once() == 1 and states(app) == {"erp.csv": "done"}
    said = [r.getMessage() for r in caplog.records if "erp.csv" in r.getMessage() and "when marketd started" in
            r.getMessage()]
    assert len(said) == 1 and "taken as complete" in said[0]


def test_the_same_file_appearing_after_start_up_still_needs_a_rename(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": RR})
    eng.scan(startup=True)  # the start: nothing there
    renamed_quickly(app.inbox_dir / "catalog", "late.csv", catalog_csv(2))  # no event reaches us
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0
    clock.advance(30); eng.run_once()
    assert states(app) == {"late.csv": "error"} and error_reason(app, "late.csv") == "not_renamed"


def test_a_file_found_at_start_up_that_is_then_written_is_a_direct_write(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": RR})
    p = renamed_quickly(app.inbox_dir / "catalog", "growing.csv", catalog_csv(2))
    eng.scan(startup=True)
    with open(p, "a") as fh:  # someone keeps writing under the final name after the start
        fh.write("SKU-X,4006381333931,t,b,1.00,EUR,1,red\n")
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0
    clock.advance(30); eng.run_once()
    assert states(app) == {"growing.csv": "error"} and error_reason(app, "growing.csv") == "not_renamed"


def test_a_file_the_watcher_saw_written_before_the_start_up_scan_is_not_taken_for_renamed(app_factory):
    """The watcher starts before the start-up scan; a direct write it reported is no "pre-existing" file."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**RR, "watch": "native"}})
    p = app.inbox_dir / "catalog" / "direct.csv"
    p.write_text(catalog_csv(2))
    for event in ("created", "modified", "closed"):
        eng.hint(p, event=event)
    eng.scan(startup=True); clock.advance(2)
    assert eng.run_once() == 0
    clock.advance(30); eng.run_once()
    assert states(app) == {"direct.csv": "error"}


# -- why a file waits ------------------------------------------------------------------------------

def test_a_direct_write_in_a_require_rename_inbox_is_logged_once_with_how_to_upload(app_factory, caplog):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": RR})
    eng.scan(startup=True)
    caplog.set_level(logging.INFO, logger="marketd.inbox")
    (app.inbox_dir / "catalog" / "orders.csv").write_text(catalog_csv(2))
    before = time.time()
    for _ in range(5):
        eng.scan(); clock.advance(2); eng.run_once()
    said = [r for r in caplog.records if "orders.csv" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "waiting for a rename" in said[0].getMessage() and "orders.csv.tmp" in said[0].getMessage()
    (w,) = eng.gate.waiting_in()
    assert w["reason"] == "rename" and "orders.csv.tmp" in w["text"]
    # the deadline is fixed when it is first seen waiting: 30 s grace, 2 s (fake clock) of it spent
    # then, from the wall time of that moment (bracketed here, so a stalled test cannot fail it)
    assert before + 28 - 1e-3 <= w["until"] <= time.time() + 28 + 1e-3


class Recorder:
    kind = "notes"
    completeness = "test"
    suspect = None  # this format has its own trailer: never "cut"

    def process(self, ctx):
        return {"bytes": ctx.size}


class NotesPlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(Recorder())


def test_every_waiting_file_says_why(app_factory):
    app, eng, clock = engine_for(app_factory, extra={"notes": NotesPlugin()}, inbox={
        "defaults": {"stability_seconds": 5, "watch": "poll"},
        "notes": {"mode": "done_file"},
        "catalog": {"min_age_seconds": 3600}})
    (app.inbox_dir / "notes" / "n.txt").write_text("x\n")
    (app.inbox_dir / "catalog" / "young.csv").write_text(catalog_csv(1))
    eng.scan(); clock.advance(1); eng.run_once()
    reasons = {w["name"]: w for w in eng.gate.waiting_in()}
    assert reasons["young.csv"]["reason"] == "too_new" and "min_age_seconds" in reasons["young.csv"]["text"]
    assert reasons["n.txt"]["reason"] == "settling" and "5 s" in reasons["n.txt"]["text"]
    clock.advance(5); eng.run_once()
    reasons = {w["name"]: w for w in eng.gate.waiting_in()}
    assert reasons["n.txt"]["reason"] == "done_file" and "n.txt.done" in reasons["n.txt"]["text"]
    eng.publish_waiting()  # what `marketd status` reads while the daemon runs
    assert {(w["name"], w["reason"]) for w in eng.waiting_note.read()} == {("n.txt", "done_file"),
                                                                          ("young.csv", "too_new")}


# -- a file that looks cut waits a second window (stable mode) ------------------------------------

def test_a_last_line_without_a_line_break_waits_a_second_window_in_stable_mode(app_factory, caplog):
    """Issue 9 item 2: a file whose writer paused mid-row was taken after one window."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 2, "watch": "poll"}})
    caplog.set_level(logging.INFO, logger="marketd.inbox")
    d = app.inbox_dir / "catalog"
    (d / "cut.csv").write_text(catalog_csv(3).rstrip("\n")[:-3])  # the writer paused inside the last row
    (d / "whole.csv").write_text(catalog_csv(3, start=10))
    eng.scan(); clock.advance(2.5)
    assert eng.run_once() == 1 and states(app) == {"whole.csv": "done"}
    (w,) = eng.gate.waiting_in()
    assert w["name"] == "cut.csv" and w["reason"] == "second_window" and "no line break" in w["text"]
    clock.advance(1)
    assert eng.run_once() == 0  # 3.5 s: still inside the second window
    with open(d / "cut.csv", "a") as fh:  # the writer resumes: the row is completed
        fh.write("999\n")
    eng.scan(); clock.advance(2.5)
    assert eng.run_once() == 1 and states(app)["cut.csv"] == "done"  # complete now: one window
    said = [r.getMessage() for r in caplog.records if "cut.csv" in r.getMessage() and "second" in r.getMessage()]
    assert len(said) == 1


def test_a_cut_file_that_stays_cut_is_taken_after_the_second_window(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 2, "watch": "poll"}})
    (app.inbox_dir / "catalog" / "cut.csv").write_text(catalog_csv(3).rstrip("\n"))
    eng.scan(); clock.advance(2.5)
    assert eng.run_once() == 0
    clock.advance(2)
    assert eng.run_once() == 1  # the handler judges the content now
    assert states(app)["cut.csv"] in ("done", "error")


def test_no_second_window_where_the_sender_signals_completion_or_the_handler_opts_out(app_factory):
    app, eng, clock = engine_for(app_factory, extra={"notes": NotesPlugin()}, inbox={
        "defaults": {"stability_seconds": 2, "watch": "poll"},
        "catalog": {"mode": "done_file"}})
    (app.inbox_dir / "catalog" / "c.csv").write_text(catalog_csv(2).rstrip("\n"))
    (app.inbox_dir / "catalog" / "c.csv.done").write_text("")
    (app.inbox_dir / "notes" / "n.txt").write_text("no newline")  # Recorder.suspect = None
    eng.scan(); clock.advance(2.5)
    assert eng.run_once() == 2


def test_unterminated_tail(tmp_path):
    def check(data: bytes):
        p = tmp_path / "f"
        p.write_bytes(data)
        return unterminated_tail(p)

    assert check(b"a,b\n1,2\n") is None and check(b"a,b\r\n1,2\r\n") is None and check(b"a\r1\r") is None
    assert "no line break" in check(b"a,b\n1,")
    assert "NUL" in check(b"a,b\n1,2\n" + b"\x00" * 100)  # space reserved, not written yet
    assert check("a\n1\n".encode("utf-16")) is None  # UTF-16LE with BOM ends in "\n\x00"
    assert "no line break" in check("a\n1".encode("utf-16"))
    assert check(b"PK\x03\x04" + b"\x00" * 50) is None  # an XLSX/ZIP ends in binary by design
    assert check(b"") is None


# -- the summary convention: a file whose every line was refused -----------------------------------

class AllRefused:
    kind = "refusing"
    completeness = "test"

    def process(self, ctx):
        return {"lines": 3, "rejected": 3}


class RefusingPlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(AllRefused())


def test_a_file_whose_lines_were_all_rejected_is_not_shown_as_plain_done(app_factory, caplog):
    from marketd.inbox.status import inbox_status

    app, eng, clock = engine_for(app_factory, extra={"r": RefusingPlugin()},
                                 inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    caplog.set_level(logging.INFO, logger="marketd.inbox")
    (app.inbox_dir / "refusing" / "x.csv").write_text("a\n1\n2\n3\n")
    (app.inbox_dir / "catalog" / "c.csv").write_text(catalog_csv(2))
    eng.scan(); clock.advance(1); eng.run_once()
    last = {r["name"]: r for r in inbox_status(app, daemon_running=False)["last_processed"]}
    assert last["x.csv"]["outcome"] == "done_all_rejected" and last["x.csv"]["rejected_lines"] == 3
    assert last["c.csv"]["outcome"] == "done"
    assert any("x.csv" in r.getMessage() and "all 3 lines rejected" in r.getMessage() for r in caplog.records)


# -- the state database failing under the worker ---------------------------------------------------

def test_a_claim_whose_journal_row_cannot_be_written_never_kills_the_worker(app_factory, caplog):
    """Issue 9 item 7: a write lock held past the busy timeout during the claim raised out of the
    worker ("inbox worker died", exit 1, a restart loop under systemd)."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    app.store.db.execute("PRAGMA busy_timeout=50")  # this thread's connection gives up after 50 ms, not 60 s
    caplog.set_level(logging.INFO, logger="marketd.inbox")
    other = sqlite3.connect(app.store.path, isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")  # a job holding the write lock
    try:
        (app.inbox_dir / "catalog" / "c.csv").write_text(catalog_csv(2))
        eng.scan(); clock.advance(1)
        assert eng.run_once() == 0  # must not raise
        assert list((app.inbox_dir / "catalog" / ".processing").iterdir())  # claimed, not journaled
        clock.advance(0.5)
        assert eng.run_once() == 0  # pausing (backoff), not hammering the database
    finally:
        other.execute("ROLLBACK")
        other.close()
    clock.advance(5)
    eng.run_once()
    assert states(app) == {"c.csv": "done"}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "database is locked" in errors[0] and "pauses" in errors[0]
    assert any("works again" in r.getMessage() for r in caplog.records)


def test_a_not_renamed_verdict_survives_a_claim_whose_journal_row_failed(app_factory):
    """The gate's rejection is journaled with the claim: a database failure (or a crash) between
    the claim and the rejection must not turn a direct write into an applied file."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {**RR, "direct_write_grace_seconds": 5}})
    eng.scan(startup=True)
    (app.inbox_dir / "catalog" / "direct.csv").write_text(catalog_csv(2))
    eng.scan(); clock.advance(2); eng.run_once()
    app.store.db.execute("PRAGMA busy_timeout=50")
    other = sqlite3.connect(app.store.path, isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")
    try:
        clock.advance(5)
        assert eng.run_once() == 0  # grace over: claimed for the rejection, the journal row fails
        assert list((app.inbox_dir / "catalog" / ".processing").iterdir())
    finally:
        other.execute("ROLLBACK")
        other.close()
    clock.advance(5); eng.run_once()
    assert states(app) == {"direct.csv": "error"} and error_reason(app, "direct.csv") == "not_renamed"
    assert app.store.db.execute("select count(*) from products").fetchone()[0] == 0
