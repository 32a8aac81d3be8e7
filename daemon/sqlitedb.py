"""The store's connections as sqlite-utils sees them, with writers that wait their turn.

Its own module because sqlite-utils imports numpy (and pandas, see below): :mod:`marketd.store`
imports this one when a connection is first used, so commands that never touch the store start
faster.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager


def _without_pandas():
    """sqlite-utils imports pandas whenever it is installed, only to map ``pandas.Timestamp`` to a
    TEXT column when it creates a table from values; marketd never stores a Timestamp (times are
    ISO text). That import is a quarter of a second of every command that opens the store, and
    the commands that read tables without pandas (a catalog) would pay it for nothing. So pandas
    is hidden while sqlite-utils is imported (its own ``try: import pandas`` then finds none);
    once imported, by anyone, pandas works as usual. The store imports this module in the thread
    that builds the App, before any worker thread runs."""
    import importlib

    if "pandas" in sys.modules:
        return importlib.import_module("sqlite_utils")
    sys.modules["pandas"] = None  # an import of pandas now raises ImportError
    try:
        return importlib.import_module("sqlite_utils")
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]


sqlite_utils = _without_pandas()


class Database(sqlite_utils.Database):
    """sqlite-utils with every outermost transaction taken as a writer from its first statement
    (``BEGIN IMMEDIATE``), so a busy database is waited for (busy timeout) instead of failing at
    once when a read is upgraded to a write. Nested blocks stay savepoints."""

    @contextmanager
    def atomic(self):
        if self.conn.in_transaction:
            with super().atomic() as db:  # a savepoint inside the open transaction
                yield db
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise

    def begin(self) -> None:
        self.execute("BEGIN IMMEDIATE")
