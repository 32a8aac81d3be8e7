"""The store's connections as sqlite-utils sees them, with writers that wait their turn.

Its own module because sqlite-utils imports pandas and numpy: :mod:`marketd.store` imports this
one when a connection is first used, so commands that never touch the store start faster.
"""
from __future__ import annotations

from contextlib import contextmanager

import sqlite_utils


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
