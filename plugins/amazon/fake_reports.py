"""The Reports side of the fake SP-API (``fake.py``): Reports 2021-06-30 and the S3 host that
serves report documents, plus the flat-file V2 settlement reports Amazon makes by itself
(research settlement-formats §1.2).

Created reports move IN_QUEUE → IN_PROGRESS → DONE (or CANCELLED/FATAL) on the fake's clock;
documents are gzip bytes behind a presigned URL valid 5 minutes, served with no
Content-Encoding, or ``Content-Encoding: gzip`` when ``enableContentEncodingUrlHeader=true``.
"""
from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

from .fake_orders import Reply, _b64, _errors, _unb64, iso, parse_iso

SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
UNREQUESTABLE = {SETTLEMENT_V2, "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE", "GET_V2_SETTLEMENT_REPORT_DATA_XML"}


# -- settlement report content (flat file V2, research settlement-formats §1.2) -----------------
SETTLEMENT_V2_COLUMNS = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
]


def settlement_v2_text(settlement_id: str, start: datetime, end: datetime, orders: list[dict], *,
                       currency: str = "EUR", decimal: str = ",", marketplace: str = "Amazon.it") -> str:
    """A tab-separated V2 settlement report for ``orders`` (principal, shipping, commission)."""
    def amt(d: Decimal) -> str:
        return format(d.quantize(Decimal("0.01")), "f").replace(".", decimal)

    def ts(dt: datetime) -> str:
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    rows, total = [], Decimal(0)
    for o in orders:
        posted = parse_iso(o["lastUpdatedTime"])
        for it in o.get("orderItems") or []:
            price = (it.get("product") or {}).get("price")
            if not price:
                continue
            qty = it["quantityOrdered"]
            principal = Decimal(price["unitPrice"]["amount"]) * qty
            commission = -(principal * Decimal("0.15")).quantize(Decimal("0.01"))
            base = {"transaction-type": "Order", "order-id": o["orderId"], "shipment-id": f"S{o['orderId'][-7:]}",
                    "marketplace-name": marketplace, "fulfillment-id": "MFN" if (o.get("fulfillment") or {}).get("fulfilledBy") != "AMAZON" else "AFN",
                    "posted-date": posted.strftime("%m/%d/%y"), "posted-date-time": ts(posted),
                    "order-item-code": it["orderItemId"], "sku": it["product"].get("sellerSku", ""),
                    "quantity-purchased": str(qty)}
            for atype, desc, value in (("ItemPrice", "Principal", principal), ("ItemFees", "Commission", commission)):
                rows.append({**base, "amount-type": atype, "amount-description": desc, "amount": amt(value)})
                total += value
    head = {"settlement-id": settlement_id, "settlement-start-date": ts(start), "settlement-end-date": ts(end),
            "deposit-date": ts(end + timedelta(days=2)), "total-amount": amt(total), "currency": currency}
    lines = ["\t".join(SETTLEMENT_V2_COLUMNS), "\t".join(head.get(c, "") for c in SETTLEMENT_V2_COLUMNS)]
    for r in rows:
        r = {**r, "settlement-id": settlement_id}
        lines.append("\t".join(r.get(c, "") for c in SETTLEMENT_V2_COLUMNS))
    return "\n".join(lines) + "\n"


class ReportsApi:
    """The reports part of :class:`~marketd.plugins.amazon.fake.SpApiFake` (a mixin: the fake's
    ``reports``, ``documents``, ``orders``, ``settled``, ``clock``, ``rng`` and ``s3_*`` are its state)."""

    # -- reports -------------------------------------------------------------------------------
    def add_report(self, report_type: str, content: bytes | str, *, created: datetime | None = None,
                   status: str = "DONE", compress: bool = True, marketplace_ids: list[str] | None = None,
                   schedule_id: str | None = None) -> str:
        """A report already there (as Amazon makes settlement reports); returns its reportId."""
        with self.lock:
            rid = str(self.rng.randint(10**10, 10**11 - 1))
            created = created or self.clock.now()
            doc_id = None
            if status in ("DONE", "FATAL"):
                doc_id = self._add_document(content, compress)
            self.reports[rid] = {
                "reportId": rid, "reportType": report_type, "createdTime": iso(created),
                "processingStatus": status, "marketplaceIds": marketplace_ids or [self.marketplace_id],
                "_scenario": status, "_created_mono": None,
                **({"reportDocumentId": doc_id} if doc_id else {}),
                **({"processingStartTime": iso(created), "processingEndTime": iso(created)} if status != "IN_QUEUE" else {}),
                **({"reportScheduleId": schedule_id} if schedule_id else {}),
            }
            return rid

    def add_settlement_report(self, *, orders: list[dict] | None = None, days: int = 14, end: datetime | None = None,
                              compress: bool = True, settlement_id: str | None = None) -> str:
        end = end or self.clock.now() - timedelta(hours=1)
        start = end - timedelta(days=days)
        if orders is None:  # shipped orders of the period not paid by an earlier report: settlements never overlap
            orders = [o for o in self.orders.values() if (o.get("fulfillment") or {}).get("fulfillmentStatus") == "SHIPPED"
                      and start <= parse_iso(o["lastUpdatedTime"]) <= end and o["orderId"] not in self.settled]
        self.settled.update(o["orderId"] for o in orders)
        sid = settlement_id or str(self.rng.randint(10**10, 10**11 - 1))
        text = settlement_v2_text(sid, start, end, orders)
        return self.add_report(SETTLEMENT_V2, text.encode(self.charset), created=end + timedelta(hours=1),
                               compress=compress, schedule_id="amzn1.sched.settlement")

    def _add_document(self, content: bytes | str, compress: bool) -> str:
        data = content.encode(self.charset) if isinstance(content, str) else content
        doc_id = f"amzn1.spdoc.1.4.eu.{uuid.UUID(int=self.rng.getrandbits(128))}.T{self.rng.randint(10**9, 10**10)}"
        self.documents[doc_id] = {"data": gzip.compress(data, mtime=0) if compress else data, "compressed": compress}
        return doc_id

    def _advance(self, rep: dict) -> None:
        """Move a created report along its state machine, driven by the fake clock."""
        if rep.get("_created_mono") is None or rep["processingStatus"] in ("DONE", "CANCELLED", "FATAL"):
            return
        age = self.clock.monotonic() - rep["_created_mono"]
        queue, work = self.report_delays
        now = self.clock.now()
        if age >= queue and rep["processingStatus"] == "IN_QUEUE":
            rep["processingStatus"] = "IN_PROGRESS"
            rep["processingStartTime"] = iso(now)
        if age >= queue + work and rep["processingStatus"] == "IN_PROGRESS":
            final = rep["_scenario"]
            rep["processingStatus"] = final
            rep["processingEndTime"] = iso(now)
            if final == "DONE":
                rep["reportDocumentId"] = self._add_document(self._report_content(rep), True)
            elif final == "FATAL":
                rep["reportDocumentId"] = self._add_document(json.dumps(
                    {"errorDetails": "The report could not be generated (fake FATAL scenario)."}), True)

    def _report_content(self, rep: dict) -> str:
        if rep["reportType"] == "GET_FLAT_FILE_VAT_INVOICE_DATA_REPORT":
            return self._vidr_content()
        health = self._health_content(rep)
        if health is not None:
            return health
        lines = ["amazon-order-id\tpurchase-date\tlast-updated-date\torder-status"]
        for o in sorted(self.orders.values(), key=lambda o: o["createdTime"]):
            lines.append(f"{o['orderId']}\t{o['createdTime']}\t{o['lastUpdatedTime']}\t{o['fulfillment']['fulfillmentStatus']}")
        return "\n".join(lines) + "\n"


    # -- Reports -------------------------------------------------------------------------------
    def _public(self, rep: dict) -> dict:
        self._advance(rep)
        return {k: v for k, v in rep.items() if not k.startswith("_")}

    def _op_createReport(self, params, body, base) -> Reply:
        rtype = body["reportType"]
        if rtype in UNREQUESTABLE:
            return Reply(400, _errors("InvalidInput", f"Report type {rtype} cannot be requested. "
                                      "Amazon generates settlement reports automatically."))
        refusal = self._vidr_refusal(body) if hasattr(self, "_vidr_refusal") else None
        if refusal:
            return Reply(400, _errors("InvalidInput", refusal))
        scenario = (body.get("reportOptions") or {}).get("fakeScenario", "DONE")
        rid = str(self.rng.randint(10**10, 10**11 - 1))
        self.reports[rid] = {"reportId": rid, "reportType": rtype, "createdTime": iso(self.clock.now()),
                             "processingStatus": "IN_QUEUE", "marketplaceIds": body["marketplaceIds"],
                             **({"dataStartTime": body["dataStartTime"]} if body.get("dataStartTime") else {}),
                             **({"dataEndTime": body["dataEndTime"]} if body.get("dataEndTime") else {}),
                             "_scenario": scenario, "_created_mono": self.clock.monotonic()}
        return Reply(202, {"reportId": rid})

    def _op_getReport(self, params, body, base, reportId) -> Reply:
        rep = self.reports.get(reportId)
        if rep is None:
            return Reply(404, _errors("NotFound", f"Report {reportId} was not found."))
        return Reply(200, self._public(rep))

    def _op_cancelReport(self, params, body, base, reportId) -> Reply:
        rep = self.reports.get(reportId)
        if rep is None:
            return Reply(404, _errors("NotFound", f"Report {reportId} was not found."))
        self._advance(rep)
        if rep["processingStatus"] != "IN_QUEUE":
            return Reply(400, _errors("InvalidInput", "Only reports in IN_QUEUE can be cancelled."))
        rep["processingStatus"] = "CANCELLED"
        return Reply(200)

    def _op_getReports(self, params, body, base) -> Reply:
        now = self.clock.now()
        if "nextToken" in params:
            if len(params) > 1:
                return Reply(400, _errors("InvalidInput", "nextToken must be the only parameter.",
                                          f"also given: {', '.join(sorted(k for k in params if k != 'nextToken'))}"))
            try:
                tok = _unb64(params["nextToken"])
                filters, offset = tok["f"], tok["o"]
            except (ValueError, KeyError, TypeError):
                return Reply(400, _errors("InvalidInput", "Invalid nextToken."))
        else:
            if not params.get("reportTypes"):
                return Reply(400, _errors("InvalidInput", "reportTypes or nextToken is required."))
            filters, offset = dict(params), 0
        since = parse_iso(filters["createdSince"]) if filters.get("createdSince") else now - timedelta(days=90)
        until = parse_iso(filters["createdUntil"]) if filters.get("createdUntil") else now
        if since < now - timedelta(days=90, minutes=1):
            return Reply(400, _errors("InvalidInput", "createdSince cannot be more than 90 days in the past."))
        types, statuses = set(filters.get("reportTypes") or []), set(filters.get("processingStatuses") or [])
        mkts = set(filters.get("marketplaceIds") or [])
        rows = []
        for rep in self.reports.values():
            self._advance(rep)
            created = parse_iso(rep["createdTime"])
            if types and rep["reportType"] not in types:
                continue
            if statuses and rep["processingStatus"] not in statuses:
                continue
            if mkts and not mkts & set(rep.get("marketplaceIds") or []):
                continue
            if since <= created <= until:
                rows.append(rep)
        rows.sort(key=lambda r: (r["createdTime"], r["reportId"]), reverse=True)
        size = int(filters.get("pageSize", 10))
        page = rows[offset:offset + size]
        out = {"reports": [self._public(r) for r in page]}
        if offset + size < len(rows):
            out["nextToken"] = _b64({"f": filters, "o": offset + size})
        return Reply(200, out)

    def _sign(self, key: str, date: str, ce: str) -> str:
        return hmac.new(self.s3_key, f"{key}|{date}|{ce}".encode(), hashlib.sha256).hexdigest()

    def _op_getReportDocument(self, params, body, base, reportDocumentId) -> Reply:
        doc = self.documents.get(reportDocumentId)
        if doc is None:
            return Reply(404, _errors("NotFound", f"Report document {reportDocumentId} was not found."))
        date = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        ce = "gzip" if params.get("enableContentEncodingUrlHeader") and doc["compressed"] else ""
        q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": date, "X-Amz-Expires": "300",
             "X-Amz-Signature": self._sign(reportDocumentId, date, ce)}
        if ce:
            q["response-content-encoding"] = ce
        out = {"reportDocumentId": reportDocumentId,
               "url": f"{self.s3_base or base}/__s3/{reportDocumentId}?{urlencode(q)}"}
        if doc["compressed"]:
            out["compressionAlgorithm"] = "GZIP"
        return Reply(200, out)

    def _s3(self, key, query, headers) -> Reply:
        if headers.get("x-amz-access-token"):
            self.s3_requests_with_token += 1  # S3 ignores it; the client should not send it
        q = {k: v[-1] for k, v in query.items()}
        doc = self.documents.get(key)
        xml = lambda code, msg: Reply(403 if code != "NoSuchKey" else 404,  # noqa: E731
                                      f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                                      f"<Message>{msg}</Message></Error>", {"Content-Type": "application/xml"})
        if doc is None:
            return xml("NoSuchKey", "The specified key does not exist.")
        ce = q.get("response-content-encoding", "")
        if not hmac.compare_digest(q.get("X-Amz-Signature", ""), self._sign(key, q.get("X-Amz-Date", ""), ce)):
            return xml("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        issued = datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        if self.clock.now() > issued + timedelta(seconds=int(q.get("X-Amz-Expires", "300"))):
            return xml("AccessDenied", "Request has expired")
        hdrs = {"Content-Type": f"text/plain; charset={self.charset}"}
        if ce == "gzip":
            hdrs["Content-Encoding"] = "gzip"
        return Reply(200, doc["data"], hdrs)

