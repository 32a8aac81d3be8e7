"""The eBay channel: one seller account (``[channels.<name>] type = "ebay"``).

The glue between the store and eBay: HTTP is ``client.py`` (``oauth.py``, ``signature.py``,
``quota.py``), JSON in and out is ``mapper.py``. What it does:

- ``sync_orders(since)``: Fulfillment ``getOrders`` over a closed ``lastmodifieddate`` window
  ``[watermark − overlap .. now − 60 s]`` (the end may not be in the future, ``30850``), every
  page by following ``next``, upserted into the core ``orders`` table and announced with
  ``order_imported``. Offsets shift when orders change while the pages are read: an order that
  moves leaves this window and is in the next one, which is why the watermark moves only after
  the last page and a stopped pass starts its window again (there is no resuming at an offset).
  Orders whose ``lastModifiedDate`` and status did not move are not written again.
- ``confirm_shipment(order_id, package)``: ``createShippingFulfillment`` for one package, exactly
  once. The POST is never retried blindly: after a 5xx, a timeout, a 409 or ``34500`` the
  order's fulfilments are read back and a fulfilment with our tracking number counts as done.
- ``shipment_confirmed(order_id, package)``: that read-back (tracking-sync asks it after a crash).

Credentials come from environment variables or systemd credentials, never from the TOML file
(``MARKETD_EBAY_<ACCOUNT>_CLIENT_ID`` / ``_CLIENT_SECRET`` / ``_REFRESH_TOKEN``, and
``_SIGNING_KEY`` / ``_SIGNING_JWE`` with ``digital_signature = true``).
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from marketd.sdk import Capabilities, Channel, ConfigError, RateLimited, TransientError, store_orders, utc_iso

from . import mapper
from .errors import EbayApiError
from .oauth import SCOPE_FINANCES, SCOPE_FULFILLMENT, SCOPE_INVENTORY, TOKEN_PATH, EbayTokens
from .quota import DEFAULT_QUOTAS, DailyQuota
from .settings import FORBIDDEN_KEYS, PRODUCTION, SANDBOX, EbayChannelSettings, env_name, secrets_in_clear

if TYPE_CHECKING:  # the client (httpx) is imported by the first call, not by loading the plugin
    from .client import EbayClient

log = logging.getLogger("marketd.ebay")

WINDOW_LAG = 60            # seconds: the window ends this far in the past (never in the future)
MAX_AGE_DAYS = 729         # getOrders serves orders up to two years old
READ_BACK_CODES = {34500}
MAX_PASSES = 3             # readings of one window when orders keep changing under it  # "Please use PUT operation for updating shipping fulfillment"


class EbayChannel(Channel):
    type = "ebay"
    capabilities = Capabilities(fetch_orders=True, confirm_shipment=True, fetch_settlements=True,
                                parse_settlements=True, update_listings=True, fetch_listings=True,
                                account_health=True, refund=True, data_models=True,
                                cancel_order=True)
    health_report_kinds = ("compliance",)
    settings_model = EbayChannelSettings

    def __init__(self, app, name: str, settings: EbayChannelSettings | dict, transport=None):
        leaked = sorted(k for k in FORBIDDEN_KEYS if isinstance(settings, dict) and settings.get(k))
        if leaked:
            raise ConfigError(f"[channels.{name}] " + secrets_in_clear(name, leaked))
        super().__init__(app, name, settings)
        s: EbayChannelSettings = self.settings
        hosts = SANDBOX if s.sandbox else PRODUCTION
        self.endpoint = (s.endpoint or hosts[0]).rstrip("/")
        self.finances_endpoint = (s.finances_endpoint or hosts[1]).rstrip("/")
        self.token_endpoint = s.token_endpoint or f"{self.endpoint}{TOKEN_PATH}"
        self.marketplace = s.marketplace
        self.orders_sync = s.orders_sync
        self.settlements_fetch = s.settlements_fetch
        self.initial_days = s.initial_days
        self.overlap = s.overlap_seconds
        self.max_wait = None if s.max_wait_seconds < 0 else s.max_wait_seconds
        self.carrier_codes = {mapper.carrier_key(k): v for k, v in s.carrier_codes.items()}
        bad = [op for op, v in s.limits.items() if len(v) != 2]
        if bad:
            raise ConfigError(f"[channels.{name}] limits.{bad[0]} must be [rate, burst], e.g. [5, 10]")
        self.limits = {op: (float(v[0]), float(v[1])) for op, v in s.limits.items()}
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(s.quota_timezone)
        except Exception:
            raise ConfigError(f"[channels.{name}] quota_timezone = {s.quota_timezone!r} is not a time zone "
                              "(e.g. America/Los_Angeles)") from None
        self._transport = transport if transport is not None else s.transport
        self._api: EbayClient | None = None
        self._taxonomy: EbayClient | None = None
        self.last_sync: dict = {}

    # -- credentials and client ----------------------------------------------------------------
    def credentials(self) -> tuple[str, str, str]:
        s: EbayChannelSettings = self.settings
        client_id = s.client_id or self.app.secret(s.client_id_secret or env_name(self.name, "CLIENT_ID"))
        secret = self.app.secret(s.client_secret_secret or env_name(self.name, "CLIENT_SECRET"))
        refresh = self.app.secret(s.refresh_token_secret or env_name(self.name, "REFRESH_TOKEN"))
        return client_id, secret, refresh

    def signer(self):
        s: EbayChannelSettings = self.settings
        if not s.digital_signature:
            return None
        from .signature import SignatureError, Signer

        key = self.app.secret(s.signing_key_secret or env_name(self.name, "SIGNING_KEY"))
        jwe = self.app.secret(s.signing_jwe_secret or env_name(self.name, "SIGNING_JWE"))
        try:
            return Signer(key.replace("\\n", "\n"), jwe, self.app.clock)
        except SignatureError as exc:
            raise ConfigError(f"[channels.{self.name}] digital_signature: {exc}") from None

    def _quota_load(self, day: str, resource: str) -> int:
        row = self.app.store.db.execute("select used from ebay_quota where channel = ? and day = ? and resource = ?",
                                        [self.name, day, resource]).fetchone()
        return row[0] if row else 0

    def _quota_save(self, day: str, resource: str, used: int) -> None:
        with self.app.store.transaction() as db:
            db.execute("insert into ebay_quota (channel, day, resource, used) values (?, ?, ?, ?) on conflict "
                       "(channel, day, resource) do update set used = max(used, excluded.used)",
                       [self.name, day, resource, used])
            db.execute("delete from ebay_quota where channel = ? and day < date(?, '-7 days')", [self.name, day])

    @property
    def api(self) -> EbayClient:
        if self._api is None:
            from .client import EbayClient

            s: EbayChannelSettings = self.settings
            clock = self.app.clock
            scopes = [SCOPE_FULFILLMENT] + ([SCOPE_FINANCES] if s.settlements_fetch else []) \
                + ([SCOPE_INVENTORY] if (s.listings or s.compliance_fetch) else [])
            tokens = EbayTokens(self.credentials, endpoint=self.token_endpoint, scopes=scopes,
                                transport=self._transport, clock=clock, account=self.name,
                                timeout=s.timeout or 30.0)
            quota = DailyQuota({**DEFAULT_QUOTAS, **s.daily_quota}, clock, timezone=s.quota_timezone,
                               load=self._quota_load, save=self._quota_save, account=self.name)
            self._api = EbayClient(self.endpoint, self.finances_endpoint, tokens, signer=self.signer(),
                                   transport=self._transport, clock=clock, limits=self.limits, quota=quota,
                                   timeout=s.timeout or 60.0, account=self.name, marketplace=self.marketplace,
                                   max_wait=self.max_wait)
        return self._api

    @property
    def taxonomy_api(self) -> EbayClient:
        """The Taxonomy API's client: an application token (taxonomy.py), the same daily quota."""
        if self._taxonomy is None:
            from .client import EbayClient
            from .oauth import EbayAppTokens

            s: EbayChannelSettings = self.settings
            tokens = EbayAppTokens(self.credentials, endpoint=self.token_endpoint, transport=self._transport,
                                   clock=self.app.clock, account=self.name, timeout=s.timeout or 30.0)
            self._taxonomy = EbayClient(self.endpoint, self.finances_endpoint, tokens, transport=self._transport,
                                        clock=self.app.clock, limits=self.limits, quota=self.api.quota,
                                        timeout=s.timeout or 60.0, account=self.name, max_wait=self.max_wait)
        return self._taxonomy

    # -- data models (Taxonomy API; the content plugin's content-models job asks) -------------------
    def fetch_data_model(self, ref: str, *, known_checksum: str | None = None) -> dict | None:
        """Category ``ref``'s item aspects in this account's marketplace (``taxonomy.py``)."""
        from . import taxonomy

        return taxonomy.data_model(self.taxonomy_api, self.marketplace, ref)

    def search_data_models(self, words: list[str]) -> list[dict]:
        """eBay's category suggestions for a product text (leaf categories, best first), as
        ``{name: category id, displayName: its path}`` (``marketd content models search``)."""
        from . import taxonomy

        tree = taxonomy.default_tree(self.taxonomy_api, self.marketplace)
        return [{"name": s["categoryId"], "displayName": s["path"]}
                for s in taxonomy.suggestions(self.taxonomy_api, str(tree.get("categoryTreeId") or ""), " ".join(words))]

    # -- account health (Compliance API; the health plugin asks, see compliance.py) -----------------
    def health_report_request(self, kind: str) -> str:
        from marketd.sdk import ConfigError

        if kind != "compliance":
            raise ValueError(f"eBay has no {kind!r} health report (only compliance)")
        if not self.settings.compliance_fetch:
            raise ConfigError(f"[channels.{self.name}] set compliance_fetch = true (and let the seller consent to "
                              "the sell.inventory scope) to read listing violations")
        return "c" + self.app.clock.now().strftime("%Y%m%d%H%M%S")

    def health_report_poll(self, request_id: str) -> dict:
        from . import compliance

        return compliance.poll(self, request_id)

    def close(self) -> None:
        if self._taxonomy is not None:
            self._taxonomy.close()
            self._taxonomy = None
        if self._api is not None:
            self._api.close()
            self._api = None

    # -- orders --------------------------------------------------------------------------------
    def _state(self) -> dict | None:
        rows = list(self.app.store.db.query("select * from ebay_order_sync where channel = ?", [self.name]))
        return rows[0] if rows else None

    def window(self, since: datetime | None, *, resync: bool = False) -> tuple[datetime, datetime]:
        """The closed ``lastmodifieddate`` window of the next pass."""
        now = self.app.clock.now()
        end = now - timedelta(seconds=WINDOW_LAG)
        state = None if resync else self._state()
        start = datetime.fromisoformat(state["synced_until"]) if state and state.get("synced_until") else since
        if start is None:
            start = now - timedelta(days=self.initial_days)
        start = max(start - timedelta(seconds=self.overlap), now - timedelta(days=MAX_AGE_DAYS))
        return min(start, end - timedelta(seconds=1)), end

    def sync_orders(self, since: datetime | None, *, resync: bool = False, max_wait: float | None = -1) -> int:
        """Pull orders modified in the window; returns how many were new or changed."""
        start, end = self.window(since, resync=resync)
        stats = {"pages": 0, "seen": 0, "new": 0, "changed": 0, "unchanged": 0, "complete": False, "passes": 0}
        started = self.app.clock.now()
        try:
            for _ in range(MAX_PASSES):
                stats["passes"] += 1
                if self._read_window(mapper.date_range("lastmodifieddate", start, end), stats, max_wait):
                    stats["complete"] = True
                    break
                log.info("ebay %s: orders changed while their pages were read (the window shrank); reading it "
                         "again so none is skipped", self.name)
        except RateLimited as exc:  # the daily limit or a long wait: the same window again next run
            log.info("ebay %s: %s", self.name, exc)
        row = {"channel": self.name, "last_run_at": started.isoformat(), "orders_seen": stats["seen"],
               "last_error": None}
        if stats["complete"]:
            row["synced_until"] = end.isoformat()
        with self.app.store.transaction() as db:
            db["ebay_order_sync"].upsert(row, pk="channel")
        self.last_sync = stats
        log.info("ebay %s: %d order(s) new, %d changed, %d unchanged in %d page(s) (modified %s .. %s)%s",
                 self.name, stats["new"], stats["changed"], stats["unchanged"], stats["pages"], utc_iso(start),
                 utc_iso(end), "" if stats["complete"] else "; stopped early, the next run reads this window again")
        return stats["new"] + stats["changed"]

    def _read_window(self, filter: str, stats: dict, max_wait) -> bool:
        """Read every page of the window; False when it shrank while being read.

        The window is closed and in the past, so orders only ever *leave* it while it is read
        (a change moves ``lastModifiedDate`` past its end). An order leaving from a page already
        read shifts every later order one offset down, and the one at the page border would be
        skipped; ``total`` going down between pages shows it, and the window is read again
        (unchanged orders cost no write)."""
        first_total = None
        shrank = False
        pages = self.api.order_pages(filter, max_wait=max_wait)
        try:
            for page in pages:
                stats["pages"] += 1
                total = page.get("total")
                if first_total is None:
                    first_total = total
                elif isinstance(total, int) and isinstance(first_total, int) and total < first_total:
                    shrank = True
                self._store_page(page, stats)
        finally:
            pages.close()
        return not shrank

    def _store_page(self, page: dict, stats: dict) -> None:
        orders = page.get("orders") or []
        stats["seen"] += len(orders)
        # a row's `aliases` (the legacy order id) go to order_aliases
        store_orders(self.app, [mapper.order_row(self.name, o) for o in orders], stats)

    # -- shipping fulfilments ------------------------------------------------------------------
    def _items_for(self, order_id: str) -> list[dict]:
        out = mapper.stored_items(self.app.store.get_order(f"{self.name}:{order_id}"))
        if out:
            return out
        order = self.api.get_order(order_id) or {}
        return [{"lineItemId": i["lineItemId"], "quantity": int(i.get("quantity") or 1)}
                for i in order.get("lineItems") or []]

    def fulfillment_body(self, order_id: str, package: dict) -> dict:
        items = [] if package.get("orderItems") else self._items_for(order_id)
        return mapper.fulfillment_body(package, items, self.app.clock.now(), self.carrier_codes)

    def _ledger(self, order_id: str, package_ref: str) -> dict | None:
        rows = list(self.app.store.db.query(
            "select * from ebay_fulfillments where channel = ? and order_id = ? and package_ref = ?",
            [self.name, order_id, package_ref]))
        return rows[0] if rows else None

    def _record(self, order_id: str, package_ref: str, body: dict, digest: str, state: str, status: int | None,
                fulfillment_id: str | None = None, errors: list | None = None) -> None:
        with self.app.store.transaction() as tx:
            tx["ebay_fulfillments"].upsert({
                "channel": self.name, "order_id": order_id, "package_ref": package_ref,
                "tracking_number": body["trackingNumber"], "carrier_code": body["shippingCarrierCode"],
                "fulfillment_id": fulfillment_id, "body_sha256": digest, "state": state, "status": status,
                "errors": json.dumps(errors) if errors else None, "updated_at": self.app.clock.now().isoformat()},
                pk=("channel", "order_id", "package_ref"))

    def _read_back(self, order_id: str, tracking: str) -> tuple[dict | None, list[dict]]:
        """(our fulfilment, every fulfilment) as eBay has them now."""
        found = self.api.get_fulfillments(order_id) or []
        return mapper.find_fulfillment(found, tracking), found

    def refund(self, order_id: str, amount: str | None, currency: str | None, lines: list[dict] | None,
               reason: str | None) -> dict:
        """A full (``amount`` None: the order's total) or partial refund through ``issueRefund``
        (the actions plugin calls it once per request, under its claim). Per-line refunds need
        the line amounts, which marketd does not split: lines are refused, refund an amount."""
        if lines:
            return {"ok": False, "error": "eBay line refunds need an amount per line: give --amount for the order"}
        order = self.app.store.get_order(f"{self.name}:{order_id}") or {}
        value = amount if amount is not None else order.get("total")
        cur = currency or order.get("currency")
        if value is None or not cur:
            return {"ok": False, "error": "the order's total is not known: give --amount and --currency"}
        body = {"reasonForRefund": mapper.REFUND_REASONS.get(reason or "other", "OTHER"),
                "orderLevelRefundAmount": {"value": str(value), "currency": cur}}
        resp = self.api.issue_refund(order_id, body)
        if resp.status_code == 200:
            doc = _json_or_none(resp) or {}
            log.info("ebay %s: refund of %s %s on order %s issued (%s, %s)", self.name, value, cur, order_id,
                     doc.get("refundId"), doc.get("refundStatus"))
            return {"ok": True, "ref": doc.get("refundId"), "status": doc.get("refundStatus")}
        if resp.status_code in (429,) or resp.status_code >= 500:
            # eBay may have taken it: not resent by itself (the action ledger holds it as failed)
            return {"ok": False, "error": f"HTTP {resp.status_code}: eBay may or may not have issued it; check the "
                                          "order in Seller Hub before asking again"}
        return {"ok": False, "status": resp.status_code, "error": _error_text(resp)}

    def cancel_order(self, order_id: str, lines: list[dict] | None, reason: str | None) -> dict:
        """Cancel a whole order through the Post-Order API: ``check_eligibility`` first (eBay
        says why not: shipped, already cancelled, too late), then ``createCancellation`` with
        the seller's reason; eBay refunds the buyer itself. Post-Order cancels whole orders only:
        lines are refused before any call (refund an amount instead)."""
        if lines:
            return {"ok": False, "error": "eBay cancels whole orders only (Post-Order API): cancel without lines, or "
                                          "refund the lines' amount with `refund --amount`"}
        raw = self._stored_order_raw(order_id)
        legacy = str(raw.get("legacyOrderId") or order_id)
        resp = self.api.check_cancellation(legacy)
        doc = _json_or_none(resp) or {}
        if resp.status_code != 200:
            return {"ok": False, "status": resp.status_code, "error": _error_text(resp)}
        if not doc.get("eligibleForCancellation"):
            why = ", ".join(str(r) for r in doc.get("failureReason") or []) or "no reason given"
            return {"ok": False, "error": f"eBay says order {order_id} cannot be cancelled: {why}"}
        body = {"legacyOrderId": legacy, "cancelReason": mapper.CANCEL_REASONS.get(reason or "other",
                                                                                  "OUT_OF_STOCK_OR_CANNOT_FULFILL")}
        resp = self.api.create_cancellation(body)
        if resp.status_code in (200, 201):
            cancel_id = (_json_or_none(resp) or {}).get("cancelId")
            log.info("ebay %s: order %s cancelled (cancellation %s)", self.name, order_id, cancel_id)
            return {"ok": True, "ref": cancel_id}
        if resp.status_code == 429 or resp.status_code >= 500:
            return {"ok": False, "error": f"HTTP {resp.status_code}: eBay may or may not have cancelled it; check the "
                                          "order in Seller Hub before asking again"}
        return {"ok": False, "status": resp.status_code, "error": _error_text(resp)}

    def _stored_order_raw(self, order_id: str) -> dict:
        raw = (self.app.store.get_order(f"{self.name}:{order_id}") or {}).get("raw")
        try:
            raw = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raw = None
        return raw if isinstance(raw, dict) else {}

    def confirm_shipment(self, order_id: str, package: dict) -> dict:
        """Send one package's tracking to eBay once; returns the outcome as data.

        ``{"ok": True, "status": 201, "fulfillment_id": …}`` when eBay created the fulfilment
        (or already had one with this tracking number: ``already_confirmed``), ``{"ok": False,
        "status": 400, "errors": [...], "error": …}`` when eBay refuses it. What may work later
        (throttling, an outage whose outcome eBay does not show yet) raises ``TransientError``.
        """
        body = self.fulfillment_body(order_id, package)
        package_ref = str(package.get("packageReferenceId") or "1")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        tracking = body["trackingNumber"]
        summary = {"order_id": order_id, "packageReferenceId": package_ref, "trackingNumber": tracking,
                   "shippingCarrierCode": body["shippingCarrierCode"]}
        prev = self._ledger(order_id, package_ref)
        if prev and prev["state"] == "confirmed" and mapper.tracking_key(prev["tracking_number"]) == \
                mapper.tracking_key(tracking):
            return {"ok": True, "status": prev["status"], "already_confirmed": True,
                    "fulfillment_id": prev["fulfillment_id"], **summary}
        if prev and prev["state"] == "unknown":  # an earlier send may have worked: look before sending again
            mine, _ = self._read_back(order_id, tracking)
            if mine is not None:
                return self._found(order_id, package_ref, body, digest, mine, summary, "read back before resending")
        try:
            resp = self.api.create_fulfillment(order_id, body)
        except RateLimited:
            raise  # nothing was sent
        except TransientError as exc:  # a 5xx or a timeout: eBay may have created it all the same
            return self._after_uncertain(order_id, package_ref, body, digest, summary, str(exc))
        status = resp.status_code
        if status == 201:
            fid = mapper.fulfillment_id(resp.headers.get("location"))
            self._record(order_id, package_ref, body, digest, "confirmed", status, fid)
            log.info("ebay %s: tracking of package %s on order %s sent (fulfilment %s)", self.name, package_ref,
                     order_id, fid)
            return {"ok": True, "status": 201, "fulfillment_id": fid, **summary}
        errors = mapper.errors_of(_json_or_none(resp))
        ids = mapper.error_ids(errors)
        if status == 409 or ids & READ_BACK_CODES:
            mine, every = self._read_back(order_id, tracking)
            if mine is not None:
                return self._found(order_id, package_ref, body, digest, mine, summary, f"HTTP {status}")
            if status == 409 and not ids:
                self._record(order_id, package_ref, body, digest, "unknown", status)
                raise TransientError(f"eBay createShippingFulfillment for {order_id}: 409 Conflict and no "
                                     "fulfilment with this tracking number yet; trying again later")
            other = [f for f in every if mapper.covered_line_items([f]) & {li["lineItemId"] for li in body["lineItems"]}]
            if other:
                shown = ", ".join(str(f.get("shipmentTrackingNumber")) for f in other)
                errors = errors + [{"errorId": 0, "message": f"eBay already has tracking {shown} for these items; "
                                                            "change it in Seller Hub if it is wrong"}]
        result = {"ok": False, "status": status, "errors": errors, **summary}
        result["error"] = mapper.error_text(errors) or f"HTTP {status}"
        if 32300 in ids:
            result["error"] += (f"; if {body['shippingCarrierCode']!r} is not an eBay carrier code, map it in "
                                f"[channels.{self.name}] carrier_codes")
        self._record(order_id, package_ref, body, digest, "refused", status, errors=errors)
        log.warning("ebay %s: createShippingFulfillment for %s refused: %s", self.name, order_id, result["error"])
        return result

    def _found(self, order_id, package_ref, body, digest, mine: dict, summary: dict, why: str) -> dict:
        fid = mine.get("fulfillmentId")
        self._record(order_id, package_ref, body, digest, "confirmed", 201, fid)
        log.info("ebay %s: order %s already has tracking %s (fulfilment %s; %s)", self.name, order_id,
                 summary["trackingNumber"], fid, why)
        return {"ok": True, "status": 201, "already_confirmed": True, "fulfillment_id": fid, **summary}

    def _after_uncertain(self, order_id, package_ref, body, digest, summary, error: str) -> dict:
        self._record(order_id, package_ref, body, digest, "unknown", None, errors=[{"message": error[:300]}])
        try:
            mine, _ = self._read_back(order_id, summary["trackingNumber"])
        except (TransientError, EbayApiError) as exc:
            raise TransientError(f"eBay createShippingFulfillment for {order_id}: {error}; reading the "
                                 f"fulfilments back failed too ({exc}); trying again later") from None
        if mine is not None:
            return self._found(order_id, package_ref, body, digest, mine, summary, "after an error answer")
        raise TransientError(f"eBay createShippingFulfillment for {order_id}: {error}; eBay shows no fulfilment "
                             "with this tracking number, so it is sent again later (after another look)")

    def shipment_confirmed(self, order_id: str, package: dict) -> bool | None:
        """Does eBay show a fulfilment with this package's tracking number? None = cannot tell."""
        tracking = str(package.get("trackingNumber") or "")
        rows = list(self.app.store.db.query(
            "select state, tracking_number from ebay_fulfillments where channel = ? and order_id = ?",
            [self.name, order_id]))
        if any(r["state"] == "confirmed" and mapper.tracking_key(r["tracking_number"]) == mapper.tracking_key(tracking)
               for r in rows):
            return True
        try:
            found = self.api.get_fulfillments(order_id)
        except (EbayApiError, TransientError, ConfigError) as exc:
            log.warning("ebay %s: cannot read the fulfilments of %s: %s", self.name, order_id, exc)
            return None
        if found is None:
            return None
        return mapper.find_fulfillment(found, tracking) is not None

    # -- listings (Inventory API; listings_channel.py) -----------------------------------------------
    def submit_listings(self, batch: dict, save) -> dict:
        from . import listings_channel

        return listings_channel.submit(self, batch, save)

    def poll_listings(self, handle: dict, save) -> dict | None:
        from . import listings_channel

        return listings_channel.poll(self, handle, save)

    def fetch_listings(self, skus: list[str] | None = None):
        from . import listings_channel

        return listings_channel.fetch(self, skus)


def _json_or_none(resp):
    try:
        return resp.json()
    except ValueError:
        return None


factory = EbayChannel


def _error_text(resp) -> str:
    errors = mapper.errors_of(_json_or_none(resp))
    return "; ".join(f"{e.get('errorId')}: {e.get('message')}" for e in errors) or f"HTTP {resp.status_code}"
