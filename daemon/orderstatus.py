"""The normalised order status (``orders.status``); the marketplace's own value is kept beside it
in ``orders.channel_status``.

Why a vocabulary of our own: the unsettled-orders list, ``marketd orders list --status`` and the
payout reports ask the same question of every channel ("is it shipped?"), and every marketplace
answers in its own words (``FULFILLED``, ``shipped``, ``SHIPPED``, ``Canceled``). A channel maps
its values onto this list; the raw text stays in ``channel_status`` for people and for states the
list does not tell apart. Amazon's values are already these words (upper case, underscores), so
its orders keep working unchanged; its two extra states map as the design says
(``PENDING_AVAILABILITY`` → ``PENDING``, ``UNFULFILLABLE`` → ``CANCELLED``).
"""
from __future__ import annotations

import re

PENDING = "PENDING"                        # not shippable yet: payment, acceptance or confirmation outstanding
UNSHIPPED = "UNSHIPPED"
PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
SHIPPED = "SHIPPED"
DELIVERED = "DELIVERED"
RETURNED = "RETURNED"
REFUNDED = "REFUNDED"
CANCELLED = "CANCELLED"
LOST = "LOST"

ORDER_STATUSES = (PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, DELIVERED, RETURNED, REFUNDED, CANCELLED, LOST)

# Spellings a channel may hand over as its status that mean one of the words above. A channel
# with its own table (eBay, ManoMano, MALL) passes the normalised ``status`` itself.
SYNONYMS = {
    "CANCELED": CANCELLED,
    "PENDING_AVAILABILITY": PENDING,
    "UNFULFILLABLE": CANCELLED,
    "INVOICE_UNCONFIRMED": SHIPPED,
    "PARTIALLYSHIPPED": PARTIALLY_SHIPPED,
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalise_order_status(raw) -> str | None:
    """``raw`` in the vocabulary's spelling: ``Shipped``/``shipped``/``PartiallyShipped`` →
    ``SHIPPED``/``PARTIALLY_SHIPPED``, synonyms mapped. A value outside the vocabulary is kept
    (upper case, underscores): nothing a channel says is dropped, and ``marketd orders list
    --status`` still finds it. ``None``/blank stays ``None``."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    text = _CAMEL.sub("_", text) if not text.isupper() else text
    text = re.sub(r"[\s\-]+", "_", text).upper()
    return SYNONYMS.get(text, text)
