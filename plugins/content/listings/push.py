"""Listings out: batches of SKUs pushed to each approved platform, exactly once.

One batch per platform is in flight at a time. Its life, every step committed before the next
call leaves the process:

1. ``open``: the batch row and a ``pending`` push row per SKU are committed first;
2. the channel's ``submit_listings(batch, save)`` sends it; each thing the platform will remember
   (a feed document, a feed id, an offer id) reaches ``save``, which commits it into the batch's
   ``handle`` — so after a kill -9 the next run hands the same handle back and the channel resumes
   (or finds what it already created) instead of sending again;
3. ``submitted``: ``poll_listings(handle, save)`` until the platform's answer is final;
4. ``done``: each SKU's result (accepted | invalid | failed, with the platform's issues) goes into
   ``listing_pushes`` and the per-batch report ``outbox/reports/listings/<platform>/…``.

A failed SKU is tried again next run; an invalid one only when its content changes.
"""
from __future__ import annotations

import json
import logging

from marketd.sdk import ConfigError, MarketdError, TransientError, inbox_settings_for, write_csv

from . import gate

log = logging.getLogger("marketd.content.listings")
REPORT_COLUMNS = ["sku", "kind", "transport", "id", "state", "code", "severity", "attribute", "message"]


def listing_channel(app, ps, capability: str):
    """The platform's channel when it declares ``capability``, else None (logged)."""
    if not ps.channel:
        return None
    try:
        ch = app.channel(ps.channel)
    except ConfigError as exc:
        log.warning("listings: %s", exc)
        return None
    if not getattr(getattr(ch, "capabilities", None), capability, False):
        return None
    return ch


def _save(app, batch_id: int):
    def save(handle: dict) -> None:
        with app.store.transaction() as db:
            db.execute("update listing_batches set handle = ? where id = ?",
                       [json.dumps(handle, sort_keys=True, default=str), batch_id])
    return save


def _open_batch(db, platform: str) -> dict | None:
    rows = list(db.query("select * from listing_batches where platform = ? and state in ('open', 'submitted') "
                         "order by id limit 1", [platform]))
    return rows[0] if rows else None


def _batch_items(db, batch: dict) -> list[dict]:
    """The SKUs of a batch as sent (rebuilt from the store after a restart)."""
    rows = list(db.query("select * from listing_pushes where batch_id = ? order by sku", [batch["id"]]))
    items = []
    for r in rows:
        if batch["kind"] == "content":
            p = next(iter(db.query("select p.sku, p.model, p.payload, p.sha256, c.brand, c.parent_sku, c.record "
                                   "from content_payloads p join content_products c "
                                   "on c.sku = p.sku where p.sku = ? and p.platform = ?",
                                   [r["sku"], batch["platform"]])), None)
            if p is None:
                continue
            items.append(gate.content_item(db, batch["platform"], dict(p), dict(r)))
        else:
            p = next(iter(db.query("select model from content_payloads where sku = ? and platform = ?",
                                   [r["sku"], batch["platform"]])), None)
            prod = next(iter(db.query("select price, currency, stock from products where sku = ?", [r["sku"]])), None)
            offer = gate.offer_of(prod) if prod else None
            if p is None or offer is None:
                continue
            content = next(iter(db.query("select remote_ref from listing_pushes where platform = ? and sku = ? and "
                                         "kind = 'content'", [batch["platform"], r["sku"]])), {})
            items.append({"sku": r["sku"], "model": p["model"], "ref": p["model"].rsplit("/", 1)[-1], "offer": offer,
                          "remote_ref": content.get("remote_ref"), **gate.shown_offer(db, batch["platform"], r["sku"])})
    return items


def push_platform(app, name: str, ps, lsettings, kind: str) -> dict:
    """One step for one platform and kind: resume/poll the batch in flight, else start one."""
    ch = listing_channel(app, ps, "update_listings")
    if ch is None:
        return {"skipped": "no channel that can push listings"}
    db = app.store.db
    batch = _open_batch(db, name)
    if batch is not None and batch["kind"] != kind:
        return {"waiting": f"batch {batch['id']} ({batch['kind']}) in flight"}
    kinds = tuple(getattr(ch, "listing_kinds", ("content", "offer")))
    if kind not in kinds:
        return {"skipped": f"the channel takes no {kind} listings"}
    if batch is None:
        if kind == "content":
            items = gate.content_candidates(db, name, lsettings, lsettings.max_batch)
        else:  # without content pushes, an offer goes to SKUs the platform already lists
            items = gate.offer_candidates(db, name, lsettings, lsettings.max_batch, listed_by="content"
                                          if "content" in kinds else "remote")
        if not items:
            return {"sent": 0}
        now = app.clock.now().isoformat()
        with app.store.transaction() as tx:
            bid = tx["listing_batches"].insert({"platform": name, "channel": ch.name, "kind": kind, "state": "open",
                                                "handle": "{}", "items": len(items), "created_at": now}).last_pk
            # one statement for the whole batch (a row per SKU through sqlite-utils' upsert cost a
            # table introspection each: 21 s of a 10,000-SKU push); accepted_sha256/_at and
            # remote_ref of an existing row are kept as they are
            tx.conn.executemany(
                "insert into listing_pushes (platform, sku, kind, channel, batch_id, sha256, state, issues, updated_at) "
                "values (?, ?, ?, ?, ?, ?, 'pending', '[]', ?) on conflict (platform, sku, kind) do update set "
                "channel = excluded.channel, batch_id = excluded.batch_id, sha256 = excluded.sha256, "
                "state = 'pending', issues = '[]', updated_at = excluded.updated_at",
                [(name, it["sku"], kind, ch.name, bid, it["sha256"], now) for it in items])
        batch = dict(next(iter(db.query("select * from listing_batches where id = ?", [bid]))))
        log.info("listings %s: batch %s opened with %d %s SKU(s)", name, bid, len(items), kind)
    save = _save(app, batch["id"])
    handle = json.loads(batch["handle"] or "{}")
    try:
        if batch["state"] == "open":
            items = _batch_items(db, batch)
            handle = ch.submit_listings({"id": str(batch["id"]), "kind": kind, "items": items, "handle": handle}, save)
            with app.store.transaction() as tx:
                tx.execute("update listing_batches set state = 'submitted' where id = ?", [batch["id"]])
                tx.execute("update listing_pushes set state = 'submitted', transport = ? where batch_id = ?",
                           [handle.get("transport", ""), batch["id"]])
        outcome = ch.poll_listings(handle, save)
    except (TransientError, MarketdError) as exc:
        log.warning("listings %s: batch %s: %s (tried again next run)", name, batch["id"], exc)
        with app.store.transaction() as tx:
            tx.execute("update listing_batches set error = ? where id = ?", [str(exc)[:500], batch["id"]])
        return {"batch": batch["id"], "error": str(exc)}
    if outcome is None:
        return {"batch": batch["id"], "state": "submitted"}
    return finish(app, name, batch, handle, outcome)


def finish(app, name: str, batch: dict, handle: dict, outcome: dict) -> dict:
    now = app.clock.now().isoformat()
    results = outcome.get("results") or {}
    counts = {"accepted": 0, "invalid": 0, "failed": 0}
    rows, updates = [], []
    ref = handle.get("feed_id") or handle.get("submission") or ""
    with app.store.transaction() as tx:
        for p in list(tx.query("select * from listing_pushes where batch_id = ? order by sku", [batch["id"]])):
            res = results.get(p["sku"]) or {"state": "failed", "issues": [
                {"code": "missing", "severity": "ERROR", "attribute": "",
                 "message": "the platform's answer does not mention this SKU"}]}
            state = res["state"]
            counts[state] = counts.get(state, 0) + 1
            upd = {"state": state, "issues": json.dumps(res.get("issues") or [], sort_keys=True),
                   "transport": outcome.get("transport") or handle.get("transport") or "", "updated_at": now}
            if state == "accepted":
                upd.update(accepted_sha256=p["sha256"], accepted_at=now)
            if res.get("remote_ref"):
                upd["remote_ref"] = res["remote_ref"]
            updates.append((upd["state"], upd["issues"], upd["transport"], now, upd.get("accepted_sha256"),
                            upd.get("accepted_at"), upd.get("remote_ref"), p["platform"], p["sku"], p["kind"]))
            for i in res.get("issues") or [{}]:
                rows.append([p["sku"], batch["kind"], upd["transport"], res.get("remote_ref") or ref, state,
                             i.get("code", ""), i.get("severity", ""), i.get("attribute", ""), i.get("message", "")])
        tx.conn.executemany(
            "update listing_pushes set state = ?, issues = ?, transport = ?, updated_at = ?, "
            "accepted_sha256 = coalesce(?, accepted_sha256), accepted_at = coalesce(?, accepted_at), "
            "remote_ref = coalesce(?, remote_ref) where platform = ? and sku = ? and kind = ?", updates)
        report = _write_report(app, name, batch, rows)
        tx.execute("update listing_batches set state = 'done', finished_at = ?, counts = ?, report = ? where id = ?",
                   [now, json.dumps({**counts, "status": outcome.get("status"), "summary": outcome.get("summary")},
                                    sort_keys=True, default=str), report, batch["id"]])
    log.info("listings %s: batch %s (%s) done: %d accepted, %d invalid, %d failed -> %s", name, batch["id"],
             batch["kind"], counts["accepted"], counts["invalid"], counts["failed"], report)
    return {"batch": batch["id"], **counts, "report": report}


def _write_report(app, name: str, batch: dict, rows: list) -> str:
    """``outbox/reports/listings/<platform>/push-<batch>-<kind>.csv``, written atomically."""
    import os

    folder = app.outbox_dir / "reports" / "listings" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"push-{batch['id']:06d}-{batch['kind']}.csv"
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        write_csv(fh, REPORT_COLUMNS, rows)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return str(path.relative_to(app.outbox_dir))


def push(app, *, platforms: set[str] | None = None, kinds=("content", "offer")) -> dict:
    settings = inbox_settings_for(app, "content")
    out = {}
    for name, ps in sorted(settings.platforms.items()):
        if platforms and name not in platforms:
            continue
        if not settings.listings.allow.get(name):
            continue
        for kind in kinds:
            out[f"{name}:{kind}"] = push_platform(app, name, ps, settings.listings, kind)
    return out


def push_job(app, since) -> dict:
    return push(app)
