"""Typed settings: every config table is a pydantic model, checked at start-up.

``config.load`` checks what the core alone can know (TOML syntax, ``[daemon]``, the core inbox
keys, job schedules, secrets written in clear). The plugins' tables can only be checked once the
plugins are loaded: :func:`check` then validates ``[inbox.<kind>]`` against its handler's
``settings_model``, ``[channels.<name>]``/``[carriers.<name>]`` against their type's
``settings_model``, ``[jobs.<name>]`` against the job's, and replaces each table in the config by
its model. An unknown key or a wrong type anywhere fails start-up with the file, the table, the
key and a did-you-mean, because an unread key is a silent misconfiguration (``requre_known_order
= false`` used to load, and then every line was refused).

Models stay readable like the dicts they replace (``settings.get("k", default)``,
``settings["k"]``), so code written against dict tables keeps working while it moves to
attributes. ``None`` means "not set": TOML has no null, so a ``None`` field was never in the file.
"""
from __future__ import annotations

import codecs
import difflib
import re
from typing import Annotated, Any, Iterable, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import core_schema

from .errors import ConfigError

# Keys whose values must never be in a config file in clear.
SECRET_KEYS = frozenset({"client_secret", "refresh_token", "password", "api_key", "token", "secret", "access_token"})
ADDRESS_KEYS = ("name", "company", "street", "street2", "postal_code", "city", "province", "country", "phone",
                "email")
DEFAULT_TEMP_PATTERNS = [
    ".*", "*.tmp", "*.part", "*.partial", "*.filepart", "*.inprogress", "*.writing",
    "*.crdownload", "*.camelLock", "~*", "*~", "*.done", "*.ready", "*.error.txt",
]


def did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


class Settings(BaseModel):
    """Base of every settings table: unknown keys are errors, types are strict (``"30"`` is not
    a number), and a validated table never changes afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True, defer_build=True)

    # -- read like the dict tables this replaces ------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if key in type(self).model_fields else None
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields or getattr(self, key) is None:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in type(self).model_fields and getattr(self, key) is not None

    def keys(self) -> list[str]:
        return [k for k in type(self).model_fields if getattr(self, k) is not None]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in self.keys()]


class SecretRef(str):
    """The *name* of a secret (an environment variable or a systemd credential), never its value.

    ``password_secret = "SHOP_PASSWORD"`` in the config; ``app.secret(settings.password_secret)``
    reads it. Only name-like text is accepted, so a pasted token (``Atzr|…``, ``sk-…==``) is
    refused instead of being taken for a name."""

    _NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        return core_schema.no_info_after_validator_function(cls._check, core_schema.str_schema(strict=True))

    @classmethod
    def _check(cls, value: str) -> "SecretRef":
        if not cls._NAME.fullmatch(value):
            raise ValueError("must be the name of an environment variable or systemd credential (e.g. SHOP_PASSWORD), "
                             "never the secret itself")
        return cls(value)


def _transport_not_from_toml(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, list, dict)):
        raise ValueError("transport cannot be set in the config file: it is an httpx transport object that tests "
                         "and embedding code pass in Python")
    return value


def _address_table(value: dict) -> dict:
    for key in value:
        if key not in ADDRESS_KEYS:
            hint = did_you_mean(key, ADDRESS_KEYS)
            raise ValueError(f"unknown address key {key!r}" + (f": {hint}" if hint else f"; use {', '.join(ADDRESS_KEYS)}"))
    return dict(value)


# A table of address fields (``sender = { name = "…", street = "…" }``): a misspelt field is an error.
AddressTable = Annotated[dict[str, str], AfterValidator(_address_table)]


def _time_zone(value: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except Exception:  # ZoneInfoNotFoundError, ValueError (a path-like name), TypeError
        raise ValueError(f"{value!r} is not a known IANA time zone (e.g. 'Europe/Rome')") from None
    return value


# An IANA time zone name (``timezone = "Europe/Berlin"``), checked when the config is read.
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


class InboxSettings(Settings):
    """The keys every inbox has (``[inbox.defaults]`` and each ``[inbox.<kind>]``); a handler's own
    ``settings_model`` extends this. See docs/file-drop-contract.md for their meaning."""

    mode: Literal["stable", "require_rename", "done_file"] = "stable"
    stability_seconds: float = Field(2.0, ge=0)
    min_age_seconds: float = Field(0.0, ge=0)
    watch: Literal["native", "poll"] = "native"
    poll_seconds: float = Field(2.0, gt=0)
    direct_write_grace_seconds: float = Field(600.0, ge=0)
    done_marker_timeout_seconds: float = Field(600.0, ge=0)
    temp_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_TEMP_PATTERNS))
    done_suffix: str = ".done"
    max_attempts: int = Field(8, ge=1)
    encoding: str = "auto"
    delimiter: str = "auto"
    decimal: Literal["auto", ",", "."] = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    max_file_mb: float = Field(1024, gt=0)
    retention_done_days: float = Field(180, ge=0)
    retention_error_days: float = Field(365, ge=0)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError("not a known encoding: use auto, utf-8 or cp1252") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if value not in ("auto", "tab", "\\t") and len(value) != 1:
            raise ValueError("use auto, tab or one character such as \";\"")
        return value


class ChannelSettings(Settings):
    """``[channels.<name>]``: ``type`` picks the plugin; a channel type's ``settings_model``
    extends this with its own keys."""

    type: str
    transport: Any = None  # Python only (tests, embedding): an httpx transport for the channel's HTTP

    _transport = field_validator("transport")(_transport_not_from_toml)


class CarrierSettings(Settings):
    """``[carriers.<name>]``: the keys every carrier account has (docs/plugins/carriers.md); a
    carrier type's ``settings_model`` extends this."""

    type: str
    label_format: Literal["PDF", "ZPL", "pdf", "zpl"] | None = None
    sender: AddressTable = Field(default_factory=dict)
    service: str = ""
    channel_carrier_code: str | None = None
    channel_carrier_name: str | None = None
    tracking_url: str | None = None
    transport: Any = None  # Python only (tests, embedding): an httpx transport for the carrier's HTTP

    _transport = field_validator("transport")(_transport_not_from_toml)


class JobSettings(Settings):
    """``[jobs.<name>]``: overrides of a job's schedule; unset keys keep the plugin's defaults
    (``seconds`` and ``cron`` are checked by ``config.load``). A job's ``settings_model`` extends
    this with its own keys."""

    enabled: bool | None = None
    seconds: float | None = None
    cron: dict[str, Any] | None = None


class PluginsSettings(Settings):
    disabled: list[str] = Field(default_factory=list)


# -- checking a loaded config against the loaded plugins ------------------------------------------
def _key(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(table)"


def _explain(model: type[BaseModel], err: dict) -> str:
    key = _key(err["loc"])
    kind = err["type"]
    message = err["msg"].removeprefix("Value error, ")
    if not err["loc"]:  # the table as a whole (a model validator): never echo the input, it may hold secrets
        return message
    if kind == "extra_forbidden" and str(err["loc"][-1]) in SECRET_KEYS and err.get("input"):
        return (f"holds {key} in clear: secrets must come from environment variables or systemd credentials "
                "(see docs/operations.md#secrets), never from the TOML file")
    if "never the secret itself" in message:
        return f"{key}: {message}"
    if kind == "extra_forbidden":
        node: Any = model
        for part in err["loc"][:-1]:  # a nested model's own keys for a nested typo
            field = getattr(node, "model_fields", {}).get(part)
            node = getattr(field, "annotation", None)
        known = list(getattr(node, "model_fields", {}) or model.model_fields)
        hint = did_you_mean(str(err["loc"][-1]), [k for k in known if k != "transport"])
        return f"unknown key {key!r}" + (f": {hint}" if hint else f" (known keys: {', '.join(known)})")
    if kind == "missing":
        return f"missing key {key!r}"
    value = err.get("input")
    if kind in ("float_type", "int_type", "int_from_float") and isinstance(value, str):
        message = f"must be a number (no quotes), e.g. {key} = {value.strip() or 1}"
    elif kind == "bool_type":
        message = "use true or false (no quotes)"
    elif kind in ("greater_than_equal", "greater_than"):
        bound = err.get("ctx", {}).get("ge", err.get("ctx", {}).get("gt"))
        message = f"must be {'>=' if kind == 'greater_than_equal' else '>'} {bound}"
    elif kind == "literal_error":
        message = "use one of " + err.get("ctx", {}).get("expected", "").replace(" or ", ", ")
    return f"{key} = {value!r}: {message}"


def validate(model: type[Settings], data: Any, where: str, name: str | None = None) -> Settings:
    """``model(**data)``, or a ConfigError naming ``where`` (``[inbox.shipments]``) and each bad key.
    ``name`` (the account or kind) is given to the model's validators as ``info.context["name"]``."""
    if isinstance(data, model):
        return data
    if isinstance(data, Settings):
        data = {k: v for k, v in data.items()}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table")
    try:
        return model.model_validate(data, context={"name": name})
    except ValidationError as exc:
        raise ConfigError("; ".join(f"{where} {_explain(model, e)}" for e in exc.errors())) from None


def check(cfg: dict, *, inboxes: dict, channels: dict, carriers: dict, jobs: dict) -> dict:
    """Validate ``cfg`` (from ``config.load``) against the plugins' models and put the models in.

    ``inboxes`` maps kind → model, ``channels``/``carriers`` type → model, ``jobs`` name → model.
    Raises :class:`ConfigError` naming the config file; returns ``cfg`` itself.
    """
    try:
        _check(cfg, inboxes, channels, carriers, jobs)
    except ConfigError as exc:
        path = cfg.get("_path")
        raise ConfigError(f"{path}: {exc}" if path and not str(exc).startswith(str(path)) else str(exc)) from None
    return cfg


def _check(cfg: dict, inboxes: dict, channels: dict, carriers: dict, jobs: dict) -> None:
    inbox = cfg.setdefault("inbox", {})
    defaults = validate(InboxSettings, inbox.get("defaults", {}), "[inbox.defaults]")
    inbox["defaults"] = defaults
    for kind, section in list(inbox.items()):
        if kind != "defaults" and kind not in inboxes:
            raise ConfigError(f"[inbox.{kind}] is not an inbox of any loaded plugin: "
                              f"{did_you_mean(kind, inboxes) or 'inboxes: ' + ', '.join(sorted(inboxes))} "
                              "(a disabled plugin's table must go too; see `marketd plugins`)")
    base = {k: v for k, v in defaults.items()}
    for kind, model in inboxes.items():
        section = inbox.get(kind)
        merged = base if section is None else {**base, **{k: v for k, v in dict(section).items()}}
        inbox[kind] = validate(model, merged, f"[inbox.{kind}]", kind)
    for table, models in (("channels", channels), ("carriers", carriers)):
        for name, section in list((cfg.get(table) or {}).items()):
            kind = section.get("type") if isinstance(section, (dict, Settings)) else None
            if kind not in models:
                raise ConfigError(
                    f"[{table}.{name}] type = {kind!r} is not provided by any loaded plugin: "
                    f"{did_you_mean(str(kind), models) or 'known: ' + (', '.join(sorted(models)) or 'none')} "
                    "(see `marketd plugins`)")
            cfg[table][name] = validate(models[kind], section, f"[{table}.{name}]", name)
    for name, section in list((cfg.get("jobs") or {}).items()):
        if name not in jobs:
            raise ConfigError(f"[jobs.{name}] is not a job of any loaded plugin: "
                              f"{did_you_mean(name, jobs) or 'jobs: ' + ', '.join(sorted(jobs))} "
                              "(`marketd jobs` lists them)")
        cfg["jobs"][name] = validate(jobs[name], section, f"[jobs.{name}]", name)
    cfg["plugins"] = validate(PluginsSettings, cfg.get("plugins") or {}, "[plugins]")
