"""The real daemon issues invoices for a batch of orders and is killed (SIGKILL) in the middle of
the batch: inside a number's transaction, right after its commit, after its file, and once from
outside. After each restart the numbers are 1..n with no gap and no duplicate, every order has
exactly one invoice, and every file is there with the sha256 recorded (``marketd invoices check``)."""
from __future__ import annotations

import hashlib
import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import db_dicts, db_value, table_exists

from .conftest import SELLER

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N = 60


def _config(tmp_path) -> Path:
    return write_config(tmp_path / "inst", jobs={"invoices": {
        "seconds": 1, "batch": 7, "seller": SELLER, "vat_rate": "19", "channels": {"amz": {}}}})


def _seed_orders(config: Path) -> None:
    from marketd.sdk import open_app

    app = open_app(config)
    try:
        for n in range(N):
            app.store.upsert_order({
                "channel": "amz", "channel_type": "amazon", "order_id": f"028-{n:04d}", "status": "SHIPPED",
                "purchased_at": f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}+00:00", "currency": "EUR",
                "total": f"{10 + n}.{n % 100:02d}", "buyer_name": f"Käufer {n}",
                "ship_to": {"name": f"Käufer {n}", "city": "Köln", "postal_code": "50667", "country": "DE"},
                "items": [{"sku": f"S-{n}", "title": f"Artikel {n}", "quantity": 1, "unit_price": f"{10 + n}.00"}]})
    finally:
        app.close()


def _docs(root: Path) -> list[dict]:
    if not table_exists(root, "documents"):
        return []
    return db_dicts(root, "select * from documents where series = 'amz' order by number")


def _assert_gap_free(root: Path) -> list[dict]:
    docs = _docs(root)
    assert [d["number"] for d in docs] == list(range(1, len(docs) + 1))
    assert len({d["order_key"] for d in docs}) == len(docs)  # one invoice per order
    nxt = db_value(root, "select next from number_series where series = 'amz'") if docs else 1
    assert nxt == len(docs) + 1
    return docs


def _killed_at(daemon_factory, config, point: str, nth: int):
    d = daemon_factory(config, env={"MARKETD_CRASHPOINT": f"{point}@{nth}"})
    wait_for(lambda: d.proc.poll() is not None, 120, what=f"the kill at {point}@{nth}")
    assert d.proc.returncode == -signal.SIGKILL, d.output()
    return d


def test_invoice_numbers_stay_gap_free_across_kill_9_in_the_middle_of_a_batch(tmp_path, daemon_factory):
    from pypdf import PdfReader

    config = _config(tmp_path)
    root = config.parent
    _seed_orders(config)

    # 1. killed inside the 12th number's transaction: 11 numbers committed, the 12th rolled back
    _killed_at(daemon_factory, config, "invoices_before_commit", 12)
    docs = _assert_gap_free(root)
    assert len(docs) == 11

    # 2. killed right after the 9th commit of this run: its row is 'numbered', its file not written
    _killed_at(daemon_factory, config, "invoices_after_commit", 9)
    docs = _assert_gap_free(root)
    assert len(docs) == 20
    assert docs[-1]["state"] == "numbered" and docs[-1]["pdf_path"] is None

    # 3. killed after a file's rename, before its row says 'published' (the first thing the run does
    #    is render the numbered one left by step 2; the kill comes at the 3rd file)
    _killed_at(daemon_factory, config, "invoices_after_file", 3)
    docs = _assert_gap_free(root)
    assert docs[-1]["state"] == "numbered"

    # 4. killed from outside at an arbitrary moment of the batch
    d = daemon_factory(config)
    wait_for(lambda: len(_docs(root)) >= len(docs) + 10, 120, what="ten more invoices")
    d.kill()
    _assert_gap_free(root)

    # 5. a clean run finishes the batch
    d = daemon_factory(config)
    wait_for(lambda: sum(x["state"] == "published" for x in _docs(root)) == N, 180, what="all invoices published")
    d.stop()
    docs = _assert_gap_free(root)
    assert len(docs) == N
    orders = {d["order_key"] for d in docs}
    assert orders == {f"amz:028-{n:04d}" for n in range(N)}
    for doc in docs:
        path = Path(doc["pdf_path"])
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == doc["pdf_sha256"]
        assert path.stat().st_mode & 0o777 == 0o600
        text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
        assert doc["doc_no"] in text and f"Total: {doc['total_gross']} EUR" in text
    # a temporary file a kill left is the same name the next render writes and renames
    assert [p.name for p in (root / "outbox" / "invoices").rglob(".*.tmp")] == []
    out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(config), "invoices", "check"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "gap-free" in out.stdout
