"""A thin Selling Partner API client: the few operations marketd uses, nothing generated.

- Orders **v2026-01-01** ``searchOrders`` / ``getOrder`` for reads (the v0 reads are deprecated
  and go away on 2027-03-27; v2026 needs no Restricted Data Token).
- Orders **v0** ``confirmShipment`` (not deprecated; 204 on success).
- Reports **2021-06-30** ``getReports`` / ``getReport`` / ``createReport`` /
  ``getReportDocument`` and the download of the presigned document URL.

Authentication is the LWA access token in ``x-amz-access-token`` (no SigV4 since 2023-10). All
calls go through the SDK's ``HttpClient`` with one token bucket per operation, seeded
with the default usage plans below and adapted from ``x-amzn-RateLimit-Limit``. A 403 that
looks like an expired/invalid token drops the cached token and is retried once.

Shapes follow the official models in ``shared/specs/amazon/`` (research api-contracts §1).
"""
from __future__ import annotations

import gzip
import json
import logging
import platform
import sys
import zlib
from datetime import datetime
from typing import Iterator

from marketd.sdk import (SYSTEM_CLOCK, Clock, HttpClient, MarketdError, RateLimiter, RetryPolicy, TransientError,
                        __version__, redact_text, utc_iso)

from .lwa import LwaClient

log = logging.getLogger("marketd.amazon.spapi")

# Production endpoints per region (research §1.3, from the SP-API developer guide).
ENDPOINTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
SANDBOX_ENDPOINTS = {
    "na": "https://sandbox.sellingpartnerapi-na.amazon.com",
    "eu": "https://sandbox.sellingpartnerapi-eu.amazon.com",
    "fe": "https://sandbox.sellingpartnerapi-fe.amazon.com",
}

# Marketplace ids quoted in research §1.3 (Amazon's VAT-invoice page and the model examples).
# Others: set `marketplace_id` and `region` in the channel settings.
MARKETPLACES: dict[str, tuple[str, str]] = {
    "IT": ("APJ6JRA9NG5V4", "eu"),
    "DE": ("A1PA6795UKMFR9", "eu"),
    "FR": ("A13V1IB3VIYZZH", "eu"),
    "ES": ("A1RKKUPIHCS9HS", "eu"),
    "UK": ("A1F83G8C2ARO7P", "eu"),
    "GB": ("A1F83G8C2ARO7P", "eu"),
    "NL": ("A1805IZSGTT6HS", "eu"),
    "PL": ("A1C3SOZRARQ6R3", "eu"),
    "SE": ("A2NODRKZP88ZB9", "eu"),
    "US": ("ATVPDKIKX0DER", "na"),
}

# Default usage plans (rate in requests/second, burst), copied from the "Usage Plan" table in each
# operation's `description` in the official models: orders_2026-01-01.json (searchOrders,
# getOrder), ordersV0.json (confirmShipment), reports_2021-06-30.json (getReports, createReport,
# getReport, getReportDocument). Orders use dynamic plans: the header may report other values.
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"  # the rate in force for the operation, per answer
DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "getReports": (0.0222, 10),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}

ORDERS = "/orders/2026-01-01/orders"
REPORTS = "/reports/2021-06-30/reports"
DOCUMENTS = "/reports/2021-06-30/documents"
SETTLEMENT_V2 = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


class SpApiError(MarketdError):
    """SP-API refused a call (4xx other than 429); ``errors`` is Amazon's error list."""

    def __init__(self, operation: str, status: int, errors: list | None = None, request_id: str = "",
                 hint: str = ""):
        self.operation = operation
        self.status = status
        self.errors = errors or []
        self.request_id = request_id
        text = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" + (f" ({e['details']})" if e.get("details") else "")
                         for e in self.errors if isinstance(e, dict)) or "no error body"
        super().__init__(f"SP-API {operation} answered HTTP {status}: {redact_text(text)[:400]}"
                         + (f" [request {request_id}]" if request_id else "") + (f"; {hint}" if hint else ""))


def error_list(resp) -> list:
    """Amazon's ``errors`` list of an answer (an ``errors`` object wrapping one too); [] if none."""
    try:
        doc = resp.json()
    except ValueError:
        return [{"code": str(resp.status_code), "message": resp.text[:200]}]
    if isinstance(doc, dict):
        errs = doc.get("errors")
        if isinstance(errs, list):
            return errs
        if isinstance(errs, dict) and isinstance(errs.get("errors"), list):
            return errs["errors"]
    return []


def _token_problem(resp) -> bool:
    """A 403 that a fresh access token may cure (expired, invalid or revoked token)."""
    for e in error_list(resp):
        code = str(e.get("code", "")).lower()
        text = f"{e.get('message', '')} {e.get('details', '')}".lower()
        if code in ("unauthorized", "invalidaccesstoken", "expiredtoken", "accessdenied") or "token" in text:
            return True
    return False


def _q(value) -> str:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decompress(data: bytes) -> bytes:
    """Gunzip ``data`` when it is gzip; return it unchanged when the transport already did."""
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise TransientError(f"report document is truncated or not valid gzip: {exc}")
    return data


class SpApiClient:
    """SP-API for one seller authorisation in one region."""

    def __init__(self, endpoint: str, lwa: LwaClient, *, transport=None, clock: Clock | None = None,
                 limits: dict | None = None, retry: RetryPolicy | None = None, timeout: float = 60.0,
                 account: str = "", max_wait: float | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.max_wait = max_wait  # longest rate-limit wait per call; beyond it RateLimited is raised
        self.lwa = lwa
        self.clock = clock or SYSTEM_CLOCK
        self.account = account
        self.limiter = RateLimiter({**DEFAULT_LIMITS, **(limits or {})}, clock=self.clock)
        agent = (f"marketd/{__version__} (Language=Python/{sys.version_info.major}.{sys.version_info.minor}; "
                 f"Platform={platform.system() or 'Linux'})")
        self.http = HttpClient(self.endpoint, transport=transport, timeout=timeout, clock=self.clock,
                               retry=retry or RetryPolicy(), limiter=self.limiter, name=f"SP-API {account}".strip(),
                               headers={"user-agent": agent, "accept": "application/json"},
                               rate_limit_header=RATE_LIMIT_HEADER)
        # Presigned document URLs: a plain GET with no SP-API headers (research §1.6).
        self.download_http = HttpClient("", transport=transport, timeout=max(timeout, 120.0), clock=self.clock,
                                        retry=retry or RetryPolicy(), name="report download",
                                        headers={"user-agent": agent})

    def close(self) -> None:
        self.http.close()
        self.download_http.close()
        self.lwa.close()

    # -- plumbing ------------------------------------------------------------------------------
    def call(self, method: str, path: str, operation: str, *, params: dict | None = None, json_body=None,
             max_wait: float | None = -1):
        """One SP-API call with the access token; a token-looking 403 is retried once.

        ``max_wait``: longest rate-limit wait (default ``self.max_wait``); beyond it
        ``RateLimited`` is raised before anything is sent.
        """
        if max_wait == -1:
            max_wait = self.max_wait
        query = {k: _q(v) for k, v in (params or {}).items() if v is not None and v != [] and v != ()}
        kw: dict = {"params": query} if query else {}
        if json_body is not None:
            # bytes: a document already serialised (Decimal money as exact JSON numbers)
            kw["content"] = json_body if isinstance(json_body, bytes) else \
                json.dumps(json_body, separators=(",", ":")).encode()
            kw["headers"] = {"content-type": "application/json"}
        for attempt in (1, 2):
            token = self.lwa.access_token()
            headers = {**kw.get("headers", {}), "x-amz-access-token": token}
            resp = self.http.request(method, path, operation=operation, headers=headers, max_wait=max_wait,
                                     **{k: v for k, v in kw.items() if k != "headers"})
            if resp.status_code == 403 and attempt == 1 and _token_problem(resp):
                log.info("SP-API %s: 403 with the cached access token; refreshing it once", operation)
                self.lwa.invalidate(token)
                continue
            return resp

    def _json(self, resp, operation: str, ok=(200,)):
        if resp.status_code in ok:
            try:
                return resp.json()
            except ValueError:
                raise TransientError(f"SP-API {operation}: HTTP {resp.status_code} without a JSON body")
        hint = ""
        if resp.status_code == 403:
            hint = ("the access token was refused even after a refresh: check that the app has the needed role "
                    "(Orders: 'Inventory and Order Tracking', 'Direct-to-Consumer Shipping' for buyer data; "
                    "Reports: 'Finance and Accounting') and that the seller has not revoked it")
        raise SpApiError(operation, resp.status_code, error_list(resp), resp.headers.get("x-amzn-RequestId", ""), hint)

    # -- Orders v2026-01-01 --------------------------------------------------------------------
    def search_orders(self, *, marketplace_ids: list[str], last_updated_after: datetime | None = None,
                      created_after: datetime | None = None, last_updated_before: datetime | None = None,
                      created_before: datetime | None = None, fulfillment_statuses: list[str] | None = None,
                      fulfilled_by: list[str] | None = None, included_data: list[str] | None = None,
                      max_results: int = 100, pagination_token: str | None = None,
                      max_wait: float | None = -1) -> Iterator[dict]:
        """Yield each page (``SearchOrdersResponse``) until ``pagination.nextToken`` is absent.

        The next page is requested with ``paginationToken=<nextToken>`` and all other
        parameters unchanged, as the model requires. ``pagination_token`` resumes a pass that
        an earlier run stopped (the token is valid 24 hours; same filters needed).
        """
        if (last_updated_after is None) == (created_after is None):
            raise ValueError("give exactly one of last_updated_after and created_after")
        params = {
            "lastUpdatedAfter": last_updated_after, "lastUpdatedBefore": last_updated_before,
            "createdAfter": created_after, "createdBefore": created_before,
            "marketplaceIds": list(marketplace_ids), "fulfillmentStatuses": fulfillment_statuses,
            "fulfilledBy": fulfilled_by, "includedData": included_data, "maxResultsPerPage": max_results,
        }
        token = pagination_token
        while True:
            query = dict(params)
            if token:
                query["paginationToken"] = token
            doc = self._json(self.call("GET", ORDERS, "searchOrders", params=query, max_wait=max_wait), "searchOrders")
            yield doc
            token = (doc.get("pagination") or {}).get("nextToken")
            if not token:
                return

    def get_order(self, order_id: str, included_data: list[str] | None = None) -> dict | None:
        resp = self.call("GET", f"{ORDERS}/{order_id}", "getOrder", params={"includedData": included_data})
        if resp.status_code == 404:
            return None
        return self._json(resp, "getOrder").get("order")

    # -- Orders v0: shipment confirmation ------------------------------------------------------
    def confirm_shipment(self, order_id: str, body: dict):
        """POST …/shipmentConfirmation; returns the response (204 on success, 4xx as data)."""
        return self.call("POST", f"/orders/v0/orders/{order_id}/shipmentConfirmation", "confirmShipment",
                         json_body=body)

    # -- Reports 2021-06-30 --------------------------------------------------------------------
    def get_reports(self, *, report_types: list[str], processing_statuses: list[str] | None = None,
                    marketplace_ids: list[str] | None = None, created_since: datetime | None = None,
                    created_until: datetime | None = None, page_size: int = 100) -> Iterator[dict]:
        """Yield every ``Report``; later pages are asked with ``nextToken`` as the only parameter."""
        params = {"reportTypes": report_types, "processingStatuses": processing_statuses,
                  "marketplaceIds": marketplace_ids, "createdSince": created_since,
                  "createdUntil": created_until, "pageSize": page_size}
        while True:
            doc = self._json(self.call("GET", REPORTS, "getReports", params=params), "getReports")
            yield from doc.get("reports") or []
            token = doc.get("nextToken")
            if not token:
                return
            params = {"nextToken": token}

    def create_report(self, report_type: str, marketplace_ids: list[str], *, data_start: datetime | None = None,
                      data_end: datetime | None = None, options: dict | None = None) -> str:
        body: dict = {"reportType": report_type, "marketplaceIds": list(marketplace_ids)}
        if data_start:
            body["dataStartTime"] = utc_iso(data_start)
        if data_end:
            body["dataEndTime"] = utc_iso(data_end)
        if options:
            body["reportOptions"] = options
        return self._json(self.call("POST", REPORTS, "createReport", json_body=body), "createReport", ok=(202,))["reportId"]

    def get_report(self, report_id: str) -> dict:
        return self._json(self.call("GET", f"{REPORTS}/{report_id}", "getReport"), "getReport")

    def get_report_document(self, document_id: str, *, content_encoding_header: bool = False) -> dict:
        params = {"enableContentEncodingUrlHeader": True} if content_encoding_header else None
        return self._json(self.call("GET", f"{DOCUMENTS}/{document_id}", "getReportDocument", params=params),
                          "getReportDocument")

    def download(self, document: dict) -> tuple[bytes, str | None]:
        """Fetch a ``ReportDocument``'s URL; returns (bytes, charset), gunzipped if needed.

        Handles both ways S3 serves a GZIP document: raw gzip bytes (``Content-Encoding``
        identity/absent, the default) and ``Content-Encoding: gzip`` (httpx decodes it).
        """
        resp = self.download_http.request("GET", document["url"], operation="download")
        if resp.status_code != 200:
            raise SpApiError("download", resp.status_code,
                             [{"code": "Download", "message": redact_text(resp.text)[:200]}],
                             hint="a presigned URL is valid for 5 minutes; it is asked for again on the next run")
        data = resp.content
        if str(document.get("compressionAlgorithm", "")).upper() == "GZIP":
            data = decompress(data)
        return data, resp.charset_encoding

    def fetch_document(self, document_id: str, *, content_encoding_header: bool = False) -> tuple[bytes, str | None]:
        """getReportDocument + download; asks for a new URL once if the first one expired."""
        doc = self.get_report_document(document_id, content_encoding_header=content_encoding_header)
        try:
            return self.download(doc)
        except SpApiError as exc:
            if exc.status not in (400, 403):
                raise
            log.info("report document %s: URL refused (%s); asking for a fresh one", document_id, exc.status)
            doc = self.get_report_document(document_id, content_encoding_header=content_encoding_header)
            return self.download(doc)
