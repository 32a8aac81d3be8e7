"""End to end on the real daemon: an order flagged as handled by hand (``marketd orders
mark-manual``, run as a command beside the daemon) is skipped by every automatic path: it gets
no invoice, so nothing is uploaded for it, and the ERP's accept action for it is skipped with
the reason, while the other orders go through."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config
from tests.helpers import db_dicts, install_plugin

from .conftest import SELLER

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHANNEL = '''
import json, os
from marketd.sdk import Capabilities, Channel, hookimpl

def _record(what, ref):
    with open(os.environ["CALLS_FILE"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"call": what, "ref": ref}) + "\\n")

class Marketplace(Channel):
    type = "takes-invoices"
    capabilities = Capabilities(upload_invoice=True, accept_order=True)

    def upload_invoice(self, pdf, meta):
        _record("upload", meta["order_id"])
        return {"ok": True, "ref": "feed-" + meta["doc_no"]}

    def accept_order(self, order_id):
        _record("accept", order_id)
        return {"ok": True}

@hookimpl
def register_channels(register):
    register("takes-invoices", Marketplace)
'''


def _calls(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [(c["call"], c["ref"]) for c in map(json.loads, path.read_text().splitlines())]


def marketd(config: Path, env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "marketd", "--config", str(config), *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


def test_a_manual_flagged_order_is_skipped_by_every_automatic_path(tmp_path, daemon_factory, monkeypatch):
    env = install_plugin(tmp_path / "site", "mp_channel2", CHANNEL)
    calls = tmp_path / "calls.jsonl"
    env["CALLS_FILE"] = str(calls)
    config = write_config(tmp_path / "inst", channels={"mp": {"type": "takes-invoices"}}, jobs={
        "invoices": {"seconds": 1, "seller": SELLER, "vat_rate": "19", "channels": {"mp": {"upload": "api"}}},
        "order-actions": {"seconds": 1}})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    from marketd.sdk import open_app

    app = open_app(config)
    for oid in ("MP-1", "MP-2"):
        app.store.upsert_order({"channel": "mp", "channel_type": "mp", "order_id": oid, "status": "SHIPPED",
                                "purchased_at": "2026-11-20T10:00:00+00:00", "currency": "EUR", "total": "11.90",
                                "buyer_name": "Kunde", "items": [{"sku": "S", "quantity": 1, "unit_price": "11.90"}]})
    app.close()
    res = marketd(config, env, "orders", "mark-manual", "MP-1", "--reason", "invoiced and accepted in the portal",
                  "--by", "anna")
    assert res.returncode == 0, res.stderr

    d = daemon_factory(config, env=env)
    (tmp_path / "inst" / "inbox" / "actions").mkdir(parents=True, exist_ok=True)
    drop = tmp_path / "inst" / "inbox" / "actions" / "erp.csv"
    tmp = drop.with_suffix(".tmp")
    tmp.write_text("order,action,action_id\nMP-1,accept,E-1\nMP-2,accept,E-2\n", encoding="utf-8")
    tmp.rename(drop)
    wait_for(lambda: ("upload", "MP-2") in _calls(calls) and ("accept", "MP-2") in _calls(calls), 120,
             what="the other order's invoice upload and accept")
    wait_for(lambda: [r["state"] for r in db_dicts(config.parent, "select state from order_actions where "
                                                                  "order_key = 'mp:MP-1'")] == ["skipped"],
             60, what="the flagged order's action skipped")
    d.stop()
    assert [c for c in _calls(calls) if c[1] == "MP-1"] == []
    docs = db_dicts(config.parent, "select order_key from documents")
    assert docs == [{"order_key": "mp:MP-2"}]
    (blocked,) = db_dicts(config.parent, "select reason, message from documents_blocked")
    assert blocked["reason"] == "manual" and "invoiced and accepted in the portal" in blocked["message"]
    (skipped,) = db_dicts(config.parent, "select error from order_actions where order_key = 'mp:MP-1'")
    assert "flagged as handled by hand (by anna" in skipped["error"]
    shown = marketd(config, env, "orders", "show", "MP-1")
    assert "MANUAL: handled by hand (by anna" in shown.stdout
