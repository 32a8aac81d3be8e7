"""What the platforms said when the listings were pushed, as issues of the completeness report.

A listings push keeps the platform's answer per SKU in ``listing_pushes`` (the Amazon feed
processing report's issues, eBay's offer/inventory errors and warnings, ManoMano's per-SKU
errors). A brand reads one list of what to fix, so each run adds the latest answer of every
platform for its SKUs as issues ``push.<kind>.<code>`` (kind: content or offer) with the
platform's severity, attribute and message, so they show per SKU in ``issues.csv``, the matrix's
``blocking`` column and the diff (a fixed push error shows as fixed).

They are the platform's word on what was *sent*, not on the content as it is now: the listings
gate does not hold a SKU back for them (it re-sends an invalid SKU when its content changes).
"""
from __future__ import annotations

import json
import re

from . import issues as I

PREFIX = "push."
SEVERITIES = {"ERROR": I.ERROR, "WARNING": I.WARNING, "INFO": I.INFO}


def _code(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text or "").strip("_") or "unknown"


def push_issues(db, products: dict) -> list:
    """The latest push answer's issues of ``products`` (sku -> Product) on every platform (none
    without listings)."""
    if not db["listing_pushes"].exists():
        return []
    out = []
    for r in db.query("select platform, sku, kind, state, issues from listing_pushes "
                      "where issues is not null and issues != '[]' order by platform, sku, kind"):
        product = products.get(r["sku"])
        if product is None:
            continue
        try:
            found = json.loads(r["issues"])
        except ValueError:
            continue
        for i in found if isinstance(found, list) else []:
            if not isinstance(i, dict):
                continue
            sev = SEVERITIES.get(str(i.get("severity") or "").upper(),
                                 I.ERROR if r["state"] in ("invalid", "failed") else I.WARNING)
            code = str(i.get("code") or "")
            out.append(I.make(f"{PREFIX}{r['kind']}.{_code(code)}", sev, sku=r["sku"], platform=r["platform"],
                              attribute=str(i.get("attribute") or ""), value=code, state=r["state"], parent=product.parent,
                              detail=str(i.get("message") or "")[:300]))
    return out
