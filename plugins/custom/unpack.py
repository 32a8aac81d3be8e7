"""Unpacking an Amazon Custom zip without trusting it.

The zip comes from a URL in the order; its content is what a buyer's browser produced, passed
through Amazon. Treated as hostile: every entry name is checked before anything is written (no
absolute path, no drive letter, no ``..``, no backslash or control character, no two names that
differ only in case, which collide on case-insensitive disks), symbolic links and encrypted
entries are refused, entries whose stored data overlap (the "overlapped entries" zip bomb, which
``zipfile`` in Python 3.11 does not detect) are refused, and the **bytes actually decompressed**
are counted against a per-file and a total cap, so a header that lies about its size or a
compression ratio in the thousands stops at the cap instead of filling the disk.

Everything goes to a temporary folder beside the destination first and is renamed into place
only when the whole archive passed: a refused archive leaves nothing behind.
"""
from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Caps:
    max_files: int = 200
    max_file_bytes: int = 20 * 1024 * 1024
    max_total_bytes: int = 100 * 1024 * 1024
    max_ratio: int = 200            # decompressed / compressed, per entry (bytes of 1 MB and more)


class UnsafeArchive(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def _check_name(name: str) -> str:
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        raise UnsafeArchive("bad_name", f"entry name {name!r} holds control characters")
    if "\\" in name:
        raise UnsafeArchive("bad_name", f"entry name {name!r} holds a backslash")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive("absolute_path", f"entry {name!r} has an absolute path")
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in parts) or not parts:
        raise UnsafeArchive("path_traversal", f"entry {name!r} leaves its folder")
    return "/".join(parts)


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def check(zf: zipfile.ZipFile, caps: Caps) -> list[zipfile.ZipInfo]:
    """The file entries to extract, or :class:`UnsafeArchive` for the first problem."""
    infos = zf.infolist()
    files = [i for i in infos if not i.is_dir()]
    if len(infos) > caps.max_files:
        raise UnsafeArchive("too_many_files", f"{len(infos)} entries (at most {caps.max_files})")
    seen: dict[str, str] = {}
    for info in infos:
        clean = _check_name(info.filename)
        folded = clean.casefold()
        if folded in seen:
            raise UnsafeArchive("duplicate_name", f"entries {seen[folded]!r} and {info.filename!r} have the same name")
        seen[folded] = info.filename
        if _is_link(info):
            raise UnsafeArchive("symlink", f"entry {info.filename!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise UnsafeArchive("encrypted", f"entry {info.filename!r} is encrypted")
        if info.file_size > caps.max_file_bytes:
            raise UnsafeArchive("too_large", f"entry {info.filename!r} says {info.file_size} bytes "
                                             f"(at most {caps.max_file_bytes})")
        if info.file_size > 1024 * 1024 and info.file_size > caps.max_ratio * max(info.compress_size, 1):
            raise UnsafeArchive("compression_ratio", f"entry {info.filename!r} says it expands more than "
                                                     f"{caps.max_ratio} times (a zip bomb)")
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for a, b in zip(ordered, ordered[1:]):
        if b.header_offset < a.header_offset + 30 + len(a.filename.encode()) + a.compress_size:
            raise UnsafeArchive("overlapping_entries", f"entries {a.filename!r} and {b.filename!r} share data "
                                                       "(a zip bomb)")
    if sum(i.file_size for i in files) > caps.max_total_bytes:
        raise UnsafeArchive("too_large", f"entries add up to more than {caps.max_total_bytes} bytes")
    return files


def unpack(source, dest: Path, caps: Caps = Caps()) -> list[Path]:
    """Extract ``source`` (a path or a binary file object) into ``dest`` (which must not exist),
    all or nothing; returns the files written, relative to ``dest``."""
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(dest)
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnsafeArchive("not_a_zip", f"not a readable zip archive ({exc})") from None
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    written: list[Path] = []
    try:
        with zf:
            files = check(zf, caps)
            tmp.mkdir(parents=True, mode=0o700)
            total = 0
            for info in files:
                rel = Path(_check_name(info.filename))
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                size = 0
                try:
                    with zf.open(info) as src, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                                                    "wb") as out:
                        while True:
                            chunk = src.read(CHUNK)
                            if not chunk:
                                break
                            size += len(chunk)
                            total += len(chunk)
                            if size > caps.max_file_bytes or total > caps.max_total_bytes:
                                raise UnsafeArchive("too_large", f"entry {info.filename!r} decompresses past the cap "
                                                                 "(its header understates its size)")
                            if size > 1024 * 1024 and size > caps.max_ratio * max(info.compress_size, 1):
                                raise UnsafeArchive("compression_ratio", f"entry {info.filename!r} expands more than "
                                                                         f"{caps.max_ratio} times (a zip bomb)")
                            out.write(chunk)
                except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
                    if isinstance(exc, FileExistsError):
                        raise UnsafeArchive("duplicate_name", f"entry {info.filename!r} is there twice") from None
                    raise UnsafeArchive("corrupt", f"entry {info.filename!r} cannot be read ({exc})") from None
                written.append(rel)
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.rename(tmp, dest)
        return written
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
