"""The real daemon uploads its invoices through a channel plugin installed as a distribution (as a
third-party marketplace plugin would be) and is killed (SIGKILL) between a claim and the call, and
after a recorded answer. Every document reaches the marketplace exactly once: the interrupted one is
held as uncertain, not sent again until a person forces it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import db_dicts, install_plugin

from .conftest import SELLER

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N = 8

CHANNEL = '''
import json, os
from marketd.sdk import Capabilities, Channel, hookimpl

class Marketplace(Channel):
    type = "takes-invoices"
    capabilities = Capabilities(upload_invoice=True)

    def upload_invoice(self, pdf, meta):
        path = os.environ["UPLOADS_FILE"]
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"doc_no": meta["doc_no"], "size": len(pdf)}) + "\\n")
            fh.flush()
            os.fsync(fh.fileno())
        return {"ok": True, "ref": "feed-" + meta["doc_no"]}

@hookimpl
def register_channels(register):
    register("takes-invoices", Marketplace)
'''


def _received(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["doc_no"] for line in path.read_text().splitlines()]


def _uploads(root: Path) -> dict[str, str]:
    return {r["doc_no"]: r["state"] for r in db_dicts(
        root, "select d.doc_no, u.state from document_uploads u join documents d on d.id = u.doc_id")}


def test_each_invoice_reaches_the_marketplace_once_across_kill_9(tmp_path, daemon_factory, monkeypatch):
    env = install_plugin(tmp_path / "site", "mp_channel", CHANNEL)
    received = tmp_path / "received.jsonl"
    env["UPLOADS_FILE"] = str(received)
    config = write_config(tmp_path / "inst", channels={"mp": {"type": "takes-invoices"}}, jobs={"invoices": {
        "seconds": 1, "seller": SELLER, "vat_rate": "19", "channels": {"mp": {"upload": "api"}}}})
    root = config.parent
    monkeypatch.syspath_prepend(str(tmp_path / "site"))  # the config names the plugin's channel type
    from marketd.sdk import open_app

    app = open_app(config)
    for n in range(N):
        app.store.upsert_order({"channel": "mp", "channel_type": "mp", "order_id": f"MP-{n}", "status": "SHIPPED",
                                "purchased_at": f"2026-11-20T10:00:0{n}+00:00", "currency": "EUR", "total": "11.90",
                                "buyer_name": "Kunde", "items": [{"sku": "S", "quantity": 1, "unit_price": "11.90"}]})
    app.close()

    # 1. killed after the 3rd claim, before its call: two uploads arrived, the third never left
    d = daemon_factory(config, env={**env, "MARKETD_CRASHPOINT": "invoices_upload_after_claim@3"})
    wait_for(lambda: d.proc.poll() is not None, 120, what="the kill after the third claim")
    assert d.proc.returncode == -signal.SIGKILL
    assert len(_received(received)) == 2

    # 2. killed after the 2nd recorded answer of the next run
    d = daemon_factory(config, env={**env, "MARKETD_CRASHPOINT": "invoices_upload_after_record@2"})
    wait_for(lambda: d.proc.poll() is not None, 120, what="the kill after a recorded upload")
    assert d.proc.returncode == -signal.SIGKILL

    # 3. a clean run: all but the interrupted one are uploaded, that one is held as uncertain
    d = daemon_factory(config, env=env)
    wait_for(lambda: sum(s == "done" for s in _uploads(root).values()) == N - 1, 120, what="the other uploads")
    d.stop()
    states = _uploads(root)
    (held,) = [doc for doc, s in states.items() if s == "uncertain"]
    got = _received(received)
    assert sorted(got) == sorted(doc for doc in states if doc != held)  # each once, the held one never
    out = subprocess.run([sys.executable, "-m", "marketd", "--config", str(config), "invoices", "upload", held,
                          "--force"], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    got = _received(received)
    assert sorted(got) == sorted(states) and len(got) == N
    assert set(_uploads(root).values()) == {"done"}
