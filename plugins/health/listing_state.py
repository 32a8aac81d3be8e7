"""What Amazon does to a listing, read from the listing itself: a LISTINGS_ITEM_ISSUES_CHANGE
notification names enforcement actions but not whether they are applied yet or only announced.
The listing's ``issues[].enforcements`` say it (``exemption.status``: NOT_EXEMPT = applied,
EXEMPT_UNTIL_EXPIRY_DATE = applied after ``expiryDate``, EXEMPT = not applied), so when the
account's channel can read listings (``capabilities.fetch_listings``) the listing is read *before*
the store is touched (no network call inside a write transaction) and the alert says "blocked",
"hidden" or "at risk until <date>". Without it, the notification's actions alone decide."""
from __future__ import annotations

import logging
from datetime import datetime

from marketd.sdk import MarketdError, TransientError

log = logging.getLogger("marketd.health")
BLOCKING = {"LISTING_SUPPRESSED", "CATALOG_ITEM_REMOVED"}


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def state_of(issues: list[dict], now: datetime) -> tuple[str, str, str] | None:
    """(state, severity, until) of the worst enforcement, or None when nothing is enforced."""
    worst = None
    order = {"blocked": 0, "hidden": 1, "at risk": 2, "attribute suppressed": 3}
    for issue in issues or []:
        enf = issue.get("enforcements") or {}
        actions = {str((a or {}).get("action") or "") for a in enf.get("actions") or []}
        if not actions:
            continue
        ex = enf.get("exemption") or {}
        status = str(ex.get("status") or "NOT_EXEMPT")
        until = _when(ex.get("expiryDate") or "")
        if status == "EXEMPT":
            continue
        if status == "EXEMPT_UNTIL_EXPIRY_DATE" and until and until > now:
            found = ("at risk", "medium", until.date().isoformat())
        elif actions & BLOCKING:
            found = ("blocked", "high", "")
        elif "SEARCH_SUPPRESSED" in actions:
            found = ("hidden", "high", "")
        else:
            found = ("attribute suppressed", "medium", "")
        if worst is None or order[found[0]] < order[worst[0]]:
            worst = found
    return worst


def prefetch(app, account: str, notes: list[dict]) -> None:
    """Read the listings named by issue notifications with enforcement actions; the result goes
    into each notification as ``listing_state`` (None: could not be read, the actions decide)."""
    wanted = sorted({str(n["payload"].get("Sku") or "") for n in notes
                     if n["type"] == "LISTINGS_ITEM_ISSUES_CHANGE" and n["payload"].get("EnforcementActions")} - {""})
    if not wanted or not account:
        return
    try:
        ch = app.channel(account)
    except MarketdError:
        return
    if not getattr(getattr(ch, "capabilities", None), "fetch_listings", False) or not hasattr(ch, "fetch_listings"):
        return
    try:
        found = {r.get("sku"): r for r in ch.fetch_listings(wanted)}
    except (TransientError, MarketdError) as exc:
        log.info("health %s: listings not read (%s); the notifications' actions decide", account, exc)
        return
    now = app.clock.now()
    for n in notes:
        sku = str(n["payload"].get("Sku") or "")
        if sku in found:
            n["listing_state"] = state_of(found[sku].get("issues") or [], now) or ("enforcement not applied", "low", "")
