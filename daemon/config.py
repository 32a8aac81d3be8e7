"""Configuration: TOML in (tomllib), embedded defaults, validation; starter config out (tomli-w).

Relative paths in a config file are resolved against the file's own folder, so an instance
directory made by ``marketd init DIR`` can be moved or run from anywhere.
"""
from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path

import tomli_w

from .errors import ConfigError

COMPLETENESS_MODES = ("stable", "require_rename", "done_file")
WATCH_MODES = ("native", "poll")
CONFLICT_POLICIES = ("fail", "rename", "replace")

# Names that mean "still being written": never claimed (research: daemon-reliability §"must do" 1).
DEFAULT_TEMP_PATTERNS = [
    ".*", "*.tmp", "*.part", "*.partial", "*.filepart", "*.inprogress", "*.writing",
    "*.crdownload", "*.camelLock", "~*", "*~", "*.done", "*.ready", "*.error.txt",
]

INBOX_DEFAULTS = {
    "mode": "stable",
    "stability_seconds": 2.0,
    "min_age_seconds": 0.0,
    "watch": "native",
    "temp_patterns": DEFAULT_TEMP_PATTERNS,
    "done_suffix": ".done",
    "max_attempts": 8,
    "encoding": "auto",
    "delimiter": "auto",
    "decimal": "auto",
    "columns": {},
    "max_file_mb": 1024,
    "retention_done_days": 180,
    "retention_error_days": 365,
}

DEFAULTS = {
    "daemon": {
        "state_dir": "var",
        "inbox_dir": "inbox",
        "outbox_dir": "outbox",
        "timezone": "UTC",
        "rescan_seconds": 30.0,
        "supervise_seconds": 1.0,
        "log_level": "INFO",
        "output_conflict": "fail",
        "batch_size": 500,
    },
    "inbox": {
        "defaults": INBOX_DEFAULTS,
    },
    "channels": {},
    "carriers": {},
    "jobs": {},
    "plugins": {"disabled": []},
}

# Keys whose values must never be in a config file in clear.
SECRET_KEYS = {"client_secret", "refresh_token", "password", "api_key", "token", "secret", "access_token"}


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
    path = Path(path).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (create one with `marketd init DIR`)")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}")
    cfg = normalise(_merge(DEFAULTS, raw), path.parent)
    cfg["_path"] = str(path)
    return cfg


def normalise(cfg: dict, base_dir: Path) -> dict:
    """Validate and resolve: paths become absolute, inbox sections get their defaults."""
    d = cfg["daemon"]
    for key in ("state_dir", "inbox_dir", "outbox_dir"):
        p = Path(os.path.expanduser(str(d[key])))
        d[key] = str(p if p.is_absolute() else (base_dir / p).resolve())
    if d["output_conflict"] not in CONFLICT_POLICIES:
        raise ConfigError(f"[daemon] output_conflict = {d['output_conflict']!r}: use one of {CONFLICT_POLICIES}")
    for key in ("rescan_seconds", "supervise_seconds"):
        if float(d[key]) <= 0:
            raise ConfigError(f"[daemon] {key} must be > 0")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(d["timezone"])
    except Exception:
        raise ConfigError(f"[daemon] timezone = {d['timezone']!r} is not a known IANA time zone (e.g. 'Europe/Rome')")
    inbox = cfg.setdefault("inbox", {})
    defaults = _merge(INBOX_DEFAULTS, inbox.get("defaults", {}))
    inbox["defaults"] = defaults
    for kind, section in list(inbox.items()):
        if kind == "defaults":
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"[inbox.{kind}] must be a table")
        merged = _merge(defaults, section)
        if merged["mode"] not in COMPLETENESS_MODES:
            raise ConfigError(f"[inbox.{kind}] mode = {merged['mode']!r}: use one of {COMPLETENESS_MODES}")
        if merged["watch"] not in WATCH_MODES:
            raise ConfigError(f"[inbox.{kind}] watch = {merged['watch']!r}: use one of {WATCH_MODES}")
        inbox[kind] = merged
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


def inbox_settings(cfg: dict, kind: str) -> dict:
    """Settings for one inbox kind: its own section over the defaults."""
    section = cfg["inbox"].get(kind)
    return section if section is not None else copy.deepcopy(cfg["inbox"]["defaults"])


STARTER = """\
# marketd configuration — written by `marketd init`.
# Every key shown has its default value; delete what you don't change.
# Relative paths are resolved against this file's folder.
# Secrets (API keys, refresh tokens) never go here: use environment variables or
# systemd credentials (LoadCredential=), see docs/operations.md.

"""

STARTER_COMMENTS = {
    "daemon": "# Where state (SQLite, lock), inboxes and outboxes live; report time zone; rescan period (s).",
    "inbox.defaults": (
        "# Per-inbox behaviour. mode: stable (size/mtime unchanged for stability_seconds; for people),\n"
        "# require_rename (only files renamed from a temp name such as x.csv.tmp; use for ERPs over SFTP),\n"
        "# done_file (a file is taken once <name>.done exists). watch: native (inotify) or poll (network mounts)."
    ),
    "inbox.catalog": (
        "# The product catalog inbox. encoding/delimiter/decimal: auto or a fixed value (cp1252, ';', ',').\n"
        "# [inbox.catalog.columns] maps your ERP's column names to ours, e.g. Artikelnummer = \"sku\"."
    ),
}


def starter_config() -> dict:
    return {
        "daemon": dict(DEFAULTS["daemon"]),
        "inbox": {
            "defaults": {k: v for k, v in INBOX_DEFAULTS.items() if k not in ("columns",)},
            "catalog": {"mode": "stable", "columns": {"Artikelnummer": "sku", "Preis": "price"}},
            "settlements": {"mode": "stable"},
            "shipments": {"mode": "require_rename"},
        },
        "plugins": {"disabled": []},
    }


def render_starter() -> str:
    """The commented starter config: tomli-w writes the values, comments go before sections."""
    text = tomli_w.dumps(starter_config())
    lines = []
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            name = line.strip("[]")
            comment = STARTER_COMMENTS.get(name)
            if comment:
                lines.append("")
                lines.append(comment)
        lines.append(line)
    return STARTER + "\n".join(lines) + "\n"
