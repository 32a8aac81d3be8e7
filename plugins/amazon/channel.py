"""The Amazon channel: one seller account in one marketplace (``[channels.<name>] type = "amazon"``).

The glue between the store and SP-API: HTTP is ``client.py`` (and ``lwa.py``), JSON in and
out is ``mapper.py``. What it does:

- ``sync_orders(since)``: Orders v2026-01-01 ``searchOrders`` by ``lastUpdatedAfter`` (the
  account's own watermark, else the job's ``since``), every page, upserted into the core
  ``orders`` table and announced with the ``order_imported`` event. Only orders that are new or
  whose ``lastUpdatedTime`` moved are written and announced.
- ``confirm_shipment(order_id, package)``: Orders v0 ``confirmShipment`` for one package, once
  (a package already confirmed with the same content is not sent again); the answer is returned
  as data for the tracking-sync job, which records it.
- ``shipment_confirmed(order_id, package)``: asks ``getOrder`` (``PACKAGES``) whether a
  package with that tracking number is on the order; tracking-sync uses it after a crash.

Credentials are never read from the TOML file: ``client_id``, ``client_secret`` and
``refresh_token`` come from environment variables or systemd credentials named by
``client_id_secret`` / ``client_secret_secret`` / ``refresh_token_secret``, by default
``MARKETD_AMAZON_<ACCOUNT>_CLIENT_ID`` / ``…_CLIENT_SECRET`` / ``…_REFRESH_TOKEN``.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from marketd.sdk import (Capabilities, Channel, ConfigError, RateLimited, TransientError, redact_text, store_orders,
                         utc_iso)

from . import mapper
from .client import ENDPOINTS, MARKETPLACES, SANDBOX_ENDPOINTS, SpApiClient, SpApiError, error_list
from .lwa import LWA_ENDPOINT, LwaClient
from .settings import FORBIDDEN_KEYS, AmazonChannelSettings, env_name, secrets_in_clear

log = logging.getLogger("marketd.amazon")

ORDER_DATA = ["BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES"]

class AmazonChannel(Channel):
    type = "amazon"
    capabilities = Capabilities(fetch_orders=True, confirm_shipment=True, fetch_settlements=True,
                                parse_settlements=True, data_models=True, update_listings=True,
                                fetch_listings=True, account_health=True, notifications=True,
                                fetch_customizations=True, upload_invoice=True, cancel_order=True,
                                invoice_status=True)
    health_report_kinds = ("performance", "feedback", "returns")
    settings_model = AmazonChannelSettings

    def __init__(self, app, name: str, settings: AmazonChannelSettings | dict, transport=None):
        leaked = sorted(k for k in FORBIDDEN_KEYS if isinstance(settings, dict) and settings.get(k))
        if leaked:  # said before validation, which would echo nothing of it but name no variables either
            raise ConfigError(f"[channels.{name}] " + secrets_in_clear(name, leaked))
        super().__init__(app, name, settings)
        s: AmazonChannelSettings = self.settings
        country = s.marketplace.upper()
        if s.marketplace_id:
            self.marketplace_id = s.marketplace_id
            self.region = (s.region or MARKETPLACES.get(country, ("", "eu"))[1]).lower()
        elif country in MARKETPLACES:
            self.marketplace_id, self.region = MARKETPLACES[country]
        else:
            raise ConfigError(
                f"[channels.{name}] marketplace = {s.marketplace!r}: use a country code "
                f"({', '.join(sorted(MARKETPLACES))}) or set marketplace_id and region (na, eu, fe)")
        if self.region not in ENDPOINTS:
            raise ConfigError(f"[channels.{name}] region = {self.region!r}: use na, eu or fe")
        self.country = country
        self.orders_sync = s.orders_sync
        self.settlements_fetch = s.settlements_fetch
        self.endpoint = s.endpoint or (SANDBOX_ENDPOINTS if s.sandbox else ENDPOINTS)[self.region]
        self.lwa_endpoint = s.lwa_endpoint or LWA_ENDPOINT
        self.initial_days = s.initial_days
        self.overlap = s.overlap_seconds
        self.max_wait = None if s.max_wait_seconds < 0 else s.max_wait_seconds
        self.fulfilled_by = s.fulfilled_by or None
        self.included_data = list(s.included_data or ORDER_DATA)
        self.carrier_codes = {mapper.carrier_key(k): v for k, v in s.carrier_codes.items()}
        bad = [op for op, v in s.limits.items() if len(v) != 2]
        if bad:
            raise ConfigError(f"[channels.{name}] limits.{bad[0]} must be [rate, burst], e.g. [0.0167, 20]")
        self.limits = {op: (float(v[0]), float(v[1])) for op, v in s.limits.items()}
        self._transport = transport if transport is not None else s.transport
        self._api: SpApiClient | None = None
        self.last_sync: dict = {}

    # -- credentials and client ----------------------------------------------------------------
    def credentials(self) -> tuple[str, str, str]:
        """(client_id, client_secret, refresh_token), read at first use."""
        s: AmazonChannelSettings = self.settings
        client_id = s.client_id or self.app.secret(s.client_id_secret or env_name(self.name, "CLIENT_ID"))
        secret = self.app.secret(s.client_secret_secret or env_name(self.name, "CLIENT_SECRET"))
        refresh = self.app.secret(s.refresh_token_secret or env_name(self.name, "REFRESH_TOKEN"))
        return client_id, secret, refresh

    @property
    def api(self) -> SpApiClient:
        if self._api is None:
            clock = self.app.clock
            lwa = LwaClient(self.credentials, endpoint=self.lwa_endpoint, transport=self._transport, clock=clock,
                            account=self.name, timeout=self.settings.timeout or 30.0)
            self._api = SpApiClient(self.endpoint, lwa, transport=self._transport, clock=clock, limits=self.limits,
                                    timeout=self.settings.timeout or 60.0, account=self.name)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    # -- orders --------------------------------------------------------------------------------
    def _state(self) -> dict | None:
        rows = list(self.app.store.db.query("select * from amazon_order_sync where channel = ?", [self.name]))
        return rows[0] if rows else None

    def sync_orders(self, since: datetime | None, *, resync: bool = False, max_wait: float | None = -1) -> int:
        """Pull orders updated since the watermark; returns how many were new or changed.

        The window starts at the account's own watermark (``amazon_order_sync``), else at
        ``since`` (the job's last success), else ``initial_days`` ago, minus ``overlap_seconds``
        for Amazon's eventual consistency. ``resync=True`` starts at ``since`` regardless.

        When the next page would need a rate-limit wait longer than ``max_wait`` seconds
        (default: the ``max_wait_seconds`` setting, 30), the pass stops after the pages it has,
        remembers the ``paginationToken`` and the next run continues from there; the watermark
        moves only when a pass reached its last page. ``max_wait=None`` waits as long as needed.
        """
        store = self.app.store
        clock = self.app.clock
        if max_wait == -1:
            max_wait = self.max_wait
        api = self.api
        started = clock.now()
        state = None if resync else self._state()
        token = None
        watermark = None
        first_at = started
        if state and state.get("resume_token") and state.get("resume_started_at") and \
                started - datetime.fromisoformat(state["resume_started_at"]) < timedelta(hours=23):
            token = state["resume_token"]
            after = datetime.fromisoformat(state["resume_after"])
            watermark = state.get("resume_watermark")
            first_at = datetime.fromisoformat(state["resume_started_at"])
        else:
            start = datetime.fromisoformat(state["synced_until"]) if state and state.get("synced_until") else since
            if start is None:
                start = started - timedelta(days=self.initial_days)
            after = start - timedelta(seconds=self.overlap)
        stats = {"pages": 0, "seen": 0, "new": 0, "changed": 0, "unchanged": 0, "complete": False}
        resume = None
        pages = api.search_orders(marketplace_ids=[self.marketplace_id], last_updated_after=after,
                                  fulfilled_by=self.fulfilled_by, included_data=self.included_data,
                                  pagination_token=token, max_wait=max_wait)
        try:
            for page in pages:
                stats["pages"] += 1
                if watermark is None and page.get("lastUpdatedBefore"):
                    watermark = mapper.store_time(page["lastUpdatedBefore"])
                self._store_page(page, stats)
                token = (page.get("pagination") or {}).get("nextToken")
                if token and max_wait is not None and api.http.wait_time("searchOrders") > max_wait:
                    resume = token
                    break
            else:
                stats["complete"] = True
        except RateLimited as exc:  # a 429 that needs a long wait: continue next run
            resume = token
            log.info("amazon %s: %s", self.name, exc)
        finally:
            pages.close()
        row = {"channel": self.name, "last_run_at": started.isoformat(), "orders_seen": stats["seen"],
               "last_error": None}
        if stats["complete"]:
            row.update(synced_until=watermark or (started - timedelta(minutes=2)).isoformat(),
                       resume_token=None, resume_after=None, resume_watermark=None, resume_started_at=None)
        elif resume:
            row.update(resume_token=resume, resume_after=after.isoformat(), resume_watermark=watermark,
                       resume_started_at=first_at.isoformat())
        with store.transaction() as db:
            db["amazon_order_sync"].upsert(row, pk="channel")
        self.last_sync = stats
        log.info("amazon %s: %d order(s) new, %d changed, %d unchanged in %d page(s) (updated after %s)%s",
                 self.name, stats["new"], stats["changed"], stats["unchanged"], stats["pages"], utc_iso(after),
                 "" if stats["complete"] else "; the rate limit stops this pass here, the next run continues")
        return stats["new"] + stats["changed"]

    def _store_page(self, page: dict, stats: dict) -> None:
        orders = page.get("orders") or []
        stats["seen"] += len(orders)
        store_orders(self.app, [mapper.order_row(self.name, o) for o in orders], stats)

    # -- shipment confirmation -----------------------------------------------------------------
    def amazon_carrier(self, code: str, name: str = "") -> tuple[str, str]:
        """(carrierCode, carrierName) for our carrier code/name, with this account's overrides."""
        return mapper.amazon_carrier(code, name, self.carrier_codes)

    def _items_for(self, order_id: str) -> list[dict]:
        out = mapper.stored_items(self.app.store.get_order(f"{self.name}:{order_id}"))
        if out:
            return out
        order = self.api.get_order(order_id)
        return [{"orderItemId": i["orderItemId"], "quantity": int(i["quantityOrdered"])}
                for i in (order or {}).get("orderItems") or []]

    def confirmation_body(self, order_id: str, package: dict) -> dict:
        items = [] if package.get("orderItems") else self._items_for(order_id)
        return mapper.confirmation_body(self.marketplace_id, package, items, self.app.clock.now(), self.carrier_codes)

    def confirm_shipment(self, order_id: str, package: dict) -> dict:
        """Confirm one package on Amazon; returns the outcome as data.

        ``{"ok": True, "status": 204, ...}`` on success (or ``already_confirmed`` when this very
        package was confirmed before: nothing is sent), ``{"ok": False, "status": 400,
        "errors": [...]}`` when Amazon refuses it. Throttling/5xx that outlast the retries raise
        :class:`TransientError`. Amazon treats a repeated ``packageReferenceId`` as an update of
        that package, so a retry after a lost answer does not create a second package.
        """
        body = self.confirmation_body(order_id, package)
        detail = body["packageDetail"]
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        key = (self.name, order_id, detail["packageReferenceId"])
        db = self.app.store.db
        prev = list(db.query("select * from amazon_confirmations where channel = ? and order_id = ? and package_ref = ?",
                             list(key)))
        summary = {"order_id": order_id, "packageReferenceId": detail["packageReferenceId"],
                   "carrierCode": detail["carrierCode"], "carrierName": detail.get("carrierName", detail["carrierCode"]),
                   "trackingNumber": detail["trackingNumber"]}
        if prev and prev[0]["state"] == "confirmed" and prev[0]["body_sha256"] == digest:
            return {"ok": True, "status": prev[0]["status"], "already_confirmed": True, **summary}
        resp = self.api.confirm_shipment(order_id, body)
        now = self.app.clock.now().isoformat()
        ok = resp.status_code in (200, 204)
        errors = [] if ok else error_list(resp)
        with self.app.store.transaction() as tx:
            tx["amazon_confirmations"].upsert({
                "channel": self.name, "order_id": order_id, "package_ref": detail["packageReferenceId"],
                "tracking_number": detail["trackingNumber"], "carrier_code": detail["carrierCode"],
                "body_sha256": digest, "state": "confirmed" if ok else "refused", "status": resp.status_code,
                "errors": json.dumps(errors) if errors else None, "updated_at": now,
                "request_id": resp.headers.get("x-amzn-RequestId", "")}, pk=("channel", "order_id", "package_ref"))
        result = {"ok": ok, "status": resp.status_code, "request_id": resp.headers.get("x-amzn-RequestId", ""), **summary}
        if not ok:
            result["errors"] = errors
            result["error"] = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or f"HTTP {resp.status_code}"
            log.warning("amazon %s: confirmShipment for %s refused: %s", self.name, order_id, result["error"])
        return result

    def upload_invoice(self, pdf: bytes, meta: dict) -> dict:
        """One invoice or credit note as an ``UPLOAD_VAT_INVOICE`` feed (research §1.7): the PDF is
        the feed document (``application/pdf``), its metadata the feed options (lowercase
        ``metadata:*``). One PDF per feed, and ``createFeed`` allows about 30 feeds an hour: the
        invoices plugin's upload queue paces itself on the client's rate limiter. Steps before
        ``createFeed`` can be repeated; ``createFeed`` itself runs under the invoices plugin's claim.
        Amazon reports nothing per invoice for sellers outside VCS: success is the accepted feed."""
        from . import listings_api as feeds

        credit = meta.get("kind") == "credit_note"
        options = {"metadata:orderid": str(meta["order_id"]), "metadata:invoicenumber": str(meta["doc_no"]),
                   "metadata:documenttype": "CreditNote" if credit else "Invoice",
                   "metadata:totalamount": str(meta["total_gross"]), "metadata:totalvatamount": str(meta["total_vat"])}
        if credit:
            options["metadata:transactionid"] = str(meta.get("transaction_id") or meta["doc_no"])
        try:
            doc = feeds.create_feed_document(self.api, "application/pdf")
            feeds.upload(self.api, doc["url"], pdf, "application/pdf")
            feed_id = feeds.create_feed(self.api, "UPLOAD_VAT_INVOICE", [self.marketplace_id], doc["feedDocumentId"],
                                        options=options)
        except SpApiError as exc:
            return {"ok": False, "status": exc.status, "error": str(exc)}
        return {"ok": True, "ref": feed_id}

    def invoice_data(self, report_id: str | None = None) -> dict:
        """Amazon's VAT Invoice Data Report (``vidr.py``), in two steps across job runs: without
        ``report_id`` it requests one (``{"state": "requested", "report_id"}``); with it, it polls:
        ``pending``, ``done`` with ``rows`` (one per order and transaction: status, description,
        Amazon's VAT per item), or ``failed`` with Amazon's words (a seller outside VCS is
        refused the report)."""
        from . import vidr

        if report_id is None:
            try:
                rid = self.api.create_report(vidr.REPORT_TYPE, [self.marketplace_id], options=vidr.PENDING)
            except SpApiError as exc:
                return {"state": "failed", "detail": str(exc)}
            return {"state": "requested", "report_id": rid}
        rep = self.api.get_report(report_id)
        status = rep.get("processingStatus")
        if status in ("IN_QUEUE", "IN_PROGRESS"):
            return {"state": "pending", "report_id": report_id}
        if status == "CANCELLED":   # Amazon cancels a report with no data: nothing is pending
            return {"state": "done", "report_id": report_id, "rows": []}
        if status == "DONE" and rep.get("reportDocumentId"):
            data, _charset = self.api.fetch_document(rep["reportDocumentId"])
            try:
                return {"state": "done", "report_id": report_id, "rows": vidr.parse(data)}
            except vidr.VidrError as exc:
                return {"state": "failed", "report_id": report_id, "detail": str(exc)}
        return {"state": "failed", "report_id": report_id, "detail": f"processingStatus {status}"}

    def cancel_order(self, order_id: str, lines: list[dict] | None, reason: str | None) -> dict:
        """Cancel an MFN order (or whole lines of it) with a ``POST_ORDER_ACKNOWLEDGEMENT_DATA``
        feed (``order_feeds.py``). The answer is the accepted feed; Amazon applies it
        asynchronously and the next order sync shows the result."""
        from . import listings_api as feeds
        from .order_feeds import CONTENT_TYPE, FEED_TYPE, REASON_OF, CancelRefused, acknowledgement_feed, cancel_items

        if not self.settings.seller_id:
            return {"ok": False, "error": "seller_id (the merchant token) is not set for this account: the order "
                                          "acknowledgement feed needs it"}
        order = self.app.store.get_order(f"{self.name}:{order_id}") or {}
        items = order.get("items")
        items = json.loads(items) if isinstance(items, str) else (items or [])
        if str(order.get("status") or "") in ("SHIPPED", "DELIVERED", "CANCELLED"):
            return {"ok": False, "error": f"order {order_id} is {order.get('status')}: Amazon cancels unshipped "
                                          "orders only"}
        try:
            status, codes = cancel_items(items, lines)
        except CancelRefused as exc:
            return {"ok": False, "error": str(exc)}
        data = acknowledgement_feed(self.settings.seller_id, str(order_id), status, codes,
                                    REASON_OF.get(reason or "other", "GeneralAdjustment"))
        try:
            doc = feeds.create_feed_document(self.api, CONTENT_TYPE)
            feeds.upload(self.api, doc["url"], data, CONTENT_TYPE)
            feed_id = feeds.create_feed(self.api, FEED_TYPE, [self.marketplace_id], doc["feedDocumentId"])
        except SpApiError as exc:
            return {"ok": False, "status": exc.status, "error": str(exc)}
        log.info("amazon %s: cancellation of order %s sent (feed %s, %s, %d item(s))", self.name, order_id, feed_id,
                 status, len(codes))
        return {"ok": True, "ref": feed_id, "status_code": status, "items": codes}

    def fetch_customization(self, url: str, max_bytes: int) -> bytes:
        """An Amazon Custom archive (``customizedUrl``): a plain GET of the presigned link, with no
        SP-API headers, like a report document. The link is buyer data: never logged."""
        resp = self.api.download_http.request("GET", url, operation="customization")
        if resp.status_code != 200:
            raise SpApiError("customization", resp.status_code,
                             [{"code": "Download", "message": redact_text(resp.text)[:200]}],
                             hint="the personalisation link may have expired; the next order sync brings a fresh one")
        if len(resp.content) > max_bytes:
            raise SpApiError("customization", resp.status_code,
                             [{"code": "TooLarge", "message": f"{len(resp.content)} bytes (at most {max_bytes})"}])
        return resp.content

    def shipment_confirmed(self, order_id: str, package: dict) -> bool | None:
        """Is this package (by tracking number) already on the order at Amazon? None = cannot tell."""
        tracking = str(package.get("trackingNumber") or "")
        rows = list(self.app.store.db.query(
            "select state from amazon_confirmations where channel = ? and order_id = ? and tracking_number = ?",
            [self.name, order_id, tracking]))
        if any(r["state"] == "confirmed" for r in rows):
            return True
        try:
            order = self.api.get_order(order_id, included_data=["PACKAGES"])
        except (SpApiError, TransientError, ConfigError) as exc:
            log.warning("amazon %s: cannot check packages of %s: %s", self.name, order_id, exc)
            return None
        if order is None:
            return None
        return any(str(p.get("trackingNumber") or "") == tracking for p in order.get("packages") or [])

    # -- data models (Product Type Definitions, for the content plugin) ------------------------------
    def fetch_data_model(self, ref: str, *, known_checksum: str | None = None) -> dict | None:
        """Product type ``ref`` in this account's marketplace (``ptd.py``); None when unchanged."""
        from . import ptd

        return ptd.data_model(self.api, ref, self.marketplace_id, self.country, known_checksum=known_checksum)

    def search_data_models(self, words: list[str]) -> list[dict]:
        from . import ptd

        return ptd.search(self.api, self.marketplace_id, keywords=list(words))


    # -- listings (JSON_LISTINGS_FEED, patchListingsItem, searchListingsItems; listings_channel.py) --
    def submit_listings(self, batch: dict, save) -> dict:
        """Send a batch of listings; every step is passed to ``save`` before the next call."""
        from . import listings_channel

        return listings_channel.submit(self, batch, save)

    def poll_listings(self, handle: dict, save) -> dict | None:
        from . import listings_channel

        return listings_channel.poll(self, handle, save)

    def fetch_listings(self, skus: list[str] | None = None):
        """The listings Amazon shows, as remote listings (``listings_mapper.remote_listing``)."""
        from . import listings_channel

        return listings_channel.fetch(self, skus)

    # -- account health (Reports API; the health plugin asks, see health.py) --------------------------
    def health_report_request(self, kind: str) -> str:
        from . import health

        return health.request(self.api, self.marketplace_id, kind, self.app.clock.now())

    def health_report_poll(self, request_id: str) -> dict:
        from . import health

        return {**health.poll(self.api, request_id), "marketplace_id": self.marketplace_id}

    # -- notifications (Notifications API v1; health plugin's `marketd health notifications`) --------
    def notifications_setup(self, queue_arn: str, types: dict[str, str]) -> dict:
        from . import notifications

        return notifications.setup(self, queue_arn, types)

    def notifications_status(self) -> dict:
        from . import notifications

        out = notifications.status(self)
        if self.settings.notifications_queue_url:
            out["queue_depth"] = self._queue().depth()
        return out

    def _queue(self):
        if getattr(self, "_sqs", None) is None:
            from .sqs import NotificationQueue

            self._sqs = NotificationQueue(self)
        return self._sqs

    def notifications_receive(self, max_messages: int = 10, wait_seconds: int = 20,
                              visibility_seconds: int = 120) -> list[dict]:
        """Messages from the account's SQS queue: ``[{id, handle, body, receive_count}]``."""
        return self._queue().receive(max_messages, wait_seconds, visibility_seconds)

    def notifications_delete(self, handles: list[str]) -> int:
        return self._queue().delete(handles)


factory = AmazonChannel  # register("amazon", AmazonChannel): the class is the factory, with its settings_model
