"""Group commit for concurrent transfers: many files' ledger steps and folder fsyncs, one flush.

Why: each ledger step must be durable before the next remote or local step (that is what makes
a ``kill -9`` harmless), and a durable SQLite commit is an fsync. With eight files in flight on a
connection, eight steps that become due together are written in one transaction, and the
folders they need synced are synced once, on a thread of their own, while the event loop keeps
the network busy. A caller's ``await`` returns only once its own step is on disk.
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Committer:
    def __init__(self, ledger):
        self.ledger = ledger
        self._queue: list = []
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="remotes-ledger")

    async def __call__(self, fn=None, dirs=()):
        """Run ``fn(db)`` in a shared transaction after fsyncing ``dirs``; returns ``fn``'s result."""
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((fn, tuple(dirs), fut))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return await fut

    async def fsync(self, fd: int) -> None:
        """A file's fsync off the event loop (the disk works while the network does)."""
        await asyncio.get_running_loop().run_in_executor(None, os.fsync, fd)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await loop.run_in_executor(self._pool, self._flush, batch)
            except BaseException as exc:  # noqa: BLE001 - every waiter of this batch gets it
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (*_, fut), result in zip(batch, results):
                if not fut.done():
                    fut.set_result(result)

    def _flush(self, batch) -> list:
        for d in sorted({d for _, dirs, _ in batch for d in dirs}):
            fsync_dir(Path(d))
        fns = [fn for fn, _, _ in batch]
        if not any(fns):
            return [None] * len(batch)
        with self.ledger.tx() as db:
            return [fn(db) if fn else None for fn in fns]

    def close(self) -> None:
        """End the flush thread (its database connection is closed with it by the ledger)."""
        self._pool.shutdown(wait=True)
