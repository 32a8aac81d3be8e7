"""``[inbox.content]``: the core inbox keys plus the content plugin's own (docs/plugins/content.md).

Everything the content checks need lives in this one table (platforms, locales, image rules), so
the daemon's start-up check catches a misspelt key before a report is built on a wrong setting,
and the model-refresh job reads the same validated table (``inbox_settings_for(app, "content")``).
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from marketd.sdk import InboxSettings, JobSettings, Settings

from .listings.settings import ListingsSettings

LOCALE = re.compile(r"^[a-z]{2,3}_[A-Z]{2}$")

# Amazon GPSR marketplaces (research content-and-health §2.2) and the EU/EEA for the RP rule.
EU_EEA = ("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "
          "IS LI NO XI").split()


def _locales(value: list[str]) -> list[str]:
    for loc in value:
        if not LOCALE.match(loc):
            raise ValueError(f"locale {loc!r}: write language_COUNTRY, e.g. \"de_DE\"")
    if len(set(value)) != len(value):
        raise ValueError("a locale is listed twice")
    return value


class PlatformSettings(Settings):
    """``[inbox.content.platforms.<name>]``: one marketplace whose content is checked.

    ``type`` says which kind of data model applies: ``amazon`` (product type JSON Schemas),
    ``ebay`` (category aspects), ``file`` (TOML/JSON models people write; ManoMano, MALL, Otto).
    """

    type: Literal["amazon", "ebay", "file"]
    locales: list[str]
    folder: str | None = None              # models/<folder>/; default: the type (file: the platform name)
    marketplace: str = ""                  # amazon: DE, FR …; ebay: EBAY_DE …; used for folders and GPSR
    country: str | None = None             # the marketplace country (GPSR target language); default from marketplace
    marketplace_id: str | None = None      # amazon: the marketplace id put into attribute values
    channel: str | None = None             # the channel account that fetches this platform's models
    brands: list[str] = Field(default_factory=list)   # empty: every brand
    gpsr: bool | None = None               # None: on for EU/EEA marketplaces
    gpsr_shape: Literal["amazon", "ebay", "otto", "none"] | None = None   # default from type
    safety_languages: list[str] | None = None        # GPSR target languages; default from the country
    first_image: Literal["packshot", "model", "any"] | None = None   # expected first-image kind
    main_image_rules: bool | None = None   # Amazon's main-image rules; default: on for type amazon

    _check_locales = field_validator("locales")(_locales)

    @model_validator(mode="after")
    def _need_locales(self):
        if not self.locales:
            raise ValueError("locales must name at least one locale, e.g. [\"de_DE\"]")
        return self

    def model_folder(self, name: str) -> str:
        if self.folder:
            return self.folder
        return name if self.type == "file" else self.type

    def marketplace_country(self) -> str:
        if self.country:
            return self.country.upper()
        m = self.marketplace.upper()
        if m.startswith("EBAY_"):
            m = m[5:]
        if len(m) == 2:
            return "GB" if m == "UK" else m
        return self.locales[0].split("_")[1]

    def gpsr_on(self) -> bool:
        return self.gpsr if self.gpsr is not None else self.marketplace_country() in EU_EEA

    def gpsr_kind(self) -> str:
        if self.gpsr_shape:
            return self.gpsr_shape
        return {"amazon": "amazon", "ebay": "ebay"}.get(self.type, "none")


class ImageSettings(Settings):
    """``[inbox.content.images]``: downloads and the first-image classifier's thresholds."""

    download: bool = True                      # fetch http(s) image URLs (else only zip images are checked)
    max_bytes: int = Field(20 * 1024 * 1024, gt=0)
    timeout_seconds: float = Field(20.0, gt=0)
    content_types: list[str] = Field(default_factory=lambda: ["image/jpeg", "image/png", "image/gif",
                                                              "image/tiff", "image/webp"])
    allow_private_hosts: bool = False          # loopback/private addresses (a PIM on the LAN; tests)
    allowed_hosts: list[str] = Field(default_factory=list)   # empty: any public host
    inline_limit: int = Field(500, ge=0)       # new URLs fetched while a file is checked; the rest: job
    host_rate: float = Field(5.0, gt=0)        # requests per second per host
    # the classifier (research §3.4; design §A6): all thresholds configurable
    downscale: int = Field(512, ge=64)
    border_share: float = Field(0.03, gt=0, lt=0.5)
    white_min: int = Field(245, ge=0, le=255)
    fg_distance: int = Field(30, ge=1, le=255)
    min_fill: float = Field(0.05, ge=0, le=1)
    packshot_border_white: float = Field(0.95, ge=0, le=1)
    packshot_bg_std: float = Field(8.0, ge=0)
    packshot_max_skin: float = Field(0.02, ge=0, le=1)
    model_min_skin: float = Field(0.05, ge=0, le=1)
    model_max_skin_untouched: float = Field(0.85, ge=0, le=1)
    edge_touch_share: float = Field(0.02, ge=0, le=1)
    # Amazon main image (third-party summaries: warnings only)
    min_longest_side: int = Field(1000, ge=1)
    main_white: int = Field(250, ge=0, le=255)
    main_white_share: float = Field(0.98, ge=0, le=1)
    main_fill: float = Field(0.85, ge=0, le=1)
    expected: dict[str, str] = Field(default_factory=dict)   # "<platform>" or "<platform>:<category>" -> kind

    @field_validator("expected")
    @classmethod
    def _kinds(cls, value: dict[str, str]) -> dict[str, str]:
        for key, kind in value.items():
            if kind not in ("packshot", "model", "any"):
                raise ValueError(f"expected.{key} = {kind!r}: use packshot, model or any")
        return value


class ContentSettings(InboxSettings):
    locales: list[str] = Field(default_factory=lambda: ["de_DE"])   # locales the files may carry
    platforms: dict[str, PlatformSettings] = Field(default_factory=dict)
    models_dir: str = "models"            # relative to the config file's folder (else the instance folder)
    images_dir: str | None = None         # a companion folder of image files named in the rows (same base)
    brand: str = ""                       # for files without a brand column
    images: ImageSettings = Field(default_factory=ImageSettings)
    safety_languages: dict[str, list[str]] = Field(default_factory=dict)   # country -> languages (overrides)
    eu_countries: list[str] = Field(default_factory=lambda: list(EU_EEA))
    listings: ListingsSettings = Field(default_factory=ListingsSettings)   # push, pull, audit (listings/)
    keep_runs: int = Field(10, ge=2)      # runs kept per brand in the store (reports stay in the outbox)
    xlsx: bool = True
    html: bool = True

    _check_locales = field_validator("locales")(_locales)

    @field_validator("platforms")
    @classmethod
    def _names(cls, value: dict) -> dict:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", name):
                raise ValueError(f"platform name {name!r}: letters, digits, _ and - (e.g. amazon_de)")
        return value


class ModelsJobSettings(JobSettings):
    """``[jobs.content-models]``: how often every model in use is fetched again (besides changes
    a platform announces, which are handled at the job's next run)."""

    refresh_days: float = Field(1.0, gt=0)
