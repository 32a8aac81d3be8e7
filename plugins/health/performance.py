"""Amazon's seller performance report (``GET_V2_SELLER_PERFORMANCE_REPORT``, JSON) read tolerantly,
and the alerts it raises.

Tolerant because the official schema and the documents disagree (design notes, trap 5): the
schema's own example has status ``SUSPENDED`` outside its enum and spells
``prefulfillmentCancelRate``, ``warningState``, ``documentRequest``; the rating status is named
``ahrStatus`` in documents and ``accountHealthRatingStatus`` in the schema; third-party fixtures
carry ``GREEN`` and ``LESS_THAN_OR_EQUAL``. So aliases are folded, every block is optional,
unknown values are kept verbatim, and a report is refused only when it is not JSON or has
neither ``accountStatuses`` nor ``performanceMetrics``.

Rules (key = account, marketplace, metric[, sub]; an alert stays while its condition holds and is
resolved by the next report that clears it):

- account status DEACTIVATED or anything unknown (SUSPENDED) → critical; AT_RISK → high;
- a metric with status BAD, an account health rating other than GREAT/GREEN, a warning state BAD → high;
- a rate beyond its target per ``targetCondition`` while Amazon still says GOOD → medium;
- a listing-level block with ``defectsCount > 0``: BAD → high, otherwise medium.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from marketd.sdk import FileRejected

ALIASES = {"prefulfillmentCancelRate": "preFulfillmentCancellationRate", "warningState": "warningStates",
           "documentRequest": "documentRequests"}
RATE_METRICS = ("lateShipmentRate", "preFulfillmentCancellationRate", "validTrackingRate", "onTimeDeliveryRate",
                "unitOnTimeDeliveryRate", "invoiceDefectRate")
LISTING_BLOCKS = ("listingPolicyViolations", "productAuthenticityCustomerComplaints",
                  "productConditionCustomerComplaints", "productSafetyCustomerComplaints",
                  "receivedIntellectualPropertyComplaints", "restrictedProductPolicyViolations",
                  "suspectedIntellectualPropertyViolations", "foodAndProductSafetyIssues", "otherPolicyViolations",
                  "documentRequests")
COUNT_FIELDS = ("defectsCount", "orderCount", "lateShipmentCount", "cancellationCount", "shipmentCount",
                "validTrackingCount", "onTimeDeliveryCount", "unitOnTimeDeliveryCount")
GOOD_RATINGS = {"GREAT", "GREEN"}


@dataclass
class Metric:
    marketplace: str
    metric: str
    sub: str
    status: str
    rate: Decimal | None
    target: Decimal | None
    condition: str
    count: int | None
    reporting_from: str
    reporting_to: str
    raw: dict
    listing: bool = False


@dataclass
class Report:
    statuses: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)
    ratings: list[tuple[str, str, str]] = field(default_factory=list)   # marketplace, status, score
    unknown: list[str] = field(default_factory=list)                  # values outside the schema's enums
    drift: Counter = field(default_factory=Counter)                   # deviations from the schema, by path


def _dec(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _int(value) -> int | None:
    if isinstance(value, dict):
        value = value.get("count")
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _fold(block: dict) -> dict:
    return {ALIASES.get(k, k): v for k, v in block.items()}


def _metric(mkt: str, name: str, sub: str, block: dict, listing: bool) -> Metric:
    rng = block.get("reportingDateRange") or {}
    count = None
    for f in COUNT_FIELDS:
        if f in block:
            count = _int(block[f])
            if f == "defectsCount" or not listing:
                break
    if listing:
        count = _int(block.get("defectsCount"))
    return Metric(mkt, name, sub, str(block.get("status") or ""), _dec(block.get("rate")),
                  _dec(block.get("targetValue")), str(block.get("targetCondition") or ""), count,
                  str(rng.get("reportingDateFrom") or ""), str(rng.get("reportingDateTo") or ""), block, listing)


def parse(data: bytes) -> Report:
    from .jsonfile import load

    doc = load(data, "performance report")
    if not isinstance(doc, dict) or not (doc.get("accountStatuses") or doc.get("performanceMetrics")):
        raise FileRejected("not_performance_report", "the JSON has neither accountStatuses nor performanceMetrics",
                           where="the top-level object",
                           fix="drop a GET_V2_SELLER_PERFORMANCE_REPORT document (or an Amazon notification into "
                               "inbox/notifications/)")
    from .drift import account_health

    rep = Report(drift=account_health(doc))
    statuses = [s for s in doc.get("accountStatuses") or [] if isinstance(s, dict)]
    for s in statuses:
        st = str(s.get("status") or "")
        rep.statuses.append((str(s.get("marketplaceId") or ""), st))
        if st not in ("NORMAL", "AT_RISK", "DEACTIVATED"):
            rep.unknown.append(f"accountStatuses.status={st}")
    only_mkt = rep.statuses[0][0] if len(rep.statuses) == 1 else ""
    for pm in doc.get("performanceMetrics") or []:
        if not isinstance(pm, dict):
            continue
        pm = _fold(pm)
        mkt = str(pm.get("marketplaceId") or only_mkt)
        odr = pm.get("orderDefectRate")
        if isinstance(odr, dict):
            for sub in ("afn", "mfn"):
                if isinstance(odr.get(sub), dict):
                    rep.metrics.append(_metric(mkt, "orderDefectRate", sub, odr[sub], False))
        for name in RATE_METRICS:
            if isinstance(pm.get(name), dict):
                rep.metrics.append(_metric(mkt, name, "", pm[name], False))
        for name in LISTING_BLOCKS:
            if isinstance(pm.get(name), dict):
                rep.metrics.append(_metric(mkt, name, "", pm[name], True))
        for w in pm.get("warningStates") or []:
            if isinstance(w, dict):
                rep.warnings.append((mkt, str(w.get("warningType") or ""), str(w.get("status") or "")))
        ahr = pm.get("accountHealthRating")
        if isinstance(ahr, dict):
            st = str(ahr.get("accountHealthRatingStatus") or ahr.get("ahrStatus") or "")
            rep.ratings.append((mkt, st, str(ahr.get("ahrScore") or "")))
            if st and st not in ("GREAT", "WARNED"):
                rep.unknown.append(f"accountHealthRating.status={st}")
    for m in rep.metrics:
        if m.condition and m.condition not in ("GREATER_THAN", "LESS_THAN", "EQUALS"):
            rep.unknown.append(f"{m.metric}.targetCondition={m.condition}")
    return rep


def breach(m: Metric) -> bool | None:
    """Is the value beyond its target? None when it cannot be judged (unknown condition, no value)."""
    value = Decimal(m.count) if m.listing and m.count is not None else m.rate
    if value is None or m.target is None:
        return None
    cond = m.condition
    if cond == "LESS_THAN":
        return value >= m.target
    if cond == "GREATER_THAN":
        return value <= m.target
    if cond == "EQUALS":
        return value != m.target
    if cond == "LESS_THAN_OR_EQUAL":
        return value > m.target
    if cond == "GREATER_THAN_OR_EQUAL":
        return value < m.target
    return None


@dataclass
class Finding:
    key_parts: tuple
    severity: str
    title: str
    marketplace: str
    detail: dict


def findings(rep: Report) -> list[Finding]:
    out: list[Finding] = []
    for mkt, st in rep.statuses:
        if st == "NORMAL":
            continue
        sev = "high" if st == "AT_RISK" else "critical"
        out.append(Finding(("status",), sev, f"account status {st} in {mkt or 'the marketplace'}", mkt,
                           {"status": st}))
    for m in rep.metrics:
        label = m.metric + (f".{m.sub}" if m.sub else "")
        detail = {"status": m.status, "rate": str(m.rate) if m.rate is not None else None,
                  "target": str(m.target) if m.target is not None else None, "condition": m.condition,
                  "count": m.count, "to": m.reporting_to}
        if m.listing:
            if m.count and m.count > 0:
                sev = "high" if m.status == "BAD" else "medium"
                out.append(Finding((m.metric,), sev, f"{label}: {m.count} defect(s), status {m.status or '?'}",
                                   m.marketplace, detail))
            continue
        if m.status == "BAD":
            out.append(Finding((m.metric, m.sub), "high", f"{label} is BAD (rate {m.rate}, target {m.condition} "
                               f"{m.target})", m.marketplace, detail))
        elif breach(m):
            out.append(Finding((m.metric, m.sub), "medium", f"{label} beyond target: {m.rate} vs {m.condition} "
                               f"{m.target} (Amazon says {m.status or '?'})", m.marketplace, detail))
    for mkt, wtype, st in rep.warnings:
        if st == "BAD":
            out.append(Finding(("warning", wtype), "high", f"warning {wtype} is BAD", mkt, {"status": st}))
    for mkt, st, score in rep.ratings:
        if st and st not in GOOD_RATINGS:
            out.append(Finding(("rating",), "high", f"account health rating {st}" + (f" (score {score})" if score else ""),
                               mkt, {"status": st, "score": score}))
    return out
