"""Built-in plugin: eBay (``[channels.<name>] type = "ebay"``).

Orders from the Fulfillment API, tracking back with ``createShippingFulfillment``, payouts from
the Finances API written into ``inbox/settlements/``, the fake eBay ``marketd sandbox`` serves.
The Seller Hub Transaction report and the fetched payout files are settlement formats of the
``settlements`` plugin.
See docs/plugins/ebay.md.
"""
from __future__ import annotations

from marketd.sdk import hookimpl


@hookimpl
def register_channels(register):
    from .channel import EbayChannel

    register("ebay", EbayChannel)


@hookimpl
def register_jobs(register):
    from .jobs import jobs

    jobs(register)


@hookimpl
def register_migrations(register):
    from .schema import COMPONENT, MIGRATIONS

    register(COMPONENT, MIGRATIONS)


@hookimpl
def register_fakes(register):
    from .fake import sandbox

    register(sandbox())


@hookimpl
def register_settlement_formats(register):
    from .finances import FORMATS as API_FORMATS
    from .transaction_report import EbayTransactionReport

    for fmt in (*API_FORMATS, EbayTransactionReport()):
        register(fmt)
