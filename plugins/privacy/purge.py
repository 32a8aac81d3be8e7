"""The purge: what is removed from an order, and in which order of steps.

Kept after the purge: the order's ids, channel, status, dates, amounts, items (SKU, title,
quantity, prices) and, of the address, the country and the first two characters of the postal
code (regional statistics). Removed: ``buyer_name``; the rest of ``ship_to`` (name, street,
city, phone, e-mail, company); ``customized_url`` of items; in ``raw``, every key Amazon's
"Access Orders PII" lists or that carries a person (``buyer``, ``recipient``, ``shipTo``,
``customizedUrl``, ``giftMessage``, e-mail and phone keys), wherever it is nested.

The connection runs with ``PRAGMA secure_delete=ON`` (freed pages are zeroed) and the job ends
with ``wal_checkpoint(TRUNCATE)``: otherwise the old values would stay readable in free pages and
in the write-ahead log. Backups keep them until they rotate; tax documents (invoices) keep the
buyer's name and address for their legal retention and are not touched here.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from pydantic import Field

from marketd.sdk import PERSONAL_KEYS, JobSettings, expire_archives, scrub_personal

log = logging.getLogger("marketd.privacy")

FINAL = ("SHIPPED", "DELIVERED", "RETURNED", "REFUNDED", "CANCELLED", "LOST")
PII_KEYS = PERSONAL_KEYS   # one list for every plugin (marketd.sdk.PERSONAL_KEYS)
# inboxes whose archived files hold buyers' data: shipment files (addresses), ERP tracking files,
# payout files (eBay's transaction report and payout JSON carry buyer names and user names)
ARCHIVES = ("shipments", "tracking", "settlements")
KEEP_FROM_ADDRESS = ("country", "countryCode", "country_code")


class PrivacySettings(JobSettings):
    buyer_data_days: int = Field(30, ge=1)
    # archived inputs of these inboxes (any state: done, duplicate, error) go after archive_days
    archives: list[str] = Field(default_factory=lambda: list(ARCHIVES))
    archive_days: int | None = Field(None, ge=1)   # None: buyer_data_days


def _v1(db) -> None:
    db.execute("CREATE TABLE purges (id INTEGER PRIMARY KEY, at TEXT NOT NULL, order_key TEXT NOT NULL, "
               "rule TEXT NOT NULL, fields TEXT NOT NULL)")
    db.execute("CREATE INDEX idx_purges_order ON purges (order_key)")


def _v2(db) -> None:
    """Archived files removed because they held buyer data (path relative to inbox/, no content)."""
    db.execute("CREATE TABLE purged_files (id INTEGER PRIMARY KEY, at TEXT NOT NULL, item TEXT NOT NULL, "
               "rule TEXT NOT NULL)")


MIGRATIONS = [(1, _v1), (2, _v2)]

scrub = scrub_personal


def _loads(text):
    try:
        return json.loads(text) if isinstance(text, str) and text else text
    except ValueError:
        return None


def reduced_address(ship_to) -> dict | None:
    to = _loads(ship_to)
    if not isinstance(to, dict):
        return None
    out = {k: to[k] for k in KEEP_FROM_ADDRESS if to.get(k)}
    postal = next((to.get(k) for k in ("postal_code", "postalCode", "zip") if to.get(k)), None)
    if postal:
        out["postal_prefix"] = str(postal)[:2]
    return out or None


def purge_order(app, order: dict, rule: str) -> list[str]:
    """Remove ``order``'s buyer data in one transaction; returns the fields that held some."""
    fields = []
    items = _loads(order.get("items"))
    new_items = None
    if isinstance(items, list):
        new_items = [{k: v for k, v in i.items() if k not in ("customized_url", "gift_message")}
                     if isinstance(i, dict) else i for i in items]
        if new_items != items:
            fields.append("items.customized_url")
    raw = _loads(order.get("raw"))
    new_raw = scrub(raw) if raw is not None else None
    if new_raw != raw:
        fields.append("raw")
    if order.get("buyer_name"):
        fields.append("buyer_name")
    address = reduced_address(order.get("ship_to"))
    if order.get("ship_to") and _loads(order.get("ship_to")) != address:
        fields.append("ship_to")
    with app.store.transaction() as db:
        db.execute("update orders set buyer_name = null, ship_to = ?, items = ?, raw = ? where key = ?",
                   [json.dumps(address) if address else None,
                    json.dumps(new_items) if new_items is not None else order.get("items"),
                    json.dumps(new_raw) if new_raw is not None else order.get("raw"), order["key"]])
        db.execute("insert into purges (at, order_key, rule, fields) values (?, ?, ?, ?)",
                   [app.clock.now().isoformat(), order["key"], rule, json.dumps(fields)])
    return fields


def _expire_files(app, settings: PrivacySettings) -> int:
    """Archived inputs that hold buyer data, past ``archive_days``: deleted, each recorded."""
    days = settings.archive_days or settings.buyer_data_days
    removed = expire_archives(app, settings.archives, days)
    if removed:
        now = app.clock.now().isoformat()
        with app.store.transaction() as db:
            db.conn.executemany("insert into purged_files (at, item, rule) values (?, ?, ?)",
                           [(now, item, f"archive_days={days}") for item in removed])
    return len(removed)


def purge_job(app, since=None) -> dict:
    cfg = (app.config.get("jobs") or {}).get("privacy-purge")
    settings = cfg if isinstance(cfg, PrivacySettings) else PrivacySettings.model_validate(dict(cfg or {}))
    cutoff = (app.clock.now() - timedelta(days=settings.buyer_data_days)).isoformat()
    db = app.store.db
    db.execute("PRAGMA secure_delete=ON")
    marks = ",".join("?" * len(FINAL))
    rows = list(db.query(
        f"select * from orders where upper(status) in ({marks}) and coalesce(updated_at, purchased_at, imported_at) < ? "
        "and not exists (select 1 from purges p where p.order_key = orders.key and p.at > coalesce(orders.updated_at, "
        "orders.purchased_at, '')) "
        "order by key", [*FINAL, cutoff]))
    rule = f"buyer_data_days={settings.buyer_data_days}"
    out = {"purged": 0, "held": 0}
    for order in rows:
        holds = [r for r in app.hook.buyer_data_hold(app=app, order=order) if r]
        if holds:
            out["held"] += 1
            log.info("privacy: %s kept past its retention for now: %s", order["key"], "; ".join(holds))
            continue
        purge_order(app, order, rule)
        app.emit("buyer_data_purged", order=app.store.get_order(order["key"]))
        out["purged"] += 1
    out["files"] = _expire_files(app, settings)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if out["purged"]:
        log.info("privacy: buyer data of %d order(s) purged (%s)", out["purged"], rule)
    return out
