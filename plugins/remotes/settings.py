"""``[remotes.<name>]`` settings: typed, checked once, every error naming file, table and key.

Why pydantic models with ``extra="forbid"``: a misspelt key (``remot_dir``) must stop the start
with a did-you-mean, not be ignored while files silently stay on the ERP's server. Secrets are
only ever *names* of environment variables or systemd credentials (``password_secret``): a
``password = "..."`` in the file is refused with the reason.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from marketd.sdk import ConfigError, SecretRef, Settings, did_you_mean

# Names an uploader uses while a file is still being written; never pulled, never pushed.
DEFAULT_TEMP_PATTERNS = [
    ".*", "*.tmp", "*.part", "*.partial", "*.filepart", "*.inprogress", "*.writing",
    "*.crdownload", "*.camelLock", "~*", "*~", "*.done", "*.ready", "*.error.txt",
]
# Keys that would hold a secret in clear; the message says where secrets go instead.
CLEAR_SECRETS = {"password", "passphrase", "key_passphrase", "private_key", "secret", "token"}
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class _Strict(Settings):
    """The SDK's settings base: unknown keys are errors, strict types, frozen."""


def _check_patterns(value: list[str]) -> list[str]:
    if not all(isinstance(p, str) and p for p in value):
        raise ValueError("must be a list of non-empty shell patterns, e.g. [\"*.tmp\", \".*\"]")
    return value


def _simple_name(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", "..") or value.startswith("."):
        raise ValueError(f"must be one folder name (no '/', not starting with '.'), e.g. {what}")
    return value


class Pull(_Strict):
    """One remote folder whose complete files are fetched into one local inbox."""

    remote_dir: str
    inbox: str
    completeness: Literal["stable", "final_name", "done_file"] = "stable"
    stable_seconds: float = Field(10.0, ge=0)
    pattern: str = "*"
    temp_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_TEMP_PATTERNS))
    done_suffix: str = ".done"
    after: Literal["archive", "delete", "keep"] = "archive"
    archive_dir: str = "done"
    seconds: float = Field(60.0, gt=0)
    max_files: int = Field(1000, ge=1)

    _check_temp = field_validator("temp_patterns")(_check_patterns)

    @field_validator("remote_dir")
    @classmethod
    def _remote_dir(cls, v: str) -> str:
        if not v:
            raise ValueError("must be a folder on the remote, e.g. \"/export/catalog\" or \"outgoing\"")
        return posixpath.normpath(v)

    @field_validator("inbox")
    @classmethod
    def _inbox(cls, v: str) -> str:
        return _simple_name(v, "\"catalog\"")

    @field_validator("done_suffix")
    @classmethod
    def _suffix(cls, v: str) -> str:
        if not v or "/" in v:
            raise ValueError("must be a file-name suffix such as \".done\"")
        return v

    @model_validator(mode="after")
    def _archive(self) -> "Pull":
        if self.after == "archive":
            archive = self.archive_path
            if archive == self.remote_dir:
                raise ValueError("archive_dir must not be the pulled folder itself")
        return self

    @property
    def archive_path(self) -> str:
        return posixpath.normpath(posixpath.join(self.remote_dir, self.archive_dir))

    @property
    def key(self) -> str:
        """The mapping's identity in the ledgers (a changed folder or inbox is a new mapping)."""
        return f"{self.remote_dir} -> inbox/{self.inbox}"

    def wants(self, name: str) -> bool:
        """Is ``name`` a data file of this pull (not a temp name, not a marker)?"""
        if any(fnmatch.fnmatchcase(name, p) for p in self.temp_patterns):
            return False
        if self.completeness == "done_file" and name.endswith(self.done_suffix):
            return False
        return fnmatch.fnmatchcase(name, self.pattern)


class Push(_Strict):
    """One outbox folder whose new files are delivered to one remote folder."""

    outbox: str
    remote_dir: str
    temp_name: str = "{name}.tmp"
    done_file: bool = False
    done_suffix: str = ".done"
    conflict: Literal["fail", "replace"] = "fail"
    existing: Literal["skip", "push"] = "skip"
    subfolders: bool = False
    pattern: str = "*"
    temp_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_TEMP_PATTERNS))

    _check_temp = field_validator("temp_patterns")(_check_patterns)

    @field_validator("outbox")
    @classmethod
    def _outbox(cls, v: str) -> str:
        return _simple_name(v, "\"labels\"")

    @field_validator("remote_dir")
    @classmethod
    def _remote_dir(cls, v: str) -> str:
        if not v:
            raise ValueError("must be a folder on the remote, e.g. \"/import/labels\"")
        return posixpath.normpath(v)

    @field_validator("temp_name")
    @classmethod
    def _temp_name(cls, v: str) -> str:
        if v == "":
            return v
        if "{name}" not in v or "/" in v or v == "{name}":
            raise ValueError("must contain {name} and differ from it, e.g. \"{name}.tmp\" or \".{name}\" "
                             "(or \"\" to upload under the final name, for servers that cannot rename)")
        return v

    @property
    def key(self) -> str:
        return f"outbox/{self.outbox} -> {self.remote_dir}"

    def wants(self, name: str) -> bool:
        if any(fnmatch.fnmatchcase(name, p) for p in self.temp_patterns):
            return False
        return fnmatch.fnmatchcase(name, self.pattern)

    def temp_for(self, name: str) -> str | None:
        return self.temp_name.replace("{name}", name) if self.temp_name else None


class Remote(_Strict):
    """One SFTP server that marketd logs into (the ERP's or its provider's)."""

    host: str
    port: int = Field(22, ge=1, le=65535)
    user: str
    key_file: str | None = None
    key_passphrase_secret: SecretRef | None = None
    password_secret: SecretRef | None = None
    host_key: str | list[str] | None = None
    connect_timeout_seconds: float = Field(15.0, gt=0)
    read_timeout_seconds: float = Field(60.0, gt=0)
    max_connections: int = Field(2, ge=1, le=16)
    parallel_files: int = Field(8, ge=1, le=64)
    push_seconds: float = Field(15.0, gt=0)
    enabled: bool = True
    pull: list[Pull] = Field(default_factory=list)
    push: list[Push] = Field(default_factory=list)
    name: str = Field("", exclude=True)

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, v):
        from .hostkeys import parse_pins

        if v is None:
            return v
        parse_pins(v)  # raises ValueError with the reason
        return v

    @model_validator(mode="after")
    def _auth(self) -> "Remote":
        if not self.key_file and not self.password_secret:
            raise ValueError("needs key_file = \"/path/to/private_key\" or password_secret = \"ENV_NAME\"")
        pulls = [p.remote_dir for p in self.pull]
        dup = sorted({d for d in pulls if pulls.count(d) > 1})
        if dup:
            raise ValueError(f"pulls {dup[0]!r} twice: one [[pull]] per remote folder")
        for p in self.pull:
            if p.after == "archive" and p.archive_path in pulls:
                raise ValueError(f"archive_dir of the pull from {p.remote_dir!r} is another pulled folder")
        pushes = [(p.outbox, p.remote_dir) for p in self.push]
        if len(set(pushes)) != len(pushes):
            raise ValueError("the same outbox folder is pushed to the same remote folder twice")
        return self

    @property
    def job_seconds(self) -> float:
        """How often the remote's job runs: pending pushes every ``push_seconds``, each pull when due."""
        return min([self.push_seconds] + [p.seconds for p in self.pull])

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def _did_you_mean(key: str, known) -> str:
    hint = did_you_mean(str(key), list(known))
    return f"{hint} " if hint else ""


def _where(name: str, loc: tuple) -> tuple[str, str | None]:
    """(table, key) for a pydantic error location inside ``[remotes.<name>]``."""
    table, key = f"[remotes.{name}]", None
    parts = list(loc)
    while parts:
        head = parts.pop(0)
        if head in ("pull", "push") and parts and isinstance(parts[0], int):
            table = f"[[remotes.{name}.{head}]] #{parts.pop(0) + 1}"
        elif isinstance(head, str) and not parts:
            key = head
        elif isinstance(head, str):
            key = head  # a nested value (host_key list item …): name the key
    return table, key


def _model_for(table: str):
    return Pull if ".pull]" in table else Push if ".push]" in table else Remote


def _message(path: str, name: str, raw: dict, err: dict) -> str:
    table, key = _where(name, tuple(err["loc"]))
    model = _model_for(table)
    known = [f for f in model.model_fields if f != "name"]
    if err["type"] == "extra_forbidden":
        if key in CLEAR_SECRETS or key.endswith(("password", "passphrase")):
            return (f"{path}: {table} holds {key!r} in clear: secrets must come from environment variables or "
                    f"systemd credentials; write password_secret = \"ENV_NAME\" (or key_passphrase_secret) and "
                    f"put the value there (see docs/operations.md#secrets)")
        return (f"{path}: {table} unknown key {key!r}: {_did_you_mean(key, known)}"
                f"known keys: {', '.join(known)}")
    if err["type"] == "missing":
        return f"{path}: {table} {key} is required (docs/plugins/remotes.md)"
    got = err.get("input")
    shown = f" = {got!r}" if key and not isinstance(got, dict) else ""
    reason = err["msg"].removeprefix("Value error, ")
    return f"{path}: {table} {key or ''}{shown}: {reason}".replace("  ", " ")


def parse(config: dict) -> dict[str, Remote]:
    """Every ``[remotes.<name>]`` of a loaded config, checked; raises one clear ``ConfigError``.

    Relative ``key_file`` paths are resolved against the config file's folder (as every other
    path in the file is), and the inbox each pull feeds must treat our temp names as temp names.
    """
    path = config.get("_path", "the config")
    base = Path(path).parent if config.get("_path") else Path.cwd()
    out: dict[str, Remote] = {}
    for name, raw in (config.get("remotes") or {}).items():
        if not _REMOTE_NAME.match(str(name)):
            raise ConfigError(f"{path}: [remotes.{name}]: a remote's name is letters, digits, '-' and '_' "
                              "(it names its job, remote-<name>, and its lock file)")
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: remotes.{name} must be a table: [remotes.{name}] host = \"…\"")
        try:
            remote = Remote.model_validate({**raw, "name": name})
        except ValidationError as exc:
            # a misspelt key also makes its real name "missing": report the misspelling
            errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
            raise ConfigError(_message(path, name, raw, errors[0])) from None
        if remote.key_file:
            key = Path(remote.key_file).expanduser()
            key = key if key.is_absolute() else (base / key)
            if not key.is_file():
                raise ConfigError(f"{path}: [remotes.{name}] key_file = {remote.key_file!r}: no such file ({key})")
            remote = remote.model_copy(update={"key_file": str(key.resolve())})
        for i, pull in enumerate(remote.pull):
            _check_inbox_temp_names(config, path, name, i, pull)
        out[name] = remote
    return out


PULL_TEMP_PREFIX = ".marketd-pull-"


def _check_inbox_temp_names(config: dict, path: str, name: str, i: int, pull: Pull) -> None:
    inboxes = config.get("inbox") or {}
    settings = inboxes.get(pull.inbox) or inboxes.get("defaults") or {}
    patterns = settings.get("temp_patterns", DEFAULT_TEMP_PATTERNS)
    sample = f"{PULL_TEMP_PREFIX}1.part"
    if not any(fnmatch.fnmatch(sample, p) for p in patterns):
        raise ConfigError(
            f"{path}: [[remotes.{name}.pull]] #{i + 1} pulls into inbox {pull.inbox!r}, but that inbox's "
            f"temp_patterns do not match dot-names: a download in progress ({sample}) could be taken as a "
            f"complete file. Add \".*\" to [inbox.{pull.inbox}] temp_patterns")


def check_inboxes(app, remotes: dict[str, Remote], kinds: set[str]) -> None:
    """Every pull feeds an inbox some loaded plugin handles: a misspelt kind would fill a folder
    nobody reads while the files disappear into the remote's archive."""
    path = app.config.get("_path", "the config")
    for name, remote in remotes.items():
        for i, pull in enumerate(remote.pull):
            if pull.inbox not in kinds:
                raise ConfigError(
                    f"{path}: [[remotes.{name}.pull]] #{i + 1} inbox = {pull.inbox!r}: no loaded plugin handles that "
                    f"inbox; {_did_you_mean(pull.inbox, kinds)}known: {', '.join(sorted(kinds)) or 'none'} "
                    "(see `marketd plugins`)")


def remotes_of(app) -> dict[str, Remote]:
    """The app's remotes, parsed once per config object (the CLI and the daemon build one app)."""
    cache = app.__dict__.setdefault("_remotes_settings", {})
    key = id(app.config)
    if key not in cache:
        cache.clear()
        cache[key] = parse(app.config)
    return cache[key]
