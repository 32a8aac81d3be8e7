"""Moved to :mod:`marketd.plugins.brt.fake` (fakes ship with their plugins); kept for test imports."""
from marketd.plugins.brt.fake import BrtFake  # noqa: F401
