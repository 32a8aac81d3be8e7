"""Store reads in a thread of their own, beside the file's write transaction.

Why: a large payout file spends seconds in numpy (parsing, adding up) while the store could
already be looking up its order references, the aging list and the double-payment check. Each
query runs on a read-only connection of its own (WAL lets it read the committed state while
the handler's transaction is open) and returns one JSON text, so SQLite works without holding
the GIL row by row.
"""
from __future__ import annotations

import sqlite3
import threading
import urllib.parse


def readonly_connection(db_path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(db_path))}?mode=ro", uri=True, timeout=60,
                           check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


def store_path(db) -> str | None:
    """The store's file, or None (in-memory or temporary database)."""
    row = db.conn.execute("pragma database_list").fetchone()
    return row[2] if row and row[2] else None


class ReadInThread:
    """``query(conn)`` on a read-only connection of its own, in a thread. Not started when
    ``path`` is None (an in-memory store has no file to open twice): :meth:`join` then runs the
    query on ``fallback`` (the caller's connection)."""

    def __init__(self, path, query, name: str, fallback=None):
        self.path = path if path and str(path) != ":memory:" else None
        self.query, self.name, self.fallback = query, name, fallback
        self.value = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            conn = readonly_connection(self.path)
            try:
                self.value = self.query(conn)
            finally:
                conn.close()
        except BaseException as exc:  # re-raised by join()
            self.error = exc

    def start(self) -> "ReadInThread":
        if self.path:
            self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self.thread.start()
        return self

    @property
    def started(self) -> bool:
        return self.thread is not None

    def join_quietly(self) -> None:
        """Wait for the thread (on every way out of the caller, so it never outlives it)."""
        if self.thread is not None:
            self.thread.join()

    def join(self):
        if self.thread is None:
            return self.query(self.fallback) if self.fallback is not None else None
        self.join_quietly()
        if self.error is not None:
            raise self.error
        return self.value
