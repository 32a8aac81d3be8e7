"""The Compliance API v1 side of the fake eBay (``fake.py``): listing violations the seller has,
as ``getListingViolationsSummary`` and ``getListingViolations`` (paged with ``offset``/``limit``
and an absolute ``next``) report them. Both want the ``sell.inventory`` scope; the list wants the
``X-EBAY-C-MARKETPLACE-ID`` header (required in the contract)."""
from __future__ import annotations

from urllib.parse import urlencode

from marketd.sdk.fakes import Request

from .fake_orders import Reply, error

COMPLIANCE = "/sell/compliance/v1"
COMPLIANCE_ROUTES = [
    ("GET", COMPLIANCE + r"/listing_violation_summary", "getListingViolationsSummary"),
    ("GET", COMPLIANCE + r"/listing_violation", "getListingViolations"),
]
COMPLIANCE_OPS = {"getListingViolationsSummary", "getListingViolations"}


class ComplianceApi:
    def _init_compliance(self) -> None:
        self.listing_violations: list[dict] = []

    def add_violation(self, *, listing_id: str, sku: str, compliance_type: str = "ASPECTS_ADOPTION",
                      reason: str = "MISSING_OR_INVALID_REQUIRED_ASPECTS", state: str = "OUT_OF_COMPLIANCE",
                      message: str = "Required item specifics are missing.") -> None:
        with self.lock:
            self.listing_violations.append({
                "complianceType": compliance_type, "listingId": listing_id, "sku": sku, "offerId": f"O{listing_id}",
                "violations": [{"reasonCode": reason, "message": message, "complianceState": state,
                                "violationData": [{"name": "Brand", "value": ""}]}]})

    def clear_violations(self, listing_id: str) -> None:
        with self.lock:
            self.listing_violations = [v for v in self.listing_violations if v["listingId"] != listing_id]

    def _op_getListingViolationsSummary(self, req: Request) -> Reply:
        wanted = set(filter(None, req.q("compliance_type", "").split(",")))
        counts: dict[str, int] = {}
        for v in self.listing_violations:
            if not wanted or v["complianceType"] in wanted:
                counts[v["complianceType"]] = counts.get(v["complianceType"], 0) + 1
        if not counts:
            return Reply(204, b"")
        mkt = req.headers.get("x-ebay-c-marketplace-id", self.marketplace)
        return Reply(200, {"violationSummaries": [{"complianceType": t, "marketplaceId": mkt, "listingCount": n}
                                                  for t, n in sorted(counts.items())]})

    def _op_getListingViolations(self, req: Request) -> Reply:
        if not req.headers.get("x-ebay-c-marketplace-id"):
            return Reply(400, error(2003, "Internal error", long="X-EBAY-C-MARKETPLACE-ID header is missing"))
        ctype = req.q("compliance_type", "")
        offset, limit = int(req.q("offset", "0") or 0), int(req.q("limit", "100") or 100)
        if limit < 1 or limit > 200:
            return Reply(400, error(2004, "Invalid request", long="limit must be 1-200"))
        rows = [v for v in self.listing_violations if not ctype or v["complianceType"] == ctype]
        if not rows:
            return Reply(204, b"")
        page = rows[offset:offset + limit]
        base = f"https://api.ebay.com{COMPLIANCE}/listing_violation"
        out = {"href": f"{base}?{urlencode({'compliance_type': ctype, 'offset': offset, 'limit': limit})}",
               "offset": offset, "limit": limit, "total": len(rows), "listingViolations": page}
        if offset + limit < len(rows):
            out["next"] = f"{base}?{urlencode({'compliance_type': ctype, 'offset': offset + limit, 'limit': limit})}"
        return Reply(200, out)
