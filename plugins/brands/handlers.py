"""``inbox/onboarding/`` (the integrator's onboarding spreadsheet) and ``inbox/golive/`` (the
PIM's activations and the platforms' live states), read through the SDK's table reader.

Row by row: a bad row (unknown brand, item, platform, role or an impossible date) is refused
with its line and reason in ``outbox/reports/<kind>-<stem>-<stamp>.csv`` and the good rows are
kept; a file whose every row is refused goes to ``.error/``. The same content twice is the
engine's duplicate (never applied twice); a later file wins per key.
"""
from __future__ import annotations

from datetime import datetime, time, timezone

from marketd.sdk import FileRejected, InboxSettings

from . import checklist, contacts, skus
from .settings import brands_of

# Every start of the daemon and of each command imports this module (the plugin registers its
# inboxes), so the table reader (pandas) and the calendar (numpy) are imported when a file comes.

# spreadsheet headers as integrators write them (DE/EN) -> our column
SYNONYMS = {
    "marke": "brand", "brand": "brand", "punkt": "item", "item": "item", "checklist": "item",
    "plattform": "platform", "platform": "platform", "produkttyp": "subject", "subject": "subject",
    "product_type": "subject", "status": "status", "datum": "date", "date": "date", "wert": "value",
    "value": "value", "bemerkung": "note", "note": "note", "notiz": "note",
    "rolle": "role", "role": "role", "name": "name", "e-mail": "email", "email": "email", "mail": "email",
    "telefon": "phone", "phone": "phone",
    "sku": "sku", "artikelnummer": "sku", "aktiviert": "activated_at", "activated_at": "activated_at",
    "live": "live_at", "live_at": "live_at",
}
REPORT = ["line", "outcome", "reason"]


def _columns(table) -> dict[str, str]:
    out = {}
    for h in table.columns:
        key = SYNONYMS.get(str(h).strip().lower().replace(" ", "_"), None) or SYNONYMS.get(str(h).strip().lower())
        if key and key not in out:
            out[key] = h
    return out


def _report(ctx, rows: list, kind: str) -> None:
    from marketd.sdk import write_csv

    with ctx.open_output(f"reports/{kind}-{ctx.stem}-{ctx.stamp}.csv") as fh:
        write_csv(fh, REPORT, rows)


def _finish(ctx, kind: str, considered: int, report: list, summary: dict) -> dict:
    rejected = sum(1 for r in report if r[1] == "rejected")
    if considered and rejected == considered:
        first = next(r for r in report if r[1] == "rejected")
        raise FileRejected("no_valid_rows", f"every one of the {considered} rows was refused; the first, line "
                           f"{first[0]}: {first[2]}", where=f"line {first[0]}",
                           fix="correct the rows and drop the file again")
    if considered == 0:
        raise FileRejected("no_rows", "the file has a header but no rows", fix="export the rows too")
    if report:
        _report(ctx, report, kind)
    return {"rows": considered, "rejected": rejected, **summary}


class OnboardingHandler:
    kind = "onboarding"
    completeness = "CSV: a last row cut mid-line is refused; XLSX files are complete or unreadable"
    settings_model = InboxSettings

    def process(self, ctx) -> dict:
        from marketd.sdk import read_table

        table = read_table(ctx.path, ctx.settings)
        cols = _columns(table)
        brands = brands_of(ctx.app)
        is_contacts = "email" in cols and "role" in cols
        need = ("brand", "role", "email") if is_contacts else ("brand", "item")
        missing = [c for c in need if c not in cols]
        if missing:
            raise FileRejected("missing_column", f"no column {', '.join(missing)} (header: {', '.join(table.columns)})",
                               where="line 1", fix="use the layout in docs/plugins/brands.md (brand, item, platform, "
                               "subject, status, date, value, note; or brand, role, name, email, phone)")
        db = ctx.db
        now = ctx.app.clock.now().isoformat()
        report, n, changed = [], 0, 0
        for line, raw in table.rows():
            row = {k: (raw.get(h) or "").strip() for k, h in cols.items()}
            if not any(row.values()):
                continue
            n += 1
            bid = row.get("brand", "")
            if bid not in brands:
                from marketd.sdk import did_you_mean

                report.append([line, "rejected", f"unknown brand {bid!r} {did_you_mean(bid, brands)}".strip()])
                continue
            try:
                if is_contacts:
                    contacts.upsert(db, bid, row.get("role", ""), row.get("email", ""), row.get("name"),
                                    row.get("phone"), ctx.file_id)
                    changed += 1
                    continue
                item, platform, subject, status, day = checklist.normalise(
                    bid, brands[bid], row.get("item", ""), row.get("platform", ""), row.get("subject", ""),
                    row.get("status"), row.get("date"), ctx.app)
                changed += checklist.record(db, bid, item, platform, subject, status, day, row.get("value") or None,
                                            row.get("note") or None, ctx.file_id, now)
            except ValueError as exc:  # ChecklistError and contact errors; no address in the reason
                report.append([line, "rejected", str(exc)])
        return _finish(ctx, "onboarding", n, report, {"layout": "contacts" if is_contacts else "checklist",
                                                      "changed": changed})


def parse_moment(text: str, tz) -> str:
    """ISO time with offset, or a bare day (``2024-12-18``) meaning the brand-local midnight."""
    t = text.strip()
    if len(t) == 10:
        d = datetime.fromisoformat(t).date()
        return datetime.combine(d, time(0), tz).astimezone(timezone.utc).isoformat()
    dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"time {t!r} has no offset (write 2024-12-18T09:00:00+01:00, or only the day)")
    return dt.astimezone(timezone.utc).isoformat()


# What a platform's product export says for a listing that buyers can see (Amazon listings:
# BUYABLE / "Active"; eBay offers: PUBLISHED; generic exports: live, online).
LIVE_WORDS = frozenset({"BUYABLE", "ACTIVE", "PUBLISHED", "LIVE", "ONLINE"})


class GoliveHandler:
    """Activations (``sku, platform, activated_at``) and live states (``sku, platform, live_at``, or
    a platform export's ``status``: a live word means live when the file came)."""

    kind = "golive"
    completeness = "CSV: a last row cut mid-line is refused; XLSX files are complete or unreadable"
    settings_model = InboxSettings

    def process(self, ctx) -> dict:
        from marketd.sdk import read_table

        from . import golive

        table = read_table(ctx.path, ctx.settings)
        cols = _columns(table)
        if "sku" not in cols or "platform" not in cols or not ({"activated_at", "live_at", "status"} & set(cols)):
            raise FileRejected("missing_column", f"need sku, platform and activated_at, live_at or status "
                               f"(header: {', '.join(table.columns)})", where="line 1",
                               fix="see docs/plugins/brands.md, \"Activations and live states\"")
        brands = brands_of(ctx.app)
        db = ctx.db
        report, n = [], 0
        counts = {"activated": 0, "live": 0}
        for line, raw in table.rows():
            row = {k: (raw.get(h) or "").strip() for k, h in cols.items()}
            if not any(row.values()):
                continue
            n += 1
            bid = skus.brand_for(db, brands, row["sku"])
            if bid is None:
                report.append([line, "rejected", f"SKU {row['sku']!r} belongs to no configured brand"])
                continue
            brand = brands[bid]
            if row["platform"] not in brand.platforms:
                report.append([line, "rejected", f"platform {row['platform']!r} is not one of brand {bid}'s "
                               f"({', '.join(brand.platforms)})"])
                continue
            try:
                act = parse_moment(row["activated_at"], brand.tz) if row.get("activated_at") else None
                live = parse_moment(row["live_at"], brand.tz) if row.get("live_at") else None
                if live is None and row.get("status", "").upper() in LIVE_WORDS:
                    live = ctx.claimed_at.astimezone(timezone.utc).isoformat()
            except ValueError as exc:
                report.append([line, "rejected", str(exc)])
                continue
            if act and golive.record_activation(db, bid, row["sku"], row["platform"], act, ctx.file_id):
                counts["activated"] += 1
            if live:
                got = golive.record_live(db, row["sku"], row["platform"], live, ctx.file_id)
                if got == "not_activated":
                    report.append([line, "rejected", "live before any activation was recorded for this SKU × "
                                   "platform (send the activation first, or both in one row)"])
                elif got == "new":
                    counts["live"] += 1
        return _finish(ctx, "golive", n, report, counts)
