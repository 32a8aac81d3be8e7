import csv
import io
import json
from pathlib import Path

import pytest

from marketd.inbox import InboxEngine


class CatalogRun:
    """Drops files through the real engine (``adopt``: claim, process, publish) on a real store."""

    def __init__(self, app, tmp: Path):
        self.app = app
        self.eng = InboxEngine(app)
        self.eng.ensure_dirs()
        self.tmp = tmp
        self.n = 0

    def drop(self, text: str | bytes, name: str = "c.csv") -> dict:
        self.n += 1
        src = self.tmp / f"src{self.n}"
        src.mkdir()
        path = src / name
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        row = self.eng.adopt("catalog", path)
        row["error"] = json.loads(row["error"]) if row.get("error") else None
        row["summary"] = json.loads(row["summary"]) if row.get("summary") else None
        return row

    def report(self, name: str = "c.csv") -> list[list[str]]:
        stem = Path(name).stem
        files = sorted((self.app.outbox_dir / "reports").glob(f"catalog-{stem}-*.csv"), key=lambda p: p.stat().st_mtime)
        return list(csv.reader(io.StringIO(files[-1].read_text(encoding="utf-8"))))

    def product(self, sku: str) -> dict | None:
        rows = list(self.app.store.db.query("select * from products where sku = ?", [sku]))
        return rows[0] if rows else None


@pytest.fixture
def catalog(app_factory, tmp_path):
    return CatalogRun(app_factory(inbox={"defaults": {"watch": "poll"}}), tmp_path)
