"""The onboarding checklist: four phases in sequence (Organisation → Content → Logistics → Go-live,
seeds 001), their items, who must act on each, and what blocks a brand's next phase.

A brand's phase is the first phase with an item not done. Items are stored as the integrator
records them (onboarding file, ``marketd brands set``); a few are derived from what marketd
itself knows (contacts on file, first activation, first monitoring report, first weekly mail), so
nobody has to tick what the daemon already did.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from marketd.sdk import did_you_mean

PHASES = ("organisation", "content", "logistics", "golive")
STATUSES = ("open", "requested", "done", "refused", "n/a")
DONE = ("done", "n/a")
DATA_MODEL_LEAD_DAYS = 28   # "bis zu 4 Wochen" for a new data model (seeds 001)


@dataclass(frozen=True)
class Item:
    key: str
    phase: str
    actor: str
    per_platform: bool = False
    amazon_only: bool = False
    subject: bool = False        # one row per product type (data models)
    derived: bool = False        # computed from the store; a stored row overrides
    text: str = ""


ITEMS = {i.key: i for i in (
    Item("approval.requested", "organisation", "brand", per_platform=True,
         text="approval form for the platform sent"),
    Item("approval.granted", "organisation", "platform", per_platform=True, text="platform approved the brand"),
    Item("amazon.brand_registry", "organisation", "brand", per_platform=True, amazon_only=True,
         text="Amazon Brand Registry (before any Amazon approval)"),
    Item("amazon.admin_access", "organisation", "brand", per_platform=True, amazon_only=True,
         text="admin rights in Brand Registry granted to the integrator"),
    Item("contacts.received", "organisation", "brand", derived=True,
         text="contacts for reports and customer service"),
    Item("data_model", "organisation", "integrator", per_platform=True, subject=True,
         text="data model for the product type available on the platform (up to 4 weeks)"),
    Item("warehouse_info.received", "organisation", "brand", text="warehouse information form"),
    Item("customer_service.rules", "organisation", "brand", text="customer-service rules (contact, discounts)"),
    Item("content.complete", "content", "integrator", per_platform=True, text="platform-conform content complete"),
    Item("warehouse.address_sent", "logistics", "integrator", text="warehouse address sent to the brand"),
    Item("goods.received", "logistics", "brand", text="goods received in the warehouse"),
    Item("initial_delivery.done", "logistics", "brand", text="initial delivery complete"),
    Item("activation.started", "golive", "integrator", per_platform=True, derived=True,
         text="articles activated on the platform"),
    Item("golive.monitoring", "golive", "daemon", derived=True, text="first Go Live Monitoring sent"),
    Item("data_package.sent", "golive", "daemon", derived=True, text="data links issued and first weekly mail"),
    Item("handover.partner_management", "golive", "integrator", text="handed over to partner management"),
)}


def is_amazon(platform: str, app=None) -> bool:
    """A platform is Amazon when its channel account is of type amazon (or, without one, by name)."""
    if app is not None:
        ch = (app.config.get("channels") or {}).get(platform)
        if ch is not None:
            return (ch.get("type") if hasattr(ch, "get") else None) == "amazon"
    return platform.lower().startswith("amazon")


class ChecklistError(ValueError):
    """A checklist value that cannot be recorded (unknown item, platform, status or date)."""


def parse_day(text: str | None) -> str | None:
    """ISO ``2025-01-06`` or German ``06.01.2025``; None for empty."""
    if text is None or str(text).strip() == "":
        return None
    t = str(text).strip()
    try:
        if "." in t:
            d, m, y = t.split(".")
            return date(int(y), int(m), int(d)).isoformat()
        return date.fromisoformat(t[:10]).isoformat()
    except ValueError:
        raise ChecklistError(f"date {t!r} is not a date (write 2025-01-06 or 06.01.2025)") from None


def normalise(brand_id: str, brand, item: str, platform: str = "", subject: str = "", status: str | None = None,
              day: str | None = None, app=None) -> tuple[str, str, str, str, str | None]:
    """Check one value against the catalogue; returns (item, platform, subject, status, date)."""
    spec = ITEMS.get(item)
    if spec is None:
        raise ChecklistError(f"unknown checklist item {item!r}: {did_you_mean(item, ITEMS) or 'items: ' + ', '.join(ITEMS)}")
    platform, subject = (platform or "").strip(), (subject or "").strip()
    if spec.per_platform:
        if not platform:
            raise ChecklistError(f"{item} is kept per platform: name one of {', '.join(brand.platforms)}")
        if platform not in brand.platforms:
            raise ChecklistError(f"platform {platform!r} is not one of brand {brand_id}'s platforms "
                                 f"({', '.join(brand.platforms)}) {did_you_mean(platform, brand.platforms)}".strip())
        if spec.amazon_only and not is_amazon(platform, app):
            raise ChecklistError(f"{item} applies to Amazon platforms only, not {platform!r}")
    elif platform:
        raise ChecklistError(f"{item} is kept per brand, not per platform (leave platform empty)")
    if spec.subject and not subject:
        raise ChecklistError(f"{item} needs the product type as subject (e.g. SHOES)")
    if not spec.subject and subject:
        raise ChecklistError(f"{item} has no subject (leave it empty)")
    day = parse_day(day)
    status = (status or "").strip().lower() or ("done" if day else "open")
    if status not in STATUSES:
        raise ChecklistError(f"status {status!r}: use one of {', '.join(STATUSES)}")
    return item, platform, subject, status, day


def record(db, brand_id: str, item: str, platform: str, subject: str, status: str, day: str | None,
           value: str | None, note: str | None, source: str, now: str) -> bool:
    """Store one value (later wins) and log it; False when nothing changed."""
    key = [brand_id, item, platform, subject]
    old = db.execute("select status, date, value, note from brand_checklist where brand=? and item=? and platform=? "
                     "and subject=?", key).fetchone()
    if old is not None and tuple(old) == (status, day, value, note):
        return False
    db.execute("insert into brand_checklist (brand, item, platform, subject, status, date, value, note, source, "
               "updated_at) values (?,?,?,?,?,?,?,?,?,?) on conflict (brand, item, platform, subject) do update set "
               "status=excluded.status, date=excluded.date, value=excluded.value, note=excluded.note, "
               "source=excluded.source, updated_at=excluded.updated_at",
               key + [status, day, value, note, source, now])
    db.execute("insert into brand_checklist_log (brand, item, platform, subject, status, date, value, note, source, at) "
               "values (?,?,?,?,?,?,?,?,?,?)", key + [status, day, value, note, source, now])
    return True


@dataclass
class Row:
    item: str
    phase: str
    platform: str
    subject: str
    status: str
    date: str | None
    actor: str
    due: str | None = None
    overdue: bool = False
    text: str = ""

    @property
    def done(self) -> bool:
        return self.status in DONE


def _derived(db, brand_id: str, spec: Item, platform: str) -> tuple[str, str | None]:
    if spec.key == "contacts.received":
        roles = {r for (r,) in db.execute("select distinct role from brand_contacts where brand=?", [brand_id])}
        return ("done", None) if {"reports", "customer_service"} <= roles else ("open", None)
    if spec.key == "activation.started":
        first = db.execute("select min(activated_at) from golive where brand=? and platform=?",
                           [brand_id, platform]).fetchone()[0]
        return ("done", first[:10]) if first else ("open", None)
    kind = {"golive.monitoring": "golive", "data_package.sent": "weekly"}[spec.key]
    first = db.execute("select min(generated_at) from brand_reports where brand=? and kind=?", [brand_id, kind]).fetchone()[0]
    return ("done", first[:10]) if first else ("open", None)


def rows(db, brand_id: str, brand, today: date, app=None) -> list[Row]:
    """Every item the brand needs, in phase order, with status, actor and due date."""
    stored = {(r[0], r[1], r[2]): r for r in db.execute(
        "select item, platform, subject, status, date from brand_checklist where brand=?", [brand_id])}
    out: list[Row] = []
    for spec in ITEMS.values():
        platforms = [p for p in brand.platforms if not spec.amazon_only or is_amazon(p, app)] if spec.per_platform else [""]
        for p in platforms:
            if spec.subject:
                subjects = sorted(s for (i, pl, s) in stored if i == spec.key and pl == p)
            else:
                subjects = [""]
            for s in subjects:
                got = stored.get((spec.key, p, s))
                if got is not None:
                    status, day = got[3], got[4]
                elif spec.derived:
                    status, day = _derived(db, brand_id, spec, p)
                else:
                    status, day = "open", None
                row = Row(spec.key, spec.phase, p, s, status, day, spec.actor, text=spec.text)
                if spec.key == "data_model" and status == "requested" and day:
                    due = date.fromisoformat(day) + timedelta(days=DATA_MODEL_LEAD_DAYS)
                    row.due, row.overdue = due.isoformat(), today > due
                if spec.key == "approval.granted" and status == "refused":
                    row.actor = "integrator"   # a refusal is the integrator's to take up with the platform
                out.append(row)
    return out


def phase_of(items: list[Row]) -> str:
    """The first phase with an open item; ``live`` when all four are done."""
    for phase in PHASES:
        if any(not r.done for r in items if r.phase == phase):
            return phase
    return "live"


def blockers(items: list[Row]) -> list[Row]:
    """What keeps the brand in its phase: the open items of that phase."""
    phase = phase_of(items)
    return [r for r in items if r.phase == phase and not r.done]


def platform_ready(items: list[Row], platform: str) -> tuple[bool, list[str]]:
    """May the brand's SKUs be activated on ``platform``? (approval granted, Amazon registry.)"""
    need = [r for r in items if r.platform == platform and r.item in
            ("approval.granted", "amazon.brand_registry")]
    missing = [r.item for r in need if not r.done]
    return not missing, missing
