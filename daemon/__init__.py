"""marketd: a headless back office for marketplace sellers.

Plugins import from ``marketd.sdk`` only (enforced for the built-in ones by import-linter); the
names below stay for code written before the SDK existed.
"""
__version__ = "0.1.0"

from .hookspecs import hookimpl, hookspec  # noqa: E402
from .errors import ConfigError, FileRejected, MarketdError, OutputExists, TransientError  # noqa: E402
from .models import Capabilities, Channel, JobSpec, Money  # noqa: E402
from .money import parse_amount  # noqa: E402
from .clock import Clock, FakeClock  # noqa: E402

__all__ = [
    "__version__", "hookimpl", "hookspec", "ConfigError", "FileRejected", "MarketdError", "OutputExists",
    "TransientError", "Capabilities", "Channel", "JobSpec", "Money", "parse_amount", "Clock", "FakeClock",
]
