"""The one ``inbox/settlements/`` handler: a payout file of any registered format in, payouts,
per-order money and reports out (docs/plugins/settlements.md).

A payout is applied once. Its business key (``amazon-settlement:<id>``, ``ebay-payout:…``) is
recorded with the file; another copy — the same file again, a Seller Central download of a
report the fetch job already got, a re-encoded copy — goes to ``.duplicate/`` with a short
report naming the applied file. Only ``ok`` is final: a copy replaces a stored payout that was
not ``ok`` when the new copy is ``ok`` (or gives a stated total to one that had none), and an
``open`` pseudo-payout (money not paid out yet) is replaced by the next file. A file holding
several payouts (an eBay report) is judged payout by payout in its one transaction.
"""
from __future__ import annotations

import contextlib
import gc
import re
import time

from marketd.sdk.settlements import ParseContext, PayoutStatus

from .aging import Aging
from .dispatch import HEAD, choose
from .matching import KeyLookup, ambiguity_warning, match_frame, rematch_pending, scope
from .settings import SettlementInboxSettings
from .threads import ReadInThread, store_path

# The payout frame, the store writes and the reports (numpy, pandas) are imported where a payout
# file is handled: every command line registers this handler, and `marketd process` of a catalog
# or `marketd status` must not pay for pandas they never use.

KIND = "settlements"
DEFAULT_UNSETTLED_DAYS = 30
DEFAULT_UNSETTLED_MAX_DAYS = 180
STATUS_RANK = {PayoutStatus.OPEN: 0, PayoutStatus.UNCHECKED: 1, PayoutStatus.INCONSISTENT: 2, PayoutStatus.OK: 3}


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text))[:80] or "unknown"


def payout_row(db, *, key: str | None = None, business_key: str | None = None) -> dict | None:
    if "payouts" not in db.table_names():
        return None
    if key is not None:
        rows = list(db.query("select * from payouts where payout_key = ?", [key]))
    else:
        rows = list(db.query("select * from payouts where business_key = ? order by pid desc limit 1", [business_key]))
    return rows[0] if rows else None


class Prefetch:
    """What the format hands over early (``ParseContext.prefetch``): the order references, looked
    up in a thread while it still adds up amounts, and the paid items (the double-payment check)."""

    def __init__(self, app, db, channel_type: str):
        self.app, self.db, self.channel_type = app, db, channel_type
        self.lookup: KeyLookup | None = None
        self.names: list[str] | None = None
        self.paid: ReadInThread | None = None
        self._items: set = set()

    def start(self, order_refs=(), paid_items=(), channels=None, **_ignored) -> None:
        if self.lookup is not None:
            return
        self.names, _, _ = scope(self.app, self.db, self.channel_type, channels)
        self.lookup = KeyLookup(self.db, list(order_refs), self.names).start()
        items = [tuple(i) for i in paid_items]
        self._items = set(items)
        if items:
            from . import apply as store

            self.paid = ReadInThread(store_path(self.db), lambda conn: store.paid_before(
                conn, self.channel_type, "", items), "settlement-overlap", fallback=self.db.conn).start()

    def by_key(self, names: list[str]) -> dict | None:
        if self.lookup is None or names != self.names:
            return None
        return self.lookup.join()

    def paid_before(self, payout) -> list[dict]:
        """Items of ``payout`` another payout paid (from the thread when it looked up exactly these)."""
        if self.paid is not None and set(map(tuple, payout.paid_items)) == self._items:
            return [p for p in self.paid.join() if p["other_key"] != payout.key()]
        from . import apply as store

        return store.paid_before(self.db.conn, payout.channel_type, payout.key(), list(payout.paid_items))

    def join_quietly(self) -> None:
        for t in (self.lookup, self.paid):
            if t is not None:
                t.join_quietly()


class SettlementsHandler:
    kind = KIND
    completeness = ("each format checks its own files: a row cut in the middle is rejected as truncated; a file cut "
                    "at a row boundary fails the payout check (status 'inconsistent') and is replaced when a "
                    "complete copy arrives")
    settings_model = SettlementInboxSettings

    def process(self, ctx) -> dict:
        return ingest(ctx)

    def on_duplicate(self, ctx, first: dict) -> None:
        """The very same bytes again (the engine found the sha256): a short report, nothing applied."""
        from .reports import duplicate_text

        fmt, pctx = _format_of(ctx)
        keys = _peek(fmt, pctx) if fmt is not None else None
        stored = payout_row(ctx.db, business_key=keys[0]) if keys else None
        what = (f"payout {stored['payout_key']}" if stored else f"the payout file {ctx.name}")
        base = _report_base_for(ctx, stored["channel_type"], stored["payout_id"], stored["kind"]) if stored else \
            f"reports/settlement-{safe_name(ctx.stem)}"
        ctx.output(f"{base}-duplicate-{ctx.stamp}.txt",
                   duplicate_text(what, ctx.name, first, stored, True, ctx.sha256,
                                  stored["payout_key"] if stored else ctx.stem))


def _format_of(ctx):
    try:
        with open(ctx.path, "rb") as fh:
            head = fh.read(HEAD)
        fmt = choose(ctx.app.settlement_formats(), head, ctx.name)
    except Exception:
        return None, None
    return fmt, ParseContext(app=ctx.app, path=ctx.path, name=ctx.name, sha256=ctx.sha256, settings=ctx.settings,
                             log=ctx.log)


def _peek(fmt, pctx) -> list[str] | None:
    peek = getattr(fmt, "peek_keys", None)
    if peek is None:
        return None
    try:
        return peek(pctx) or None
    except Exception:  # a head that tells nothing: the parse will say what is wrong
        return None


def _legacy(ctx, channel_type: str) -> bool:
    return (ctx.settings or {}).get("report_names") == "legacy" and channel_type == "amazon"


def _report_base_for(ctx, channel_type: str, payout_id: str, kind: str, channel: str | None = None) -> str:
    if _legacy(ctx, channel_type):
        return f"reports/settlement-{safe_name(payout_id)}"
    if kind == PayoutStatus.OPEN:
        return f"reports/settlement-{safe_name(channel_type)}-{safe_name(channel or '')}-open-{ctx.stamp}"
    middle = "" if kind in ("settlement", "payout") else f"{safe_name(kind)}-"
    return f"reports/settlement-{safe_name(channel_type)}-{middle}{safe_name(payout_id)}"


def report_base(ctx, payout) -> str:
    """``reports/settlement-<channel_type>-<id>`` (``settlement-<id>`` with ``report_names =
    "legacy"`` for Amazon) — or, when those names are in the outbox already (a corrected copy
    replacing an inconsistent one, a payout applied again after ``settlements forget``),
    ``…-<stamp>`` so nothing is overwritten."""
    base = _report_base_for(ctx, payout.channel_type, payout.payout_id, payout.kind, payout.channel)
    outbox = ctx.app.outbox
    if outbox.conflict == "replace":
        return base
    suffixes = (".csv", "-lines.csv", "-unsettled.csv", ".xlsx")
    if any(outbox.final_path(base + s).exists() for s in suffixes):
        return f"{base}-{ctx.stamp}"
    return base


def _verdict(prior: dict | None, seen: dict | None, sha256: str, new_status: str | None) -> str:
    """``apply``, ``replace`` or ``duplicate`` for a payout whose business key is ``seen`` /
    stored as ``prior``. ``new_status`` None: decide from the head alone (``maybe`` when the
    parse must tell)."""
    if not seen and not prior:
        return "apply"
    if not prior or prior.get("status") == PayoutStatus.OK or prior.get("file_sha256") == sha256:
        return "duplicate"
    if new_status is None:
        return "maybe"
    old = prior.get("status")
    if old == PayoutStatus.OPEN:
        return "replace"
    if new_status == PayoutStatus.OK:
        return "replace"
    if old == PayoutStatus.UNCHECKED and new_status == PayoutStatus.INCONSISTENT:
        return "replace"  # now with a stated total to check against
    return "duplicate"


def _duplicate(ctx, payout_key: str, payout_id: str, channel_type: str, kind: str, seen, prior) -> dict:
    """A report for one payout not applied again; the journal's ``duplicate_of`` names the file
    that was applied (set by the caller when the whole file is a duplicate)."""
    from .reports import duplicate_text

    first_id = (seen or {}).get("file_id") or (prior or {}).get("file_id")
    first = ctx.app.store.journal_get(first_id) if first_id else None
    same = bool(prior and prior.get("file_sha256") == ctx.sha256)
    rel = f"{_report_base_for(ctx, channel_type, payout_id, kind)}-duplicate-{ctx.stamp}.txt"
    ctx.output(rel, duplicate_text(f"payout {payout_key}", ctx.name, first, prior, same, ctx.sha256, payout_key))
    first_name = (first or {}).get("name") or (prior or {}).get("file_name")
    ctx.log.info("payout %s in %s was already applied from %s: not counted again", payout_key, ctx.name, first_name)
    return {"payout_key": payout_key, "payout_id": payout_id, "duplicate_payout": True, "first_file": first_name,
            "first_file_id": first_id, "outputs": [rel]}


def _whole_file_duplicate(ctx, dups: list[dict]) -> dict:
    first_id = next((d["first_file_id"] for d in dups if d.get("first_file_id")), None)
    if first_id and first_id != ctx.file_id:
        ctx.app.store.journal_update(ctx.file_id, duplicate_of=first_id)
    if len(dups) == 1:
        return {**dups[0], "settlement_id": dups[0]["payout_id"]}
    return {"duplicate_payout": True, "payouts": dups, "outputs": [o for d in dups for o in d["outputs"]]}


@contextlib.contextmanager
def cyclic_gc_paused():
    """No cyclic garbage collection while one payout file is handled. A large settlement keeps
    millions of small containers alive for the whole file (rows, tuples bound to SQLite, report
    columns) and creates no reference cycles of its own; the collector's full passes would rescan
    all of them again and again as they grow (seconds on a 1,000,000-row file). Reference
    counting still frees everything as usual; the collector runs again right after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def ingest(ctx, *, timings: dict | None = None) -> dict:
    """Dispatch, parse, check, match, store and report one payout file. ``timings``, when given,
    receives the seconds per phase (the bench)."""
    with cyclic_gc_paused():
        return _ingest(ctx, timings)


def _ingest(ctx, timings: dict | None) -> dict:
    from . import apply as store
    from .frame import build

    app = ctx.app
    settings = ctx.settings or {}
    db = ctx.db
    clock = time.perf_counter
    t0 = clock()
    now = app.clock.now()
    with open(ctx.path, "rb") as fh:
        head = fh.read(HEAD)
    fmt = choose(app.settlement_formats(), head, ctx.name)
    prefetch = Prefetch(app, db, fmt.channel_type)
    pctx = ParseContext(app=app, path=ctx.path, name=ctx.name, sha256=ctx.sha256, settings=settings, log=ctx.log,
                        prefetch=prefetch.start)
    keys = _peek(fmt, pctx)
    if keys:
        dups = []
        for k in keys:
            prior = payout_row(db, business_key=k)
            seen = ctx.business_key_seen(k)
            if _verdict(prior, seen, ctx.sha256, None) != "duplicate":
                break
            dups.append((k, prior, seen))
        else:
            return _whole_file_duplicate(ctx, [
                _duplicate(ctx, (prior or {}).get("payout_key") or k, (prior or {}).get("payout_id") or k.split(":")[-1],
                           (prior or {}).get("channel_type") or fmt.channel_type, (prior or {}).get("kind") or "payout",
                           seen, prior) for k, prior, seen in dups])
    days = float(settings.get("unsettled_days", DEFAULT_UNSETTLED_DAYS))
    max_days = float(settings.get("unsettled_max_days", DEFAULT_UNSETTLED_MAX_DAYS)) or None
    aging = Aging(app, now, days, max_days, fmt.channel_type, getattr(fmt, "unsettled_statuses", None)).start()
    file = {"file_id": ctx.file_id, "name": ctx.name, "sha256": ctx.sha256}
    try:
        parsed = fmt.parse(pctx)
        t1 = clock()
        dups, applied = [], []
        for payout in parsed.payouts:
            frame = build(payout)
            status, stated_e4, diff_e4 = frame.check()
            prior = payout_row(db, key=payout.key()) or payout_row(db, business_key=payout.bkey())
            seen = ctx.business_key_seen(payout.bkey())
            verdict = _verdict(prior, seen, ctx.sha256, status)
            if verdict == "duplicate":
                dups.append(_duplicate(ctx, payout.key(), payout.payout_id, payout.channel_type, payout.kind, seen,
                                       prior))
                continue
            warnings = list(payout.warnings)
            replaced = None
            if verdict == "replace":
                store.forget(db, prior["pid"])
                replaced = prior.get("file_name")
                warnings.append(f"replaces the {prior.get('status')} copy {replaced} (file id {prior.get('file_id')}, "
                                f"difference {prior.get('difference')})")
            names, cond, cparams = scope(app, db, payout.channel_type, payout.match_channels)
            match_frame(db, frame, names, cond, cparams, by_key=prefetch.by_key(names))
            paid = prefetch.paid_before(payout) if payout.paid_items else []
            ambiguity = ambiguity_warning(frame)
            if ambiguity:
                warnings.append(ambiguity)
            if paid:
                others = sorted({p["other_payout"] for p in paid})
                warnings.append(
                    f"{len(paid)} order item(s) were already paid by payout(s) {', '.join(others[:5])}"
                    f"{' …' if len(others) > 5 else ''}: a marketplace never pays a sale twice, so this is a double "
                    "payment to report, or this payout is a copy of one already applied under another id "
                    "(sheet 'Paid before')")
            payout.warnings = warnings
            pid = store.insert_payout(db, frame, status=status, stated_e4=stated_e4, difference_e4=diff_e4, file=file,
                                      now=now)
            store.insert_refs(db, pid, frame)
            store.insert_lines(db, pid, frame)
            store.insert_paid_items(db, pid, payout.channel_type, payout.paid_items)
            store.record_aliases(db, frame)
            ctx.record_business_key(payout.bkey())
            applied.append({"pid": pid, "frame": frame, "status": status, "stated_e4": stated_e4, "diff_e4": diff_e4,
                            "paid": paid, "replaced": replaced})
        if parsed.payouts and not applied:
            return _whole_file_duplicate(ctx, dups)
        breakdowns = store.upsert_breakdowns(db, parsed.breakdowns, file, now) if parsed.breakdowns else 0
        rematched_keys: set = set()
        rematched = rematch_pending(db, keys_out=rematched_keys, exclude_pids=[a["pid"] for a in applied])
        split, split_warnings = 0, []
        for scope_kw in ({"pids": [a["pid"] for a in applied]} if applied else None,
                         {"order_refs": sorted({b.order_ref for b in parsed.breakdowns})} if breakdowns else None):
            if scope_kw:  # this file's net lines; the lines waiting for this file's breakdowns
                n_split, warned = store.split_net_lines(db, **scope_kw)
                split += n_split
                split_warnings += [w for w in warned if w not in split_warnings]
        t2 = clock()
        settled = set(rematched_keys)
        scopes: set = set()
        for a in applied:
            settled |= {k for k in a["frame"].order_keys if k}
            scopes |= set(a["frame"].payout.match_channels or ())
        all_scoped = all(a["frame"].payout.match_channels for a in applied) if applied else False
        unsettled = aging.result(settled, scopes if all_scoped else None)
    finally:
        aging.join_quietly()
        prefetch.join_quietly()
    outputs, summaries = [], []
    for a in applied:
        summaries.append(_write_reports(ctx, a, unsettled, outputs, days, now))
    t3 = clock()
    if timings is not None:
        timings.update({"parse": t1 - t0, "check_match_store": t2 - t1, "reports": t3 - t2})
    for d in dups:
        outputs += d["outputs"]
    summary: dict = {"format": fmt.name}
    if len(summaries) == 1 and not dups:
        summary.update(summaries[0])
    else:
        summary["payouts"] = summaries + dups
        summary["applied"] = len(summaries)
        summary["duplicates"] = len(dups)
    summary.update({"rematched": rematched, "unsettled": len(unsettled), "outputs": outputs})
    if breakdowns:
        summary["breakdowns"] = breakdowns
    if split:
        summary["split_lines"] = split
    warnings = list(parsed.warnings) + split_warnings
    if warnings:
        summary["file_warnings"] = warnings
    return summary


def _write_reports(ctx, a: dict, unsettled: list[dict], outputs: list, days: float, now) -> dict:
    from .reports import write_legacy_orders_csv, write_lines_csv, write_orders_csv, write_unsettled_csv
    from .workbook import write_xlsx

    frame = a["frame"]
    p = frame.payout
    settings = ctx.settings or {}
    base = report_base(ctx, p)
    legacy = _legacy(ctx, p.channel_type)
    csv_rel = f"{base}.csv"
    with ctx.open_output(csv_rel) as fh:
        (write_legacy_orders_csv if legacy else write_orders_csv)(fh, frame)
    outputs.append(csv_rel)
    if not legacy:
        rel = f"{base}-lines.csv"
        with ctx.open_output(rel) as fh:
            write_lines_csv(fh, frame)
        outputs.append(rel)
    unsettled_rel = f"{base}-unsettled.csv"
    with ctx.open_output(unsettled_rel) as fh:
        write_unsettled_csv(fh, unsettled)
    outputs.append(unsettled_rel)
    check = {"status": a["status"], "stated_e4": a["stated_e4"], "difference_e4": a["diff_e4"]}
    if settings.get("xlsx", True):
        rel = f"{base}.xlsx"
        with ctx.open_output(rel, binary=True) as fh:
            write_xlsx(fh, frame, check, {"name": ctx.name, "csv": csv_rel.rsplit("/", 1)[-1],
                                          "unsettled_csv": unsettled_rel.rsplit("/", 1)[-1],
                                          "warnings": p.warnings}, unsettled, a["paid"],
                       max_rows=int(settings.get("xlsx_max_rows")), unsettled_days=days, now=now)
        outputs.append(rel)
    return payout_summary(ctx, a, base)


def payout_summary(ctx, a: dict, base: str) -> dict:
    frame = a["frame"]
    p = frame.payout
    text = frame.text
    totals = frame.totals_e4()
    out = {
        "payout_key": p.key(), "payout_id": p.payout_id, "settlement_id": p.payout_id, "source": p.source,
        "status": a["status"], "currency": p.currency,
        "stated_total": text(a["stated_e4"]) if a["stated_e4"] is not None else None,
        "computed_total": text(frame.computed_e4()),
        "difference": text(a["diff_e4"]) if a["diff_e4"] is not None else None,
        **{c: text(v) for c, v in totals.items()}, "net": text(frame.net_e4()), **frame.counts(),
        **{k: v for k, v in p.meta.items() if isinstance(v, (str, int, float)) and k != "inconsistent_hint"},
    }
    out["total_amount"] = out["stated_total"]  # Amazon's name for it, kept for one release
    if a["paid"]:
        out["paid_before"] = len(a["paid"])
        ctx.log.warning("payout %s pays %d order item(s) that payout(s) %s paid already (see %s.xlsx)", p.key(),
                        len(a["paid"]), ", ".join(sorted({x["other_payout"] for x in a["paid"]})[:5]),
                        base.rsplit("/", 1)[-1])
    if a["replaced"]:
        out["replaced"] = a["replaced"]
    if p.warnings:
        out["warnings"] = p.warnings
    if a["status"] == PayoutStatus.INCONSISTENT:
        ctx.log.warning("payout %s is inconsistent: lines add up to %s, the stated payout is %s (difference %s)",
                        p.key(), out["computed_total"], out["stated_total"], out["difference"])
    return out


__all__ = ["SettlementsHandler", "ingest", "payout_row"]
