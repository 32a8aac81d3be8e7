"""Writing a numbered document's file: ``outbox/invoices/<channel>/<year>/<doc_no>.pdf``, 0600
(buyer names and addresses), written to a temporary name, fsynced and renamed, then the row
marked ``published`` with the file's sha256. A crash before the rename leaves only a temporary
file (removed on the next run) and the row ``numbered``, which is rendered again."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from .numbering import safe_name
from .render import render_for

log = logging.getLogger("marketd.invoices")

PRIVATE = 0o600


def doc_path(outbox: Path, row: dict) -> Path:
    return Path(outbox) / "invoices" / safe_name(row["channel"]) / str(row["year"]) / f"{safe_name(row['doc_no'])}.pdf"


def _fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkdirs(path: Path) -> None:
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o750, exist_ok=True)


def write_private(final: Path, data: bytes) -> None:
    _mkdirs(final.parent)
    tmp = final.with_name(f".{final.name}.tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)  # whatever the umask, and a stale temp file's mode
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def publish(app, row: dict, font: str | None) -> Path:
    """Render and write ``row``'s file and mark it published; returns the path."""
    from marketd.sdk import crashpoint

    snap = json.loads(row["snapshot"])
    if snap.get("einvoice") == "fatturapa":
        write_fatturapa(app, row, snap)   # before the PDF: a re-render after a crash writes the same bytes again
    data = render_for(snap, font, Path(app.state_dir) / "fonts")
    final = doc_path(app.outbox_dir, row)
    write_private(final, data)
    crashpoint("invoices_after_file")
    digest = hashlib.sha256(data).hexdigest()
    with app.store.transaction() as db:
        db.execute("update documents set state = 'published', pdf_path = ?, pdf_sha256 = ?, published_at = ? "
                   "where id = ? and state = 'numbered'", [str(final), digest, app.clock.now().isoformat(), row["id"]])
    log.info("%s %s published (%s)", row["kind"].replace("_", " "), row["doc_no"], row["order_key"])
    return final


def fatturapa_path(app, row: dict) -> Path:
    from .fatturapa import file_name
    from .settings import invoice_settings

    cfg = invoice_settings(app).fatturapa
    if cfg is None:
        raise RuntimeError(f"{row['doc_no']} is a FatturaPA document but [jobs.invoices.fatturapa] is gone")
    return Path(app.outbox_dir) / "fatturapa" / cfg.intermediary / file_name(cfg.model_dump(), row["id"])


def write_fatturapa(app, row: dict, snap: dict) -> Path:
    """The XML into the intermediary's folder (0600: buyer data), atomically."""
    from .fatturapa import build
    from .settings import invoice_settings

    path = fatturapa_path(app, row)
    write_private(path, build(snap, invoice_settings(app).fatturapa.model_dump(), row["id"]))
    return path


def publish_pending(app, font: str | None, limit: int | None = None) -> int:
    """Render every document still ``numbered`` (a crash came between its commit and its file)."""
    sql = "select * from documents where state = 'numbered' order by id"
    rows = list(app.store.db.query(sql + (f" limit {int(limit)}" if limit else "")))
    for row in rows:
        publish(app, row, font)
    return len(rows)
