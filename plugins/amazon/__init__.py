"""Built-in plugin: Amazon (``[channels.<name>] type = "amazon"``).

Two halves live in this package and each hook below is defined once and delegates to both:

- SP-API (``spapi_plugin.py``): the channel (orders sync, shipment confirmation), the
  ``amazon-orders`` and ``amazon-settlements-fetch`` jobs, their tables, the fake SP-API
  ``marketd sandbox`` serves.
- Settlement files (``settlement_format.py``): the ``amazon-flat-v2``/``-v1`` payout formats,
  registered with the ``settlements`` plugin, which stores, matches and reports them.

A half whose module is not there (yet) is skipped; an import error *inside* a module is not
hidden. See docs/plugins/amazon.md.
"""
from __future__ import annotations

import importlib

from marketd.sdk import hookimpl


def _delegate(module: str, func: str, *args) -> None:
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ImportError as exc:
        if exc.name == f"{__name__}.{module}":
            return
        raise
    fn = getattr(mod, func, None)
    if fn is not None:
        fn(*args)


@hookimpl
def register_channels(register):
    _delegate("spapi_plugin", "spapi_channels", register)


@hookimpl
def register_jobs(register):
    _delegate("spapi_plugin", "spapi_jobs", register)


@hookimpl
def register_migrations(register):
    _delegate("spapi_plugin", "spapi_migrations", register)


@hookimpl
def register_settlement_formats(register):
    _delegate("settlement_format", "settlement_formats", register)


@hookimpl
def register_fakes(register):
    _delegate("spapi_plugin", "spapi_fakes", register)
