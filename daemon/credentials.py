"""Secrets from the environment or systemd credentials — never from the config file.

systemd's ``LoadCredential=NAME:/path`` exposes ``$CREDENTIALS_DIRECTORY/NAME``, readable only
by the service; the environment is the fallback for development and containers.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError


def get_secret(name: str, *, required: bool = True) -> str | None:
    value = os.environ.get(name)
    if value:
        return value
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        path = Path(cred_dir) / name
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    if required:
        raise ConfigError(
            f"secret {name} is not set: export {name}=... or add `LoadCredential={name}:/etc/marketd/credentials/{name}` "
            f"to the systemd unit (see docs/operations.md#secrets)"
        )
    return None


class Redactor:
    """Replaces known secret values in text (log lines, error reports) with ``***``."""

    def __init__(self):
        self.values: set[str] = set()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 6:
            self.values.add(value)

    def __call__(self, text: str) -> str:
        for v in self.values:
            if v in text:
                text = text.replace(v, "***")
        return text


REDACTOR = Redactor()
