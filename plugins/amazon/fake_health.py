"""The account-health reports of the fake SP-API (``fake.py``): what ``createReport`` makes for
``GET_V2_SELLER_PERFORMANCE_REPORT``, ``GET_SELLER_FEEDBACK_DATA`` and
``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``.

The fake's state is the seller's situation (``account_health`` document, ``feedback`` and
``returns`` rows): a test changes it (``set_account_status``, ``add_feedback``, ``add_return``)
and the next report shows it, as Amazon's would. The performance document follows the official
report schema (``accountHealthReport-2020-11-18.json``; the tests validate the fake's document
against it). The flat files use the headers Amazon documents (research content-and-health
§4.2/§4.3): tab-separated, a lone space for an empty field, ``Y``/``N`` booleans, dates such as
``10-Jul-2025`` (returns) and ``10/20/23`` (feedback).
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta

RETURNS_COLUMNS = [
    "Order ID", "Order date", "Return request date", "Return request status", "Amazon RMA ID", "Merchant RMA ID",
    "Label type", "Label cost", "Currency code", "Return carrier", "Tracking ID", "Label to be paid by",
    "A-to-Z Claim", "Is prime", "ASIN", "Merchant SKU", "Item Name", "Return quantity", "Return Reason",
    "In policy", "Return type", "Resolution", "Invoice number", "Return delivery date", "Order Amount",
    "Order quantity", "SafeT Action reason", "SafeT claim id", "SafeT claim state", "SafeT claim creation time",
    "SafeT claim reimbursement amount", "Refunded Amount"]
FEEDBACK_COLUMNS = ["Date", "Rating", "Comments", "Your Response", "Order ID", "Rater Email"]


def _range(now: datetime, days: int) -> dict:
    f = (now - timedelta(days=days)).strftime("%Y-%m-%dT00:00Z")
    return {"reportingDateFrom": f, "reportingDateTo": now.strftime("%Y-%m-%dT23:59Z")}


def good_account_health(marketplace_id: str, now: datetime) -> dict:
    """A healthy seller: NORMAL, every metric GOOD and within target, no policy defects."""
    r30, r180 = _range(now, 30), _range(now, 180)
    listing = {"reportingDateRange": r180, "defectsCount": 0, "status": "GOOD", "targetValue": 0,
               "targetCondition": "EQUALS"}
    return {
        "accountStatuses": [{"marketplaceId": marketplace_id, "status": "NORMAL"}],
        "performanceMetrics": [{
            "marketplaceId": marketplace_id,
            "accountHealthRating": {"reportingDateRange": r180, "ahrStatus": "GREAT"},
            "orderDefectRate": {sub: {"reportingDateRange": r30, "status": "GOOD", "orderCount": n,
                                      "orderWithDefects": {"count": d, "status": "GOOD"},
                                      "claims": {"count": 0, "status": "NONE"},
                                      "chargebacks": {"count": 0, "status": "NONE"},
                                      "negativeFeedback": {"count": d, "status": "NONE"},
                                      "rate": round(d / n, 4), "targetValue": 0.01, "targetCondition": "LESS_THAN",
                                      "fulfillmentType": sub}
                                for sub, n, d in (("afn", 120, 0), ("mfn", 480, 1))},
            "lateShipmentRate": {"reportingDateRange": r30, "orderCount": 480, "lateShipmentCount": 5,
                                 "status": "GOOD", "rate": 0.0104, "targetValue": 0.04, "targetCondition": "LESS_THAN"},
            "preFulfillmentCancellationRate": {"reportingDateRange": r30, "orderCount": 480, "cancellationCount": 1,
                                               "status": "GOOD", "rate": 0.002, "targetValue": 0.025,
                                               "targetCondition": "LESS_THAN"},
            "validTrackingRate": {"reportingDateRange": r30, "shipmentCount": 470, "validTrackingCount": 468,
                                  "status": "GOOD", "rate": 0.9957, "targetValue": 0.95,
                                  "targetCondition": "GREATER_THAN"},
            "invoiceDefectRate": {"reportingDateRange": r30, "orderCount": 480,
                                  "invoiceDefect": {"count": 0, "status": "GOOD"},
                                  "missingInvoice": {"count": 0, "status": "NONE"},
                                  "lateInvoice": {"count": 0, "status": "NONE"},
                                  "status": "GOOD", "rate": 0.0, "targetValue": 0.05, "targetCondition": "LESS_THAN"},
            "onTimeDeliveryRate": {"reportingDateRange": r30, "shipmentCountWithValidTracking": 468,
                                   "onTimeDeliveryCount": 455, "status": "GOOD", "rate": 0.9722, "targetValue": 0.9,
                                   "targetCondition": "GREATER_THAN"},
            "unitOnTimeDeliveryRate": {"reportingDateRange": r30, "unitOnTimeDeliveryCount": 470,
                                       "totalUnitCount": 480, "status": "GOOD", "rate": 0.9792, "targetValue": 0.9,
                                       "targetCondition": "GREATER_THAN"},
            "warningStates": [],
            **{name: copy.deepcopy(listing) for name in (
                "listingPolicyViolations", "productAuthenticityCustomerComplaints",
                "productConditionCustomerComplaints", "productSafetyCustomerComplaints",
                "receivedIntellectualPropertyComplaints", "restrictedProductPolicyViolations",
                "suspectedIntellectualPropertyViolations", "foodAndProductSafetyIssues", "otherPolicyViolations",
                "documentRequests")},
        }],
    }


class HealthReportsApi:
    """Mixin of :class:`~marketd.plugins.amazon.fake.SpApiFake`: the seller's health state and the
    report contents made from it (``_health_content``)."""

    def _health_init(self) -> None:
        self.account_health: dict | None = None     # None: a healthy seller (good_account_health)
        self.feedback: list[dict] = []
        self.returns: list[dict] = []

    def health_document(self) -> dict:
        if self.account_health is None:
            self.account_health = good_account_health(self.marketplace_id, self.clock.now())
        return self.account_health

    def set_account_status(self, status: str) -> None:
        with self.lock:
            self.health_document()["accountStatuses"][0]["status"] = status

    def set_metric(self, name: str, **fields) -> None:
        """Change one metric block of the first marketplace (``set_metric("lateShipmentRate",
        status="BAD", rate=0.07)``)."""
        with self.lock:
            block = self.health_document()["performanceMetrics"][0].setdefault(name, {})
            block.update(fields)

    def add_feedback(self, *, date: datetime, rating: int, comments: str, order_id: str, email: str,
                     response: str = "") -> None:
        with self.lock:
            self.feedback.append({"Date": date.strftime("%m/%d/%y"), "Rating": str(rating), "Comments": comments,
                                  "Your Response": response, "Order ID": order_id, "Rater Email": email})

    def add_return(self, *, order_id: str, sku: str, asin: str, reason: str, quantity: int = 1,
                   requested: datetime | None = None, item_name: str = "") -> None:
        requested = requested or self.clock.now()
        with self.lock:
            self.returns.append({
                "Order ID": order_id, "Order date": (requested - timedelta(days=5)).strftime("%d-%b-%Y"),
                "Return request date": requested.strftime("%d-%b-%Y"), "Return request status": "Approved",
                "Amazon RMA ID": f"D{abs(hash(order_id)) % 10**9:09d}RRMA", "Merchant RMA ID": " ",
                "Label type": "AmazonPrePaidLabel", "Label cost": "4.50", "Currency code": "EUR",
                "Return carrier": "DHL", "Tracking ID": " ", "Label to be paid by": "Customer", "A-to-Z Claim": "N",
                "Is prime": "Y", "ASIN": asin, "Merchant SKU": sku, "Item Name": item_name or sku,
                "Return quantity": str(quantity), "Return Reason": reason, "In policy": "Y",
                "Return type": "C-Returns", "Resolution": "StandardRefund", "Invoice number": " ",
                "Return delivery date": " ", "Order Amount": "29.90", "Order quantity": str(quantity),
                "SafeT Action reason": " ", "SafeT claim id": " ", "SafeT claim state": " ",
                "SafeT claim creation time": " ", "SafeT claim reimbursement amount": " ", "Refunded Amount": "29.90"})

    def _health_content(self, rep: dict) -> str | None:
        """The document of a health report, or None for another report type."""
        rtype = rep["reportType"]
        if rtype == "GET_V2_SELLER_PERFORMANCE_REPORT":
            return json.dumps(self.health_document())
        if rtype == "GET_SELLER_FEEDBACK_DATA":
            return _tsv(FEEDBACK_COLUMNS, self.feedback)
        if rtype == "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE":
            return _tsv(RETURNS_COLUMNS, self.returns)
        return None


def _tsv(columns: list[str], rows: list[dict]) -> str:
    return "\n".join(["\t".join(columns)] + ["\t".join(r.get(c, " ") or " " for c in columns) for r in rows]) + "\n"
