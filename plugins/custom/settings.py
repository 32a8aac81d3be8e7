"""``[jobs.custom-downloads]``: the caps an Amazon Custom archive must stay under."""
from __future__ import annotations

from pydantic import Field

from marketd.sdk import JobSettings


class CustomSettings(JobSettings):
    max_zip_mb: float = Field(50, gt=0)        # the download itself
    max_files: int = Field(200, ge=1)
    max_file_mb: float = Field(20, gt=0)
    max_total_mb: float = Field(100, gt=0)     # all entries, decompressed
    max_ratio: int = Field(200, ge=2)          # decompressed / compressed per entry
    font: str | None = None                    # a TTF for the production sheet; default DejaVu Sans


def custom_settings(app) -> CustomSettings:
    cfg = (app.config.get("jobs") or {}).get("custom-downloads")
    return cfg if isinstance(cfg, CustomSettings) else CustomSettings.model_validate(dict(cfg or {}))
