"""eBay listing violations (Compliance API, fetched by the eBay channel) → one alert per listing
and compliance type: OUT_OF_COMPLIANCE high (eBay may already restrict the listing), AT_RISK
medium; a later fetch without the violation resolves it. The fetch is a full snapshot, so what
it no longer lists is cleared."""
from __future__ import annotations

import json

from marketd.sdk import FileRejected, csv_text

from . import alerts
from .jsonfile import load

SOURCE = "ebay_compliance"
HEADER = ["listing_id", "sku", "compliance_type", "state", "reason", "message"]


def ingest(ctx, account: str) -> dict:
    doc = load(ctx.path.read_bytes(), "compliance file")
    if not isinstance(doc, dict) or not isinstance(doc.get("listingViolations"), list):
        raise FileRejected("not_compliance", "the JSON has no listingViolations list", where="the top-level object",
                           fix="drop the file as fetched")
    db = ctx.db
    now = ctx.app.clock.now().isoformat()
    mkt = str(doc.get("marketplace") or "")
    present, rows = set(), []
    for lv in doc["listingViolations"]:
        if not isinstance(lv, dict):
            continue
        details = [d for d in lv.get("violations") or [] if isinstance(d, dict)]
        states = {str(d.get("complianceState") or "") for d in details}
        severity = "high" if "OUT_OF_COMPLIANCE" in states else "medium"
        lid, sku, ctype = str(lv.get("listingId") or ""), str(lv.get("sku") or ""), str(lv.get("complianceType") or "")
        key = alerts.key_of(SOURCE, account, lid, ctype)
        present.add(key)
        reasons = sorted({str(d.get("reasonCode") or "") for d in details})
        alerts.raise_alert(db, key=key, severity=severity, source=SOURCE, account=account, marketplace=mkt, sku=sku,
                           now=now, title=f"eBay {ctype} violation on listing {lid}"
                                          + (f" ({sku})" if sku else "") + f": {', '.join(reasons)}",
                           detail={"states": sorted(states), "messages": [str(d.get("message") or "")[:200]
                                                                         for d in details]})
        for d in details:
            rows.append([lid, sku, ctype, d.get("complianceState"), d.get("reasonCode"), d.get("message")])
    resolved = alerts.resolve_absent(db, source=SOURCE, account=account, present=present, now=now)
    ctx.output(f"health/{account or '_'}/ebay-violations-{ctx.stamp}.csv", csv_text(HEADER, rows))
    return {"kind": "compliance", "account": account, "listings": len(present), "resolved": resolved}
