"""The content plugin's scheduled jobs.

- ``content-models`` (hourly): announced model changes, the daily model refresh through the
  channels, re-checks of the SKUs a changed model affects (:mod:`.modelsync`);
- ``content-images`` (every 15 minutes): image URLs a file queued beyond its inline download
  budget are fetched, then the SKUs showing them are re-checked.
"""
from __future__ import annotations

import logging

from marketd.sdk import JobSpec, inbox_settings_for

from . import modelsync
from . import recheck as rc
from .image_fetch import ImageSource
from .registry import instance_path
from .settings import ModelsJobSettings

log = logging.getLogger("marketd.content")
IMAGES_PER_RUN = 2000


def images_job(app, since, transport=None) -> dict:
    from pathlib import Path

    if not (Path(app.state_dir) / "content-images.sqlite").exists():
        return {"fetched": 0}  # no content file has named an image yet
    settings = inbox_settings_for(app, "content")
    images_dir = instance_path(app, settings.images_dir) if settings.images_dir else None
    source = ImageSource(app, settings.images, images_dir=images_dir, transport=transport, budget=IMAGES_PER_RUN)
    try:
        queued = source.queued(IMAGES_PER_RUN)
        for url, _brand in queued:
            source.download(url)
    finally:
        source.close()
    if not queued:
        return {"fetched": 0}
    urls = {u for u, _ in queued}
    by_brand: dict[str, set[str]] = {}
    db = app.store.db
    for r in db.query("select i.sku, i.ref, p.brand from content_images i join content_products p on p.sku = i.sku "
                      "where i.position = 0"):
        if r["ref"] in urls:
            by_brand.setdefault(r["brand"], set()).add(r["sku"])
    runs = []
    for brand, skus in sorted(by_brand.items()):
        s = rc.recheck(app, brand, skus, "images", transport=transport)
        if s is not None:
            runs.append({"brand": brand, "run": s["run"], "skus": s["checked_skus"]})
    return {"fetched": len(queued), "rechecked": runs}


def content_jobs(register) -> None:
    register(JobSpec("content-models", modelsync.models_job, seconds=3600, settings_model=ModelsJobSettings,
                     description="data models: announced changes, daily refresh through the channels, re-checks"))
    register(JobSpec("content-images", images_job, seconds=900,
                     description="content images queued by large files: download, then re-check those SKUs"))
