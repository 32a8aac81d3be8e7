"""Which keys of a stored JSON document carry a person, and removing them (buyer data purge).

One list for every plugin that keeps copies of an order's buyer data (the core's orders, the
shipments ledger, the carrier-call ledger …), so a key added here is purged everywhere: names,
e-mail addresses, phone numbers, address blocks, Amazon's PII blocks (``buyer``, ``recipient``,
``shipTo``, ``BuyerCustomizedInfo``, ``customizedUrl``) and gift messages, at any depth. Keys
compare without case and underscores (``ship_to`` = ``shipTo``).
"""
from __future__ import annotations

PERSONAL_KEYS = frozenset({
    "buyer", "recipient", "shipto", "buyerinfo", "buyercustomizedinfo", "customizedurl", "giftmessage",
    "buyeremail", "email", "phone", "phonenumber", "primaryphone", "buyername", "nameoncard",
    "deliveryaddress", "billingaddress", "shippingaddress", "addresses", "address", "fullname",
    "consignee", "consigneename", "receiver", "receivername",
})


def personal_key(key) -> bool:
    return str(key).replace("_", "").replace("-", "").lower() in PERSONAL_KEYS


def scrub_personal(value):
    """``value`` without the keys that carry a person, at any depth (lists and dicts)."""
    if isinstance(value, dict):
        return {k: scrub_personal(v) for k, v in value.items() if not personal_key(k)}
    if isinstance(value, list):
        return [scrub_personal(v) for v in value]
    return value
