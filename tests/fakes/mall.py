"""Moved to :mod:`marketd.plugins.mall.fake` (fakes ship with their plugins); kept for test imports."""
from marketd.plugins.mall.fake import MallFake, envelope  # noqa: F401
