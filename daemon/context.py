"""What an inbox handler sees of the world while it processes one file.

The context is the handler's whole door: read the claimed file, write to the store inside the
file's transaction, stage outputs. Staged outputs are fsynced temp files that the engine
publishes only after the store transaction commits, so a crash leaves either nothing or
everything, and a re-run after a crash stages the same names again.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .outbox import open_new, temp_name


@dataclass
class StagedOutput:
    relpath: str
    tmp: Path
    final: Path
    private: bool

    def as_json(self) -> dict:
        return {"relpath": self.relpath, "tmp": str(self.tmp), "final": str(self.final), "private": self.private}


@dataclass
class FileContext:
    app: object
    kind: str
    settings: dict
    path: Path
    name: str
    file_id: str
    sha256: str
    size: int
    claimed_at: datetime
    log: logging.Logger
    outputs: list[StagedOutput] = field(default_factory=list)
    business_keys: list[str] = field(default_factory=list)

    @property
    def stamp(self) -> str:
        return self.claimed_at.strftime("%Y%m%dT%H%M%SZ")

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def db(self):
        return self.app.store.db

    def _stage(self, relpath: str, private: bool) -> StagedOutput:
        final = self.app.outbox.final_path(relpath)
        if any(o.final == final for o in self.outputs):
            raise ValueError(f"output {relpath} staged twice by one handler")
        staged = StagedOutput(relpath, temp_name(final, self.file_id), final, private)
        self.outputs.append(staged)
        return staged

    def output(self, relpath: str, data: bytes | str, *, private: bool = False) -> Path:
        staged = self._stage(relpath, private)
        with open_new(staged.tmp, private) as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        return staged.final

    @contextlib.contextmanager
    def open_output(self, relpath: str, *, private: bool = False, binary: bool = False, encoding: str = "utf-8"):
        staged = self._stage(relpath, private)
        fh = open_new(staged.tmp, private, binary=binary, encoding=encoding)
        try:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fh.close()

    def business_key_seen(self, key: str) -> dict | None:
        return self.app.store.business_key(key)

    def record_business_key(self, key: str) -> None:
        self.app.store.record_business_key(key, self.file_id)
        self.business_keys.append(key)
