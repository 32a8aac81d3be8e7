"""A content drop as one zip: exactly one content table (CSV/TSV/XLSX) plus image files, optionally
with GPSR party tables (``gpsr-parties*``). Processed as one drop: the table and its images
arrive together, so a report never checks a row against images still on their way.

Only what is asked for is read: the table is extracted to a temporary file (bounded by the
inbox's ``max_file_mb``), an image is read from the archive when a row names it (bounded by the
image size limit). Names with ``..`` or absolute paths are never used, and entries whose declared
size is absurd for their compressed size (a zip bomb) are refused.
"""
from __future__ import annotations

import posixpath
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from marketd.sdk import FileRejected

TABLE_EXT = (".csv", ".tsv", ".txt", ".xlsx")
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp", ".bmp")
MAX_RATIO = 200          # uncompressed / compressed beyond which an entry is taken for a bomb
MAX_ENTRIES = 200_000


def is_party_name(name: str) -> bool:
    return PurePosixPath(name).name.lower().startswith("gpsr-parties")


class Bundle:
    def __init__(self, path: Path, max_table_bytes: int):
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise FileRejected("zip_layout", f"the file is not a readable zip archive ({exc})",
                               fix="zip the content table and its images again") from None
        if len(infos) > MAX_ENTRIES:
            raise FileRejected("zip_layout", f"the zip holds {len(infos)} entries (at most {MAX_ENTRIES})",
                               fix="split it into several drops")
        self.tables, self.parties, self.images = [], [], {}
        by_base: dict[str, list[str]] = {}
        for info in infos:
            name = info.filename
            if info.is_dir() or posixpath.basename(name).startswith((".", "__MACOSX")) or "__MACOSX/" in name:
                continue
            if name.startswith("/") or ".." in PurePosixPath(name).parts:
                raise FileRejected("zip_layout", f"the zip holds an entry with an unsafe path: {name[:120]!r}",
                                   fix="zip the files with relative names")
            low = name.lower()
            if info.compress_size and info.file_size / max(1, info.compress_size) > MAX_RATIO and info.file_size > 1 << 20:
                raise FileRejected("zip_layout", f"entry {name[:120]!r} unpacks to {info.file_size} bytes from "
                                   f"{info.compress_size}: refused as a zip bomb", fix="zip the files normally")
            if low.endswith(TABLE_EXT):
                (self.parties if is_party_name(name) else self.tables).append(info)
            elif low.endswith(IMAGE_EXT):
                self.images[name] = info
                by_base.setdefault(posixpath.basename(name), []).append(name)
        if len(self.tables) != 1:
            found = ", ".join(i.filename for i in self.tables[:5]) or "none"
            raise FileRejected("zip_layout", f"a content zip must hold exactly one table (CSV/TSV/XLSX) besides "
                               f"gpsr-parties* files; it holds {len(self.tables)} ({found})",
                               fix="put one content table and its images into the zip")
        if self.tables[0].file_size > max_table_bytes:
            raise FileRejected("too_large", f"the table in the zip unpacks to {self.tables[0].file_size} bytes, over "
                               f"this inbox's limit of {max_table_bytes}", fix="split the table")
        self.by_base = {k: v[0] for k, v in by_base.items() if len(v) == 1}
        self._tmp = Path(tempfile.mkdtemp(prefix="marketd-content-"))

    def _extract(self, info, max_bytes: int) -> Path:
        target = self._tmp / f"{len(list(self._tmp.iterdir()))}{PurePosixPath(info.filename).suffix.lower()}"
        with self.zf.open(info) as src, open(target, "wb") as dst:
            copied = 0
            while True:
                block = src.read(1 << 20)
                if not block:
                    break
                copied += len(block)
                if copied > max_bytes:
                    raise FileRejected("too_large", f"{info.filename} unpacks to more than {max_bytes} bytes",
                                       fix="split the table")
                dst.write(block)
        return target

    def table(self, max_bytes: int) -> tuple[Path, str]:
        info = self.tables[0]
        return self._extract(info, max_bytes), info.filename

    def party_tables(self, max_bytes: int) -> list[tuple[Path, str]]:
        return [(self._extract(i, max_bytes), i.filename) for i in self.parties]

    def image(self, ref: str, max_bytes: int) -> bytes | None:
        name = ref if ref in self.images else self.by_base.get(posixpath.basename(ref))
        if name is None:
            return None
        info = self.images[name]
        if info.file_size > max_bytes:
            return b""  # read as an unreadable image (empty), reported with the limit
        with self.zf.open(info) as fh:
            return fh.read(max_bytes + 1)[:max_bytes + 1]

    def close(self) -> None:
        self.zf.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
