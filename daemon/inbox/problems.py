"""Problems with one file or folder, logged once, described in words an operator can act on.

The worker looks at the same files several times a second; a problem that does not change (a
FIFO in the inbox, a folder it may not list) must be logged once, not in a loop, and again only
when it changes or comes back. The door: :class:`Problems` and the describing helpers.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("marketd.inbox")


class Problems:
    """``report(key, signature, …)`` logs once per key until the signature changes."""

    def __init__(self):
        self._seen: dict[tuple, object] = {}

    def report(self, key: tuple, signature, level: int, msg: str, *args) -> None:
        if self._seen.get(key) == signature:
            return
        self._seen[key] = signature
        log.log(level, msg, *args)

    def clear(self, key: tuple) -> None:
        self._seen.pop(key, None)

    def forget_gone(self, folder: Path, present: set[Path]) -> None:
        """Files of ``folder`` that are gone are reported again if they come back."""
        for key in [k for k in self._seen if len(k) > 1 and k[0] != "dir" and isinstance(k[1], Path)
                    and k[1].parent == folder and k[1] not in present]:
            del self._seen[key]


def lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def file_type(mode: int) -> str:
    for test, what in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return what
    return "not a regular file"


def user(uid: int) -> str:
    try:
        import pwd
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def me() -> str:
    return f"user {user(os.geteuid())}"
