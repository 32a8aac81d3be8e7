"""The Orders side of the fake SP-API (``fake.py``): realistic v2026 orders and the operations on
them (``searchOrders``, ``getOrder`` of Orders v2026-01-01, ``confirmShipment`` of Orders v0).

The sample marketplace has Italian names, streets and products, prices in EUR, from a seeded
generator: the same seed gives the same orders, so test runs and sandbox runs compare. The
wire helpers every part of the fake uses (SP-API error bodies, opaque tokens, times) live here too.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from marketd.sdk.fakes import Response as Reply


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _errors(code: str, message: str, details: str = "") -> dict:
    """SP-API's error body: ``{"errors": [{"code", "message", "details"?}]}``."""
    e = {"code": code, "message": message}
    if details:
        e["details"] = details
    return {"errors": [e]}


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(text: str):
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


# -- realistic order population --------------------------------------------------------------------
FIRST = ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo", "Elena", "Davide",
         "Martina", "Simone", "Federica", "Andrea", "Valentina", "Paolo"]
LAST = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti", "De Luca", "Costa", "Giordano"]
STREETS = ["Via Roma", "Via Garibaldi", "Corso Italia", "Via Mazzini", "Via Dante", "Viale Europa", "Via Verdi",
           "Piazza della Repubblica", "Via Cavour", "Via XX Settembre"]
PLACES = [("Milano", "MI", "20121"), ("Roma", "RM", "00184"), ("Torino", "TO", "10121"), ("Napoli", "NA", "80133"),
          ("Bologna", "BO", "40121"), ("Firenze", "FI", "50122"), ("Verona", "VR", "37121"), ("Bari", "BA", "70121"),
          ("Padova", "PD", "35122"), ("Brescia", "BS", "25121"), ("Bergamo", "BG", "24121"), ("Genova", "GE", "16121")]
PRODUCTS = [("Tazza in ceramica 350 ml", "19.90"), ("Cover smartphone in silicone", "12.50"),
            ("Lampada da tavolo LED", "34.00"), ("Set 6 bicchieri vetro", "24.90"), ("Zaino trekking 30 L", "49.90"),
            ("Borraccia termica 500 ml", "17.99"), ("Tagliere in bambù", "15.00"), ("Cuscino memory foam", "29.90"),
            ("Portachiavi personalizzato", "9.90"), ("Quaderno A5 a righe", "6.50")]
MARKETPLACE_NAMES = {"APJ6JRA9NG5V4": "Amazon.it", "A1PA6795UKMFR9": "Amazon.de", "A13V1IB3VIYZZH": "Amazon.fr",
                     "A1RKKUPIHCS9HS": "Amazon.es", "A1F83G8C2ARO7P": "Amazon.co.uk", "ATVPDKIKX0DER": "Amazon.com"}


def _money(amount: Decimal, currency: str) -> dict:
    return {"amount": format(amount.quantize(Decimal("0.01")), "f"), "currencyCode": currency}


def make_order(rng: random.Random, *, created: datetime, updated: datetime, marketplace_id: str,
               currency: str = "EUR", status: str | None = None, fulfilled_by: str | None = None,
               order_id: str | None = None) -> dict:
    """One realistic v2026 ``Order`` (all blocks; ``includedData`` trims them when served)."""
    fulfilled_by = fulfilled_by or ("MERCHANT" if rng.random() < 0.85 else "AMAZON")
    if status is None:
        r = rng.random()
        status = ("UNSHIPPED" if r < 0.55 else "SHIPPED" if r < 0.85 else "PENDING" if r < 0.92 else "CANCELLED")
        if fulfilled_by == "AMAZON" and status == "UNSHIPPED":
            status = "SHIPPED"
    order_id = order_id or f"{rng.choice(['402', '403', '404', '405', '406', '407', '408'])}-{rng.randint(0, 9999999):07d}-{rng.randint(0, 9999999):07d}"
    priced = status != "PENDING"  # Amazon gives no prices for pending orders
    items, total = [], Decimal(0)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        title, price = rng.choice(PRODUCTS)
        qty = rng.choice([1, 1, 1, 2, 3])
        shipped = qty if status == "SHIPPED" else 0
        item = {
            "orderItemId": f"{rng.randint(10**13, 10**14 - 1)}",
            "quantityOrdered": qty,
            "product": {"asin": "B0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8)),
                        "title": title, "sellerSku": f"SKU-{rng.randint(1000, 9999)}",
                        "condition": {"conditionType": "NEW"}},
            "fulfillment": {"quantityFulfilled": shipped, "quantityUnfulfilled": qty - shipped},
        }
        if priced:
            unit = Decimal(price)
            shipping = Decimal("4.90") if rng.random() < 0.3 else Decimal(0)
            item["product"]["price"] = {"unitPrice": _money(unit, currency)}
            line = unit * qty + shipping
            breakdowns = [{"type": "ITEM", "subtotal": _money(unit * qty, currency)}]
            if shipping:
                breakdowns.append({"type": "SHIPPING", "subtotal": _money(shipping, currency)})
            item["proceeds"] = {"proceedsTotal": _money(line, currency), "breakdowns": breakdowns}
            total += line
        items.append(item)
    city, province, cap = rng.choice(PLACES)
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    order = {
        "orderId": order_id,
        "createdTime": iso(created),
        "lastUpdatedTime": iso(updated),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace_id,
                         "marketplaceName": MARKETPLACE_NAMES.get(marketplace_id, "Amazon")},
        "buyer": {"buyerName": name,
                  "buyerEmail": f"{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}@marketplace.amazon.it"},
        "recipient": {"deliveryAddress": {
            "name": name, "addressLine1": f"{rng.choice(STREETS)} {rng.randint(1, 180)}", "city": city,
            "stateOrRegion": province, "postalCode": cap, "countryCode": "IT",
            "phone": f"+39 3{rng.randint(10, 99)} {rng.randint(1000000, 9999999)}", "addressType": "RESIDENTIAL"}},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": fulfilled_by,
                        "fulfillmentServiceLevel": rng.choice(["STANDARD", "STANDARD", "EXPEDITED"])},
        "orderItems": items,
    }
    if priced:
        order["proceeds"] = {"grandTotal": _money(total, currency)}
    if rng.random() < 0.2:
        order["programs"] = ["PRIME"]
    if status == "SHIPPED" and fulfilled_by == "MERCHANT":
        order["packages"] = [{
            "packageReferenceId": "1", "createdTime": iso(updated), "packageStatus": {"status": "SHIPPED"},
            "carrier": "BRT", "shipTime": iso(updated), "trackingNumber": f"{rng.randint(10**11, 10**12 - 1)}",
            "packageItems": [{"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]} for i in items]}]
    return order


def generate_orders(n: int, *, now: datetime, days: float = 30, seed: int = 1, marketplace_id: str = "APJ6JRA9NG5V4",
                    **kw) -> list[dict]:
    """``n`` orders created over the last ``days`` before ``now``, updated up to 2 days later."""
    rng = random.Random(seed)
    out, ids = [], set()
    span = days * 86400
    for _ in range(n):
        created = now - timedelta(seconds=rng.uniform(600, span))
        updated = min(now - timedelta(seconds=300), created + timedelta(seconds=rng.uniform(0, 2 * 86400)))
        o = make_order(rng, created=created, updated=max(created, updated), marketplace_id=marketplace_id, **kw)
        while o["orderId"] in ids:
            o["orderId"] = o["orderId"][:-1] + str((int(o["orderId"][-1]) + 1) % 10)
        ids.add(o["orderId"])
        out.append(o)
    return out


class OrdersApi:
    """The orders part of :class:`~marketd.plugins.amazon.fake.SpApiFake` (a mixin: the fake's
    ``orders``, ``clock``, ``rng``, ``lock`` and ``marketplace_id`` are its state)."""

    def add_orders(self, orders: list[dict]) -> None:
        with self.lock:
            for o in orders:
                self.orders[o["orderId"]] = o
            self._sorted.clear()

    def populate(self, n: int, *, days: float = 30, seed: int | None = None, **kw) -> list[dict]:
        orders = generate_orders(n, now=self.clock.now(), days=days, seed=self.rng.randint(0, 10**9) if seed is None else seed,
                                 marketplace_id=self.marketplace_id, **kw)
        self.add_orders(orders)
        return orders

    def new_orders(self, n: int, **kw) -> list[dict]:
        """``n`` orders placed just now."""
        now = self.clock.now()
        orders = [make_order(self.rng, created=now, updated=now, marketplace_id=self.marketplace_id,
                             status=kw.get("status", "UNSHIPPED"), fulfilled_by=kw.get("fulfilled_by", "MERCHANT"))
                  for _ in range(n)]
        self.add_orders(orders)
        return orders

    def touch(self, order_id: str, **changes) -> dict:
        """Change an order now (e.g. ``status="CANCELLED"``); its lastUpdatedTime moves."""
        with self.lock:
            o = self.orders[order_id]
            if "status" in changes:
                o["fulfillment"]["fulfillmentStatus"] = changes.pop("status")
            o.update(changes)
            o["lastUpdatedTime"] = iso(self.clock.now())
            self._sorted.clear()
            return o


    # -- Orders v2026 --------------------------------------------------------------------------
    @staticmethod
    def _project(order: dict, included: set) -> dict:
        o = json.loads(json.dumps(order))
        if "BUYER" not in included:
            o.pop("buyer", None)
        if "RECIPIENT" not in included:
            o.pop("recipient", None)
        if "PACKAGES" not in included:
            o.pop("packages", None)
        if "FULFILLMENT" not in included:
            o.pop("fulfillment", None)
            for it in o["orderItems"]:
                it.pop("fulfillment", None)
        if "PROCEEDS" not in included:
            o.pop("proceeds", None)
            for it in o["orderItems"]:
                it.pop("proceeds", None)
        return o

    def _sorted_by(self, field_name: str) -> list:
        cached = self._sorted.get(field_name)
        if cached is None:
            cached = sorted(((parse_iso(o[field_name]), oid) for oid, o in self.orders.items()))
            self._sorted[field_name] = cached
        return cached

    def _op_searchOrders(self, params, body, base) -> Reply:
        now = self.clock.now()
        bad = lambda msg: Reply(400, _errors("InvalidInput", "Invalid Input", msg))  # noqa: E731
        created, updated = "createdAfter" in params, "lastUpdatedAfter" in params
        if created == updated:
            return bad("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
        if created and "lastUpdatedBefore" in params:
            return bad("lastUpdatedBefore cannot be combined with createdAfter.")
        if updated and "createdBefore" in params:
            return bad("createdBefore cannot be combined with lastUpdatedAfter.")
        size = params.get("maxResultsPerPage", 100)
        if not 1 <= size <= 100:
            return bad("maxResultsPerPage must be between 1 and 100.")
        field_name = "createdTime" if created else "lastUpdatedTime"
        after = parse_iso(params["createdAfter" if created else "lastUpdatedAfter"])
        before_key = "createdBefore" if created else "lastUpdatedBefore"
        filters = {k: v for k, v in params.items() if k not in ("maxResultsPerPage", "includedData", "paginationToken")}
        fhash = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
        last = None
        if "paginationToken" in params:
            try:
                tok = _unb64(params["paginationToken"])
                issued = datetime.fromtimestamp(tok["iat"], timezone.utc)
            except (ValueError, KeyError, TypeError):
                return bad("Invalid paginationToken.")
            if tok.get("h") != fhash:
                return bad("The paginationToken does not match the other parameters; they must have the same "
                           "values as in the request that returned it.")
            if now - issued > timedelta(hours=24):
                return bad("The paginationToken has expired.")
            upper = datetime.fromtimestamp(tok["b"], timezone.utc)
            last = (datetime.fromtimestamp(tok["k"][0], timezone.utc), tok["k"][1])
            iat = tok["iat"]
        else:
            limit = now - timedelta(minutes=2)
            if before_key in params:
                upper = parse_iso(params[before_key])
                if upper > limit:
                    return bad(f"{before_key} must be at least two minutes before the time of the request.")
                if upper < after:
                    return bad(f"{before_key} must be after the start of the range.")
            else:
                upper = limit
            iat = now.timestamp()
        mkts = set(params.get("marketplaceIds") or [])
        statuses = set(params.get("fulfillmentStatuses") or [])
        by = set(params.get("fulfilledBy") or [])
        included = set(params.get("includedData") or [])
        page, more = [], False
        for t, oid in self._sorted_by(field_name):
            if t < after or t > upper or (last is not None and (t, oid) <= last):
                continue
            o = self.orders[oid]
            if mkts and o["salesChannel"].get("marketplaceId") not in mkts:
                continue
            if statuses and o["fulfillment"]["fulfillmentStatus"] not in statuses:
                continue
            if by and o["fulfillment"].get("fulfilledBy") not in by:
                continue
            if len(page) == size:
                more = True
                break
            page.append((t, oid))
        out = {"orders": [self._project(self.orders[oid], included) for _, oid in page]}
        out[before_key] = iso(upper)
        if more:
            out["pagination"] = {"nextToken": _b64({"h": fhash, "iat": iat, "b": upper.timestamp(),
                                                    "k": [page[-1][0].timestamp(), page[-1][1]]})}
        return Reply(200, out)

    def _op_getOrder(self, params, body, base, orderId) -> Reply:
        o = self.orders.get(orderId)
        if o is None:
            return Reply(404, _errors("NotFound", f"Order {orderId} was not found."))
        return Reply(200, {"order": self._project(o, set(params.get("includedData") or []))})

    # -- Orders v0 confirmShipment -------------------------------------------------------------
    def _op_confirmShipment(self, params, body, base, orderId) -> Reply:
        bad = lambda msg: Reply(400, _errors("Invalid Input", "Invalid Input", msg))  # noqa: E731
        o = self.orders.get(orderId)
        if o is None:
            return Reply(404, _errors("NotFound", f"Order {orderId} was not found."))
        detail = body["packageDetail"]
        ful = o["fulfillment"]
        if body["marketplaceId"] != o["salesChannel"].get("marketplaceId"):
            return bad("marketplaceId does not match the order.")
        if ful.get("fulfilledBy") == "AMAZON":
            return bad("The order is fulfilled by Amazon.")
        if ful["fulfillmentStatus"] in ("CANCELLED", "PENDING", "PENDING_AVAILABILITY", "UNFULFILLABLE"):
            return bad(f"The order is {ful['fulfillmentStatus']} and cannot be shipped.")
        ref = detail["packageReferenceId"]
        if not re.fullmatch(r"[1-9][0-9]*", ref):
            return bad("packageReferenceId must be a positive number.")
        if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
            return bad("carrierName is required when carrierCode is Other.")
        items = {i["orderItemId"]: i for i in o["orderItems"]}
        others = [p for p in o.get("packages") or [] if p["packageReferenceId"] != ref]
        shipped_elsewhere: dict[str, int] = {}
        for p in others:
            for pi in p.get("packageItems") or []:
                shipped_elsewhere[pi["orderItemId"]] = shipped_elsewhere.get(pi["orderItemId"], 0) + pi["quantity"]
        for ci in detail["orderItems"]:
            it = items.get(ci["orderItemId"])
            if it is None:
                return bad(f"orderItemId {ci['orderItemId']} is not in order {orderId}.")
            if ci["quantity"] < 1 or ci["quantity"] + shipped_elsewhere.get(ci["orderItemId"], 0) > it["quantityOrdered"]:
                return bad(f"quantity {ci['quantity']} for orderItemId {ci['orderItemId']} exceeds what is left to ship.")
        now = self.clock.now()
        package = {"packageReferenceId": ref, "createdTime": iso(now), "packageStatus": {"status": "SHIPPED"},
                   "carrier": detail.get("carrierName") or detail["carrierCode"], "shipTime": detail["shipDate"],
                   "trackingNumber": detail["trackingNumber"],
                   "packageItems": [{"orderItemId": ci["orderItemId"], "quantity": ci["quantity"]}
                                    for ci in detail["orderItems"]]}
        if detail.get("shippingMethod"):
            package["shippingService"] = detail["shippingMethod"]
        o["packages"] = others + [package]
        shipped = dict(shipped_elsewhere)
        for ci in detail["orderItems"]:
            shipped[ci["orderItemId"]] = shipped.get(ci["orderItemId"], 0) + ci["quantity"]
        for oid, it in items.items():
            q = shipped.get(oid, 0)
            it.setdefault("fulfillment", {}).update(quantityFulfilled=q, quantityUnfulfilled=it["quantityOrdered"] - q)
        done = all(shipped.get(oid, 0) >= it["quantityOrdered"] for oid, it in items.items())
        ful["fulfillmentStatus"] = "SHIPPED" if done else "PARTIALLY_SHIPPED"
        o["lastUpdatedTime"] = iso(now)
        self._sorted.clear()
        self.confirmations.append({"orderId": orderId, "body": body, "at": iso(now),
                                   "replay": any(c["orderId"] == orderId and c["body"]["packageDetail"]["packageReferenceId"] == ref
                                                 for c in self.confirmations)})
        return Reply(204)

