"""Issue 9 item 7: "database is locked" at once, although busy_timeout is 60 s.

The cause: sqlite-utils opens its transactions with a deferred ``BEGIN`` and reads first (the
table's columns), so its write is an *upgrade* of a read transaction; when another connection
holds the write lock, SQLite refuses the upgrade at once instead of calling the busy handler.
The store now begins every transaction ``IMMEDIATE`` (also the ones sqlite-utils opens itself).
"""
from __future__ import annotations

import sqlite3
import threading

import pytest

from marketd.store import Store, StoreError


def hold_write_lock(store: Store, seconds: float, holding: threading.Event, done: threading.Event) -> None:
    with store.transaction() as db:
        db["holder"].insert({"x": 1})
        holding.set()
        done.wait(seconds)


@pytest.mark.parametrize("how", ["read then write", "upsert"])
def test_a_writer_waits_for_another_threads_write_lock_instead_of_failing(tmp_path, how):
    store = Store(tmp_path / "s.sqlite")
    store.db["items"].insert({"id": 1, "n": 0}, pk="id")
    holding, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(store, 5, holding, release))
    holder.start()
    assert holding.wait(5)
    errors = []

    def writer():
        try:
            with store.transaction() as db:
                if how == "read then write":  # a job's transaction
                    n = db.execute("select n from items where id = 1").fetchone()[0]
                    db["items"].upsert({"id": 1, "n": n + 1}, pk="id")
                else:  # what the settlement fetch did: sqlite-utils reads the table's columns first
                    db["items"].upsert({"id": 1, "n": 7}, pk="id")
        except sqlite3.OperationalError as exc:
            errors.append(exc)

    w = threading.Thread(target=writer)
    w.start()
    w.join(0.5)
    release.set()  # the holder commits after 0.5 s: well inside the busy timeout
    holder.join(5)
    w.join(10)
    assert errors == [], errors
    assert store.db.execute("select n from items where id = 1").fetchone()[0] in (1, 7)
    store.close()


def test_a_database_that_cannot_be_opened_is_one_line(tmp_path):
    (tmp_path / "not-a-db.sqlite").write_bytes(b"this is not an SQLite file at all" * 100)
    with pytest.raises(StoreError) as info:
        store = Store(tmp_path / "not-a-db.sqlite")
        store.migrate({})
    assert "\n" not in str(info.value) and "not-a-db.sqlite" in str(info.value)


def test_a_file_transaction_takes_the_write_lock_at_its_first_use_of_the_store(tmp_path):
    """The shipments handler calls carriers for minutes before it writes: scheduled jobs must be
    able to write meanwhile (with BEGIN IMMEDIATE at once they waited, then failed after 60 s)."""
    store = Store(tmp_path / "s.sqlite")
    store.db["items"].insert({"id": 1, "n": 0}, pk="id")
    job_wrote = threading.Event()

    def job():
        store.db["items"].upsert({"id": 2, "n": 2}, pk="id")
        job_wrote.set()

    with store.file_transaction():
        t = threading.Thread(target=job)
        t.start()  # the "carrier calls" phase: nothing of the store used yet
        assert job_wrote.wait(10), "a job could not write while a file was in its slow phase"
        store.db["items"].upsert({"id": 1, "n": 1}, pk="id")  # the file's own writes, at the end
    t.join()
    assert dict(store.db.execute("select id, n from items").fetchall()) == {1: 1, 2: 2}
    store.close()


def test_a_file_transaction_is_one_unit_with_the_transactions_inside_it(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.db["items"].insert({"id": 1, "n": 0}, pk="id")
    with pytest.raises(RuntimeError):
        with store.file_transaction():
            with store.transaction() as db:  # a handler's own transaction: a savepoint of the file's
                db["items"].insert({"id": 2, "n": 0}, pk="id")
            store.db["items"].update(1, {"n": 9})
            raise RuntimeError("the handler fails later")
    assert store.db.execute("select id, n from items").fetchall() == [(1, 0)]
    with store.file_transaction():
        pass  # never used the store: nothing begun, nothing to commit
    assert not store.db.conn.in_transaction
    store.close()


class SlowThenWrite:
    """Like the shipments handler: network first (here: waiting for a job to write), store last."""
    kind = "slow"
    completeness = "test"
    suspect = None

    def process(self, ctx):
        store = ctx.app.store
        wrote = threading.Event()
        job = threading.Thread(target=lambda: (store.db["job_rows"].insert({"x": 1}), wrote.set()))
        job.start()
        if not wrote.wait(10):
            raise RuntimeError("a scheduled job could not write while this file was in its network phase")
        job.join()
        ctx.db["slow_rows"].insert({"file": ctx.name})
        return {"lines": 1}


def test_the_engine_holds_the_write_lock_only_from_the_handlers_first_use_of_the_store(app_factory):
    from marketd.clock import FakeClock
    from marketd.hookspecs import hookimpl
    from marketd.inbox import InboxEngine

    class Plugin:
        @hookimpl
        def register_inbox_handlers(self, register):
            register(SlowThenWrite())

    clock = FakeClock()
    app = app_factory(clock=clock, extra_plugins={"slow": Plugin()},
                      inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    eng = InboxEngine(app)
    eng.ensure_dirs()
    (app.inbox_dir / "slow" / "f.txt").write_text("x\n")
    eng.scan(); clock.advance(1); eng.run_once()
    row = next(app.store.db.query("select state, error from files"))
    assert row["state"] == "done", row["error"]
    assert app.store.db.execute("select count(*) from job_rows").fetchone()[0] == 1
