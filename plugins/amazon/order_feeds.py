"""Cancelling Amazon MFN orders: the ``POST_ORDER_ACKNOWLEDGEMENT_DATA`` feed (XML).

SP-API has no synchronous cancel operation for seller-fulfilled orders; the order feeds are
still the contract (the XML feeds removed on 2025-07-31 were the *listings* feeds, research
api-contracts §0.3). One ``AmazonEnvelope`` of ``MessageType`` ``OrderAcknowledgement`` per
order (the shape of Amazon's ``OrderAcknowledgement.xsd``, which is not in the stored specs):

- the whole order: ``StatusCode`` ``Failure`` (the acknowledgement "fails" the order) with the
  reason on an ``Item`` per order item;
- some lines: ``StatusCode`` ``Success`` and one ``Item`` per cancelled line, each with
  ``AmazonOrderItemCode`` and ``CancelReason``. An acknowledgement cancels a line's whole
  quantity; a smaller quantity is refused here before anything is sent.

The feed is asynchronous: an accepted ``createFeed`` is the action's answer (its ``feedId`` the
reference); the next order sync shows the order ``CANCELLED`` (or its lines gone).
"""
from __future__ import annotations

from xml.etree import ElementTree as ET

FEED_TYPE = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
CONTENT_TYPE = "text/xml; charset=UTF-8"
# OrderAcknowledgement CancelReason values (Amazon's enumeration)
CANCEL_REASONS = ("NoInventory", "ShippingAddressUndeliverable", "CustomerExchange", "BuyerCanceled",
                  "GeneralAdjustment", "CarrierCreditDecision", "RiskAssessmentInformationNotValid",
                  "CarrierCoverageFailure", "CustomerReturn", "MerchandiseNotReceived")
REASON_OF = {"out_of_stock": "NoInventory", "buyer_request": "BuyerCanceled",
             "address_issue": "ShippingAddressUndeliverable", "price_error": "GeneralAdjustment",
             "other": "GeneralAdjustment"}


class CancelRefused(ValueError):
    """A cancellation the acknowledgement cannot express (unknown SKU, part of a line)."""


def cancel_items(items: list[dict], lines: list[dict] | None) -> tuple[str, list[str]]:
    """(``StatusCode``, the ``AmazonOrderItemCode`` s to cancel) for the stored order ``items``
    and the requested ``lines`` (None: the whole order)."""
    codes = [str(i["order_item_id"]) for i in items if i.get("order_item_id")]
    if not lines:
        if not codes:
            raise CancelRefused("the stored order has no order item ids; sync the order first")
        return "Failure", codes
    chosen = []
    for line in lines:
        match = [i for i in items if str(i.get("sku") or "") == line["sku"] and i.get("order_item_id")]
        if not match:
            raise CancelRefused(f"SKU {line['sku']} is not a line of this order")
        item = match[0]
        if int(line["quantity"]) != int(item.get("quantity") or 1):
            raise CancelRefused(f"Amazon cancels a line's whole quantity: {line['sku']} has {item.get('quantity')}, "
                                f"not {line['quantity']} (cancel the line, or refund the part in Seller Central)")
        chosen.append(str(item["order_item_id"]))
    if set(chosen) == set(codes):
        return "Failure", codes
    return "Success", chosen


def acknowledgement_feed(seller_id: str, order_id: str, status: str, item_codes: list[str], reason: str) -> bytes:
    """The feed document (UTF-8 XML)."""
    env = ET.Element("AmazonEnvelope", {"xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                        "xsi:noNamespaceSchemaLocation": "amzn-envelope.xsd"})
    header = ET.SubElement(env, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.01"
    ET.SubElement(header, "MerchantIdentifier").text = seller_id
    ET.SubElement(env, "MessageType").text = "OrderAcknowledgement"
    msg = ET.SubElement(env, "Message")
    ET.SubElement(msg, "MessageID").text = "1"
    ack = ET.SubElement(msg, "OrderAcknowledgement")
    ET.SubElement(ack, "AmazonOrderID").text = order_id
    ET.SubElement(ack, "StatusCode").text = status
    for code in item_codes:
        item = ET.SubElement(ack, "Item")
        ET.SubElement(item, "AmazonOrderItemCode").text = code
        ET.SubElement(item, "CancelReason").text = reason
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(env, encoding="utf-8")
