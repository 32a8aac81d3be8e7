"""Configuration: TOML in (tomllib), embedded defaults, validation; starter config out (tomli-w).

Relative paths in a config file are resolved against the file's own folder, so an instance
directory made by ``marketd init DIR`` can be moved or run from anywhere.
"""
from __future__ import annotations

import codecs
import copy
import difflib
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
    "poll_seconds": 2.0,
    "direct_write_grace_seconds": 600.0,
    "done_marker_timeout_seconds": 600.0,
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
        "output_done_files": [],
        "batch_size": 500,
        "stop_timeout_seconds": 100.0,
        "max_file_seconds": 3600.0,
    },
    "inbox": {
        "defaults": INBOX_DEFAULTS,
    },
    "channels": {},
    "carriers": {},
    "jobs": {},
    "plugins": {"disabled": []},
}

TABLES = tuple(DEFAULTS)  # the top-level tables marketd reads
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Numeric settings: (smallest allowed value, whether the value must be above it rather than equal or above).
DAEMON_NUMBERS = {"rescan_seconds": (0, True), "supervise_seconds": (0, True), "batch_size": (1, False),
                  "stop_timeout_seconds": (0, False), "max_file_seconds": (0, True)}
INBOX_NUMBERS = {
    "stability_seconds": (0, False), "min_age_seconds": (0, False), "poll_seconds": (0, True),
    "direct_write_grace_seconds": (0, False), "done_marker_timeout_seconds": (0, False), "max_attempts": (1, False), "max_file_mb": (0, True),
    "retention_done_days": (0, False), "retention_error_days": (0, False),
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
    """Read, merge over the defaults and validate; every error names the file and the key."""
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


def _did_you_mean(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def check_tables(raw: dict) -> None:
    """Top-level tables and [daemon] keys are all marketd's own: a misspelt one is an error, not ignored."""
    for key, value in raw.items():
        if key not in TABLES:
            raise ConfigError(f"unknown table [{key}]: {_did_you_mean(key, TABLES)}"
                              f"marketd reads {', '.join(f'[{t}]' for t in TABLES)}")
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a table ([{key}]), not {type(value).__name__}")
    for key in raw.get("daemon", {}):
        if key not in DEFAULTS["daemon"]:
            raise ConfigError(f"[daemon] unknown key {key!r}: {_did_you_mean(key, DEFAULTS['daemon'])}"
                              f"known keys: {', '.join(DEFAULTS['daemon'])}")


def _number(where: str, key: str, value, minimum: float, exclusive: bool, example=30) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} {key} = {value!r}: must be a number (no quotes), e.g. {key} = {example}")
    if value < minimum or (exclusive and value == minimum):
        raise ConfigError(f"{where} {key} = {value!r}: must be {'>' if exclusive else '>='} {minimum}")


def _check_inbox(kind: str, s: dict) -> None:
    where = f"[inbox.{kind}]"
    if s["mode"] not in COMPLETENESS_MODES:
        raise ConfigError(f"{where} mode = {s['mode']!r}: use one of {', '.join(COMPLETENESS_MODES)}")
    if s["watch"] not in WATCH_MODES:
        raise ConfigError(f"{where} watch = {s['watch']!r}: use one of {', '.join(WATCH_MODES)}")
    for key, (minimum, exclusive) in INBOX_NUMBERS.items():
        if key in s:
            _number(where, key, s[key], minimum, exclusive, INBOX_DEFAULTS.get(key, 2))
    patterns = s["temp_patterns"]
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"{where} temp_patterns must be a list of strings, e.g. [\"*.tmp\", \".*\"]")
    if not isinstance(s["columns"], dict):
        raise ConfigError(f"{where} columns must be a table: [inbox.{kind}.columns] Artikelnummer = \"sku\"")
    enc = s["encoding"]
    if enc != "auto":
        try:
            codecs.lookup(str(enc))
        except LookupError:
            raise ConfigError(f"{where} encoding = {enc!r} is not a known encoding: use auto, utf-8 or cp1252")
    if s["delimiter"] not in ("auto", "tab", "\\t") and not (isinstance(s["delimiter"], str) and len(s["delimiter"]) == 1):
        raise ConfigError(f"{where} delimiter = {s['delimiter']!r}: use auto, tab or one character such as \";\"")
    if s["decimal"] not in ("auto", ",", "."):
        raise ConfigError(f"{where} decimal = {s['decimal']!r}: use auto, \",\" or \".\"")


def normalise(cfg: dict, base_dir: Path) -> dict:
    """Validate and resolve: paths become absolute, inbox sections get their defaults."""
    d = cfg["daemon"]
    for key in ("state_dir", "inbox_dir", "outbox_dir"):
        if not isinstance(d[key], str) or not d[key]:
            raise ConfigError(f"[daemon] {key} = {d[key]!r}: must be a folder path in quotes, e.g. {key} = \"/var/lib/marketd\"")
        p = Path(os.path.expanduser(d[key]))
        d[key] = str(p if p.is_absolute() else (base_dir / p).resolve())
    if d["output_conflict"] not in CONFLICT_POLICIES:
        raise ConfigError(f"[daemon] output_conflict = {d['output_conflict']!r}: use one of {CONFLICT_POLICIES}")
    done = d["output_done_files"]
    if not isinstance(done, list) or not all(isinstance(f, str) and f and "/" not in f for f in done):
        raise ConfigError(f"[daemon] output_done_files = {done!r}: a list of outbox folder names, e.g. "
                          "[\"labels\", \"reports\"], or [\"*\"] for every output")
    for key, (minimum, exclusive) in DAEMON_NUMBERS.items():
        _number("[daemon]", key, d[key], minimum, exclusive, DEFAULTS["daemon"][key])
    if not isinstance(d["log_level"], str) or d["log_level"].upper() not in LOG_LEVELS:
        raise ConfigError(f"[daemon] log_level = {d['log_level']!r}: use one of {', '.join(LOG_LEVELS)}")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(d["timezone"])
    except Exception:
        raise ConfigError(f"[daemon] timezone = {d['timezone']!r} is not a known IANA time zone (e.g. 'Europe/Rome')")
    inbox = cfg.setdefault("inbox", {})
    if not isinstance(inbox.get("defaults", {}), dict):
        raise ConfigError("[inbox.defaults] must be a table")
    defaults = _merge(INBOX_DEFAULTS, inbox.get("defaults", {}))
    _check_inbox("defaults", defaults)
    inbox["defaults"] = defaults
    for kind, section in list(inbox.items()):
        if kind == "defaults":
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"[inbox.{kind}] must be a table")
        merged = _merge(defaults, section)
        _check_inbox(kind, merged)
        inbox[kind] = merged
    for name, job in cfg.get("jobs", {}).items():
        if not isinstance(job, dict):
            raise ConfigError(f"[jobs.{name}] must be a table, e.g. [jobs.{name}] seconds = 600")
        if "enabled" in job and not isinstance(job["enabled"], bool):
            raise ConfigError(f"[jobs.{name}] enabled = {job['enabled']!r}: use true or false (no quotes)")
        if "seconds" in job:
            _number(f"[jobs.{name}]", "seconds", job["seconds"], 0, True, 600)
        if "cron" in job:
            from apscheduler.triggers.cron import CronTrigger

            example = "write it as a table of cron fields, e.g. cron = { hour = 6, minute = 0 }"
            if not isinstance(job["cron"], dict):
                raise ConfigError(f"[jobs.{name}] cron = {job['cron']!r}: {example}")
            try:
                CronTrigger(timezone="UTC", **job["cron"])
            except Exception as exc:
                raise ConfigError(f"[jobs.{name}] cron = {job['cron']!r}: {exc}; {example}")
    disabled = cfg.get("plugins", {}).get("disabled", [])
    if not isinstance(disabled, list) or not all(isinstance(x, str) for x in disabled):
        raise ConfigError(f"[plugins] disabled = {disabled!r}: must be a list of plugin names, e.g. [\"amazon\"]")
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
                if lines and lines[-1] != "":
                    lines.append("")
                lines.append(comment)
        lines.append(line)
    return STARTER + "\n".join(lines) + "\n" + STARTER_TAIL
