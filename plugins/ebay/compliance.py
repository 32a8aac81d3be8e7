"""eBay's listing health for the health plugin: the Compliance API v1 (``capabilities.account_health``,
report kind ``compliance``).

``getListingViolationsSummary`` says which compliance types have violations; for each,
``getListingViolations`` is read page by page following ``next`` (eBay's ``offset`` wording is
ambiguous across APIs, so offsets are never computed here). The result is one JSON document
(``{"format": "ebay.compliance", "marketplace", "summaries", "listingViolations"}``) written into
``inbox/health/`` by the health plugin like any fetched report. Both calls need the scope
``sell.inventory`` (the channel asks for it when ``compliance_fetch = true``) and the
``X-EBAY-C-MARKETPLACE-ID`` header, which the client sends for every call.

A compliance fetch is one synchronous read, so ``health_report_request`` only names the read and
``health_report_poll`` makes it: nothing is lost if the daemon stops in between.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

BASE = "/sell/compliance/v1"
PAGE = 200
TYPES = ("ASPECTS_ADOPTION", "HTTPS", "OUTSIDE_EBAY_BUYING_AND_SELLING", "PRODUCT_ADOPTION",
         "PRODUCT_ADOPTION_CONFORMANCE", "RETURNS_POLICY")
LIMITS = {"getListingViolationsSummary": (5.0, 10.0), "getListingViolations": (5.0, 10.0)}


def _limits(api) -> None:
    for op, lim in LIMITS.items():
        api.limiter.limits.setdefault(op, lim)


def fetch(api, endpoint: str, marketplace: str) -> dict:
    _limits(api)
    resp = api.call("GET", api.url(endpoint, f"{BASE}/listing_violation_summary"), "getListingViolationsSummary")
    doc = api._json(resp, "getListingViolationsSummary", ok=(200, 204)) or {}
    summaries = doc.get("violationSummaries") or []
    types = sorted({s.get("complianceType") for s in summaries if s.get("complianceType") and s.get("listingCount")})
    violations = []
    for ctype in types:
        url = api.url(endpoint, f"{BASE}/listing_violation", {"compliance_type": ctype, "limit": PAGE})
        while url:
            page = api._json(api.call("GET", url, "getListingViolations"), "getListingViolations", ok=(200, 204)) or {}
            violations += page.get("listingViolations") or []
            nxt = page.get("next")
            if nxt:
                parts = urlsplit(nxt)  # keep our own host (sandbox, tests): eBay's next is absolute
                url = f"{endpoint}{parts.path}" + (f"?{parts.query}" if parts.query else "")
            else:
                url = None
    return {"format": "ebay.compliance", "marketplace": marketplace, "summaries": summaries,
            "listingViolations": violations}


def poll(channel, request_id: str) -> dict:
    data = fetch(channel.api, channel.endpoint, channel.marketplace)
    return {"state": "done", "kind": "compliance", "report_id": request_id, "format": "json",
            "data": json.dumps(data, sort_keys=True).encode()}
