"""``[brands.<id>]`` and the brands jobs' tables (docs/plugins/brands.md).

A brand's table says who it is (name, how its SKUs are recognised), where it is (country and
state: whose public holidays count as non-working days, its time zone) and what it wants
(platforms, go-live days, the monitoring weekdays, links, mail, commission rates). Contacts are
not configured here: they change and are personal data, so they come with the onboarding file.
The links endpoint is a table of its job (``[jobs.brands-links]``), checked by the core like every
job table; mail goes through the core's ``[mail]`` server (``marketd.sdk.mail``).
"""
from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator, model_validator

from marketd.sdk import ConfigError, JobSettings, Settings, TimeZoneName, did_you_mean

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BRAND_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _percent(value: str, where: str) -> str:
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError(f"{where} = {value!r}: write a percentage as text, e.g. \"12.5\"") from None
    if not d.is_finite() or d < 0 or d > 100:
        raise ValueError(f"{where} = {value!r}: must be between 0 and 100")
    return value


class BrandSettings(Settings):
    name: str
    sku_prefixes: list[str] = Field(default_factory=list)
    catalog_brand: str | None = None
    country: str
    subdivision: str | None = None
    timezone: TimeZoneName = "Europe/Berlin"
    platforms: list[str] = Field(default_factory=list)
    golive_days: int = Field(10, ge=1, le=250)
    golive_days_by_platform: dict[str, int] = Field(default_factory=dict)
    closing_days: list[date] = Field(default_factory=list)
    monitoring_weekdays: list[str] = Field(default_factory=lambda: ["tue", "thu"])
    monitoring_time: str = "07:00"
    links: bool = True
    mail: bool = True
    # percent as text (Decimal): "default" and per platform; the statement's integrator commission
    commission: dict[str, str] = Field(default_factory=lambda: {"default": "0"})
    # percent by the catalog's `category` column (case-insensitive); wins over the platform's rate
    commission_by_category: dict[str, str] = Field(default_factory=dict)
    currency: str = "EUR"
    # stock kept in other places, by catalog column: {"lager-hamburg" = "Bestand Hamburg"} (the
    # catalog's own `stock` is the "warehouse" row; platforms' stock comes from the listings pull)
    stock_locations: dict[str, str] = Field(default_factory=dict)

    @field_validator("country")
    @classmethod
    def _country(cls, value):
        import holidays

        if value.upper() not in holidays.list_supported_countries():
            raise ValueError(f"{value!r} is not a country the holidays package knows (ISO code, e.g. \"DE\")")
        return value.upper()

    @field_validator("closing_days", mode="before")
    @classmethod
    def _days(cls, value):
        """TOML dates (``[2024-12-24]``) or ISO text (``["2024-12-24"]``) both mean a day."""
        if not isinstance(value, list):
            raise ValueError("a list of days, e.g. closing_days = [2024-12-24, 2024-12-31]")
        out = []
        for v in value:
            if isinstance(v, str):
                try:
                    v = date.fromisoformat(v)
                except ValueError:
                    raise ValueError(f"{v!r} is not a day (write 2024-12-24)") from None
            out.append(v)
        return out

    @field_validator("monitoring_weekdays")
    @classmethod
    def _weekdays(cls, value):
        bad = [d for d in value if d not in WEEKDAYS]
        if bad or not value:
            raise ValueError(f"{bad or value!r}: use day names {', '.join(WEEKDAYS)}, e.g. [\"tue\", \"thu\"]")
        return value

    @field_validator("monitoring_time")
    @classmethod
    def _time(cls, value):
        if not _HHMM.match(value):
            raise ValueError(f"{value!r}: write HH:MM, e.g. \"07:00\"")
        return value

    @field_validator("commission", "commission_by_category")
    @classmethod
    def _commission(cls, value, info):
        for k, v in value.items():
            _percent(v, f"{info.field_name}.{k}")
        return value

    @field_validator("stock_locations")
    @classmethod
    def _locations(cls, value):
        for k, v in value.items():
            if not k.strip() or not str(v).strip() or k.strip().casefold() == "warehouse":
                raise ValueError(f"stock_locations: {k!r} = {v!r}: name a location (not \"warehouse\", the "
                                 "catalog's own stock) and the catalog column holding its quantity")
        return value

    @model_validator(mode="after")
    def _sku_rule(self):
        if not self.sku_prefixes and not self.catalog_brand:
            raise ValueError("say which SKUs are the brand's: sku_prefixes = [\"ACM-\"] or catalog_brand = \"Acme\"")
        if self.subdivision:
            import holidays

            subs = holidays.list_supported_countries().get(self.country, [])
            if self.subdivision not in subs:
                raise ValueError(f"subdivision {self.subdivision!r} is not one of {self.country}'s: "
                                 f"{did_you_mean(self.subdivision, subs) or ', '.join(subs[:20])}")
        unknown = sorted(set(self.golive_days_by_platform) - set(self.platforms))
        if unknown:
            raise ValueError(f"golive_days_by_platform names {unknown} that are not in platforms {self.platforms}")
        return self

    # -- derived --------------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def golive_days_for(self, platform: str) -> int:
        return self.golive_days_by_platform.get(platform, self.golive_days)

    def monitoring_at(self) -> time:
        h, m = self.monitoring_time.split(":")
        return time(int(h), int(m))

    def commission_rate(self, platform: str, category: str | None = None) -> Decimal:
        if category and self.commission_by_category:
            by = {k.casefold(): v for k, v in self.commission_by_category.items()}
            if category.strip().casefold() in by:
                return Decimal(by[category.strip().casefold()])
        return Decimal(self.commission.get(platform, self.commission.get("default", "0")))


class LinksSettings(JobSettings):
    """``[jobs.brands-links]``: the data-link endpoint and the morning refresh."""

    bind: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    base_url: str = ""            # what the brand sees, e.g. https://links.example.com (a TLS proxy)
    refresh_time: str = "05:30"   # brand-local; the previous day's files are built after it
    serve: bool = True

    _t = field_validator("refresh_time")(BrandSettings._time.__func__)


class WeeklySettings(JobSettings):
    """``[jobs.brands-weekly]``: when the weekly dashboard and six reports go out (brand-local)."""

    weekday: str = "mon"
    time: str = "06:00"

    _t = field_validator("time")(BrandSettings._time.__func__)

    @field_validator("weekday")
    @classmethod
    def _day(cls, value):
        if value not in WEEKDAYS:
            raise ValueError(f"use one of {', '.join(WEEKDAYS)}")
        return value


def _explain(bid: str, err: dict) -> str:
    key = ".".join(str(x) for x in err["loc"])
    if err["type"] == "extra_forbidden":
        return (f"[brands.{bid}] unknown key {key!r}: "
                f"{did_you_mean(key, BrandSettings.model_fields) or 'known keys: ' + ', '.join(BrandSettings.model_fields)}")
    if err["type"] == "missing":
        return f"[brands.{bid}] {key} is required (docs/plugins/brands.md)"
    return f"[brands.{bid}] {key}: {err['msg'].removeprefix('Value error, ')}".replace(" : ", ": ")


def parse_brands(config: dict) -> dict[str, BrandSettings]:
    """Every ``[brands.<id>]`` of a loaded config, checked; one clear ``ConfigError`` otherwise."""
    path = config.get("_path", "the config")
    out: dict[str, BrandSettings] = {}
    tables = dict(config.get("brands") or {})
    defaults = tables.pop("defaults", None) or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: brands.defaults must be a table: [brands.defaults] closing_days = [2024-12-24]")
    for key in defaults:
        if key not in BrandSettings.model_fields or key in ("name", "sku_prefixes", "catalog_brand"):
            raise ConfigError(f"{path}: [brands.defaults] {key!r} cannot be a default for every brand: "
                              f"{did_you_mean(key, BrandSettings.model_fields) or 'see docs/plugins/brands.md'}")
    for bid, raw in tables.items():
        if isinstance(raw, BrandSettings):
            out[bid] = raw
            continue
        if isinstance(raw, dict) and defaults:
            # the brand's own keys win; closing days add up (the integrator's and the brand's)
            merged = {**defaults, **raw}
            if "closing_days" in defaults and "closing_days" in raw:
                merged["closing_days"] = list(defaults["closing_days"]) + list(raw["closing_days"])
            raw = merged
        if not _BRAND_ID.match(str(bid)):
            raise ConfigError(f"{path}: [brands.{bid}]: a brand id is lower-case letters, digits, '-' and '_' "
                              "(it names folders and URLs)")
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: brands.{bid} must be a table: [brands.{bid}] name = \"…\"")
        try:
            out[bid] = BrandSettings.model_validate(raw)
        except ValidationError as exc:
            errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
            raise ConfigError(f"{path}: {_explain(bid, errors[0])}") from None
    return out


def brands_of(app) -> dict[str, BrandSettings]:
    """The app's brands, validated once per config object (SIGHUP gives a new one)."""
    cache = app.__dict__.setdefault("_brands_cache", {})
    key = id(app.config)
    if key not in cache:
        cache.clear()
        cache[key] = parse_brands(app.config)
    return cache[key]


def brand_of(app, bid: str) -> BrandSettings:
    brands = brands_of(app)
    if bid not in brands:
        raise ConfigError(f"no brand {bid!r} in the config: "
                          f"{did_you_mean(bid, brands) or 'brands: ' + (', '.join(sorted(brands)) or 'none')}")
    return brands[bid]


def job_table(app, name: str, model):
    got = (app.config.get("jobs") or {}).get(name)
    if got is None:
        return model()
    return got if isinstance(got, model) else model.model_validate(dict(got))
