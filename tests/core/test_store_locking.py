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
