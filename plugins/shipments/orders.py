"""Finding the stored orders a shipment line refers to, and their shipping address.

Channel plugins store ``ship_to`` in their marketplace's own shape (Amazon ``ShippingAddress``,
MALL ``address`` …); :func:`address_from_order` reads the common spellings.
"""
from __future__ import annotations

import json
import sqlite3
import threading

from marketd.sdk import Address

_ALIASES = {
    "name": ("name", "Name", "full_name", "fullName", "buyer_name"),
    "company": ("company", "companyName", "CompanyName", "company_name"),
    "street": ("street", "addressLine1", "AddressLine1", "address_line1", "address1", "line1"),
    "street2": ("street2", "addressLine2", "AddressLine2", "address_line2", "address2", "line2"),
    "postal_code": ("postal_code", "postalCode", "PostalCode", "zip", "zipcode", "postcode"),
    "city": ("city", "City"),
    "province": ("province", "stateOrRegion", "StateOrRegion", "state", "county", "region"),
    "country": ("country", "countryCode", "CountryCode", "country_code", "country_iso"),
    "phone": ("phone", "Phone", "phoneNumber"),
    "email": ("email", "Email", "buyer_email"),
}


def _json(value):
    if isinstance(value, (dict, list)):
        return value
    if not value:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def address_from_order(order: dict) -> Address | None:
    ship_to = _json(order.get("ship_to"))
    if not isinstance(ship_to, dict):
        return None
    if isinstance(ship_to.get("shippingAddress"), dict):
        ship_to = ship_to["shippingAddress"]
    out = {}
    for key, names in _ALIASES.items():
        for n in names:
            if ship_to.get(n):
                out[key] = str(ship_to[n]).strip()
                break
    if "name" not in out and order.get("buyer_name"):
        out["name"] = order["buyer_name"]
    if "name" not in out and ("firstname" in ship_to or "lastname" in ship_to):
        out["name"] = f"{ship_to.get('firstname', '')} {ship_to.get('lastname', '')}".strip()
    if len(out.get("country", "")) != 2 and ship_to.get("country_iso"):
        out["country"] = ship_to["country_iso"]
    addr = Address.from_dict(out)
    addr.country = addr.country.upper()
    return addr


def order_items(order: dict) -> list[dict]:
    items = _json(order.get("items")) or []
    return items if isinstance(items, list) else []


def order_raw(order: dict) -> dict:
    raw = _json(order.get("raw"))
    return raw if isinstance(raw, dict) else {}


class OrderFinder:
    """Reads orders through its own read-only connection.

    Shipment files are processed inside the file's store transaction; reading through that
    transaction's connection would pin a snapshot for the whole (network-bound) file, and its
    later writes would then fail with SQLITE_BUSY whenever a job committed in between.
    """

    def __init__(self, store_path):
        self.path = str(store_path)
        self._local = threading.local()

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def query(self, sql: str, params=()) -> list[dict]:
        return [dict(r) for r in self.conn.execute(sql, params)]

    def find(self, ref: str, channel: str = "") -> tuple[list[dict], str]:
        """Orders matching ``ref``; returns (orders, how)."""
        if ":" in ref:
            rows = self.query("select * from orders where key = ?", [ref])
            if rows:
                return rows, "key"
        params = [ref, ref]
        sql = "select * from orders where (order_id = ? or merchant_order_id = ?)"
        if channel:
            sql += " and channel = ?"
            params.append(channel)
        rows = self.query(sql, params)
        return rows, "id"

    def shipment(self, key: str) -> dict | None:
        try:
            rows = self.query("select * from shipments where key = ?", [key])
        except sqlite3.OperationalError:
            return None
        return rows[0] if rows else None

    def shipments_for_order(self, order_key: str, exclude: str = "") -> list[dict]:
        """Shipments recorded for ``order_key`` (oldest first), except the one keyed ``exclude``.

        Every shipment of a stored order has a push row (indexed by order) unless the
        marketplace moves the order itself (MALL Delivery): those carry the order id as their
        ``shipment_id``."""
        try:
            rows = self.query(
                "select s.* from shipment_pushes p join shipments s on s.key = p.shipment_key "
                "where p.order_key = ? and s.key != ? order by s.created_at", [order_key, exclude])
            if not rows and ":" in order_key:
                rows = [r for r in self.query(
                    "select * from shipments where channel_managed = 1 and shipment_id = ? and key != ? "
                    "order by created_at", [order_key.split(":", 1)[1], exclude])
                    if order_key in json.loads(r["order_keys"] or "[]")]
        except sqlite3.OperationalError:  # tables not there yet
            return []
        return rows

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
