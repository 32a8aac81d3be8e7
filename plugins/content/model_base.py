"""What every data model gives the completeness check, whatever its platform's format.

``evaluate(product, locale, ctx)`` answers for one cell (SKU × platform × locale): the required
attributes (the Akeneo mask), those missing after inheritance, the issues (presence and values),
and the payload in the platform's shape (what a listings push would send). The ratio is computed
from the first two only, so it measures presence, as Akeneo's does.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class Evaluation:
    required: list[str]
    missing: list[str]
    issues: list
    payload: dict | None = None


@dataclass
class EvalContext:
    platform: str                  # the platform's name in [inbox.content.platforms]
    settings: object               # its PlatformSettings
    attribute_map: dict = field(default_factory=dict)   # our field -> platform attribute (mapping.toml)
    gpsr_record: dict | None = None
    offer: dict | None = None      # price/currency/stock from the catalog (the catalog wins)
    category: str = ""


def ratio(required: int, missing: int) -> int:
    """Akeneo's completeness: ``floor(100 * (required - missing) / required)``, 100 when nothing
    is required. Integer arithmetic throughout: dividing first (``(r - m) / r * 100``) gives 56
    instead of 57 for 43 missing of 100, and 3 required with 1 missing is 66, never 67."""
    if required <= 0:
        return 100
    return (100 * (required - missing)) // required


def sha12(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


class Model:
    """Base: a model read from ``path``; ``error`` is set (and ``evaluate`` not called) when the
    file cannot be used, so every SKU mapped to it gets ``model.unreadable`` instead of a crash."""

    platform_type = ""

    def __init__(self, key: str, name: str, path, stamp: str, error: str | None = None):
        self.key = key
        self.name = name
        self.path = path
        self.stamp = stamp
        self.error = error

    def attributes(self) -> set[str]:
        """Names of our fields this model reads (they are not "unknown columns")."""
        return set()

    def notices(self) -> list:
        """Model-level INFO issues (unsupported schema keywords …), once per run."""
        return []

    def evaluate(self, product, locale: str, ctx: EvalContext) -> Evaluation:  # pragma: no cover - interface
        raise NotImplementedError
