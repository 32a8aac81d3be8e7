"""Moved to :mod:`marketd.plugins.amazon.fake` (fakes ship with their plugins); kept for test imports.
The contract validator the fake takes is in ``tests/fakes/specs.py``."""
from marketd.plugins.amazon.fake import *  # noqa: F401,F403
from marketd.plugins.amazon.fake import (OFFICIAL_LIMITS, Bucket, ContractNotChecked, SpApiFake,  # noqa: F401
                                         generate_orders, make_order, settlement_v2_text)
