"""Uploading published documents to the marketplace that takes them, exactly once.

A channel that takes invoices declares ``capabilities.upload_invoice`` and implements
``upload_invoice(pdf: bytes, meta: dict) -> dict`` (``meta``: doc_no, kind, order_id, order_key,
issue_date, currency, total_gross, total_vat, refers_to, transaction_id; answer ``{"ok": bool,
"ref": …, "error": …}``; :class:`marketd.sdk.TransientError` for a try-again). The upload is the
one non-idempotent remote step, so it runs the claim → call → commit machine: the claim
(``claimed`` with this process as owner) is committed before the call and the answer after it.
A row found ``claimed`` by a process that is gone was interrupted in between: the marketplace may
or may not have the document, so it becomes ``uncertain`` and is held for a person
(``marketd invoices upload DOC --force`` sends it again) rather than risking a second upload.

Where the marketplace takes documents only in its portal (``upload = "manual"``), the row waits
``pending`` and ``outbox/reports/invoices-pending-upload-<account>.csv`` lists it until
``marketd invoices mark-uploaded DOC``. An order flagged as handled by hand is not uploaded
automatically: the row waits with the reason and goes on once the flag is cleared.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import timedelta
from pathlib import Path

from marketd.sdk import (CLAIM_OWNER, Backoff, ConfigError, TransientError, crashpoint, csv_text, order_guard,
                         owner_alive)

from .settings import InvoicesSettings

log = logging.getLogger("marketd.invoices")

OWNER = CLAIM_OWNER
PENDING_COLUMNS = ["channel", "order_id", "doc_no", "kind", "issue_date", "total_gross", "currency", "file", "since"]


def enqueue(app, settings: InvoicesSettings) -> int:
    """An upload row for every published document of an account with ``upload`` on."""
    n = 0
    now = app.clock.now().isoformat()
    for channel, chan in settings.channels.items():
        if chan.upload == "off":
            continue
        state = "waiting" if chan.upload == "api" else "pending"
        with app.store.transaction() as db:
            cur = db.execute(
                "insert into document_uploads (doc_id, channel, mode, state, created_at, updated_at) "
                "select d.id, d.channel, ?, ?, ?, ? from documents d where d.channel = ? and d.state = 'published' "
                "and not exists (select 1 from document_uploads u where u.doc_id = d.id)",
                [chan.upload, state, now, now, channel])
            n += cur.rowcount
    return n


def _set(app, doc_id: int, **fields) -> None:
    fields["updated_at"] = app.clock.now().isoformat()
    cols = ", ".join(f"{k} = ?" for k in fields)
    with app.store.transaction() as db:
        db.execute(f"update document_uploads set {cols} where doc_id = ?", [*fields.values(), doc_id])


def settle_interrupted(app) -> int:
    """Claims whose process is gone: the call may have reached the marketplace → ``uncertain``."""
    rows = list(app.store.db.query("select doc_id, owner from document_uploads where state = 'claimed'"))
    n = 0
    for r in rows:
        if r["owner"] != OWNER and not owner_alive(r["owner"]):
            _set(app, r["doc_id"], state="uncertain", owner=None,
                 reason="interrupted between the upload and its recorded answer: the marketplace may have it; check "
                        "there, then `marketd invoices mark-uploaded DOC` or `marketd invoices upload DOC --force`")
            log.warning("invoice upload of document %s was interrupted: held as uncertain", r["doc_id"])
            n += 1
    return n


def _meta(doc: dict) -> dict:
    snap = json.loads(doc["snapshot"])
    return {"doc_no": doc["doc_no"], "kind": doc["kind"], "order_id": snap["order"]["order_id"],
            "order_key": doc["order_key"], "issue_date": doc["issue_date"], "currency": doc["currency"],
            "total_gross": doc["total_gross"], "total_vat": doc["total_vat"],
            "refers_to": (snap.get("refers_to") or {}).get("doc_no"), "transaction_id": doc["trigger_key"]}


def upload_one(app, doc_id: int, *, explicit: bool = False) -> str:
    """Upload one ``waiting`` document; returns its new state."""
    db = app.store.db
    row = next(db.query("select u.*, d.order_key, d.pdf_path from document_uploads u join documents d on d.id = u.doc_id "
                        "where u.doc_id = ?", [doc_id]))
    now = app.clock.now()
    manual = None if explicit else order_guard(app, row["order_key"], "invoice upload")
    if manual:
        _set(app, doc_id, reason=manual[:500], next_attempt_at=(now + timedelta(hours=1)).isoformat())
        return "waiting"
    try:
        channel = app.channel(row["channel"])
    except ConfigError as exc:
        _set(app, doc_id, reason=str(exc)[:500], next_attempt_at=(now + timedelta(hours=1)).isoformat())
        return "waiting"
    if not getattr(getattr(channel, "capabilities", None), "upload_invoice", False):
        _set(app, doc_id, state="failed", reason=f"channel {row['channel']} cannot upload invoices: set upload = "
                                                 "\"manual\" for this account")
        return "failed"
    doc = dict(next(db.query("select * from documents where id = ?", [doc_id])))
    data = Path(doc["pdf_path"]).read_bytes()
    with app.store.transaction() as tx:
        claimed = tx.execute("update document_uploads set state = 'claimed', owner = ?, claimed_at = ?, "
                             "attempts = attempts + 1, updated_at = ? where doc_id = ? and state = 'waiting'",
                             [OWNER, now.isoformat(), now.isoformat(), doc_id]).rowcount
    if not claimed:
        return "claimed"
    crashpoint("invoices_upload_after_claim")
    try:
        result = channel.upload_invoice(data, _meta(doc))
    except TransientError as exc:
        delay = Backoff(60, 6 * 3600).delay(row["attempts"] + 1)
        _set(app, doc_id, state="waiting", owner=None, reason=str(exc)[:500],
             next_attempt_at=(now + timedelta(seconds=delay)).isoformat())
        return "waiting"
    except Exception as exc:  # a refusal: a person must look
        _set(app, doc_id, state="failed", owner=None, reason=f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    ok = bool(result.get("ok"))
    _set(app, doc_id, state="done" if ok else "failed", owner=None, remote_ref=str(result.get("ref") or "") or None,
         result=json.dumps(result, default=str)[:2000], reason=None if ok else str(result.get("error"))[:500],
         done_at=app.clock.now().isoformat() if ok else None, done_by="marketd" if ok else None)
    crashpoint("invoices_upload_after_record")
    return "done" if ok else "failed"


def upload_due(app, limit: int) -> dict:
    now = app.clock.now().isoformat()
    ids = [i for (i,) in app.store.db.execute(
        "select doc_id from document_uploads where state = 'waiting' and (next_attempt_at is null or "
        "next_attempt_at <= ?) order by doc_id limit ?", [now, limit])]
    out: dict[str, int] = {}
    for doc_id in ids:
        state = upload_one(app, doc_id)
        out[state] = out.get(state, 0) + 1
    return out


def write_pending_lists(app, settings: InvoicesSettings) -> list[Path]:
    """``outbox/reports/invoices-pending-upload-<account>.csv`` for each ``manual`` account: what a
    person still has to upload in the marketplace's portal (no buyer data in it)."""
    paths = []
    for channel, chan in settings.channels.items():
        if chan.upload != "manual":
            continue
        rows = []
        for r in app.store.db.query(
                "select d.channel, d.doc_no, d.kind, d.issue_date, d.total_gross, d.currency, d.pdf_path, d.snapshot, "
                "u.created_at from document_uploads u join documents d on d.id = u.doc_id where u.channel = ? and "
                "u.state = 'pending' order by d.id", [channel]):
            rows.append({**r, "order_id": json.loads(r["snapshot"])["order"]["order_id"], "file": r["pdf_path"],
                         "since": r["created_at"]})
        path = app.outbox_dir / "reports" / f"invoices-pending-upload-{channel}.csv"
        text = csv_text(PENDING_COLUMNS, rows)
        paths.append(path)
        try:
            if path.read_bytes() == text.encode("utf-8"):
                continue  # unchanged: not rewritten (a new file would be pushed to an ERP again)
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(text.encode("utf-8"))
        os.replace(tmp, path)
    return paths
