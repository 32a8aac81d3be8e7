"""``inbox/content/``: content files in, completeness reports out (docs/plugins/content.md).

What a drop can be:

- a content table (CSV/TSV/XLSX), long or wide layout (:mod:`.reader`);
- a ``.zip`` with exactly one content table, its images and optionally GPSR party tables
  (:mod:`.bundle`);
- a GPSR party table (``gpsr-parties*``, or recognised by its header) (:mod:`.parties`);
- an Amazon notification (``.json``) announcing changed product type definitions
  (``PRODUCT_TYPE_DEFINITIONS_CHANGE``): recorded for the ``content-models`` job.

A file that cannot be read as a whole is refused (``.error/`` with ``.error.txt``), and nothing is
published: every report file is staged and published only after the file's transaction commits.
Images are fetched before the store is touched, so a slow image host never holds the database's
write lock. One content file with several brands gives one run and one report folder per brand
(``outbox/reports/content/<brand>/<stamp>-<stem>/``).
"""
from __future__ import annotations

import re
from pathlib import Path

from marketd.sdk import FileRejected, read_table

from . import modelsync, runs
from .bundle import Bundle, is_party_name
from .parties import load_parties, looks_like_parties, read_parties, store_parties
from .reader import read_products
from .records import inherit
from .settings import ContentSettings


def brand_folder(brand: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", brand).strip("._") or "unbranded"


class ContentHandler:
    kind = "content"
    completeness = ("CSV: a last row cut mid-line is refused; a file cut at a row boundary cannot be detected, so "
                    "PIMs/ERPs should upload as NAME.tmp and rename (mode require_rename); XLSX and zip files are "
                    "complete or unreadable")
    settings_model = ContentSettings

    def __init__(self, transport=None):
        self.transport = transport  # tests: an httpx transport for image downloads

    def process(self, ctx) -> dict:
        if ctx.name.lower().endswith(".json"):
            return modelsync.accept_notification_file(ctx)
        settings: ContentSettings = ctx.settings
        max_bytes = int(float(settings.max_file_mb) * 1024 * 1024)
        bundle = Bundle(ctx.path, max_bytes) if ctx.name.lower().endswith(".zip") else None
        source = None
        try:
            party_rows = []
            if bundle is not None:
                for path, name in bundle.party_tables(max_bytes):
                    party_rows += read_parties(path, settings)
                path, inner = bundle.table(max_bytes)
            else:
                path, inner = ctx.path, ctx.name
            table = read_table(path, settings)
            if bundle is None and (is_party_name(ctx.name) or looks_like_parties(table.columns)):
                rows = read_parties(path, settings)
                n = store_parties(ctx.db, rows, ctx.name, ctx.app.clock.now().isoformat())
                return {"parties": n, "kind": "gpsr_parties"}
            # the models (jsonschema) and the image fetcher (httpx) are imported by a content file, not
            # by every command that loads the plugins (tests/core/test_startup_imports.py)
            from .image_fetch import ImageSource
            from .registry import Registry, instance_path, models_root

            registry = Registry(models_root(ctx.app, settings), settings)
            parsed = read_products(table, settings, registry.known_attributes())
            del table  # the parsed products hold every value now: the frame (~200 MB for 200,000 rows) goes
            if not parsed.products:
                raise FileRejected("no_rows", "the file has a header but no product rows",
                                   fix="check the export; an empty content file is not checked")
            products = parsed.products
            inherit(products)
            images_dir = instance_path(ctx.app, settings.images_dir) if settings.images_dir else None
            source = ImageSource(ctx.app, settings.images, bundle=bundle, images_dir=images_dir,
                                 transport=self.transport)
            for p in products.values():  # network first: the store's write lock is not held meanwhile
                for pos, ref in enumerate(p.images):
                    if pos == 0 or not ref.lower().startswith(("http://", "https://")):
                        source.facts(ref)
            db = ctx.db
            now = ctx.app.clock.now().isoformat()
            if party_rows:
                store_parties(db, party_rows, f"{ctx.name}:parties", now)
            parties = load_parties(db)
            by_brand: dict[str, dict] = {}
            for sku, p in products.items():
                by_brand.setdefault(p.brand or settings.brand or "unbranded", {})[sku] = p
            summaries = []
            for brand in sorted(by_brand):
                mine = by_brand[brand]
                file_issues = [i for i in parsed.issues if (i.sku in mine) or not i.sku]
                inp = runs.RunInput(brand=brand, products=mine, source=ctx.name if inner == ctx.name else
                                    f"{ctx.name}:{inner}", source_sha256=ctx.sha256, reason="file",
                                    file_id=ctx.file_id, file_issues=file_issues,
                                    report_dir=f"reports/content/{brand_folder(brand)}/{ctx.stamp}-{Path(ctx.name).stem}",
                                    extra_meta=[("layout", parsed.layout), ("rows", parsed.rows),
                                                ("platforms", ", ".join(sorted(settings.platforms)) or
                                                 "none configured ([inbox.content.platforms])")])
                summaries.append(runs.execute(ctx.app, db, settings, registry, inp, ctx.output, images=source,
                                              parties=parties))
            return {"layout": parsed.layout, "rows": parsed.rows, "skus": len(products),
                    "images_pending": source.pending,
                    "runs": [{k: s[k] for k in ("run", "brand", "report_dir", "errors", "warnings", "new", "fixed")}
                             for s in summaries]}
        finally:
            if source is not None:
                source.close()
            if bundle is not None:
                bundle.close()

    def on_duplicate(self, ctx, first: dict) -> None:
        """The same bytes again: checked again (models or images may have changed since), and the
        CSVs come out byte-identical when nothing did."""
        self.process(ctx)

