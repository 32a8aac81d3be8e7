"""MALL orders <-> the core ``orders`` rows and MALL's status updates, on plain dicts (no HTTP)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from marketd.plugins.mall import mapper
from marketd.plugins.mall.client import loads

DETAIL = """{"id": 1234567, "external_id": "E-77", "purchase_id": 9876543, "customer_id": 5, "customer": "Jana Novakova",
 "currency": "CZK", "delivery_price": 79.0, "cod_price": 39.9, "cod": 0, "discount": 100.0, "payment_type": "A",
 "delivery_method": "DPD", "tracking_number": null, "delivered_at": null, "confirmed": false, "status": "open",
 "address": {"name": "Jana Novakova", "company": "", "phone": "+420600000000", "email": "jana@example.cz",
             "street": "Dlouha 1", "city": "Praha", "zip": "11000", "country": "CZ"},
 "items": [{"id": "SKU-1", "article_id": 11, "quantity": 2, "price": 499.9, "vat": 21.0, "commission": 15,
            "title": "Hrnek", "serial_numbers": [], "package_size": "bigbox"},
           {"id": "SKU-2", "article_id": 12, "quantity": 1, "price": 0.1, "vat": 21.0, "commission": 15,
            "title": "Lzicka", "serial_numbers": []}],
 "test": false, "mdp": false, "blocked": "2026-07-10 08:00:00", "open": "2026-07-10 08:10:00", "shipped": null}"""


def detail(**over) -> dict:
    d = loads(DETAIL)
    d.update(over)
    return d


def test_json_money_is_decimal_never_float():
    d = detail()
    assert isinstance(d["items"][0]["price"], Decimal) and d["items"][0]["price"] == Decimal("499.9")
    row = mapper.order_row("mall-cz", d)
    # 2 x 499.9 + 0.1 + 79.0 + 39.9 - 100.0, exactly
    assert row["total"] == "1018.8"
    assert 2 * 499.9 + 0.1 + 79.0 + 39.9 - 100.0 != 1018.8  # what floats would have stored
    assert row["items"][0]["unit_price"] == "499.9" and row["items"][0]["quantity"] == 2
    assert mapper.decimal(0.1) == Decimal("0.1") and mapper.decimal(True) is None  # defensive: a float by its text


def test_naive_times_are_the_accounts_time_zone():
    row = mapper.order_row("mall-cz", detail())
    assert row["purchased_at"] == "2026-07-10T06:00:00+00:00"  # Prague summer time is UTC+2
    assert row["updated_at"] == "2026-07-10T06:10:00+00:00"
    row = mapper.order_row("mall-hr", detail(), ZoneInfo("Europe/Zagreb"))
    assert row["purchased_at"] == "2026-07-10T06:00:00+00:00"
    winter = mapper.order_row("mall-cz", detail(blocked="2026-01-10 08:00:00", open=None))
    assert winter["purchased_at"] == "2026-01-10T07:00:00+00:00"


@pytest.mark.parametrize("status, confirmed, normalised", [
    ("blocked", False, "PENDING"), ("open", False, "PENDING"), ("open", True, "UNSHIPPED"),
    ("shipping", True, "UNSHIPPED"), ("shipped", True, "SHIPPED"), ("delivered", True, "DELIVERED"),
    ("returned", True, "RETURNED"), ("cancelled", False, "CANCELLED"), ("lost", True, "LOST"),
])
def test_status_table(status, confirmed, normalised):
    row = mapper.order_row("mall-cz", detail(status=status, confirmed=confirmed))
    assert (row["status"], row["channel_status"]) == (normalised, status)


def test_buyer_data_only_in_buyer_name_and_ship_to():
    row = mapper.order_row("mall-cz", detail())
    assert row["buyer_name"] == "Jana Novakova" and row["ship_to"]["zip"] == "11000"
    raw = json.dumps(row["raw"], default=str)
    assert "Jana" not in raw and "jana@" not in raw and "Dlouha" not in raw and "+420" not in raw
    assert row["raw"]["mdp"] is False and row["raw"]["items"][0]["commission"] == 15  # kept, never used as money


def test_ids_are_strings_and_aliases_are_mall_ids():
    row = mapper.order_row("mall-cz", detail())
    assert row["key"] == "mall-cz:1234567" and row["order_id"] == "1234567" and row["channel_type"] == "mall"
    assert row["aliases"] == [("9876543", "mall_purchase"), ("E-77", "mall_external")]
    assert mapper.order_row("mall-cz", detail(external_id=None))["aliases"] == [("9876543", "mall_purchase")]
    assert row["items"][0]["order_item_id"] == "SKU-1" and row["items"][0]["package_size"] == "bigbox"


def test_test_orders_are_recognised():
    assert mapper.is_test({"test": True}) and not mapper.is_test({"test": False}) and not mapper.is_test({})


def test_listed_row_changes_are_seen_from_either_spelling():
    basic = {"id": 1, "status": "open", "confirmed": True, "tracking_number": None, "delivered_at": None, "mdp": False}
    # the stored side comes through SQLite json_extract: booleans as 1/0
    stored = {"status": "open", "confirmed": 1, "tracking_number": None, "delivered_at": None, "mdp": 0}
    assert not mapper.needs_detail(basic, stored)
    assert mapper.needs_detail({**basic, "confirmed": False}, stored)
    assert mapper.needs_detail({**basic, "status": "shipped", "tracking_number": "X1"}, stored)
    assert mapper.needs_detail(basic, None)


PKG = {"trackingNumber": "DPD123", "carrierCode": "DPD", "trackingUrl": "https://t.example/DPD123"}


@pytest.mark.parametrize("order, action", [
    ({"status": "open", "confirmed": False, "mdp": False}, "put"),
    ({"status": "shipping", "confirmed": True, "mdp": False}, "put"),
    ({"status": "shipped", "tracking_number": "DPD123", "mdp": False}, "done"),
    ({"status": "delivered", "tracking_number": "DPD123", "mdp": False}, "done"),
    ({"status": "shipped", "tracking_number": None, "mdp": False}, "put_tracking"),
    ({"status": "shipped", "tracking_number": "OTHER", "mdp": False}, "refuse"),
    ({"status": "blocked", "mdp": False}, "wait"),
    ({"status": "cancelled", "mdp": False}, "refuse"),
    ({"status": "open", "confirmed": True, "mdp": True}, "refuse"),
    ({"status": "shipping", "confirmed": True, "mdp": True}, "refuse"),
])
def test_ship_update_decisions(order, action):
    got, what = mapper.ship_update(order, PKG)
    assert got == action, what


def test_ship_update_bodies():
    _, body = mapper.ship_update({"status": "open", "confirmed": False, "mdp": False}, PKG)
    assert body == {"status": "shipped", "tracking_number": "DPD123", "tracking_url": "https://t.example/DPD123",
                    "confirmed": True}
    _, body = mapper.ship_update({"status": "shipping", "confirmed": True, "mdp": False}, {"trackingNumber": "X"})
    assert body == {"status": "shipped", "tracking_number": "X"}
    assert mapper.ship_update({"status": "open", "mdp": True}, PKG) == ("refuse", mapper.MDP_REFUSAL)


def test_has_tracking():
    assert mapper.has_tracking({"status": "shipped", "tracking_number": "A"}, "A")
    assert not mapper.has_tracking({"status": "shipped", "tracking_number": "B"}, "A")
    assert not mapper.has_tracking({"status": "open", "tracking_number": "A"}, "A")
    assert not mapper.has_tracking(None, "A")


def test_store_time_is_utc():
    assert mapper.parse_time("2026-07-10 08:00:00").astimezone(timezone.utc) == datetime(2026, 7, 10, 6,
                                                                                           tzinfo=timezone.utc)
