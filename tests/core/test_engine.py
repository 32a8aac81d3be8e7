"""The inbox engine in-process, on a fake clock: gates, claim, duplicates, errors, retries."""
import json
import os
import time

import pytest

from marketd.errors import TransientError
from marketd.hookspecs import hookimpl
from tests.helpers import drop, engine_for, products, states
from tests.samples import catalog_csv


def test_stable_gate_waits_for_window(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 5, "watch": "poll"}})
    drop(app, "c.csv", catalog_csv(3))
    eng.scan()
    assert eng.run_once() == 0
    clock.advance(3)
    assert eng.run_once() == 0
    clock.advance(2.5)
    assert eng.run_once() == 1
    assert products(app) == 3 and states(app) == {"c.csv": "done"}


def test_growing_file_restarts_window(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 5, "watch": "poll"}})
    p = drop(app, "c.csv", catalog_csv(2))
    eng.scan()
    clock.advance(4)
    with open(p, "a") as fh:
        fh.write("SKU-X,4006381333931,t,b,1.00,EUR,1,red\n")
    eng.run_once()
    clock.advance(4)
    assert eng.run_once() == 0  # changed 4 s ago: window restarted
    clock.advance(2)
    assert eng.run_once() == 1 and products(app) == 3


def test_temp_names_never_claimed_then_rename_is(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1, "watch": "poll"}})
    for name in ("c.csv.tmp", ".c.csv", "c.csv.part", "c.csv.filepart", "~c.csv"):
        drop(app, name, catalog_csv(1))
    eng.scan(); clock.advance(5); eng.scan()
    assert eng.run_once() == 0
    os.rename(app.inbox_dir / "catalog" / "c.csv.tmp", app.inbox_dir / "catalog" / "c.csv")
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1 and states(app) == {"c.csv": "done"}


def test_require_rename_accepts_renamed_rejects_direct_write(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {
        "stability_seconds": 1, "watch": "poll", "mode": "require_rename", "direct_write_grace_seconds": 30}})
    d = app.inbox_dir / "catalog"
    (d / "good.csv.tmp").write_text(catalog_csv(2))
    time.sleep(0.01)
    os.rename(d / "good.csv.tmp", d / "good.csv")
    drop(app, "direct.csv", catalog_csv(2, start=10))
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1 and states(app) == {"good.csv": "done"}
    clock.advance(30)
    eng.run_once()
    assert states(app)["direct.csv"] == "error"
    err = json.loads(app.store.db.execute("select error from files where name='direct.csv'").fetchone()[0])
    assert err["reason"] == "not_renamed" and products(app) == 2


def test_done_file_mode(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1, "watch": "poll",
                                                                  "mode": "done_file"}})
    drop(app, "c.csv", catalog_csv(2))
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0
    (app.inbox_dir / "catalog" / "c.csv.done").write_text("")
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1
    done = list((app.inbox_dir / "catalog" / ".done").rglob("*"))
    assert any(p.name.endswith("__c.csv.done") for p in done)  # marker consumed with the data file
    assert not (app.inbox_dir / "catalog" / "c.csv.done").exists()


def test_duplicate_content_not_applied_twice_same_name_new_content_is(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    text = catalog_csv(3)
    drop(app, "a.csv", text); eng.scan(); clock.advance(1); eng.run_once()
    drop(app, "b.csv", text); eng.scan(); clock.advance(1); eng.run_once()
    drop(app, "a.csv", catalog_csv(3, start=100)); eng.scan(); clock.advance(1); eng.run_once()
    rows = list(app.store.db.query("select name, state, duplicate_of from files order by claimed_at, id"))
    assert [r["state"] for r in rows].count("duplicate") == 1
    assert products(app) == 6
    reports = sorted(p.name for p in (app.outbox_dir / "reports").iterdir())
    dup = [p for p in reports if p.startswith("catalog-b-")]
    assert dup and "duplicate" in (app.outbox_dir / "reports" / dup[0]).read_text()


def test_empty_and_too_large_go_to_error(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll",
                                                                  "max_file_mb": 0.001}})
    drop(app, "empty.csv", "")
    drop(app, "big.csv", catalog_csv(50))
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app) == {"empty.csv": "error", "big.csv": "error"}
    err_dir = app.inbox_dir / "catalog" / ".error"
    texts = {p.name: p.read_text() for p in err_dir.glob("*.error.txt")}
    assert any("empty" in t for t in texts.values()) and any("over this inbox's limit" in t for t in texts.values())
    assert len(list(err_dir.glob("*__empty.csv"))) == 1  # the input is kept next to its report


def test_mapping_and_decimal_comma_and_cp1252(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"},
                                                     "catalog": {"columns": {"Artikelnummer": "sku", "Preis": "price"}}})
    text = catalog_csv(4, delimiter=";", decimal=",", header_map={"sku": "Artikelnummer", "price": "Preis"})
    (app.inbox_dir / "catalog" / "erp.csv").write_bytes(text.replace("—", "-").replace("“", '"').replace("”", '"')
                                                        .encode("cp1252"))
    eng.scan(); clock.advance(1); eng.run_once()
    row = app.store.db.execute("select price, title, attributes from products where sku='SKU-0000001'").fetchone()
    summary = json.loads(app.store.db.execute("select summary from files").fetchone()[0])
    assert summary["encoding"] == "cp1252" and summary["decimal"] == "," and summary["delimiter"] == ";"
    assert "," not in row[0] and "Füller" in row[1] and json.loads(row[2])["color"]


def test_changed_rows_reported(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    drop(app, "a.csv", catalog_csv(3)); eng.scan(); clock.advance(1); eng.run_once()
    text = catalog_csv(3).replace("SKU-0000001,4000000000017", "SKU-0000001,4000000000017")
    lines = text.splitlines()
    parts = lines[2].split(",")
    parts[6] = "999"
    lines[2] = ",".join(parts)
    drop(app, "b.csv", "\n".join(lines) + "\n"); eng.scan(); clock.advance(1); eng.run_once()
    report = next((app.outbox_dir / "reports").glob("catalog-b-*.csv")).read_text()
    assert "changed,stock" in report and report.count(",unchanged,") == 2


class Boom:
    kind = "boom"
    completeness = "none"

    def process(self, ctx):
        ctx.db["products"].insert({"sku": "SHOULD-ROLL-BACK"}, alter=True)
        ctx.output("reports/boom.txt", "partial")
        raise RuntimeError("kaboom")


class Flaky:
    kind = "flaky"
    completeness = "none"
    calls = 0

    def process(self, ctx):
        Flaky.calls += 1
        raise TransientError("API 503")


class ExtraPlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(Boom())
        register(Flaky())


def test_plugin_error_isolated_and_rolled_back(app_factory):
    app, eng, clock = engine_for(app_factory, extra={"extra": ExtraPlugin()},
                                 inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll", "max_attempts": 3}})
    drop(app, "x.csv", "a,b\n1,2\n", kind="boom")
    drop(app, "c.csv", catalog_csv(2))
    eng.scan(); clock.advance(1); eng.run_once()
    st = states(app)
    assert st["x.csv"] == "error" and st["c.csv"] == "done"
    assert products(app) == 2  # the failing handler's insert was rolled back
    assert not (app.outbox_dir / "reports" / "boom.txt").exists() and not app.outbox.orphan_temps()
    err = json.loads(app.store.db.execute("select error from files where name='x.csv'").fetchone()[0])
    assert err["reason"].startswith("plugin_error:") and "Traceback" not in err["message"]


def test_transient_errors_back_off_then_give_up(app_factory):
    Flaky.calls = 0
    app, eng, clock = engine_for(app_factory, extra={"extra": ExtraPlugin()},
                                 inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll", "max_attempts": 3}})
    drop(app, "f.csv", "a\n1\n", kind="flaky")
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app)["f.csv"] == "retry_wait" and Flaky.calls == 1
    eng.run_once()
    assert Flaky.calls == 1  # not due yet: backoff, not a busy loop
    clock.advance(1.5); eng.run_once()
    assert Flaky.calls == 2
    clock.advance(5); eng.run_once()
    assert Flaky.calls == 3 and states(app)["f.csv"] == "error"
    err = json.loads(app.store.db.execute("select error from files where name='f.csv'").fetchone()[0])
    assert err["reason"] == "gave_up" and "503" in err["message"]


def test_requeue_bypasses_dedupe(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    drop(app, "a.csv", catalog_csv(2)); eng.scan(); clock.advance(1); eng.run_once()
    drop(app, "b.csv", catalog_csv(2)); eng.scan(); clock.advance(1); eng.run_once()
    dup = app.store.db.execute("select id from files where state='duplicate'").fetchone()[0]
    clock.advance(1)
    row = eng.requeue(dup)
    assert row["state"] == "done" and row["name"] == "b.csv"


def test_recovery_adopts_unjournaled_claim_and_cleans_orphans(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    proc = app.inbox_dir / "catalog" / ".processing"
    (proc / "20261102T090000-0badcafe__lost.csv").write_text(catalog_csv(2))
    orphan = app.outbox_dir / "reports" / ".catalog-x.csv.20261102T080000-deadbeef.tmp"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text("half")
    stats = eng.recover()
    assert stats["adopted"] == 1 and stats["orphans"] == 1 and not orphan.exists()
    eng.run_once()
    assert states(app) == {"lost.csv": "done"} and products(app) == 2


def test_retention_prunes_old_archives_only(app_factory):
    from marketd.plugins.housekeeping import prune

    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"retention_done_days": 10,
                                                                  "retention_error_days": 30}})
    base = app.inbox_dir / "catalog"
    old_day = base / ".done" / "2020-01-01"
    old_day.mkdir(parents=True)
    (old_day / "x__a.csv").write_text("x")
    new_day = base / ".done" / "2099-01-01"
    new_day.mkdir()
    old_err = base / ".error" / "x__b.csv.error.txt"
    old_err.write_text("x")
    fresh_err = base / ".error" / "y__c.csv.error.txt"
    fresh_err.write_text("y")
    stuck = base / ".processing" / "z__d.csv"
    stuck.write_text("z")
    past = time.time() - 40 * 86400
    for p in (old_day, old_err, stuck):
        os.utime(p, (past, past))
    assert prune(app) == 2
    assert not old_day.exists() and not old_err.exists()
    assert new_day.exists() and fresh_err.exists() and stuck.exists()


# -- output names and conflicts (the store is rolled back when an output name is taken) ----------

def test_same_stem_inputs_claimed_in_the_same_second_get_their_own_outputs(app_factory):
    """feed.csv and feed.tsv are claimed in the same (fake) second; their reports used to share the
    name catalog-feed-<second>.csv, so the second file's rows were applied and then it was rejected."""
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    drop(app, "feed.csv", catalog_csv(3))
    drop(app, "feed.tsv", catalog_csv(4, start=100, delimiter="\t"))
    eng.scan(); clock.advance(1)
    assert eng.run_once() == 2
    rows = list(app.store.db.query("select id, claimed_at, state from files"))
    assert {r["state"] for r in rows} == {"done"} and rows[0]["claimed_at"] == rows[1]["claimed_at"]
    reports = sorted((app.outbox_dir / "reports").glob("catalog-feed-*.csv"))
    assert len(reports) == 2 and products(app) == 7
    for r in rows:  # the stamp is the claim second plus the file id's random part
        stamp = f"{r['id'][:15]}Z-{r['id'][16:]}"
        assert (app.outbox_dir / "reports" / f"catalog-feed-{stamp}.csv").exists()


class Ledger:
    """Writes rows and one report whose name does not vary per input (a fixed-name handler)."""
    kind = "ledger"
    completeness = "none"
    late_writer = False

    def process(self, ctx):
        ctx.db["ledger"].insert({"file": ctx.name, "text": ctx.path.read_text()}, alter=True)
        final = ctx.output(f"reports/ledger-{ctx.stem}.txt", "ledger report\n")
        if Ledger.late_writer:  # someone else takes the name while this file is still processed
            final.write_text("written by someone else\n")
        return {"rows": 1}


class LedgerPlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(Ledger())


def ledger_rows(app):
    db = app.store.db
    return db.execute("select count(*) from ledger").fetchone()[0] if "ledger" in db.table_names() else 0


def test_output_name_taken_before_processing_rolls_the_file_back(app_factory):
    Ledger.late_writer = False
    app, eng, clock = engine_for(app_factory, extra={"ledger": LedgerPlugin()},
                                 inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    existing = app.outbox_dir / "reports" / "ledger-day.txt"
    existing.parent.mkdir(parents=True, exist_ok=True)
    existing.write_text("an earlier report\n")
    drop(app, "day.txt", "42\n", kind="ledger")
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app) == {"day.txt": "error"}
    err = json.loads(app.store.db.execute("select error from files").fetchone()[0])
    assert err["reason"] == "output_exists" and "reports/ledger-day.txt" in err["message"]
    assert ledger_rows(app) == 0, "rejected as output_exists, yet its rows were applied"
    assert existing.read_text() == "an earlier report\n" and not app.outbox.orphan_temps()
    report = next((app.inbox_dir / "ledger" / ".error").glob("*__day.txt.error.txt")).read_text()
    assert "Nothing from it was applied" in report and "marketd requeue" in report
    existing.unlink()  # the operator moves the old report away and requeues: applied once
    row = eng.requeue(app.store.db.execute("select id from files").fetchone()[0])
    assert row["state"] == "done" and ledger_rows(app) == 1


def test_output_name_taken_while_processing_rolls_the_file_back(app_factory):
    """The name is free when the handler stages it and taken before the commit: the engine checks
    every staged name again inside the transaction."""
    Ledger.late_writer = True
    try:
        app, eng, clock = engine_for(app_factory, extra={"ledger": LedgerPlugin()},
                                     inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
        drop(app, "late.txt", "7\n", kind="ledger")
        eng.scan(); clock.advance(1); eng.run_once()
    finally:
        Ledger.late_writer = False
    assert states(app) == {"late.txt": "error"} and ledger_rows(app) == 0
    assert json.loads(app.store.db.execute("select error from files").fetchone()[0])["reason"] == "output_exists"
    assert (app.outbox_dir / "reports" / "ledger-late.txt").read_text() == "written by someone else\n"
    assert not app.outbox.orphan_temps()


def test_staging_many_outputs_is_linear(app_factory):
    """A shipments file stages a label per parcel (1,000+). Checking "staged twice" against a list
    made staging quadratic: the last 1,000 of 8,000 outputs took ~15x the first 1,000.

    Counted, not timed (a timed ratio fails on a loaded machine; the time is measured by
    bench/bench_staging.py): the output-path comparisons made while staging 1,000 outputs must
    not grow with the number already staged. A list scan compares against every earlier path."""
    from datetime import datetime, timezone
    import logging
    import pathlib

    from marketd.context import FileContext

    app = app_factory()
    ctx = FileContext(app=app, kind="catalog", settings={}, path=app.inbox_dir / "x.csv", name="x.csv",
                      file_id="20261102T090000-0badcafe", sha256="0" * 64, size=1,
                      claimed_at=datetime(2026, 11, 2, 9, tzinfo=timezone.utc), log=logging.getLogger("t"))
    real_eq = pathlib.PurePath.__eq__
    compared = [0]

    def counting_eq(self, other):
        compared[0] += 1
        return real_eq(self, other)

    def stage(first, last):
        compared[0] = 0
        pathlib.PurePath.__eq__ = counting_eq
        try:
            for i in range(first, last):
                ctx._stage(f"labels/{ctx.stamp}-x/{i:05d}.pdf", True)
        finally:
            pathlib.PurePath.__eq__ = real_eq
        return compared[0]

    head = stage(0, 1000)
    stage(1000, 7000)
    tail = stage(7000, 8000)
    assert len(ctx.outputs) == 8000
    assert tail <= head + 10 and tail <= 5 * 1000, f"path comparisons per 1,000 outputs: {head} -> {tail}"
    try:
        ctx._stage(f"labels/{ctx.stamp}-x/00007.pdf", True)
    except ValueError as exc:
        assert "staged twice" in str(exc)
    else:
        raise AssertionError("an output staged twice was accepted")


# -- files the worker must never choke on ---------------------------------------------------------

def test_fifo_in_the_inbox_never_blocks_the_worker_and_is_reported_once(app_factory, caplog):
    import threading

    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    fifo = app.inbox_dir / "catalog" / "pipe.csv"
    os.mkfifo(fifo)
    drop(app, "good.csv", catalog_csv(2))
    caplog.set_level("ERROR", logger="marketd.inbox")

    def rounds():
        for _ in range(3):
            eng.hint(fifo)  # the watcher reports it like any new name
            eng.scan(); clock.advance(1); eng.run_once()

    worker = threading.Thread(target=rounds, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        with open(fifo, "w"):  # let the blocked reader go, so the test process can end
            pass
        raise AssertionError("the worker is blocked on a FIFO in the inbox")
    assert states(app) == {"good.csv": "done"} and products(app) == 2
    assert fifo.exists()  # left alone, never claimed
    reports = [r for r in caplog.records if "pipe.csv" in r.getMessage()]
    assert len(reports) == 1, [r.getMessage() for r in reports]
    assert "named pipe" in reports[0].getMessage() and "not a regular file" in reports[0].getMessage()


def test_file_that_cannot_be_claimed_is_left_logged_once_and_retried(app_factory, caplog):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    proc = app.inbox_dir / "catalog" / ".processing"
    proc.rmdir()
    proc.write_text("not a folder")  # every claim rename now fails with ENOTDIR
    drop(app, "c.csv", catalog_csv(2))
    caplog.set_level("ERROR", logger="marketd.inbox")
    for _ in range(5):
        eng.scan(); clock.advance(1); eng.run_once()  # must not raise: the worker would die
    assert (app.inbox_dir / "catalog" / "c.csv").exists() and states(app) == {}
    msgs = [r.getMessage() for r in caplog.records if "c.csv" in r.getMessage()]
    assert len(msgs) == 1 and "cannot take catalog/c.csv" in msgs[0] and "write permission" in msgs[0]
    proc.unlink()
    proc.mkdir()
    eng.scan(); eng.run_once()
    assert states(app) == {}  # held for a minute, not retried in a busy loop
    clock.advance(61)
    eng.scan(); eng.run_once()
    assert states(app) == {"c.csv": "done"} and products(app) == 2


# -- require_rename: how the watcher's evidence is kept ------------------------------------------

def rr_engine(app_factory, watch="native"):
    return engine_for(app_factory, inbox={"defaults": {
        "stability_seconds": 1, "watch": watch, "mode": "require_rename", "direct_write_grace_seconds": 30}})


def test_link_rename_seen_only_by_the_watcher_is_accepted_even_with_ctime_equal_mtime(app_factory):
    """link()+unlink() (SFTP's standard rename) while the worker is busy: only the watcher thread
    sees the events. A same-tick link leaves ctime == mtime, emulated with utime."""
    app, eng, clock = rr_engine(app_factory)
    d = app.inbox_dir / "catalog"
    tmp = d / "up.csv.tmp"
    tmp.write_text(catalog_csv(2))
    eng.hint(tmp, event="created"); eng.hint(tmp, event="modified"); eng.hint(tmp, event="closed")
    os.link(tmp, d / "up.csv")
    eng.hint(d / "up.csv", event="created")
    os.unlink(tmp)
    eng.hint(tmp, event="deleted")
    soon = time.time_ns() + 50_000_000
    os.utime(d / "up.csv", ns=(soon, soon))
    eng.hint(d / "up.csv", event="attrib")
    st = os.stat(d / "up.csv")
    assert st.st_ctime_ns <= st.st_mtime_ns  # the timestamps alone say "direct write"
    time.sleep(0.06)
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1 and states(app) == {"up.csv": "done"}


def test_link_without_temp_events_counts_as_rename_only_for_the_native_watcher(app_factory):
    """A final name created without any write is a link (or a move from another folder). The
    polling observer's "created" only means "appeared between two listings": not evidence."""
    for watch, expected in (("native", "done"), ("poll", "error")):
        app, eng, clock = rr_engine(app_factory, watch)
        d = app.inbox_dir / "catalog"
        src = app.inbox_dir.parent / "export.csv"
        src.write_text(catalog_csv(2))
        os.link(src, d / "in.csv")
        soon = time.time_ns() + 50_000_000
        os.utime(d / "in.csv", ns=(soon, soon))
        eng.hint(d / "in.csv", event="created", native=watch == "native")
        time.sleep(0.06)
        eng.scan(); clock.advance(2); eng.run_once()
        clock.advance(31); eng.run_once()
        assert states(app) == {"in.csv": expected}, watch


def test_write_events_under_the_final_name_make_it_a_direct_write(app_factory):
    app, eng, clock = rr_engine(app_factory)
    p = drop(app, "direct.csv", catalog_csv(2))
    for event in ("created", "modified", "closed"):  # what a direct upload looks like
        eng.hint(p, event=event)
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0  # waits for the grace period
    clock.advance(30); eng.run_once()
    assert states(app) == {"direct.csv": "error"} and products(app) == 0


def test_a_renamed_in_name_is_forgotten_when_the_file_goes(app_factory):
    app, eng, clock = rr_engine(app_factory)
    d = app.inbox_dir / "catalog"
    (d / "x.csv.tmp").write_text(catalog_csv(2))
    os.rename(d / "x.csv.tmp", d / "x.csv")
    eng.hint(d / "x.csv.tmp"); eng.hint(d / "x.csv", moved=True)  # the watcher's move event
    keep = app.inbox_dir.parent / "keep.csv"
    os.link(d / "x.csv", keep)  # keeps the inode alive: no inode reuse involved
    os.unlink(d / "x.csv")  # withdrawn before it was claimed; no event reaches us, a scan finds it gone
    eng.scan(); clock.advance(2); eng.run_once()
    drop(app, "x.csv", catalog_csv(2, start=50))  # later: a direct write under the same name
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0
    clock.advance(30); eng.run_once()
    assert states(app) == {"x.csv": "error"} and products(app) == 0


def test_a_deleted_temp_names_inode_is_forgotten(app_factory):
    """The worker saw a temp name's inode; the temp file was deleted. A later final-named file
    with that inode number (reused by the file system) is not taken for a rename."""
    app, eng, clock = rr_engine(app_factory, "poll")
    d = app.inbox_dir / "catalog"
    (d / "aborted.csv.tmp").write_text("sku\n")
    eng.scan()
    ino = os.stat(d / "aborted.csv.tmp").st_ino
    assert ino in eng.gate.evidence.temp_inodes
    os.unlink(d / "aborted.csv.tmp")
    for i in range(50):  # ext4/tmpfs hand a freed inode number out again at once; try a few
        p = drop(app, "direct.csv", catalog_csv(2, start=i))
        if os.stat(p).st_ino == ino:
            break
        p.unlink()
    else:
        pytest.skip("this file system did not reuse the inode number")
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0 and ino not in eng.gate.evidence.temp_inodes
    clock.advance(30); eng.run_once()
    assert states(app) == {"direct.csv": "error"}


# -- retention ------------------------------------------------------------------------------------

def test_retention_ages_error_entries_by_their_report_not_the_input(app_factory):
    """An export written 40 days ago and rejected today must be kept for the error retention; the
    input keeps its old mtime through the moves, its .error.txt says when it was rejected."""
    from marketd.plugins.housekeeping import prune

    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"retention_done_days": 10,
                                                                  "retention_error_days": 30}})
    err = app.inbox_dir / "catalog" / ".error"
    past = time.time() - 40 * 86400
    fresh = [err / "20261102T090000-aaaaaaaa__old-export.csv", err / "20261102T090000-aaaaaaaa__old-export.csv.error.txt",
             err / "20261102T090000-aaaaaaaa__old-export.csv.error.json"]
    stale = [err / "20260901T090000-bbbbbbbb__b.csv", err / "20260901T090000-bbbbbbbb__b.csv.error.txt",
             err / "20260901T090000-bbbbbbbb__b.csv.error.json", err / "20260901T090000-bbbbbbbb__b.csv.done"]
    for p in fresh + stale:
        p.write_text("x")
    os.utime(fresh[0], (past, past))  # the input's own (sender's) modification time
    for p in stale:
        os.utime(p, (past, past))
    assert prune(app) == 4
    assert all(p.exists() for p in fresh) and not any(p.exists() for p in stale)
