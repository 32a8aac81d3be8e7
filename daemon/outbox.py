"""Atomic output: temp name, fsync, link into place, fsync the folder.

A reader of the outbox (an ERP polling over SFTP, a person) must never see a half-written file
or a temp name it might pick up: temp files are dot-named, the final name appears in one step,
and an existing output is never overwritten silently (policy ``fail`` by default).

Inbox outputs are checked with :meth:`Outbox.check_free` while the input's store transaction is
still open, so a name conflict rolls the input's changes back instead of being found after the
commit.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from .errors import OutputExists

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """``mkdir -p`` whose new folders survive a power cut: the parent of every folder it
    creates is fsynced (fsyncing a file's folder makes the file's name durable, not the
    folder's own name in its parent)."""
    path = Path(path)
    if path.is_dir():
        return
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        fsync_dir(d.parent)


def temp_name(final: Path, token: str) -> Path:
    return final.parent / f".{final.name}.{token}.tmp"


def open_new(path: Path, private: bool, binary: bool = True, encoding: str = "utf-8"):
    """Create ``path`` exclusively with the right permission bits regardless of umask."""
    mode = PRIVATE_MODE if private else PUBLIC_MODE
    ensure_dir(path.parent)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding=encoding, newline="")


def finish(fh) -> None:
    """Flush and fsync an open output before it is published."""
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()


DONE_SUFFIX = ".done"


class Outbox:
    def __init__(self, root: str | Path, conflict: str = "fail", done_folders=()):
        self.root = Path(root)
        self.conflict = conflict
        # outbox folders (first path part, "*" for all) whose readers want ``<name>.done`` beside
        # each output: an ERP that cannot tell a finished file from a growing one waits for it
        self.done_folders = tuple(done_folders or ())
        self._resolved: Path | None = None

    def wants_done_marker(self, final: Path) -> bool:
        if not self.done_folders:
            return False
        top = Path(self._rel(Path(final))).parts[0]
        return "*" in self.done_folders or top in self.done_folders

    def write_done_marker(self, final: Path, *, sync: bool = True) -> Path:
        """An empty ``<final>.done``, created only once ``final`` is in place and fsynced (its
        folder too, when ``sync``); idempotent, so a re-publish after a crash is harmless."""
        final = Path(final)
        marker = final.with_name(final.name + DONE_SUFFIX)
        mode = os.stat(final).st_mode & 0o777
        try:
            fd = os.open(str(marker), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            return marker
        try:
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if sync:
            fsync_dir(marker.parent)
        return marker

    def final_path(self, relpath: str) -> Path:
        if self._resolved is None:
            self._resolved = self.root.resolve()
        final = (self._resolved / relpath).resolve()
        if self._resolved not in final.parents:
            raise ValueError(f"output path escapes the outbox: {relpath!r}")
        return final

    def check_free(self, finals, policy: str | None = None) -> None:
        """Raise :class:`OutputExists` if any final name is taken and the policy is ``fail``.

        Called inside the input's store transaction, so the conflict rolls the input back."""
        if (policy or self.conflict) != "fail":
            return
        for final in finals:
            if os.path.lexists(final):
                raise OutputExists(
                    f"output {self._rel(Path(final))} already exists in the outbox; nothing was overwritten"
                )

    def _rel(self, final: Path) -> str:
        try:
            return str(final.relative_to(self._resolved or self.root.resolve()))
        except ValueError:
            return str(final)

    def publish(self, tmp: Path, final: Path, policy: str | None = None, *, sync: bool = True) -> Path:
        """Move a finished temp file to its final name; idempotent after a crash.

        If the final name already is the same inode (we crashed between link and unlink), only
        the temp name is removed. Returns the path actually published. ``sync=False`` leaves
        the folder's fsync to the caller, who publishes many outputs and syncs each folder once
        before recording them as published (a thousand labels: one fsync, not a thousand).
        """
        policy = policy or self.conflict
        tmp, final = Path(tmp), Path(final)
        if not tmp.exists():
            if final.exists():
                return final  # published before a crash, temp already gone
            raise FileNotFoundError(f"staged output vanished: {tmp}")
        target = final
        n = 0
        while True:
            try:
                if target.exists() and os.path.samefile(tmp, target):
                    os.unlink(tmp)
                    if sync:
                        fsync_dir(target.parent)
                    return target
                os.link(tmp, target)
                break
            except FileExistsError:
                if policy == "replace":
                    os.replace(tmp, target)
                    if sync:
                        fsync_dir(target.parent)
                    return target
                if policy == "rename":
                    n += 1
                    target = final.with_name(f"{final.stem}-{n}{final.suffix}")
                    continue
                raise OutputExists(
                    f"output {final} already exists; nothing was overwritten. Move the old file away "
                    f"and requeue the input, or set [daemon] output_conflict = \"rename\""
                )
        os.unlink(tmp)
        if sync:
            fsync_dir(target.parent)
        return target

    def write(self, relpath: str, data: bytes | str, *, private: bool = False, policy: str | None = None) -> Path:
        """Write one output atomically (for scheduled jobs; inbox handlers use their context)."""
        final = self.final_path(relpath)
        tmp = temp_name(final, secrets.token_hex(6))
        with open_new(tmp, private) as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            published = self.publish(tmp, final, policy)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self.wants_done_marker(published):
            self.write_done_marker(published)
        return published

    def orphan_temps(self) -> list[Path]:
        return [p for p in self.root.rglob(".*.tmp") if p.is_file()]
