"""Configuration: TOML in (tomllib), embedded defaults, validation; starter config out (tomli-w).

Relative paths in a config file are resolved against the file's own folder, so an instance
directory made by ``marketd init DIR`` can be moved or run from anywhere.
"""
from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import Field, field_validator

from . import settings as settings_mod
from .errors import ConfigError
from .settings import TimeZoneName

# Names that mean "still being written": never claimed (research: daemon-reliability §"must do" 1).
DEFAULT_TEMP_PATTERNS = settings_mod.DEFAULT_TEMP_PATTERNS
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class DaemonSettings(settings_mod.Settings):
    """``[daemon]``: where the instance lives and how the daemon paces itself."""

    state_dir: str = "var"
    inbox_dir: str = "inbox"
    outbox_dir: str = "outbox"
    timezone: TimeZoneName = "UTC"
    rescan_seconds: float = Field(30.0, gt=0)
    supervise_seconds: float = Field(1.0, gt=0)
    log_level: str = "INFO"
    output_conflict: Literal["fail", "rename", "replace"] = "fail"
    output_done_files: list[str] = Field(default_factory=list)
    batch_size: int = Field(500, ge=1)
    stop_timeout_seconds: float = Field(100.0, ge=0)
    max_file_seconds: float = Field(3600.0, gt=0)

    @field_validator("state_dir", "inbox_dir", "outbox_dir", mode="before")
    @classmethod
    def _folder(cls, value, info):
        if not isinstance(value, str) or not value:
            raise ValueError(f"must be a folder path in quotes, e.g. {info.field_name} = \"/var/lib/marketd\"")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value):
        if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("output_done_files", mode="before")
    @classmethod
    def _done_files(cls, value):
        if not isinstance(value, list) or not all(isinstance(f, str) and f and "/" not in f for f in value):
            raise ValueError("a list of outbox folder names, e.g. [\"labels\", \"reports\"], or [\"*\"] for every output")
        return value


INBOX_DEFAULTS = settings_mod.InboxSettings().model_dump()

DEFAULTS = {
    "daemon": DaemonSettings().model_dump(),
    "inbox": {
        "defaults": INBOX_DEFAULTS,
    },
    "channels": {},
    "carriers": {},
    "jobs": {},
    "plugins": {"disabled": []},
    "remotes": {},  # SFTP endpoints; validated by the remotes plugin (docs/plugins/remotes.md)
    "brands": {},   # [brands.<id>]; validated by the brands plugin (docs/plugins/brands.md)
    "mail": {},     # the SMTP server of every plugin's mail (marketd.mail.MailSettings)
}

TABLES = tuple(DEFAULTS)  # the top-level tables marketd reads

SECRET_KEYS = settings_mod.SECRET_KEYS  # never in a config file in clear


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def default_config(base_dir: str | Path = ".") -> dict:
    """The embedded default, resolved against ``base_dir``: SQLite in ./var, ./inbox, ./outbox."""
    return normalise(copy.deepcopy(DEFAULTS), Path(base_dir))


def load(path: str | Path) -> dict:
    """Read, merge over the defaults and validate; every error names the file and the key.

    The plugins' own keys are checked later, once the plugins are loaded (``settings.check``,
    called by ``App``)."""
    path = Path(path).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (create one with `marketd init DIR`)")
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a config file: use {path / 'marketd.toml'}")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}")
    except (UnicodeDecodeError, PermissionError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}")
    try:
        check_tables(raw)
        cfg = normalise(_merge(DEFAULTS, raw), path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    cfg["_path"] = str(path)
    return cfg


def check_tables(raw: dict) -> None:
    """Top-level tables are all marketd's own: a misspelt one is an error, not ignored."""
    for key, value in raw.items():
        if key not in TABLES:
            hint = settings_mod.did_you_mean(key, TABLES)
            raise ConfigError(f"unknown table [{key}]: {hint + ' ' if hint else ''}"
                              f"marketd reads {', '.join(f'[{t}]' for t in TABLES)}")
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a table ([{key}]), not {type(value).__name__}")


def _core_inbox_keys(section: dict) -> dict:
    """The keys of an inbox table that the core owns; a handler's own keys are checked with its model."""
    return {k: v for k, v in section.items() if k in settings_mod.InboxSettings.model_fields}


def _check_job(name: str, job) -> None:
    if not isinstance(job, dict):
        raise ConfigError(f"[jobs.{name}] must be a table, e.g. [jobs.{name}] seconds = 600")
    core = {k: job[k] for k in ("enabled", "seconds") if k in job}
    settings_mod.validate(settings_mod.JobSettings, core, f"[jobs.{name}]")
    if "seconds" in job and job["seconds"] <= 0:
        raise ConfigError(f"[jobs.{name}] seconds = {job['seconds']!r}: must be > 0")
    if "cron" in job:
        from apscheduler.triggers.cron import CronTrigger

        example = "write it as a table of cron fields, e.g. cron = { hour = 6, minute = 0 }"
        if not isinstance(job["cron"], dict):
            raise ConfigError(f"[jobs.{name}] cron = {job['cron']!r}: {example}")
        try:
            CronTrigger(timezone="UTC", **job["cron"])
        except Exception as exc:
            raise ConfigError(f"[jobs.{name}] cron = {job['cron']!r}: {exc}; {example}")


def normalise(cfg: dict, base_dir: Path) -> dict:
    """Validate the core's tables and resolve: paths become absolute, inbox sections get their defaults."""
    d = settings_mod.validate(DaemonSettings, cfg["daemon"], "[daemon]").model_dump()
    for key in ("state_dir", "inbox_dir", "outbox_dir"):
        p = Path(os.path.expanduser(d[key]))
        d[key] = str(p if p.is_absolute() else (base_dir / p).resolve())
    cfg["daemon"] = d
    inbox = cfg.setdefault("inbox", {})
    if not isinstance(inbox.get("defaults", {}), dict):
        raise ConfigError("[inbox.defaults] must be a table")
    defaults = _merge(INBOX_DEFAULTS, inbox.get("defaults", {}))
    settings_mod.validate(settings_mod.InboxSettings, defaults, "[inbox.defaults]")
    inbox["defaults"] = defaults
    for kind, section in list(inbox.items()):
        if kind == "defaults":
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"[inbox.{kind}] must be a table")
        merged = _merge(defaults, section)
        settings_mod.validate(settings_mod.InboxSettings, _core_inbox_keys(merged), f"[inbox.{kind}]")
        inbox[kind] = merged
    for name, job in cfg.get("jobs", {}).items():
        _check_job(name, job)
    from .mail import MailSettings

    cfg["mail"] = settings_mod.validate(MailSettings, cfg.get("mail") or {}, "[mail]").model_dump()
    plugins = cfg.get("plugins", {})
    if not isinstance(plugins.get("disabled", []), list) or not all(isinstance(x, str) for x in plugins["disabled"]):
        raise ConfigError(f"[plugins] disabled = {plugins.get('disabled')!r}: must be a list of plugin names, "
                          "e.g. [\"amazon\"]")
    settings_mod.validate(settings_mod.PluginsSettings, plugins, "[plugins]")
    for table in ("channels", "carriers"):
        for name, section in cfg.get(table, {}).items():
            if not isinstance(section, dict) or "type" not in section:
                raise ConfigError(f"[{table}.{name}] needs a `type` (e.g. type = \"amazon\")")
            leaked = sorted(k for k, v in section.items() if k in SECRET_KEYS and v)
            if leaked:
                raise ConfigError(
                    f"[{table}.{name}] holds {', '.join(leaked)} in clear: secrets must come from environment "
                    f"variables or systemd credentials (see docs/operations.md#secrets), never from the TOML file"
                )
    return cfg


def inbox_settings(cfg: dict, kind: str):
    """Settings for one inbox kind: its own section over the defaults.

    Once ``App`` has checked the config (``settings.check``) these are the handler's settings
    model (readable like a dict); before that, the merged dict."""
    section = cfg["inbox"].get(kind)
    return section if section is not None else copy.deepcopy(cfg["inbox"]["defaults"])


STARTER = """\
# marketd configuration — written by `marketd init`.
# [daemon] and [inbox.defaults] show every key with its default value; delete what you don't change.
# The [inbox.<kind>] sections below are examples of per-inbox settings (they win over the defaults).
# Relative paths are resolved against this file's folder. Reference: docs/file-drop-contract.md,
# docs/operations.md and docs/plugins/ in the marketd sources.
# Secrets (API keys, refresh tokens, passwords) never go here: use environment variables or
# systemd credentials (LoadCredential=), see docs/operations.md#secrets.

"""

STARTER_TAIL = """
# Channels ([channels.<name>] type = "amazon"), carriers ([carriers.<name>] type = "brt", "mall_delivery",
# "manual") and job overrides ([jobs.<name>] enabled = false / seconds = 600 / cron = { hour = 6 }) are
# described in docs/plugins/ and docs/operations.md. `marketd jobs` lists the job names.
"""

STARTER_COMMENTS = {
    "daemon": (
        "# Where state (SQLite, lock), inboxes and outboxes live; time zone of scheduled jobs and reports;\n"
        "# rescan period (s); output_conflict: fail | rename | replace when an output name is taken;\n"
        "# output_done_files: outbox folders (e.g. [\"labels\"], or [\"*\"]) that get an empty NAME.done per output;\n"
        "# stop_timeout_seconds: how long a stop waits for the file in hand (keep it under TimeoutStopSec);\n"
        "# max_file_seconds: a file in hand longer than this stops the systemd watchdog pings (a stuck worker)."
    ),
    "inbox.defaults": (
        "# Per-inbox behaviour. mode: stable (size/mtime unchanged for stability_seconds; for people),\n"
        "# require_rename (only files renamed from a temp name such as x.csv.tmp; use for ERPs over SFTP),\n"
        "# done_file (a file is taken once <name>.done exists). watch: native (inotify) or poll (network\n"
        "# mounts; the folder is listed every poll_seconds). require_rename: a file written under its final\n"
        "# name goes to .error/ (not_renamed) after direct_write_grace_seconds. done_file: a marker without\n"
        "# its data file is logged after done_marker_timeout_seconds. Files matching temp_patterns\n"
        "# are never taken. encoding/delimiter/decimal: auto or a fixed value (cp1252, \";\" or tab, \",\")."
    ),
    "inbox.catalog": "# The product catalog inbox (docs/plugins/catalog.md).",
    "inbox.catalog.columns": "# Your ERP's column names -> ours (sku, ean, title, brand, price, currency, stock).",
    "inbox.settlements": "# Amazon settlement files (docs/plugins/amazon-settlements.md).",
    "inbox.shipments": "# Shipment requests (docs/plugins/carriers.md); an ERP uploading over SFTP: require_rename.",
    "plugins": "# Plugins not to load (`marketd plugins` lists them), e.g. disabled = [\"amazon\"].",
}


STARTER_INBOXES = {
    "catalog": {"mode": "stable", "columns": {"Artikelnummer": "sku", "Preis": "price"}},
    "settlements": {"mode": "stable"},
    "shipments": {"mode": "require_rename"},
}


def starter_config(inbox_kinds=None) -> dict:
    """The starter's tables; the example ``[inbox.<kind>]`` sections only for ``inbox_kinds``
    (the loaded plugins' inboxes; None: all), since a section for no loaded inbox is an error."""
    examples = {k: v for k, v in STARTER_INBOXES.items() if inbox_kinds is None or k in inbox_kinds}
    return {
        "daemon": dict(DEFAULTS["daemon"]),
        "inbox": {"defaults": {k: v for k, v in INBOX_DEFAULTS.items() if k not in ("columns",)}, **examples},
        "plugins": {"disabled": []},
    }


def render_starter(inbox_kinds=None) -> str:
    """The commented starter config: tomli-w writes the values, comments go before sections."""
    text = tomli_w.dumps(starter_config(inbox_kinds))
    lines = []
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            name = line.strip("[]")
            comment = STARTER_COMMENTS.get(name)
            if comment:
                if lines and lines[-1] != "":
                    lines.append("")
                lines.append(comment)
        lines.append(line)
    return STARTER + "\n".join(lines) + "\n" + STARTER_TAIL
