"""Settlement files through the real daemon process: a kill -9 at every commit step and in the
middle of a large file, then a restart, applies each settlement exactly once (no double-counted
order amounts, one set of reports, no temp files)."""
from __future__ import annotations

import csv
import os
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import wait_for, write_config

from .settlement_samples import big_v2_file

pytestmark = pytest.mark.e2e

CONFIG = {"channels": {"amazon-de": {"type": "amazon", "marketplace": "DE"}},
          "inbox": {"settlements": {"xlsx_max_rows": 500}}}


def query(root: Path, sql: str, params=()):
    db = root / "var" / "marketd.sqlite"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # the daemon has not created the table yet
        return []
    finally:
        conn.close()


def state_of(root: Path, name: str) -> str | None:
    rows = query(root, "select state from files where name = ? order by claimed_at desc limit 1", (name,))
    return rows[0][0] if rows else None


def instance(tmp_path: Path, rows: int, orders: int) -> tuple[Path, Path, dict]:
    """A config, a generated settlement file outside the inbox, and a store seeded with its orders
    (through the real App, so the schema is the daemon's own)."""
    from marketd.app import App

    root = tmp_path / "i"
    cfg = write_config(root, **CONFIG)
    src = tmp_path / "settlement.txt"
    info = big_v2_file(src, rows=rows, orders=orders)
    app = App.from_config_path(cfg)
    try:
        with app.store.transaction():
            for order_id in info["order_ids"]:
                app.store.upsert_order({
                    "channel": "amazon-de", "channel_type": "amazon", "order_id": order_id, "status": "SHIPPED",
                    "purchased_at": "2026-08-04T10:00:00+00:00", "updated_at": "2026-08-04T10:00:00+00:00",
                    "currency": "EUR", "total": "10.00", "items": []})
    finally:
        app.close()
    return cfg, src, info


def assert_applied_once(root: Path, name: str, info: dict) -> None:
    sid = info["settlement_id"]
    assert query(root, "select state, count(*) from files where name = ? group by state", (name,)) == [("done", 1)]
    (status, total, computed, matched), = query(
        root, "select status, stated_total, computed_total, matched from payouts")
    assert status == "ok" and Decimal(total) == info["total"] == Decimal(computed)
    assert matched == len(info["order_ids"])
    # each order-id stored once, with the amounts of one application
    refs = query(root, "select order_ref, count(*) from payout_refs group by order_ref having count(*) > 1")
    assert refs == []
    n_refs = len(info["order_ids"]) + len(info["mcf_refs"]) + len(info["missing"])
    assert query(root, "select count(*) from payout_refs where match in ('order_id', 'merchant_order_id', "
                       "'none')") == [(n_refs,)]
    (lines_total,), = query(root, "select sum(amount_e4) from payout_lines")
    assert Decimal(lines_total).scaleb(-4) == info["total"]
    base = f"settlement-amazon-{sid}"
    reports = sorted(p.name for p in (root / "outbox" / "reports").iterdir())
    assert reports == [f"{base}-lines.csv", f"{base}-unsettled.csv", f"{base}.csv", f"{base}.xlsx"], reports
    # the ERP's CSV: one row per order-id plus the account-level row, nets adding up to the payout
    with open(root / "outbox" / "reports" / f"{base}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len({r["order_ref"] for r in rows if r["match"] != "no_order"}) == len(
        [r for r in rows if r["match"] != "no_order"])
    assert sum(Decimal(r["net"]) for r in rows) == info["total"]
    assert [p for p in (root / "outbox").rglob("*") if p.name.endswith(".tmp")] == []
    inbox = root / "inbox" / "settlements"
    assert len(list((inbox / ".done").rglob(f"*__{name}"))) == 1
    assert not any((inbox / ".processing").iterdir())
    assert not (inbox / ".error").exists() or list((inbox / ".error").iterdir()) == []


CRASHPOINTS = ["after_claim_rename", "before_process", "before_commit", "after_commit", "mid_publish",
               "after_publish", "after_archive_move"]


@pytest.mark.parametrize("point", CRASHPOINTS)
def test_kill9_at_each_commit_step_applies_the_settlement_once(tmp_path, daemon_factory, point):
    cfg, src, info = instance(tmp_path, rows=3_000, orders=600)
    root = cfg.parent
    d = daemon_factory(cfg, env={"MARKETD_CRASHPOINT": point})
    os.link(src, root / "inbox" / "settlements" / "s.txt")
    d.proc.wait(timeout=60)
    assert d.proc.returncode == -signal.SIGKILL, d.output()
    d._close()
    d2 = daemon_factory(cfg)
    wait_for(lambda: state_of(root, "s.txt") == "done", 60, what=f"recovery after {point}")
    d2.stop()
    assert_applied_once(root, "s.txt", info)


def test_external_kill9_in_the_middle_of_a_large_settlement(tmp_path, daemon_factory):
    cfg, src, info = instance(tmp_path, rows=200_000, orders=40_000)
    root = cfg.parent
    d = daemon_factory(cfg)
    os.link(src, root / "inbox" / "settlements" / "big.txt")
    wait_for(lambda: any((root / "inbox" / "settlements" / ".processing").iterdir()), 30, interval=0.02,
             what="claim")
    wait_for(lambda: state_of(root, "big.txt") == "claimed", 30, interval=0.02, what="journal row")
    d.kill()
    assert state_of(root, "big.txt") == "claimed"  # killed while the handler was at work
    assert query(root, "select count(*) from payouts") in ([(0,)], [])
    d2 = daemon_factory(cfg)
    wait_for(lambda: state_of(root, "big.txt") == "done", 180, what="large settlement after kill -9")
    d2.stop()
    assert_applied_once(root, "big.txt", info)


def test_sigterm_in_the_middle_finishes_the_settlement(tmp_path, daemon_factory):
    cfg, src, info = instance(tmp_path, rows=100_000, orders=20_000)
    root = cfg.parent
    d = daemon_factory(cfg)
    os.link(src, root / "inbox" / "settlements" / "big.txt")
    wait_for(lambda: state_of(root, "big.txt") == "claimed", 30, interval=0.02, what="claim")
    assert d.stop() == 0
    assert state_of(root, "big.txt") == "done"
    assert_applied_once(root, "big.txt", info)
