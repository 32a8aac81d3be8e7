"""Moved to :mod:`marketd.sdk.fakes` (``serve``); kept for the test imports."""
from marketd.sdk.fakes import Served, serve  # noqa: F401
