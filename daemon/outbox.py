"""Atomic output: temp name, fsync, link into place, fsync the folder; and the one permission rule.

A reader of the outbox (an ERP polling over SFTP, a person) must never see a half-written file
or a temp name it might pick up: temp files are dot-named, the final name appears in one step,
and an existing output is never overwritten silently (policy ``fail`` by default).

Inbox outputs are checked with :meth:`Outbox.check_free` while the input's store transaction is
still open, so a name conflict rolls the input's changes back instead of being found after the
commit.

Permissions, one rule for everything marketd writes (outputs, archived inputs, reports, state):
nothing is ever readable, writable or searchable by *others*. Files are ``0640`` (the group, i.e.
the ERP or the operators, may read them), or ``0600`` when they hold buyer data (``private``);
folders are created ``0770`` minus the umask, so never with bits for others (``0750`` under the
units' ``UMask=0027``). A copy of an input keeps the source's owner and group bits and drops the
rest; an input marketd owns loses any bits for others when it is claimed. The helpers below are
the only places these modes are decided.
"""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import OutputExists

PRIVATE_MODE = 0o600  # buyer names, addresses: the owner (marketd) only
SHARED_MODE = 0o640  # everything else: the group may read, others nothing
PUBLIC_MODE = SHARED_MODE  # older name; nothing marketd writes is world-readable
DIR_MODE = 0o770  # passed to mkdir, so the umask still applies; never bits for others


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
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        fsync_dir(d.parent)


def file_mode(private: bool) -> int:
    return PRIVATE_MODE if private else SHARED_MODE


def copy_mode(src_mode: int) -> int:
    """The mode of marketd's copy of a file: the source's owner and group read/write bits, never
    more (a ``0600`` upload stays ``0600``), and at least owner read/write."""
    return (src_mode & 0o660) | 0o600


def copy_file(src: Path, dest: Path) -> None:
    """Copy ``src`` to a new file ``dest`` (fsynced) with :func:`copy_mode` of the source's bits,
    whatever the umask: ``shutil.copyfile`` would create it ``0644``."""
    with open(src, "rb") as fin:
        mode = copy_mode(os.fstat(fin.fileno()).st_mode)
        fd = os.open(str(dest), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fout:
            os.fchmod(fout.fileno(), mode)
            while chunk := fin.read(1 << 20):
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())


def strip_others(path: Path, st: os.stat_result | None = None) -> None:
    """Remove the bits for others from a file marketd owns (an input dropped ``0644`` by a local
    user); a file owned by someone else (an SFTP upload) cannot be changed and is left as it is:
    its folder (``2770`` in the deployment docs) keeps others out."""
    try:
        st = st or os.lstat(path)
        if st.st_uid == os.geteuid() and st.st_mode & 0o007:
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o007)
    except OSError:
        pass


def write_small(path: Path, text: str, *, private: bool = False) -> None:
    """Replace a small text file atomically (reports, state notes), with the rule's mode."""
    write_atomic(path, text.encode("utf-8"), private=private, durable=False)


def write_atomic(path: Path, data: bytes, *, private: bool = True, durable: bool = True) -> Path:
    """``path`` holds ``data`` whole, or keeps what it held: a hidden ``.NAME.tmp`` beside it
    (inboxes ignore dot-files), written with the permission rule's mode whatever the umask,
    fsynced, renamed over ``path``. ``durable`` also creates missing folders durably and fsyncs
    the folder, so the name survives a power cut — what a file fetched into an inbox needs (the
    fetch is not repeated once its ledger says done). Private by default: fetched documents
    (payouts, settlement reports) name orders and amounts."""
    path = Path(path)
    if durable:
        ensure_dir(path.parent)
    tmp = path.with_name("." + path.name + ".tmp")
    mode = file_mode(private)
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)
    return path


def temp_name(final: Path, token: str) -> Path:
    return final.parent / f".{final.name}.{token}.tmp"


def open_new(path: Path, private: bool, binary: bool = True, encoding: str = "utf-8"):
    """Create ``path`` exclusively with the right permission bits regardless of umask."""
    mode = file_mode(private)
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
