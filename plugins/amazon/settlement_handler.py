"""The ``inbox/settlements/`` handler: Amazon settlement flat files in, per-order finance and
reconciliation reports out. See docs/plugins/amazon-settlements.md.

A settlement is applied once: its id is the business key ``amazon-settlement:<id>``. A second
copy (the same file again, a Seller Central download of a report the API fetcher already got,
or a re-encoded copy) is not counted again: it goes to ``.duplicate/`` with a short report that
says which file it duplicates. The one exception: when the applied copy was an *inconsistent
settlement* (its rows did not add up to the payout) and the new copy adds up, the new copy
replaces it.
"""
from __future__ import annotations

import logging
import re
import time

import sqlite_utils

from .reconcile import (STATUS_OK, FileInfo, apply, forget_settlement, ReadInThread, reconcile,
                        unsettled_keys, unsettled_orders)
from .settings import SettlementInboxSettings
from .settlement_parser import parse_settlement, peek_settlement_id
from .settlement_reports import (DEFAULT_XLSX_MAX_ROWS, duplicate_text, write_orders_csv, write_unsettled_csv,
                                 write_xlsx)

log = logging.getLogger("marketd.amazon.settlements")

KIND = "settlements"
DEFAULT_UNSETTLED_DAYS = 30
DEFAULT_UNSETTLED_MAX_DAYS = 180
_FETCHED_NAME = re.compile(r"amazon-(?P<slug>.+)-settlement-[^/]*$")


def business_key(settlement_id: str) -> str:
    return f"amazon-settlement:{settlement_id}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def amazon_channel_names(app) -> list[str]:
    return [name for name, section in (app.config.get("channels") or {}).items() if section.get("type") == "amazon"]


def channels_for(app, settings: dict, file_name: str) -> list[str] | None:
    """Which channel accounts' orders a settlement is matched against (by Amazon order-id):
    ``[inbox.settlements] channel``, else the account in a name written by the SP-API fetcher
    (``amazon-<account>-settlement-<reportId>.txt``), else every Amazon channel (None)."""
    configured = settings.get("channel")
    if configured:
        return [configured] if isinstance(configured, str) else list(configured)
    m = _FETCHED_NAME.match(file_name)
    if m:
        for name in amazon_channel_names(app):
            if _slug(name) == m.group("slug"):
                return [name]
    return None


def _settlement_row(db, sid: str) -> dict | None:
    if "settlements" not in db.table_names():
        return None
    rows = list(db.query("select * from settlements where settlement_id = ?", [sid]))
    return rows[0] if rows else None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "unknown"


def report_base(ctx, sid: str) -> str:
    """``reports/settlement-<id>`` — or, when those names are already in the outbox (a corrected
    copy replacing an inconsistent one, a settlement applied again after ``settlements
    forget``), ``reports/settlement-<id>-<stamp>`` so nothing is overwritten."""
    base = f"reports/settlement-{_safe_name(sid)}"
    outbox = ctx.app.outbox
    if outbox.conflict == "replace":
        return base
    if any(outbox.final_path(base + suffix).exists() for suffix in (".csv", "-unsettled.csv", ".xlsx")):
        return f"{base}-{ctx.stamp}"
    return base


class SettlementHandler:
    kind = KIND
    completeness = ("the summary row's total-amount must equal the exact sum of every row (payout check): a "
                    "row cut in the middle is rejected as truncated, a file cut at a row boundary is applied "
                    "as an 'inconsistent settlement' and replaced when a complete copy arrives")
    settings_model = SettlementInboxSettings

    def process(self, ctx) -> dict:
        settings = ctx.settings or {}
        sid = peek_settlement_id(ctx.path, settings)
        prior = None
        if sid:
            prior, dup = check_applied(ctx, sid)
            if dup is not None:
                return dup
        return ingest(ctx, prior=prior, checked_id=sid)

    def on_duplicate(self, ctx, first: dict) -> None:
        """The very same bytes again (the engine found the sha256): a short report, nothing applied."""
        sid = peek_settlement_id(ctx.path, ctx.settings or {}) or ctx.stem
        settlement = _settlement_row(ctx.db, sid)
        ctx.output(f"reports/settlement-{_safe_name(sid)}-duplicate-{ctx.stamp}.txt",
                   duplicate_text(sid, ctx.name, first, settlement, True, ctx.sha256))


def check_applied(ctx, sid: str) -> tuple[dict | None, dict | None]:
    """(the stored settlement ``sid`` or None, the duplicate summary when this file must not be
    applied). A copy replaces the stored settlement only when that one was inconsistent and this
    copy has other bytes (whether it adds up is known after parsing: :func:`ingest`)."""
    seen = ctx.business_key_seen(business_key(sid))
    prior = _settlement_row(ctx.db, sid)
    if seen or prior:
        if not prior or prior.get("status") == STATUS_OK or prior.get("file_sha256") == ctx.sha256:
            return prior, duplicate(ctx, sid, seen, prior)
    return prior, None


def duplicate(ctx, sid: str, seen: dict | None, prior: dict | None) -> dict:
    """Another copy of an applied settlement: a report, and the file goes to ``.duplicate/``
    (the journal's ``duplicate_of`` names the file that was applied)."""
    first_id = (seen or {}).get("file_id") or (prior or {}).get("file_id")
    store = ctx.app.store
    first = store.journal_get(first_id) if first_id else None
    same = bool(prior and prior.get("file_sha256") == ctx.sha256)
    rel = f"reports/settlement-{_safe_name(sid)}-duplicate-{ctx.stamp}.txt"
    ctx.output(rel, duplicate_text(sid, ctx.name, first, prior, same, ctx.sha256))
    if first is not None and first_id != ctx.file_id:
        store.journal_update(ctx.file_id, duplicate_of=first_id)
    first_name = (first or {}).get("name") or (prior or {}).get("file_name")
    ctx.log.info("settlement %s in %s was already applied from %s: not counted again", sid, ctx.name, first_name)
    return {"settlement_id": sid, "duplicate_settlement": True, "first_file": first_name,
            "first_file_id": first_id, "outputs": [rel]}


class _Aging(ReadInThread):
    """The aging list (shipped orders no settlement mentions yet) in two steps: its keys in a
    thread while the file is parsed (one JSON text back, so SQLite scans the orders without
    holding the GIL), then, after this file's amounts are stored, the rows of the keys it did
    not settle, on the handler's connection."""

    def __init__(self, app, now, days: float, max_days: float | None, channels):
        self.args = (now, days, channels)
        self.max_days = max_days
        self.app = app
        super().__init__(app.store.path,
                         lambda conn: unsettled_keys(sqlite_utils.Database(conn), now, days, channels,
                                                     max_days=max_days),
                         "settlement-aging")

    def result(self, applied: dict) -> list[dict]:
        """The list without the orders ``apply`` just gave settlement amounts to."""
        db = self.app.store.db
        if not self.started:  # no file to open a second connection on: ask the store itself
            return unsettled_orders(db, *self.args, max_days=self.max_days)
        keys = self.join()
        if not keys:
            return []
        settled = set(applied["matched_keys"]) | applied["rematched_keys"]
        return unsettled_orders(db, *self.args, max_days=self.max_days,
                                keys=[k for k in keys if k not in settled])


def ingest(ctx, *, prior: dict | None = None, timings: dict | None = None, checked_id: str | None = None) -> dict:
    """Parse, reconcile, store and report one settlement file (the handler's work once the
    duplicate check passed for ``checked_id``; when the parsed id is another — the file's head
    gave none — the check runs again here). ``timings``, when given, receives the seconds per phase."""
    settings = ctx.settings or {}
    db = ctx.db
    app = ctx.app
    clock = time.perf_counter
    t0 = clock()
    now = app.clock.now()
    channels = channels_for(app, settings, ctx.name)
    days = float(settings.get("unsettled_days", DEFAULT_UNSETTLED_DAYS))
    max_days = float(settings.get("unsettled_max_days", DEFAULT_UNSETTLED_MAX_DAYS)) or None
    aging = _Aging(app, now, days, max_days, channels).start()
    try:
        parsed = parse_settlement(ctx.path, settings)
        t1 = clock()
        sid = parsed.settlement_id
        if sid != checked_id:
            prior, dup = check_applied(ctx, sid)
            if dup is not None:
                return dup
        rec = reconcile(db, parsed, channels=channels, known_channels=amazon_channel_names(app))
        t2 = clock()
        replaced = None
        if prior is not None:
            if rec.status != STATUS_OK:  # both copies inconsistent: keep the first, report
                return duplicate(ctx, sid, ctx.business_key_seen(business_key(sid)), prior)
            forget_settlement(db, sid)
            replaced = prior.get("file_name")
            rec.warnings.append(f"replaces the inconsistent copy {replaced} (file id {prior.get('file_id')}, "
                                f"difference {prior.get('difference')})")
        info = FileInfo(ctx.file_id, ctx.name, ctx.sha256, ",".join(channels) if channels else None)
        base = report_base(ctx, sid)
        applied = apply(db, rec, info, now)
        ctx.record_business_key(business_key(sid))
        csv_rel = f"{base}.csv"
        with ctx.open_output(csv_rel) as fh:
            write_orders_csv(fh, rec)
        t3 = clock()
        unsettled = aging.result(applied)
    finally:
        aging.join_quietly()
    outputs = [csv_rel]
    rel = f"{base}-unsettled.csv"
    with ctx.open_output(rel) as fh:
        write_unsettled_csv(fh, unsettled)
    outputs.append(rel)
    if settings.get("xlsx", True):
        rel = f"{base}.xlsx"
        with ctx.open_output(rel, binary=True) as fh:
            write_xlsx(fh, rec, {"name": info.name, "csv": csv_rel.rsplit("/", 1)[-1],
                                 "unsettled_csv": f"{base}-unsettled.csv".rsplit("/", 1)[-1]}, unsettled,
                       max_rows=int(settings.get("xlsx_max_rows", DEFAULT_XLSX_MAX_ROWS)), unsettled_days=days,
                       now=now)
        outputs.append(rel)
    t4 = clock()
    if timings is not None:
        timings.update({"parse": t1 - t0, "classify_match_aggregate": t2 - t1,
                        "store_writes+orders_csv": t3 - t2, "aging+xlsx": t4 - t3})
    counts = rec.counts()
    summary = {
        "settlement_id": sid, "status": rec.status, "currency": parsed.currency,
        "total_amount": format(parsed.total, "f"), "computed_total": format(rec.computed_total, "f"),
        "difference": format(rec.difference, "f"),
        **{k: format(v, "f") for k, v in rec.totals_by_category().items()},
        **counts, "layout": parsed.layout, "columns": len(parsed.columns), "encoding": parsed.encoding,
        "decimal_sep": parsed.decimal_sep, "rows": parsed.transaction_rows, "rematched": applied["rematched"],
        "unsettled": len(unsettled), "outputs": outputs,
    }
    if rec.paid_before:
        summary["paid_before"] = len(rec.paid_before)
        ctx.log.warning("settlement %s pays %d order line(s) that settlement(s) %s paid already (see %s.xlsx)", sid,
                        len(rec.paid_before), ", ".join(sorted({p["other_settlement"] for p in rec.paid_before})[:5]),
                        base.rsplit("/", 1)[-1])
    if replaced:
        summary["replaced"] = replaced
    if rec.warnings:
        summary["warnings"] = rec.warnings
    if rec.status != STATUS_OK:
        ctx.log.warning("settlement %s is inconsistent: rows add up to %s, payout is %s (difference %s)",
                        sid, rec.computed_total, parsed.total, rec.difference)
    return summary
