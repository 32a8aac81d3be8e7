"""Noting personalised items when an order arrives, and the ``custom-downloads`` job that fetches
each item's archive through its channel, unpacks it safely and writes the production sheet.

Downloading is local work (nothing changes at the marketplace), so the manual-operation flag
does not stop it. The archive URL is read from the order row at download time and never logged.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

from marketd.sdk import Backoff, ConfigError, TransientError, crashpoint

from .parse import areas
from .settings import custom_settings
from .sheet import find_font, production_sheet
from .unpack import Caps, UnsafeArchive, unpack

log = logging.getLogger("marketd.custom")
MB = 1024 * 1024
SHEET = "production-sheet.pdf"


def _items(order: dict) -> list[dict]:
    items = order.get("items")
    try:
        items = json.loads(items) if isinstance(items, str) else items
    except ValueError:
        return []
    return [i for i in items or [] if isinstance(i, dict)]


def safe_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(text)).lstrip(".") or "_"


def note_order(app, order) -> int:
    """``order_imported``: a row for each item with a personalisation URL (once)."""
    order = order if isinstance(order, dict) else getattr(order, "__dict__", {})
    rows = [(order["key"], str(i.get("order_item_id") or n), order["channel"], order["order_id"], i.get("sku"))
            for n, i in enumerate(_items(order), 1) if i.get("customized_url")]
    if not rows:
        return 0
    now = app.clock.now().isoformat()
    with app.store.transaction() as db:
        for r in rows:
            db.execute("insert or ignore into custom_items (order_key, item_id, channel, order_id, sku, state, noted_at) "
                       "values (?, ?, ?, ?, ?, 'waiting', ?)", [*r, now])
            # a failed download (an expired link) is tried again with the link this import brought
            db.execute("update custom_items set state = 'waiting', next_attempt_at = null where order_key = ? and "
                       "item_id = ? and state = 'failed'", [r[0], r[1]])
    return len(rows)


def _set(app, row: dict, **fields) -> None:
    cols = ", ".join(f"{k} = ?" for k in fields)
    with app.store.transaction() as db:
        db.execute(f"update custom_items set {cols} where order_key = ? and item_id = ?",
                   [*fields.values(), row["order_key"], row["item_id"]])


def item_dir(app, row: dict) -> Path:
    return app.outbox_dir / "custom" / safe_part(row["order_id"]) / safe_part(row["item_id"])


def fetch_one(app, row: dict, settings) -> str:
    now = app.clock.now()
    order = app.store.get_order(row["order_key"]) or {}
    item = next((i for n, i in enumerate(_items(order), 1) if str(i.get("order_item_id") or n) == row["item_id"]), None)
    url = (item or {}).get("customized_url")
    if not url:
        _set(app, row, state="failed", reason="the order no longer holds the personalisation link (purged?)")
        return "failed"
    try:
        channel = app.channel(row["channel"])
    except ConfigError as exc:
        _set(app, row, reason=str(exc)[:500], next_attempt_at=(now + timedelta(hours=1)).isoformat())
        return "waiting"
    if not getattr(getattr(channel, "capabilities", None), "fetch_customizations", False):
        _set(app, row, state="failed", reason=f"channel {row['channel']} cannot download personalisation data")
        return "failed"
    try:
        data = channel.fetch_customization(url, int(settings.max_zip_mb * MB))
    except TransientError as exc:
        delay = Backoff(300, 6 * 3600).delay(row["attempts"] + 1)
        _set(app, row, attempts=row["attempts"] + 1, reason=str(exc)[:500],
             next_attempt_at=(now + timedelta(seconds=delay)).isoformat())
        return "waiting"
    except Exception as exc:
        _set(app, row, state="failed", attempts=row["attempts"] + 1, reason=f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    dest = item_dir(app, row)
    if dest.exists():  # unpacked by a run that stopped before recording it: the same archive, again
        shutil.rmtree(dest)
    caps = Caps(max_files=settings.max_files, max_file_bytes=int(settings.max_file_mb * MB),
                max_total_bytes=int(settings.max_total_mb * MB), max_ratio=settings.max_ratio)
    import io

    try:
        files = unpack(io.BytesIO(data), dest, caps)
    except UnsafeArchive as exc:
        log.warning("custom: the archive of %s item %s was refused (%s): %s", row["order_id"], row["item_id"],
                    exc.reason, exc.message)
        _set(app, row, state="refused", attempts=row["attempts"] + 1, reason=f"{exc.reason}: {exc.message}"[:500])
        return "refused"
    found = areas(dest)
    pdf = production_sheet(dest, order_id=row["order_id"], item_id=row["item_id"], sku=row["sku"] or "",
                           title=str((item or {}).get("title") or ""), areas=found, font=find_font(settings.font))
    sheet = dest / SHEET
    fd = os.open(sheet, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as fh:
        fh.write(pdf)
        fh.flush()
        os.fsync(fh.fileno())
    crashpoint("custom_after_unpack")
    _set(app, row, state="done", attempts=row["attempts"] + 1, reason=None, fetched_at=app.clock.now().isoformat(),
         files=json.dumps(sorted(str(f) for f in files) + [SHEET]))
    return "done"


def download_job(app, since=None) -> dict:
    settings = custom_settings(app)
    now = app.clock.now().isoformat()
    rows = list(app.store.db.query(
        "select * from custom_items where state = 'waiting' and (next_attempt_at is null or next_attempt_at <= ?) "
        "order by noted_at limit 200", [now]))
    out: dict[str, int] = {}
    for row in rows:
        state = fetch_one(app, row, settings)
        out[state] = out.get(state, 0) + 1
    return out


def forget_order(app, order: dict) -> int:
    """Delete the order's folder under ``outbox/custom/`` and mark its items purged."""
    folder = app.outbox_dir / "custom" / safe_part(order["order_id"])
    n = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
    shutil.rmtree(folder, ignore_errors=True)
    with app.store.transaction() as db:
        db.execute("update custom_items set state = 'purged', files = null where order_key = ?", [order["key"]])
    return n
