"""The listing audit's rules, as pure functions: what a platform shows against what the brand
supplied (research content-and-health §3.3; design §A9). No I/O; :mod:`.deviations` feeds it.

- **category**: the platform's product type / category id ≠ the one the brand's mapping gives →
  ERROR ``audit.category`` (Amazon moving a listing to another product type is the classic);
- **title**: both sides normalised (NFKC, casefold, a number joined to its unit, punctuation to
  blanks, the brand prefix dropped when only one side has it), Dice on token multisets
  ``2·|A∩B|/(|A|+|B|)`` below the threshold (0.85) → WARNING ``audit.title.similarity``; a key token
  (colour, size, the product noun) missing from the platform's title → ERROR
  ``audit.title.key_token``;
- **price**: ``|remote − expected| > tolerance`` (Decimal) → ERROR ``audit.price``;
- **first image**: no main image → ERROR ``audit.image.missing``; the platform's own copy is
  fetched and compared by dHash (:mod:`.remote_images`): it shows one of the brand's other images
  first → WARNING ``audit.image.order``, an ERROR ``audit.image.kind`` when that image is a packshot
  (a cut-out) where a model photo was expected; a picture that is none of the supplied ones →
  WARNING ``audit.image.different`` (and ``audit.image.kind`` WARNING from its own classification).
  Without the platform's copy (downloads off, fetch failed) the URLs are compared instead;
- **platform issues** (Amazon ``issues[]`` with ``enforcements``): blocked (LISTING_SUPPRESSED or
  CATALOG_ITEM_REMOVED, not exempt or the exemption expired), hidden (SEARCH_SUPPRESSED), at risk
  until <date> (exempt until a future date), attribute suppressed, info (EXEMPT), or a plain issue.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import datetime
from decimal import Decimal

ERROR, WARNING, INFO = "ERROR", "WARNING", "INFO"
_UNIT = re.compile(r"(\d)\s+(mm|cm|m|ml|l|g|kg|w|v|mah|gb|tb|zoll|inch)\b")
_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
STATE_RANK = {"blocked": 0, "hidden": 1, "at_risk": 2, "attribute_suppressed": 3, "issue": 4, "info": 5}


def tokens(text: str) -> list[str]:
    t = unicodedata.normalize("NFKC", text or "").casefold()
    t = _UNIT.sub(r"\1\2", t)
    t = _PUNCT.sub(" ", t).replace("_", " ")
    return t.split()


def strip_brand(a: list[str], b: list[str], brand: str) -> tuple[list[str], list[str]]:
    bt = tokens(brand)
    if not bt:
        return a, b
    n = len(bt)
    a_has, b_has = a[:n] == bt, b[:n] == bt
    if a_has and not b_has:
        a = a[n:]
    elif b_has and not a_has:
        b = b[n:]
    return a, b


def dice(a: list[str], b: list[str]) -> float:
    if not a and not b:
        return 1.0
    common = sum((Counter(a) & Counter(b)).values())
    return 2.0 * common / (len(a) + len(b))


def title_similarity(ours: str, theirs: str, brand: str = "") -> float:
    a, b = strip_brand(tokens(ours), tokens(theirs), brand)
    return dice(a, b)


def _dev(field, rule, severity, shows, should, en, de, state="") -> dict:
    return {"field": field, "rule": rule, "severity": severity, "state": state, "platform_shows": shows,
            "should_show": should, "message_en": en, "message_de": de}


def check_category(expected: str, remote: str) -> list[dict]:
    if expected and remote and expected.casefold() != remote.casefold():
        return [_dev("category", "audit.category", ERROR, remote, expected,
                     f"listed under {remote}, the brand's mapping says {expected}",
                     f"gelistet unter {remote}, laut Zuordnung der Marke {expected}")]
    return []


def check_title(ours: str, theirs: str, *, brand: str, key_tokens: list[str], threshold: float) -> list[dict]:
    if not ours:
        return []
    if not theirs:
        return [_dev("title", "audit.title.missing", ERROR, "", ours, "the platform shows no title",
                     "die Plattform zeigt keinen Titel")]
    out = []
    score = title_similarity(ours, theirs, brand)
    if score < threshold:
        out.append(_dev("title", "audit.title.similarity", WARNING, theirs, ours,
                        f"title differs from the supplied one (similarity {score:.2f} < {threshold:.2f})",
                        f"Titel weicht vom gelieferten ab (Ähnlichkeit {score:.2f} < {threshold:.2f})"))
    have = set(tokens(theirs))
    for key in key_tokens:
        kt = tokens(key)
        if kt and not all(t in have for t in kt):
            out.append(_dev("title", "audit.title.key_token", ERROR, theirs, ours,
                            f"the title lacks '{key}'", f"im Titel fehlt '{key}'"))
    return out


def check_price(expected: Decimal | None, remote: Decimal | None, currency: str, tolerance: Decimal) -> list[dict]:
    if expected is None:
        return []
    if remote is None:
        return [_dev("price", "audit.price.missing", ERROR, "", f"{expected} {currency}", "the platform shows no price",
                     "die Plattform zeigt keinen Preis")]
    if abs(remote - expected) > tolerance:
        return [_dev("price", "audit.price", ERROR, f"{remote} {currency}", f"{expected} {currency}",
                     f"price {remote} differs from {expected} by more than {tolerance}",
                     f"Preis {remote} weicht um mehr als {tolerance} von {expected} ab")]
    return []


def check_image(ours: list[str], kinds: dict[str, str], remote: str, expected_kind: str,
                seen: dict | None = None) -> list[dict]:
    """``ours``: the brand's image references in order; ``kinds``: reference -> packshot | model |
    uncertain (the content check's classifier); ``remote``: the platform's main image URL;
    ``seen``: what the platform's own copy of that image is (:func:`.remote_images.compare`:
    the supplied image it shows by dHash, the distance, its own kind), or None when it could not
    be fetched — then only URLs are compared (a platform that re-hosts images gives no finding)."""
    if not ours:
        return []
    if not remote:
        return [_dev("main_image", "audit.image.missing", ERROR, "", ours[0], "the platform shows no main image",
                     "die Plattform zeigt kein Hauptbild")]
    out = []
    if seen is not None:
        pos = seen["position"]
        if pos == 1:
            return []
        if pos is None:
            dist = seen["distance"]
            detail = f" (closest supplied image: {dist} of 64 bits differ)" if dist is not None else ""
            out.append(_dev("main_image", "audit.image.different", WARNING, remote, ours[0],
                            f"the platform's main image is none of the supplied images{detail}",
                            f"das Hauptbild der Plattform ist keines der gelieferten Bilder{detail}"))
            return out + _kind(seen["kind"], expected_kind, remote, ours[0], WARNING)
        out.append(_dev("main_image", "audit.image.order", WARNING, remote, ours[0],
                        f"the platform shows image {pos} first, not image 1",
                        f"die Plattform zeigt Bild {pos} zuerst, nicht Bild 1"))
        kind = kinds.get(ours[pos - 1]) if pos <= len(ours) else None
        return out + _kind(kind or seen["kind"], expected_kind, remote, ours[0], ERROR)
    if remote in ours and remote != ours[0]:
        pos = ours.index(remote) + 1
        out.append(_dev("main_image", "audit.image.order", WARNING, remote, ours[0],
                        f"the platform shows image {pos} first, not image 1",
                        f"die Plattform zeigt Bild {pos} zuerst, nicht Bild 1"))
    sev = ERROR if remote in ours and remote != ours[0] else WARNING
    return out + _kind(kinds.get(remote), expected_kind, remote, ours[0], sev)


def _kind(kind: str | None, expected_kind: str, remote: str, first: str, severity: str) -> list[dict]:
    """The first image's kind against the expected one: a cut-out (packshot) shown first where a
    model photo belongs is the error brands name; ``uncertain`` never gives a finding."""
    if expected_kind not in ("packshot", "model") or kind not in ("packshot", "model") or kind == expected_kind:
        return []
    what = {"packshot": "a cut-out (packshot)", "model": "a model photo"}
    was = {"packshot": "ein Freisteller", "model": "ein Modelbild"}
    return [_dev("main_image", "audit.image.kind", severity, f"{remote} ({kind})", f"{first} ({expected_kind})",
                 f"the first image is {what[kind]}, {what[expected_kind]} is expected",
                 f"das erste Bild ist {was[kind]}, erwartet {was[expected_kind]}")]


def issue_state(issue: dict, now: datetime) -> tuple[str, str, str]:
    """(state, severity, until) of one platform issue (Listings Items ``Issue``)."""
    enf = issue.get("enforcements") or {}
    actions = {a.get("action") for a in enf.get("actions") or [] if isinstance(a, dict)}
    ex = enf.get("exemption") or {}
    status = ex.get("status") or ""
    until = ""
    if actions:
        if status == "EXEMPT":
            return "info", INFO, ""
        if status == "EXEMPT_UNTIL_EXPIRY_DATE":
            until = str(ex.get("expiryDate") or "")
            try:
                expiry = datetime.fromisoformat(until.replace("Z", "+00:00"))
            except ValueError:
                expiry = None
            if expiry is not None and expiry > now:
                return "at_risk", WARNING, until
        if actions & {"LISTING_SUPPRESSED", "CATALOG_ITEM_REMOVED"}:
            return "blocked", ERROR, until
        if "SEARCH_SUPPRESSED" in actions:
            return "hidden", ERROR, until
        if "ATTRIBUTE_SUPPRESSED" in actions:
            return "attribute_suppressed", WARNING, until
    sev = str(issue.get("severity") or "")
    return "issue", WARNING if sev == "ERROR" else INFO, ""


def check_issues(issues: list[dict], now: datetime) -> list[dict]:
    out = []
    for i in issues:
        state, sev, until = issue_state(i, now)
        attrs = ", ".join(i.get("attributeNames") or []) or "listing"
        label = f"at risk until {until[:10]}" if state == "at_risk" else state.replace("_", " ")
        out.append(_dev(attrs, f"audit.issue.{i.get('code') or 'unknown'}", sev, str(i.get("message") or ""),
                        "no issue", f"{label}: {i.get('message', '')}",
                        f"{'gefährdet bis ' + until[:10] if state == 'at_risk' else state}: {i.get('message', '')}",
                        state=state))
    return out


def listing_state(devs: list[dict]) -> str:
    """The worst issue state of a listing (blocked > hidden > at risk > attribute suppressed > issue)."""
    states = [d["state"] for d in devs if d.get("state")]
    return min(states, key=lambda s: STATE_RANK.get(s, 9)) if states else ""
