"""A content instance on the real engine and store: models folder, mapping, platforms, files.

``ContentWorld`` writes models the way people and the model refresh job do, drops files through
the real inbox engine (``process_file``: claim, handler, commit, publish, archive) and reads the
published reports back.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import marketd.plugins.content as content_plugin
from marketd.sdk.testing import make_app, process_file

FIXTURES = Path(__file__).parent / "fixtures"

MAPPING = """
[categories."Koffer"]
amazon = "LUGGAGE"
ebay_de = "11700"
manomano = "suitcases"

[categories."Werkzeug"]
manomano = "tools-drill"

[aspects.EBAY_DE]
brand = "Marke"
color = "Farbe"
size = "Größe"
"""

SUITCASES = """
[model]
platform = "manomano"
name = "suitcases"
version = "2026-11-01"

[attributes.title]
required = true
per_locale = true
max_length = 150

[attributes.description]
per_locale = true
max_length = 2000

[attributes.color]
required = true
"""

DEFAULT_PLATFORMS = {
    "manomano_de": {"type": "file", "folder": "manomano", "locales": ["de_DE"], "marketplace": "DE",
                    "gpsr_shape": "otto"},
}


class ContentWorld:
    def __init__(self, tmp: Path, platforms: dict | None = None, inbox: dict | None = None, extra_plugins=None,
                 channels=None, clock=None):
        self.tmp = tmp
        self.root = tmp / "inst"
        self.models = self.root / "models"
        self.models.mkdir(parents=True, exist_ok=True)
        self.write_model("mapping.toml", MAPPING)
        self.write_model("manomano/suitcases.toml", SUITCASES)
        settings = {"locales": ["de_DE", "fr_FR", "it_IT", "es_ES"], "platforms": DEFAULT_PLATFORMS if platforms is None else platforms,
                    "models_dir": str(self.models), "watch": "poll"}
        settings.update(inbox or {})
        plugins = {"content": content_plugin, **(extra_plugins or {})}
        self.app = make_app(self.root, plugins, inbox={"content": settings}, channels=channels, clock=clock)
        self.n = 0

    def write_model(self, rel: str, text: str | dict) -> Path:
        path = self.models / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(text, indent=1) if isinstance(text, dict) else text, encoding="utf-8")
        return path

    def drop(self, data: str | bytes, name: str = "content.csv") -> dict:
        self.n += 1
        src = self.tmp / f"drop{self.n}"
        src.mkdir()
        path = src / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return process_file(self.app, "content", path)

    def run_dirs(self, brand: str) -> list[Path]:
        base = self.app.outbox_dir / "reports" / "content" / brand
        return sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime_ns) if base.is_dir() else []

    def last_dir(self, brand: str) -> Path:
        dirs = self.run_dirs(brand)
        assert dirs, f"no report folder for {brand}"
        return dirs[-1]

    def report_dir(self, row: dict, brand: str | None = None) -> Path:
        runs = row["summary"]["runs"]
        run = next(r for r in runs if brand is None or r["brand"] == brand)
        return self.app.outbox_dir / run["report_dir"]

    @staticmethod
    def read_csv(path: Path) -> list[dict]:
        return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))

    def issues(self, row: dict, brand: str | None = None) -> list[dict]:
        return self.read_csv(self.report_dir(row, brand) / "issues.csv")

    def close(self):
        self.app.close()


def table(rows: list[dict], delimiter: str = ";") -> str:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
    return buf.getvalue()


@pytest.fixture
def world(tmp_path):
    w = ContentWorld(tmp_path)
    yield w
    w.close()


@pytest.fixture
def world_factory(tmp_path):
    made = []

    def make(**kw):
        w = ContentWorld(tmp_path / f"w{len(made)}", **kw)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
