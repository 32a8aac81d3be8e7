"""Moved to :mod:`marketd.sdk.fakes` (fakes ship with their plugins); kept for the test imports."""
from marketd.sdk.fakes import *  # noqa: F401,F403
from marketd.sdk.fakes import FakeService, Fault, Request, Response, pdf_label, pdf_labels, zpl_label  # noqa: F401
