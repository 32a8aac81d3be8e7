"""A store built by the code before the settlements plugin (the Amazon plugin's ``settlements`` /
``settlement_orders`` / ``settlement_paid_lines``) is moved into the unified tables on the first
start, and every order shows the same money as before.

The old store is built by the old code itself: the sources of commit ``OLD`` (main before the
settlements plugin) are taken from git, laid out as installed, and run in a subprocess that
drops settlement files through that code's real inbox engine and prints each order's finance
as that code computed it. Then this code opens the same instance (the migration runs) and
``marketd orders show --json`` must give the same numbers.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import REPO, write_config

OLD = "27fe875"  # main before the settlements plugin: the Amazon plugin owned the settlement tables

OLD_SCRIPT = r'''
import json, sys
from datetime import timedelta
from pathlib import Path
from marketd import config as config_mod
from marketd.app import App
from marketd.clock import FakeClock
from marketd.inbox import InboxEngine
from marketd.plugins.amazon.reconcile import order_finance
from tests.amazon.settlement_samples import (T0, Settlement, SettlementEnv, mcf_lines, order_lines, other_line,
                                             refund_lines, render_v2)
import marketd
assert "old-src" in marketd.__file__, marketd.__file__   # the old code, not this checkout's

A, B, C = "302-1111111-1111111", "302-2222222-2222222", "302-3333333-3333333"
app = App(config_mod.load(sys.argv[1]), clock=FakeClock())
engine = InboxEngine(app)
engine.ensure_dirs()
env = SettlementEnv(app, engine, app.clock)
keys = {"A": env.order(A), "B": env.order(B), "MCF": env.order("SHOP-77", channel="shop", channel_type="manual")}
first = Settlement(settlement_id="11111111111", lines=(
    order_lines(A, principal="29.99", shipping="4.90", promotion="-4.90", digital_services_fee="-0.45", sku="SKU-A")
    + order_lines(B, principal="1234.56", shipping="0", fba_fee="-3.22", withheld="-2.10", sku="SKU-B")
    + order_lines(C, principal="10.00", shipping="0", sku="SKU-C")
    + mcf_lines("S01-1234567-7654321", "SHOP-77")
    + [other_line("Storage Fee", "-7.21"), other_line("Current Reserve Amount", "-120.00"),
       other_line("Brand New Thing", "1.11", transaction_type="NewTransactionType", amount_type="Mystery")]))
second = Settlement(settlement_id="22222222222", start=T0 + timedelta(days=14), end=T0 + timedelta(days=28),
                    deposit=T0 + timedelta(days=30),
                    lines=refund_lines(A, principal="-29.99", commission_back="4.50", refund_commission="-0.90",
                                       sku="SKU-A", posted=T0 + timedelta(days=20))
                    + [other_line("Subscription Fee", "-39.00")], total=None)
cut = Settlement(settlement_id="33333333333", lines=order_lines(B, principal="5.00", shipping="0", sku="SKU-X"),
                 total=Settlement(lines=order_lines(B, principal="5.00", shipping="0")).computed + 1)
for name, s in (("first.txt", first), ("second.txt", second), ("cut.txt", cut)):
    Path(sys.argv[2], name).write_bytes(render_v2(s))
    row = env.drop(name, render_v2(s))
    assert row["state"] == "done", row
out = {"keys": keys, "finance": {k: order_finance(app.store.db, v) for k, v in keys.items()},
       "settlements": list(app.store.db.query("select * from settlements order by settlement_id")),
       "paid": list(app.store.db.query("select * from settlement_paid_lines order by settlement_id, order_ref"))}
print(json.dumps(out, default=str))
app.close()
'''


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def old_code(tmp_path_factory) -> Path:
    """The sources of ``OLD`` laid out as installed (``marketd`` = daemon/, ``marketd.plugins`` =
    plugins/), plus its test samples; skipped where the git history is not there (a tarball)."""
    if shutil.which("git") is None or _git("cat-file", "-e", f"{OLD}^{{commit}}").returncode != 0:
        pytest.skip(f"needs the git history (commit {OLD}) to run the old code")
    root = tmp_path_factory.mktemp("old")
    archive = _git("archive", OLD, "daemon", "plugins", "tests")
    assert archive.returncode == 0, archive.stderr
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    src = root / "old-src"
    shutil.copytree(root / "daemon", src / "marketd")
    shutil.copytree(root / "plugins", src / "marketd" / "plugins")
    shutil.copytree(root / "tests", src / "tests")
    return src


def _old_store(old_code: Path, tmp_path: Path) -> tuple[Path, dict]:
    cfg = write_config(tmp_path / "i", inbox={"defaults": {"stability_seconds": 1, "watch": "poll"}},
                       channels={"amazon-de": {"type": "amazon", "marketplace": "DE"}})
    files = tmp_path / "files"
    files.mkdir()
    env = {**os.environ, "PYTHONPATH": str(old_code)}  # ahead of this checkout's editable install
    res = subprocess.run([sys.executable, "-c", OLD_SCRIPT, str(cfg), str(files)], capture_output=True, text=True,
                         env=env, cwd=old_code, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return cfg, json.loads(res.stdout.strip().splitlines()[-1])


def _marketd(cfg: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "marketd", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=120)


OLD_CATEGORIES = {"revenue": "revenue", "fees": "marketplace_fee", "promotions": "promotion",
                  "withheld_tax": "withheld_tax", "refunds": "refund", "other": "other",
                  "unclassified": "unclassified", "net": "net"}


def test_a_store_of_the_old_amazon_tables_shows_the_same_money_per_order(old_code, tmp_path):
    cfg, old = _old_store(old_code, tmp_path)
    assert [s["status"] for s in old["settlements"]] == ["ok", "ok", "inconsistent settlement"]
    out = _marketd(cfg, "orders", "show", old["keys"]["A"], "--json")  # the first start of this code migrates
    assert out.returncode == 0, out.stderr
    for name, key in old["keys"].items():
        before = old["finance"][name]
        view = json.loads(_marketd(cfg, "orders", "show", key, "--json").stdout)
        (after,) = view["finance"]
        for old_name, new_name in OLD_CATEGORIES.items():
            assert Decimal(after[new_name]) == Decimal(before[old_name]), (name, old_name, before, after)
        ids = sorted({p["payout_id"] for p in view["payouts"]})
        assert ",".join(ids) == before["settlements"] and after["payouts"] == before["settlement_count"], name

    import sqlite3

    conn = sqlite3.connect(cfg.parent / "var" / "marketd.sqlite")
    conn.row_factory = sqlite3.Row
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    assert {"_legacy_amazon_settlements", "_legacy_amazon_settlement_orders",
            "_legacy_amazon_settlement_paid_lines"} <= tables
    assert not {"settlements", "settlement_orders", "settlement_paid_lines"} & tables
    payouts = {r["payout_id"]: dict(r) for r in conn.execute("select * from payouts")}
    for s in old["settlements"]:
        p = payouts[s["settlement_id"]]
        assert p["payout_key"] == f"amazon:{s['settlement_id']}" and p["business_key"] == \
            f"amazon-settlement:{s['settlement_id']}"
        assert p["status"] == ("ok" if s["status"] == "ok" else "inconsistent")
        assert (p["stated_total"], p["computed_total"], p["difference"]) == (s["total_amount"], s["computed_total"],
                                                                             s["difference"])
        for old_name, new_name in OLD_CATEGORIES.items():
            assert Decimal(p[new_name]) == Decimal(s[old_name])
            assert Decimal(p[f"{new_name}_e4"]).scaleb(-4) == Decimal(s[old_name])
        # every line of the payout, the account-level residual included, adds up to the old total
        total = conn.execute("select sum(amount_e4) from payout_lines where pid = ?", [p["pid"]]).fetchone()[0]
        assert Decimal(total).scaleb(-4) == Decimal(s["computed_total"])
        assert (p["orders"], p["matched"], p["unmatched"], p["other_refs"]) == (
            s["orders"], s["matched"], s["unmatched"], s["fba_shipment_refs"])
    # account-level money of the first settlement (storage, reserve, the unknown row): one reference without order
    first = payouts["11111111111"]
    residual = {r["category"]: r["amount"] for r in conn.execute(
        "select l.category, l.amount from payout_lines l join payout_refs r using (pid, ref_no) where r.pid = ? and "
        "r.order_ref is null", [first["pid"]])}
    assert residual == {"other": "-127.21", "unclassified": "1.11"}
    # paid lines and the MCF alias came along
    paid = [(r["order_ref"], r["item"]) for r in conn.execute("select * from payout_paid_items order by order_ref, item")]
    assert sorted(paid) == sorted((r["order_ref"], r["sku"]) for r in old["paid"])
    assert conn.execute("select order_key from order_aliases where alias = 'S01-1234567-7654321'").fetchone()[0] == \
        old["keys"]["MCF"]
    conn.close()

    # the business keys were kept: dropping an old file again is a duplicate
    out = _marketd(cfg, "process", str(tmp_path / "files" / "first.txt"), "--kind", "settlements")
    assert out.returncode == 0 and out.stdout.startswith("duplicate:"), out.stdout + out.stderr
    # and the inconsistent one is still replaced by a complete copy
    out = _marketd(cfg, "settlements")
    assert "amazon:33333333333" in out.stdout and "inconsistent" in out.stdout
