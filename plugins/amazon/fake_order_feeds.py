"""``POST_ORDER_ACKNOWLEDGEMENT_DATA`` in the fake SP-API: the order feed that cancels MFN orders.

The document must be an ``AmazonEnvelope`` (``Header`` with ``DocumentVersion`` and
``MerchantIdentifier`` = the seller, ``MessageType`` ``OrderAcknowledgement``) whose messages
each hold a ``MessageID`` and an ``OrderAcknowledgement`` with a known ``AmazonOrderID``, a
``StatusCode`` ``Success`` | ``Failure`` and ``Item`` s with a known ``AmazonOrderItemCode`` and a
``CancelReason`` from Amazon's list (``order_feeds.CANCEL_REASONS``). Like Amazon, the fake
takes the feed and judges it while processing: each broken message is an error in the XML
processing report (and a violation the tests see). ``Failure`` cancels the order; ``Success``
with items cancels those items, and the order when none is left. A shipped or cancelled order
cannot be cancelled (an error in the report).
"""
from __future__ import annotations

from xml.etree import ElementTree as ET

from .order_feeds import CANCEL_REASONS, FEED_TYPE


def _text(el, path: str) -> str:
    found = el.find(path) if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def process(fake, feed: dict, raw: bytes) -> bytes:
    """Apply the feed to the fake's orders; the processing report (XML bytes)."""
    errors: list[tuple[str, str]] = []
    processed = 0
    try:
        env = ET.fromstring(raw)
    except ET.ParseError as exc:
        env, errors = None, [("0", f"the feed is not XML: {exc}")]
    if env is not None:
        if env.tag != "AmazonEnvelope" or _text(env, "MessageType") != "OrderAcknowledgement":
            errors.append(("0", "not an AmazonEnvelope of MessageType OrderAcknowledgement"))
        elif _text(env, "Header/MerchantIdentifier") != fake.seller_id or not _text(env, "Header/DocumentVersion"):
            errors.append(("0", "Header needs DocumentVersion and the seller's MerchantIdentifier"))
        else:
            for msg in env.findall("Message"):
                processed += 1
                problem = _apply(fake, msg)
                if problem:
                    errors.append((_text(msg, "MessageID") or "?", problem))
    if errors:
        fake._violations.append({"operation": f"createFeed {FEED_TYPE}", "path": "",
                                 "problems": [f"message {m}: {p}" for m, p in errors]})
    return _report(feed["feedId"], processed, errors)


def _apply(fake, msg) -> str | None:
    if not _text(msg, "MessageID").isdigit():
        return "MessageID must be a number"
    ack = msg.find("OrderAcknowledgement")
    order = fake.orders.get(_text(ack, "AmazonOrderID"))
    if ack is None or order is None:
        return "AmazonOrderID is not an order of this seller"
    status = _text(ack, "StatusCode")
    if status not in ("Success", "Failure"):
        return f"StatusCode {status!r} is not Success or Failure"
    known = {str(i["orderItemId"]): i for i in order.get("orderItems") or []}
    items = ack.findall("Item")
    for item in items:
        if _text(item, "AmazonOrderItemCode") not in known:
            return f"AmazonOrderItemCode {_text(item, 'AmazonOrderItemCode')!r} is not an item of the order"
        if _text(item, "CancelReason") not in CANCEL_REASONS:
            return f"CancelReason {_text(item, 'CancelReason')!r} is not one of Amazon's"
    state = (order.get("fulfillment") or {}).get("fulfillmentStatus")
    if state in ("SHIPPED", "CANCELLED", "PARTIALLY_SHIPPED"):
        return f"the order is {state} and cannot be cancelled"
    if status == "Success" and not items:
        return None   # an acknowledgement without cancellation changes nothing
    cancelled = {_text(i, "AmazonOrderItemCode") for i in items}
    if status == "Failure" or cancelled >= set(known):
        fake.touch(order["orderId"], status="CANCELLED")
    else:
        fake.touch(order["orderId"], orderItems=[i for c, i in known.items() if c not in cancelled])
    fake.cancelled_items.extend((order["orderId"], c) for c in sorted(cancelled or set(known)))
    return None


def _report(feed_id: str, processed: int, errors: list[tuple[str, str]]) -> bytes:
    env = ET.Element("AmazonEnvelope")
    header = ET.SubElement(env, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.02"
    ET.SubElement(env, "MessageType").text = "ProcessingReport"
    msg = ET.SubElement(env, "Message")
    ET.SubElement(msg, "MessageID").text = "1"
    rep = ET.SubElement(msg, "ProcessingReport")
    ET.SubElement(rep, "DocumentTransactionID").text = feed_id
    ET.SubElement(rep, "StatusCode").text = "Complete"
    summary = ET.SubElement(rep, "ProcessingSummary")
    failed = len({m for m, _ in errors if m != "0"})
    for tag, value in (("MessagesProcessed", processed), ("MessagesSuccessful", max(processed - failed, 0)),
                       ("MessagesWithError", failed or (1 if errors else 0)), ("MessagesWithWarning", 0)):
        ET.SubElement(summary, tag).text = str(value)
    for mid, text in errors:
        result = ET.SubElement(rep, "Result")
        ET.SubElement(result, "MessageID").text = mid
        ET.SubElement(result, "ResultCode").text = "Error"
        ET.SubElement(result, "ResultMessageCode").text = "25"
        ET.SubElement(result, "ResultDescription").text = text
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(env, encoding="utf-8")
