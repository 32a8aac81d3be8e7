"""The catalog inbox (``inbox/catalog/``): what the engine needs to know at start-up.

This module is imported by every start-up of the daemon and of each command (the plugin is
loaded to register its inbox), so it imports nothing heavy: the pass over a file (pandas, numpy,
the store) is in :mod:`.run`, imported when the first catalog file comes.
"""
from __future__ import annotations

from .settings import CatalogSettings


class CatalogHandler:
    kind = "catalog"
    completeness = ("CSV rows are checked for a cut-off last row; a file cut at a row boundary cannot be "
                    "detected, so ERPs must use mode require_rename or done_file")
    settings_model = CatalogSettings

    def process(self, ctx) -> dict:
        from .run import process

        return process(ctx)

    def on_duplicate(self, ctx, first: dict) -> None:
        from .run import duplicate_report

        duplicate_report(ctx, first)
