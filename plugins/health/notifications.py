"""Amazon notifications → alerts, once each.

Where they come from: JSON files dropped into ``inbox/notifications/`` (SQS messages a seller
without AWS saves, or exports) — one object, an array, or JSON Lines; an SQS wrapper
``{"MessageId", "Body": "<json>"}`` is unwrapped; envelope keys are matched whatever the case of
their first letter (``ACCOUNT_STATUS_CHANGED`` arrives in lower camel case).

Deduplicated on ``(NotificationType, NotificationId)``: Amazon delivers at least once, and its
official examples reuse one NotificationId across types, so the id alone would drop real
notifications. The notification row and its alert share the file's transaction: taken twice,
the second is a no-op.

What each type raises (key: account, marketplace, SKU/ASIN, what):

- ``ACCOUNT_STATUS_CHANGED``: AT_RISK → high, DEACTIVATED (or unknown) → critical, NORMAL resolves;
- ``LISTINGS_ITEM_ISSUES_CHANGE``: enforcement LISTING_SUPPRESSED / CATALOG_ITEM_REMOVED →
  "blocked" high, SEARCH_SUPPRESSED → "hidden" high, ATTRIBUTE_SUPPRESSED → medium, issues without
  enforcement → medium (ERROR) / low (WARNING); ``Severities: [NONE]`` resolves the SKU's;
- ``LISTINGS_ITEM_STATUS_CHANGE`` (also spelt ``…_CHANGED``): DELETED → high, not BUYABLE →
  high, not DISCOVERABLE → medium, both back → resolved;
- ``ITEM_PRODUCT_TYPE_CHANGE``: high (Amazon moved the ASIN to another product type);
- ``BRANDED_ITEM_CONTENT_CHANGE``: title or an image changed → medium, other attributes → low;
- ``PRODUCT_TYPE_DEFINITIONS_CHANGE``: no alert; announced to the content plugin through the
  ``data_models_changed`` hook (source ``<type>:<id>``, recorded once).

The two listing types are also announced through the ``listing_changed`` hook (the content plugin
re-pulls and audits that SKU).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter

from marketd.sdk import FileRejected

from . import alerts, drift
from .jsonfile import loads, text_of
from .lookup import Lookup

log = logging.getLogger("marketd.health")
SOURCE = "notif"
TYPES = {
    "ACCOUNT_STATUS_CHANGED": "2021-01-01",
    "LISTINGS_ITEM_ISSUES_CHANGE": "2023-12-13",
    "LISTINGS_ITEM_STATUS_CHANGE": "1.0",
    "ITEM_PRODUCT_TYPE_CHANGE": "1.0",
    "BRANDED_ITEM_CONTENT_CHANGE": "1.0",
    "PRODUCT_TYPE_DEFINITIONS_CHANGE": "1.0",
}
SPELLINGS = {"LISTINGS_ITEM_STATUS_CHANGED": "LISTINGS_ITEM_STATUS_CHANGE"}
BLOCKING = {"LISTING_SUPPRESSED", "CATALOG_ITEM_REMOVED"}


def _get(d: dict, name: str):
    """``d[name]`` with the first letter in either case (``Payload`` / ``payload``)."""
    if not isinstance(d, dict):
        return None
    if name in d:
        return d[name]
    alt = name[0].swapcase() + name[1:]
    return d.get(alt)


def documents(data: bytes) -> list:
    """The notification objects in a file: one object, an array, or JSON Lines."""
    text = text_of(data, "notification file") if data else ""
    stripped = text.strip()
    if not stripped:
        raise FileRejected("empty_file", "the file is empty", fix="drop the notification JSON as Amazon sent it")
    if stripped[0] == "[" or "\n" not in stripped:
        doc = loads(stripped, "notification file")
        docs = doc if isinstance(doc, list) else [doc]
    else:
        try:
            doc = loads(stripped, "notification file")
            docs = doc if isinstance(doc, list) else [doc]
        except FileRejected:  # not one document: JSON Lines, one notification per line
            docs = [loads(line, f"line {n} (JSON Lines)", line=n)
                    for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    out = []
    for d in docs:
        if isinstance(d, dict) and isinstance(_get(d, "Body"), str):  # an SQS message as exported
            d = loads(_get(d, "Body"), "SQS message Body")
        out.append(d)
    return out


def normalise(doc, where: str = "the notification") -> dict:
    if not isinstance(doc, dict):
        raise FileRejected("notification", "a notification must be a JSON object", where=where,
                           fix="drop Amazon's notification JSON (NotificationType, Payload, NotificationMetadata)")
    ntype = str(_get(doc, "NotificationType") or "")
    ntype = SPELLINGS.get(ntype, ntype)
    payload = _get(doc, "Payload")
    if not ntype or not isinstance(payload, dict):
        raise FileRejected("notification", "the JSON has no NotificationType or no Payload object", where=where,
                           fix="drop Amazon's notification JSON (NotificationType, Payload, NotificationMetadata)")
    meta = _get(doc, "NotificationMetadata") or {}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    nid = str(_get(meta, "NotificationId") or "") or "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return {"type": ntype, "id": nid, "payload": payload, "event_time": str(_get(doc, "EventTime") or ""),
            "version": str(_get(doc, "PayloadVersion") or ""), "sha256": hashlib.sha256(canonical.encode()).hexdigest()}


def _account(app, settings, payload: dict) -> str:
    seller = None
    for key in ("SellerId", "sellerId"):
        seller = seller or payload.get(key)
    for inner in payload.values():
        if isinstance(inner, dict) and not seller:
            seller = inner.get("SellerId") or inner.get("sellerId")
    if seller and seller in (settings.get("accounts_by_seller") or {}):
        return settings["accounts_by_seller"][seller]
    if settings.get("account"):
        return settings["account"]
    channels = list(app.config.get("channels") or {})
    return channels[0] if len(channels) == 1 else (seller or "")


def _sku_for_asin(db, asin: str) -> str:
    for table in ("health_voc", "health_returns"):
        r = db.execute(f"select sku from {table} where asin = ? and sku != '' limit 1", [asin]).fetchone()
        if r:
            return r[0]
    return Lookup(db).sku_for_asin(asin)  # order lines carry sku and asin


def apply(app, db, n: dict, account: str, now: str) -> list[str]:
    """The alert effects of one notification; returns what happened (for the summary)."""
    p, t = n["payload"], n["type"]
    done: list[str] = []
    look = Lookup(db, account)

    def raise_(parts, severity, title, **kw):
        key = alerts.key_of(SOURCE, account, *parts)
        if kw.get("sku") and not kw.get("brand"):
            kw["brand"] = look.brand_of(kw["sku"])   # so `marketd health --brand` and the digest group by brand
        done.append(alerts.raise_alert(db, key=key, severity=severity, source=SOURCE, title=title, now=now,
                                       account=account, detail={"notification": f"{t}:{n['id']}", **kw.pop("detail", {})},
                                       **kw))

    def resolve(parts):
        if alerts.resolve(db, alerts.key_of(SOURCE, account, *parts), now):
            done.append("resolved")

    if t == "ACCOUNT_STATUS_CHANGED":
        inner = _get(p, "accountStatusChangeNotification") or p
        cur = str(_get(inner, "currentAccountStatus") or "")
        prev = str(_get(inner, "previousAccountStatus") or "")
        if cur == "NORMAL":
            resolve(("", "account_status"))
        else:
            raise_(("", "account_status"), "high" if cur == "AT_RISK" else "critical",
                   f"account status changed {prev or '?'} -> {cur or '?'}", detail={"previous": prev, "current": cur})
    elif t == "LISTINGS_ITEM_ISSUES_CHANGE":
        sku, mkt, asin = str(p.get("Sku") or ""), str(p.get("MarketplaceId") or ""), str(p.get("Asin") or "")
        _announce(app, t, n, account, mkt, sku)
        sev = [str(s) for s in p.get("Severities") or []]
        actions = {str(a) for a in p.get("EnforcementActions") or []}
        if sev == ["NONE"] or (not sev and not actions):
            resolve((mkt, sku, "listing_issues"))
        elif n.get("listing_state"):  # the listing itself was read: applied, announced or exempt
            state, severity, until = n["listing_state"]
            raise_((mkt, sku, "listing_issues"), severity,
                   f"listing {sku} {state}" + (f" until {until}" if until else "")
                   + f" ({', '.join(sorted(actions))})", marketplace=mkt, sku=sku, asin=asin,
                   detail={"severities": sev, "actions": sorted(actions), "state": state, "until": until})
        else:
            if actions & BLOCKING:
                severity, state = "high", "blocked"
            elif "SEARCH_SUPPRESSED" in actions:
                severity, state = "high", "hidden"
            elif actions:
                severity, state = "medium", "attribute suppressed"
            else:
                severity, state = ("medium" if "ERROR" in sev else "low"), "has issues"
            raise_((mkt, sku, "listing_issues"), severity, f"listing {sku} {state} ({', '.join(sorted(actions)) or '/'.join(sev)})",
                   marketplace=mkt, sku=sku, asin=asin, detail={"severities": sev, "actions": sorted(actions)})
    elif t == "LISTINGS_ITEM_STATUS_CHANGE":
        sku, mkt, asin = str(p.get("Sku") or ""), str(p.get("MarketplaceId") or ""), str(p.get("Asin") or "")
        _announce(app, t, n, account, mkt, sku)
        status = {str(s) for s in p.get("Status") or []}
        if "DELETED" in status:
            raise_((mkt, sku, "listing_status"), "high", f"listing {sku} deleted", marketplace=mkt, sku=sku, asin=asin)
        elif "BUYABLE" not in status:
            raise_((mkt, sku, "listing_status"), "high", f"listing {sku} not buyable ({', '.join(sorted(status)) or 'no status'})",
                   marketplace=mkt, sku=sku, asin=asin)
        elif "DISCOVERABLE" not in status:
            raise_((mkt, sku, "listing_status"), "medium", f"listing {sku} buyable but not discoverable",
                   marketplace=mkt, sku=sku, asin=asin)
        else:
            resolve((mkt, sku, "listing_status"))
    elif t == "ITEM_PRODUCT_TYPE_CHANGE":
        mkt, asin = str(p.get("MarketplaceId") or ""), str(p.get("Asin") or "")
        raise_((mkt, asin, "product_type"), "high",
               f"Amazon changed the product type of {asin}: {p.get('PreviousProductType')} -> {p.get('CurrentProductType')}",
               marketplace=mkt, asin=asin, sku=_sku_for_asin(db, asin),
               detail={"previous": p.get("PreviousProductType"), "current": p.get("CurrentProductType")})
    elif t == "BRANDED_ITEM_CONTENT_CHANGE":
        mkt, asin = str(p.get("MarketplaceId") or ""), str(p.get("Asin") or "")
        changed = [str(a) for a in p.get("AttributesChanged") or []]
        major = [a for a in changed if a == "item_name" or a.endswith("image_locator")]
        raise_((mkt, asin, "branded_content", n["id"]), "medium" if major else "low",
               f"Amazon changed {', '.join(changed) or 'content'} of {asin} (brand {p.get('BrandName')})",
               marketplace=mkt, asin=asin, brand=str(p.get("BrandName") or ""), sku=_sku_for_asin(db, asin),
               detail={"attributes": changed})
    elif t == "PRODUCT_TYPE_DEFINITIONS_CHANGE":
        app.emit("data_models_changed", platform="amazon", marketplace=str(p.get("MarketplaceId") or ""),
                 models=[str(x) for x in p.get("NewProductTypes") or []], source=f"{t}:{n['id']}")
        done.append("models_announced")
    else:
        log.info("notification type %s is not one account health acts on; kept", t)
        done.append("ignored")
    return done


def _announce(app, t: str, n: dict, account: str, marketplace: str, sku: str) -> None:
    """Tell other plugins a listing changed (the content plugin audits it); no import of theirs."""
    if sku:
        app.emit("listing_changed", platform="amazon", account=account, marketplace=marketplace, sku=sku, reason=t,
                 source=f"{t}:{n['id']}")


def take(app, db, n: dict, account: str, source: str, raw: str) -> list[str] | None:
    """Record and apply one notification; None when it was taken before."""
    if db.execute("select 1 from health_notifications where type = ? and notification_id = ?",
                  [n["type"], n["id"]]).fetchone():
        return None
    now = app.clock.now().isoformat()
    db.execute("insert into health_notifications (type, notification_id, account, received_at, event_time, "
               "payload_sha256, source, raw) values (?, ?, ?, ?, ?, ?, ?, ?)",
               [n["type"], n["id"], account, now, n["event_time"], n["sha256"], source, raw])
    return apply(app, db, n, account, now)


def ingest_file(ctx) -> dict:
    from .listing_state import prefetch

    docs = documents(ctx.path.read_bytes())
    new = dup = 0
    effects: dict[str, int] = {}
    drifted: dict[str, Counter] = {}
    notes = [normalise(d, f"notification {i} of {len(docs)}") for i, d in enumerate(docs, 1)]
    accounts = [_account(ctx.app, ctx.settings, n["payload"]) for n in notes]
    for account in sorted(set(accounts)):  # network before the store is touched
        prefetch(ctx.app, account, [n for n, a in zip(notes, accounts) if a == account])
    for d, n, account in zip(docs, notes, accounts):
        done = take(ctx.app, ctx.db, n, account, ctx.name, json.dumps(d, sort_keys=True)[:20000])
        if done is None:
            dup += 1
            continue
        new += 1
        drifted.setdefault(account, Counter()).update(drift.notification(d, n["type"]))
        for what in done:
            effects[what] = effects.get(what, 0) + 1
    now = ctx.app.clock.now().isoformat()
    n_drift = sum(drift.record(ctx.db, kind="notifications", account=a, source=ctx.name, found=found, now=now)
                  for a, found in sorted(drifted.items()))
    return {"notifications": len(docs), "new": new, "duplicates": dup, "effects": effects, "schema_drift": n_drift}


# -- subscriptions through the channel --------------------------------------------------------------
def _notification_channel(app, account: str):
    from marketd.sdk import ConfigError

    ch = app.channel(account)
    if not getattr(getattr(ch, "capabilities", None), "notifications", False):
        raise ConfigError(f"channel {account!r} ({getattr(ch, 'type', '?')}) has no notification subscriptions")
    return ch


def setup_subscriptions(app, account: str, queue_arn: str) -> dict:
    return _notification_channel(app, account).notifications_setup(queue_arn, dict(TYPES))


def subscriptions_status(app, account: str) -> dict:
    return _notification_channel(app, account).notifications_status()
