"""``require_rename`` evidence: did a final-named file arrive by a rename or a link?

Kept on the watcher threads, in the order the kernel saw the events, even while the worker is
busy with a long file:

- a temp name's inode (stat when its event arrives; dropped when the temp name is deleted or
  moved away, because file systems hand a freed inode number out again at once);
- a rename or a link onto a final name (``moved``; ``created`` with the inode a temp name held;
  ``created`` without any write, native watcher only) — cancelled by a write under the name;
- final names the watcher saw written (a direct write), so the start-up rule does not apply.

Without events (polling, a rescan, lost events) the file's own timestamps decide: a rename or
link after the last write makes ctime later than mtime. The door: :class:`RenameEvidence`
(``note_event``, ``note_temp``, ``arrived_by_rename``, ``written_directly``, ``forget``,
``events_lost``, ``expire``).
"""
from __future__ import annotations

import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from .problems import lstat_or_none


@dataclass
class Arrival:
    """How a final-named file arrived, as the watcher saw it.

    ``moved``: a rename onto the name; ``linked``: created with the inode of a file the watcher
    saw under a temp name; ``created``: created without any write (native watcher only), i.e. a
    hard link. Only valid while the name still has inode ``ino``; a write event under the name
    removes it (a direct write)."""
    kind: str
    ino: int


@dataclass
class TempSeen:
    """A temp-named file's inode, remembered until that temp name is gone."""
    path: Path
    seen_at: float
    from_event: bool  # recorded by the watcher thread in event order


class RenameEvidence:
    def __init__(self, clock):
        self.clock = clock
        self.temp_inodes: dict[int, TempSeen] = {}
        self.arrivals: dict[Path, Arrival] = {}
        self.written: set[Path] = set()  # final names the watcher saw written (direct writes)
        self._lock = threading.Lock()  # watcher threads write, the worker reads and forgets

    def note_event(self, p: Path, is_temp: bool, event: str, native: bool) -> None:
        """One watcher event on ``p`` (watcher thread). ``native`` is False for the polling
        observer, whose "created" only means "appeared between two listings"."""
        if is_temp:
            if event in ("deleted", "moved_from"):
                with self._lock:
                    self._drop_temp(p)
            elif event in ("created", "modified", "closed", "attrib"):
                st = lstat_or_none(p)
                if st is not None and stat.S_ISREG(st.st_mode):
                    now = self.clock.monotonic()
                    with self._lock:
                        cur = self.temp_inodes.get(st.st_ino)
                        if cur is not None and cur.path == p and cur.from_event:
                            cur.seen_at = now
                        else:
                            self._drop_temp(p)
                            self.temp_inodes[st.st_ino] = TempSeen(p, now, True)
            return
        if event in ("deleted", "moved_from", "modified", "closed"):
            with self._lock:  # gone, or written under its final name: a direct write
                self.arrivals.pop(p, None)
                if event in ("modified", "closed"):
                    self.written.add(p)
                else:
                    self.written.discard(p)
        elif event in ("moved", "created"):
            st = lstat_or_none(p)
            with self._lock:
                self.written.discard(p)
                if st is None or not stat.S_ISREG(st.st_mode):
                    self.arrivals.pop(p, None)
                    return
                seen = self.temp_inodes.get(st.st_ino)
                if event == "moved":
                    self.arrivals[p] = Arrival("moved", st.st_ino)
                elif seen is not None and seen.from_event:
                    # the temp name still held this inode when the final name was created (its
                    # deletion would have been seen first): a link, never a reused inode
                    self.arrivals[p] = Arrival("linked", st.st_ino)
                elif native:
                    self.arrivals[p] = Arrival("created", st.st_ino)  # a write event cancels it
                else:
                    self.arrivals.pop(p, None)

    def note_temp(self, p: Path, ino: int) -> None:
        """A listing found temp name ``p`` with inode ``ino`` (worker thread)."""
        with self._lock:
            seen = self.temp_inodes.get(ino)
            if seen is None or seen.path != p:
                self.temp_inodes[ino] = TempSeen(p, self.clock.monotonic(), False)

    def written_directly(self, p: Path) -> bool:
        with self._lock:
            return p in self.written

    def overwritten(self, p: Path) -> None:
        """A listing saw ``p`` change under its final name (same inode): a direct write."""
        with self._lock:
            self.arrivals.pop(p, None)

    def arrived_by_rename(self, path: Path, inode: int, size: int, ctime_ns: int, mtime_ns: int) -> str | None:
        """``event``, ``temp link`` or ``timestamps`` when the file at ``path`` (with these
        attributes) arrived by a rename or link after its last write; None if nothing says so."""
        with self._lock:
            arrival = self.arrivals.get(path)
            if arrival is not None and arrival.ino != inode:
                del self.arrivals[path]  # the name now holds another file
                arrival = None
            seen = self.temp_inodes.get(inode)
        if arrival is not None and (arrival.kind != "created" or size > 0):
            return "event"
        if seen is not None:
            st = lstat_or_none(seen.path)
            if st is not None and st.st_ino == inode:
                return "temp link"  # a hard link of a temp name that is still there
            with self._lock:  # the temp name is gone: its inode number may be reused, forget it
                if self.temp_inodes.get(inode) is seen:
                    del self.temp_inodes[inode]
        # a rename or link after the last write bumps ctime past mtime; a direct (maybe killed)
        # upload leaves them equal
        return "timestamps" if ctime_ns > mtime_ns else None

    def forget(self, path: Path) -> None:
        with self._lock:
            self.arrivals.pop(path, None)
            self.written.discard(path)
            self._drop_temp(path)

    def events_lost(self) -> None:
        """Events were lost (inotify queue overflow): forget what depends on having seen every
        event (a "created without any write", a link of a temp inode whose deletion may have gone
        unseen, even a move whose later writes may be lost); timestamps decide until new events."""
        with self._lock:
            self.arrivals.clear()
            self.temp_inodes = {ino: t for ino, t in self.temp_inodes.items() if not t.from_event}

    def expire(self, horizon: float) -> None:
        """Forget temp inodes not seen since ``horizon`` (monotonic): abandoned temp uploads."""
        with self._lock:
            self.temp_inodes = {ino: t for ino, t in self.temp_inodes.items() if t.seen_at >= horizon}

    def _drop_temp(self, p: Path) -> None:
        """Forget the inode(s) remembered for temp name ``p`` (caller holds ``_lock``)."""
        for ino in [i for i, t in self.temp_inodes.items() if t.path == p]:
            del self.temp_inodes[ino]
