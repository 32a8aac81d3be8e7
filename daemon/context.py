"""What an inbox handler sees of the world while it processes one file.

The context is the handler's whole door: read the claimed file, write to the store inside the
file's transaction, stage outputs. Staged outputs are fsynced temp files that the engine
publishes only after the store transaction commits, so a crash leaves either nothing or
everything, and a re-run after a crash stages the same names again.

Output names: use ``ctx.stamp`` in them. It is the claim time to the second plus the file id's
random part (``20261122T101500Z-1a2b3c4d``), so it is the same on every re-run of one claim and
different for every input, even two inputs with the same stem claimed in the same second.
A name that already exists in the outbox (policy ``fail``) raises ``OutputExists`` while the
handler still runs inside the file's transaction, so the file's store changes are rolled back.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .outbox import open_new, temp_name
from .settings import InboxSettings

_ID_SUFFIX = re.compile(r"-([0-9a-f]{8})$")


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
    settings: "InboxSettings"   # the handler's settings_model instance (reads like a dict too)
    path: Path
    name: str
    file_id: str
    sha256: str
    size: int
    claimed_at: datetime
    log: logging.Logger
    outputs: list[StagedOutput] = field(default_factory=list)
    business_keys: list[str] = field(default_factory=list)
    _finals: set = field(default_factory=set, init=False, repr=False)  # staged final paths: O(1) "staged twice" check

    @property
    def stamp(self) -> str:
        """``<claim time>Z-<file id's random part>``, e.g. ``20261122T101500Z-1a2b3c4d``.

        Unique per input (the file id is the journal's key) and the same on a re-run of the
        same claim. Ids not made by the engine (adopted by hand) fall back to a cleaned id."""
        m = _ID_SUFFIX.search(self.file_id)
        suffix = m.group(1) if m else (re.sub(r"[^A-Za-z0-9]+", "", self.file_id)[-8:] or "0")
        return f"{self.claimed_at.strftime('%Y%m%dT%H%M%SZ')}-{suffix}"

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def db(self):
        return self.app.store.db

    def _stage(self, relpath: str, private: bool) -> StagedOutput:
        outbox = self.app.outbox
        final = outbox.final_path(relpath)
        if final in self._finals:
            raise ValueError(f"output {relpath} staged twice by one handler")
        outbox.check_free([final])  # fail fast, inside the transaction (the engine checks again before commit)
        staged = StagedOutput(relpath, temp_name(final, self.file_id), final, private)
        self._finals.add(final)
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
