"""The Feeds and Listings Items side of the fake SP-API (``fake.py``).

- **Feeds 2021-06-30**: ``createFeedDocument`` (201, an upload URL on the fake S3 valid 5 minutes),
  ``PUT /__s3/<id>`` (the Content-Type must be the one declared, else 403
  ``SignatureDoesNotMatch``; an expired link 403 ``AccessDenied``), ``createFeed`` (202; the document
  must have been uploaded), ``getFeed``/``getFeeds``/``cancelFeed`` with a clock-driven
  IN_QUEUE → IN_PROGRESS → DONE|FATAL machine (``feed_delays``, ``next_feed_outcome``),
  ``getFeedDocument`` for the processing report (gzip, like Amazon's).
- **JSON_LISTINGS_FEED processing**: the uploaded body is checked against the official feed schema
  when the plugged ``contract`` offers ``listings_feed_problems`` (a broken body gives a DONE
  report with one feed-level issue and no messageId, as Amazon does); each UPDATE is validated
  against the fake's own product type schema with **its own** jsonschema call (it never imports
  marketd's validator, so a bug there shows): a missing required attribute gives ``90220``
  "'<name>' is required but not supplied." with ``attributeName``, any other schema error
  ``90000900`` "The attributes are invalid." (the code of the model's patch example).
  PARTIAL_UPDATE/PATCH need an existing SKU (``8560`` otherwise, fake wording). Accepted
  messages change the listings store; the report is checked against the official processing
  report schema (``processing_report_problems``) and a drift is a ``response_violation``.
- **Listings Items 2021-08-01**: ``getListingsItem``, ``searchListingsItems`` (``pageSize`` ≤ 20,
  ``identifiers`` ≤ 20 with ``identifiersType``, an opaque ``pageToken``, no more than 1,000
  results paged through, as the model says), ``patchListingsItem`` (top-level
  ``/attributes/<name>`` only; ``mode=VALIDATION_PREVIEW`` answers VALID/INVALID and stores
  nothing), ``putListingsItem``, ``deleteListingsItem``. Issues can be seeded per SKU
  (``set_issues``), a listing can be changed behind our back (``edit_listing``: Amazon rewrote a
  title, moved a product type).
"""
from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

from .fake_orders import Reply, _errors, iso

UPLOAD_SECONDS = 300
SEARCH_CAP = 1000


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, sort_keys=True).encode()).decode()


def _unb64(text: str):
    try:
        return json.loads(base64.urlsafe_b64decode(text.encode()))
    except (ValueError, TypeError):
        return None


class ListingsApi:
    """Mixin of :class:`~marketd.plugins.amazon.fake.SpApiFake`: feeds and listings state."""

    seller_id = "A2FAKESELLER01"
    feed_delays = (30.0, 60.0)

    def _listings_init(self) -> None:
        self.feeds: dict[str, dict] = {}
        self.feed_uploads: dict[str, dict] = {}
        self.vat_invoices: list[dict] = []  # UPLOAD_VAT_INVOICE feeds accepted (fake_vat_invoices.py)
        self.cancelled_items: list[tuple[str, str]] = []  # (order, item) cancelled by acknowledgement feeds
        self.listings: dict[str, dict] = {}
        self.next_feed_outcome = "DONE"
        self.processed_messages = 0
        self._validators: dict = {}

    # -- set-up and inspection ---------------------------------------------------------------------
    def set_issues(self, sku: str, issues: list[dict]) -> None:
        with self.lock:
            self.listings[sku]["issues"] = copy.deepcopy(issues)

    def edit_listing(self, sku: str, **changes) -> None:
        """Amazon changes a listing: ``title=…``, ``product_type=…``, ``price=Decimal``,
        ``main_image=url``, ``status=[…]``."""
        with self.lock:
            li = self.listings[sku]
            mid = self.marketplace_id
            if "title" in changes:
                li["attributes"]["item_name"] = [{"value": changes["title"], "marketplace_id": mid}]
            if "product_type" in changes:
                li["productType"] = changes["product_type"]
            if "price" in changes:
                li["attributes"]["purchasable_offer"] = [{"currency": "EUR", "marketplace_id": mid, "our_price": [
                    {"schedule": [{"value_with_tax": str(changes["price"])}]}]}]
            if "main_image" in changes:
                li["attributes"]["main_product_image_locator"] = [{"media_location": changes["main_image"],
                                                                   "marketplace_id": mid}]
            if "status" in changes:
                li["status_override"] = list(changes["status"])
            li["updated"] = iso(self.clock.now())

    def put_item(self, item: dict) -> None:
        """Load a whole ``Item`` (e.g. the model's sandbox example) as a listing of this fake."""
        with self.lock:
            summary = next((s for s in item.get("summaries") or []), {})
            self.listings[item["sku"]] = {
                "productType": summary.get("productType", "PRODUCT"), "attributes": copy.deepcopy(item.get("attributes") or {}),
                "created": summary.get("createdDate") or iso(self.clock.now()),
                "updated": summary.get("lastUpdatedDate") or iso(self.clock.now()), "issues": copy.deepcopy(item.get("issues") or []),
                "asin": summary.get("asin") or self._asin(item["sku"]), "item": copy.deepcopy(item)}

    # -- feeds ---------------------------------------------------------------------------------------
    def _op_createFeedDocument(self, params, body, base) -> Reply:
        ctype = (body or {}).get("contentType")
        if not ctype:
            return Reply(400, _errors("InvalidInput", "contentType is required."))
        doc_id = f"amzn1.tortuga.4.eu.{uuid.UUID(int=self.rng.getrandbits(128))}.T{self.rng.randint(10**9, 10**10)}"
        date = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        self.feed_uploads[doc_id] = {"content_type": ctype, "data": None, "issued": date}
        q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": date, "X-Amz-Expires": str(UPLOAD_SECONDS),
             "X-Amz-Signature": self._sign(doc_id, date, "put:" + ctype)}
        return Reply(201, {"feedDocumentId": doc_id, "url": f"{self.s3_base or base}/__s3/{doc_id}?{urlencode(q)}"})

    def _s3_put(self, req, key: str) -> Reply:
        if req.headers.get("x-amz-access-token"):
            self.s3_requests_with_token += 1
        q = {k: v[-1] for k, v in req.query.items()}
        up = self.feed_uploads.get(key)

        def xml(code, msg, status=403):
            return Reply(status, f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                                 f"<Message>{msg}</Message></Error>", {"Content-Type": "application/xml"})
        if up is None:
            return xml("NoSuchUpload", "The specified upload does not exist.", 404)
        ctype = req.headers.get("content-type", "")
        if not hmac.compare_digest(q.get("X-Amz-Signature", ""), self._sign(key, q.get("X-Amz-Date", ""), "put:" + ctype)):
            return xml("SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                                                "you provided. Check your key and signing method.")
        issued = datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        if self.clock.now() > issued + timedelta(seconds=int(q.get("X-Amz-Expires", "300"))):
            return xml("AccessDenied", "Request has expired")
        up["data"] = req.body
        return Reply(200, b"", {"ETag": '"' + hashlib.md5(req.body).hexdigest() + '"'})

    def _op_createFeed(self, params, body, base) -> Reply:
        doc_id = body.get("inputFeedDocumentId")
        up = self.feed_uploads.get(doc_id or "")
        if up is None or up["data"] is None:
            return Reply(400, _errors("InvalidInput", "The feed document was not uploaded.",
                                      f"inputFeedDocumentId {doc_id}"))
        if body.get("feedType") == "UPLOAD_VAT_INVOICE":
            from .fake_vat_invoices import vat_invoice_problems

            problems = vat_invoice_problems(up, body, self.orders)
            if problems:
                self._violations.append({"operation": "createFeed UPLOAD_VAT_INVOICE", "path": "", "problems": problems})
                return Reply(400, _errors("InvalidInput", "Invalid UPLOAD_VAT_INVOICE feed", "; ".join(problems)))
            if getattr(self, "vat_invoice_mode", None) == "FeatureNotAvailable":
                return Reply(400, _errors("FeatureNotAvailable", "This feature is not available for this seller."))
            self.vat_invoices.append({"options": dict(body["feedOptions"]), "bytes": len(up["data"])})
        feed_id = str(self.rng.randint(10**10, 10**11 - 1))
        self.feeds[feed_id] = {"feedId": feed_id, "feedType": body["feedType"], "marketplaceIds": list(body["marketplaceIds"]),
                               "createdTime": iso(self.clock.now()), "processingStatus": "IN_QUEUE",
                               "_mono": self.clock.monotonic(), "_doc": doc_id, "_outcome": self.next_feed_outcome}
        return Reply(202, {"feedId": feed_id})

    def _public_feed(self, feed: dict) -> dict:
        self._advance_feed(feed)
        return {k: v for k, v in feed.items() if not k.startswith("_")}

    def _op_getFeed(self, params, body, base, feedId) -> Reply:
        feed = self.feeds.get(feedId)
        if feed is None:
            return Reply(404, _errors("NotFound", f"Feed {feedId} was not found."))
        return Reply(200, self._public_feed(feed))

    def _op_cancelFeed(self, params, body, base, feedId) -> Reply:
        feed = self.feeds.get(feedId)
        if feed is None:
            return Reply(404, _errors("NotFound", f"Feed {feedId} was not found."))
        self._advance_feed(feed)
        if feed["processingStatus"] != "IN_QUEUE":
            return Reply(400, _errors("InvalidInput", f"Feed {feedId} is {feed['processingStatus']}; only IN_QUEUE "
                                                      "feeds can be cancelled."))
        feed["processingStatus"] = "CANCELLED"
        return Reply(200, b"", {"Content-Type": "application/json"})

    def _op_getFeeds(self, params, body, base) -> Reply:
        if "nextToken" in params and len(params) > 1:
            return Reply(400, _errors("InvalidInput", "nextToken must be the only parameter."))
        if "nextToken" in params:
            state = _unb64(params["nextToken"])
            if not isinstance(state, dict):
                return Reply(400, _errors("InvalidInput", "Invalid nextToken."))
            filters, offset = state["f"], state["o"]
        else:
            filters, offset = {k: params.get(k) for k in ("feedTypes", "marketplaceIds", "processingStatuses",
                                                          "createdSince", "createdUntil", "pageSize")}, 0
        if not filters.get("feedTypes"):
            return Reply(400, _errors("InvalidInput", "feedTypes is required when nextToken is absent."))
        since = filters.get("createdSince")
        rows = []
        for f in sorted(self.feeds.values(), key=lambda f: (f["createdTime"], f["feedId"])):
            if f["feedType"] not in filters["feedTypes"]:
                continue
            if filters.get("marketplaceIds") and not set(filters["marketplaceIds"]) & set(f["marketplaceIds"]):
                continue
            if since and f["createdTime"] < iso(datetime.fromisoformat(since.replace("Z", "+00:00"))):
                continue
            pub = self._public_feed(f)
            if filters.get("processingStatuses") and pub["processingStatus"] not in filters["processingStatuses"]:
                continue
            rows.append(pub)
        size = int(filters.get("pageSize") or 10)
        out: dict = {"feeds": rows[offset:offset + size]}
        if offset + size < len(rows):
            out["nextToken"] = _b64({"f": filters, "o": offset + size})
        return Reply(200, out)

    def _op_getFeedDocument(self, params, body, base, feedDocumentId) -> Reply:
        doc = self.documents.get(feedDocumentId)
        if doc is None:
            return Reply(404, _errors("NotFound", f"Feed document {feedDocumentId} was not found."))
        date = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
        q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": date, "X-Amz-Expires": "300",
             "X-Amz-Signature": self._sign(feedDocumentId, date, "")}
        out = {"feedDocumentId": feedDocumentId, "url": f"{self.s3_base or base}/__s3/{feedDocumentId}?{urlencode(q)}"}
        if doc["compressed"]:
            out["compressionAlgorithm"] = "GZIP"
        return Reply(200, out)

    def _advance_feed(self, feed: dict) -> None:
        if feed["processingStatus"] in ("DONE", "CANCELLED", "FATAL"):
            return
        age = self.clock.monotonic() - feed["_mono"]
        queue, work = self.feed_delays
        now = iso(self.clock.now())
        if age >= queue and feed["processingStatus"] == "IN_QUEUE":
            feed["processingStatus"], feed["processingStartTime"] = "IN_PROGRESS", now
        if age >= queue + work and feed["processingStatus"] == "IN_PROGRESS":
            feed["processingEndTime"] = now
            if feed["_outcome"] == "FATAL":
                feed["processingStatus"] = "FATAL"
                return
            if feed["feedType"] == "UPLOAD_VAT_INVOICE":  # no per-invoice report outside VCS
                feed["processingStatus"] = "DONE"
                return
            if feed["feedType"] == "POST_ORDER_ACKNOWLEDGEMENT_DATA":  # an XML order feed, an XML report
                from .fake_order_feeds import process

                data = process(self, feed, self.feed_uploads[feed["_doc"]]["data"] or b"")
            else:
                data = json.dumps(self._process_feed(feed)).encode()
            doc_id = f"amzn1.tortuga.4.eu.{uuid.UUID(int=self.rng.getrandbits(128))}.T{self.rng.randint(10**9, 10**10)}"
            self.documents[doc_id] = {"data": gzip.compress(data, mtime=0), "compressed": True}
            feed["resultFeedDocumentId"] = doc_id
            feed["processingStatus"] = "DONE"

    # -- JSON_LISTINGS_FEED ----------------------------------------------------------------------------
    def _process_feed(self, feed: dict) -> dict:
        raw = self.feed_uploads[feed["_doc"]]["data"] or b""
        header = {"sellerId": self.seller_id, "version": "2.0", "feedId": feed["feedId"]}
        try:
            doc = json.loads(raw, parse_float=Decimal)
        except ValueError:
            doc = None
        problems = ["the feed document is not JSON"] if doc is None else []
        check = getattr(self.contract, "listings_feed_problems", None)
        if doc is not None and check is not None:
            problems = check(json.loads(raw))
        elif doc is not None and not (isinstance(doc, dict) and isinstance(doc.get("messages"), list)
                                      and (doc.get("header") or {}).get("version") == "2.0"):
            problems = ["the feed document is not a JSON_LISTINGS_FEED v2.0 document"]
        if problems:
            report = {"header": header, "issues": [{"code": "100001", "severity": "ERROR",
                                                    "message": "The feed is not valid: " + "; ".join(problems)[:900]}],
                      "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 0, "messagesAccepted": 0,
                                  "messagesInvalid": 0}}
            return self._checked_report(report)
        issues, accepted, invalid = [], 0, 0
        for msg in doc["messages"]:
            self.processed_messages += 1
            found = self._message(msg, feed["marketplaceIds"][0])
            issues += found
            if any(i["severity"] == "ERROR" for i in found):
                invalid += 1
            else:
                accepted += 1
        report = {"header": header, "issues": issues,
                  "summary": {"errors": sum(i["severity"] == "ERROR" for i in issues),
                              "warnings": sum(i["severity"] == "WARNING" for i in issues),
                              "messagesProcessed": accepted + invalid, "messagesAccepted": accepted,
                              "messagesInvalid": invalid}}
        return self._checked_report(report)

    def _checked_report(self, report: dict) -> dict:
        check = getattr(self.contract, "processing_report_problems", None)
        if check is not None:
            problems = check(report)
            if problems:
                self._response_violations.append({"operation": "JSON_LISTINGS_FEED report", "status": 200,
                                                  "problems": problems})
        return report

    def _schema_issues(self, mid: int, sku: str, product_type: str, attributes: dict, enforced: bool) -> list[dict]:
        from jsonschema import Draft201909Validator

        pt = self.product_types.get(product_type)
        if pt is None:
            return [{"messageId": mid, "sku": sku, "code": "90244", "severity": "ERROR",
                     "message": f"The product type '{product_type}' is not valid for this marketplace."}]
        key = (product_type, pt["version"], enforced)
        validator = self._validators.get(key)
        if validator is None:  # one per product type version: a 10,000-message feed reuses it
            schema = copy.deepcopy(pt["schema"])
            schema.pop("$schema", None)
            if not enforced:
                schema.pop("required", None)
                schema.pop("allOf", None)
            validator = self._validators[key] = Draft201909Validator(schema)
        out = []
        plain = json.loads(json.dumps(attributes, default=float))
        for e in sorted(validator.iter_errors(plain), key=lambda e: list(e.absolute_path)):
            if e.validator == "required":
                for name in e.validator_value:
                    if name not in (e.instance or {}):
                        out.append({"messageId": mid, "sku": sku, "code": "90220", "severity": "ERROR",
                                    "message": f"'{name}' is required but not supplied.", "attributeName": name})
                continue
            attr = str(e.absolute_path[0]) if e.absolute_path else ""
            issue = {"messageId": mid, "sku": sku, "code": "90000900", "severity": "ERROR",
                     "message": "The attributes are invalid."}
            if attr:
                issue["attributeName"] = attr
            out.append(issue)
        for offer in attributes.get("purchasable_offer") or []:
            if not (offer or {}).get("our_price"):
                out.append({"messageId": mid, "sku": sku, "code": "99022", "severity": "ERROR",
                            "message": "'purchasable_offer.our_price' does not have enough values.",
                            "attributeName": "purchasable_offer"})
        # dedupe (a required error per branch of a conditional can repeat)
        seen, unique = set(), []
        for i in out:
            key = (i["code"], i.get("attributeName"))
            if key not in seen:
                seen.add(key)
                unique.append(i)
        return unique

    def _message(self, msg: dict, marketplace_id: str) -> list[dict]:
        mid, sku, op = msg.get("messageId"), msg.get("sku"), msg.get("operationType")
        existing = self.listings.get(sku)
        if op == "DELETE":
            self.listings.pop(sku, None)
            return []
        if op in ("PARTIAL_UPDATE", "PATCH") and existing is None:
            return [{"messageId": mid, "sku": sku, "code": "8560", "severity": "ERROR",
                     "message": f"SKU {sku} does not exist in this marketplace; send UPDATE with requirements."}]
        if op == "UPDATE":
            attrs = copy.deepcopy(msg.get("attributes") or {})
        elif op == "PARTIAL_UPDATE":
            attrs = {**existing["attributes"], **copy.deepcopy(msg.get("attributes") or {})}
        else:
            attrs = copy.deepcopy(existing["attributes"])
            for p in msg.get("patches") or []:
                name = p["path"].split("/")[2] if p["path"].count("/") == 2 else None
                if not p["path"].startswith("/attributes/") or name is None:
                    return [{"messageId": mid, "sku": sku, "code": "90000900", "severity": "ERROR",
                             "message": f"Only top-level attributes can be patched: {p['path']}"}]
                if p["op"] == "delete":
                    attrs.pop(name, None)
                else:
                    attrs[name] = copy.deepcopy(p.get("value"))
        ptype = msg.get("productType") or (existing or {}).get("productType", "")
        issues = self._schema_issues(mid, sku, ptype, attrs, enforced=(op == "UPDATE"))
        if any(i["severity"] == "ERROR" for i in issues):
            return issues
        now = iso(self.clock.now())
        self.listings[sku] = {"productType": ptype, "attributes": json.loads(json.dumps(attrs, default=str)),
                              "created": (existing or {}).get("created", now), "updated": now,
                              "issues": (existing or {}).get("issues", []), "asin": (existing or {}).get("asin") or self._asin(sku)}
        return issues

    def _asin(self, sku: str) -> str:
        return "B0" + hashlib.sha256(sku.encode()).hexdigest()[:8].upper()

    # -- Listings Items --------------------------------------------------------------------------------
    def _item(self, sku: str, li: dict, included: list[str], marketplace_id: str) -> dict:
        if li.get("item") is not None and not li.get("attributes_changed"):
            base = copy.deepcopy(li["item"])
            return {k: v for k, v in base.items() if k == "sku" or k in included}
        attrs = li["attributes"]
        out: dict = {"sku": sku}

        def first(name, field="value"):
            for it in attrs.get(name) or []:
                if isinstance(it, dict) and it.get(field) not in (None, ""):
                    return it[field]
            return None
        price = None
        for o in attrs.get("purchasable_offer") or []:
            for p in (o or {}).get("our_price") or []:
                for s in p.get("schedule") or []:
                    price = (str(s.get("value_with_tax")), o.get("currency") or "EUR")
        qty = None
        for f in attrs.get("fulfillment_availability") or []:
            qty = f.get("quantity")
        status = li.get("status_override")
        if status is None:
            status = ["DISCOVERABLE"] + (["BUYABLE"] if price and (qty or 0) > 0 else [])
        if "summaries" in included:
            summary = {"marketplaceId": marketplace_id, "asin": li["asin"], "productType": li["productType"],
                       "conditionType": "new_new", "status": status, "createdDate": li["created"],
                       "lastUpdatedDate": li["updated"]}
            title = first("item_name")
            if title:
                summary["itemName"] = title
            image = first("main_product_image_locator", "media_location")
            if image:
                summary["mainImage"] = {"link": image, "height": 1000, "width": 1000}
            out["summaries"] = [summary]
        if "attributes" in included:
            out["attributes"] = copy.deepcopy(attrs)
        if "issues" in included:
            out["issues"] = copy.deepcopy(li.get("issues") or [])
        if "offers" in included:
            out["offers"] = ([{"marketplaceId": marketplace_id, "offerType": "B2C",
                               "price": {"currencyCode": price[1], "amount": price[0]}}] if price else [])
        if "fulfillmentAvailability" in included:
            out["fulfillmentAvailability"] = ([{"fulfillmentChannelCode": "DEFAULT", "quantity": int(qty)}]
                                              if qty is not None else [])
        return out

    def _seller_ok(self, sellerId: str) -> Reply | None:
        if sellerId != self.seller_id:
            return Reply(403, _errors("Unauthorized", "Access to requested resource is denied.",
                                      f"The seller {sellerId} is not the authorised selling partner."))
        return None

    def _op_getListingsItem(self, params, body, base, sellerId, sku) -> Reply:
        bad = self._seller_ok(sellerId)
        if bad:
            return bad
        li = self.listings.get(sku)
        if li is None:
            return Reply(404, _errors("NotFound", f"SKU '{sku}' not found in marketplace {params['marketplaceIds'][0]}"))
        return Reply(200, self._item(sku, li, params.get("includedData") or ["summaries"], params["marketplaceIds"][0]))

    def _op_searchListingsItems(self, params, body, base, sellerId) -> Reply:
        bad = self._seller_ok(sellerId)
        if bad:
            return bad
        size = int(params.get("pageSize") or 10)
        if size > 20:
            return Reply(400, _errors("InvalidInput", "pageSize must be at most 20."))
        ids = params.get("identifiers") or []
        if ids and (len(ids) > 20 or not params.get("identifiersType")):
            return Reply(400, _errors("InvalidInput", "identifiers takes at most 20 values and needs identifiersType."))
        offset = 0
        if params.get("pageToken"):
            state = _unb64(params["pageToken"])
            if not isinstance(state, dict):
                return Reply(400, _errors("InvalidInput", "Invalid pageToken."))
            offset = state["o"]
        skus = sorted(s for s in self.listings if not ids or s in ids)
        after = params.get("lastUpdatedAfter")
        if after:
            skus = [s for s in skus if self.listings[s]["updated"] >= after]
        total = len(skus)
        skus = skus[:SEARCH_CAP]
        page = skus[offset:offset + size]
        mid = params["marketplaceIds"][0]
        out: dict = {"numberOfResults": total,
                     "items": [self._item(s, self.listings[s], params.get("includedData") or ["summaries"], mid)
                               for s in page]}
        if offset + size < len(skus):
            out["pagination"] = {"nextToken": _b64({"o": offset + size})}
        return Reply(200, out)

    def _submission(self, sku, issues, mode) -> Reply:
        errors = any(i["severity"] == "ERROR" for i in issues)
        status = "INVALID" if errors else ("VALID" if mode == "VALIDATION_PREVIEW" else "ACCEPTED")
        out = [{"code": i["code"], "message": i["message"], "severity": i["severity"], "categories": [],
                **({"attributeNames": [i["attributeName"]]} if i.get("attributeName") else {})} for i in issues]
        return Reply(200, {"sku": sku, "status": status, "submissionId": uuid.UUID(int=self.rng.getrandbits(128)).hex,
                           "issues": out})

    def _op_patchListingsItem(self, params, body, base, sellerId, sku) -> Reply:
        bad = self._seller_ok(sellerId)
        if bad:
            return bad
        msg = {"messageId": 1, "sku": sku, "operationType": "PATCH", "productType": body.get("productType"),
               "patches": body.get("patches") or []}
        mode = params.get("mode")
        if mode == "VALIDATION_PREVIEW":
            saved = copy.deepcopy(self.listings.get(sku))
            issues = self._message(msg, params["marketplaceIds"][0])
            if saved is None:
                self.listings.pop(sku, None)
            else:
                self.listings[sku] = saved
        else:
            issues = self._message(msg, params["marketplaceIds"][0])
        return self._submission(sku, issues, mode)

    def _op_putListingsItem(self, params, body, base, sellerId, sku) -> Reply:
        bad = self._seller_ok(sellerId)
        if bad:
            return bad
        msg = {"messageId": 1, "sku": sku, "operationType": "UPDATE", "productType": body.get("productType"),
               "attributes": body.get("attributes") or {}}
        return self._submission(sku, self._message(msg, params["marketplaceIds"][0]), params.get("mode"))

    def _op_deleteListingsItem(self, params, body, base, sellerId, sku) -> Reply:
        bad = self._seller_ok(sellerId)
        if bad:
            return bad
        self.listings.pop(sku, None)
        return self._submission(sku, [], None)
