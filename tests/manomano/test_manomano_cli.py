"""``marketd manomano pending / accept / refuse`` on a real instance config, the fake on loopback."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from marketd.cli import cli
from marketd.plugins.manomano.fake import BUYERS, ManoManoFake
from marketd.plugins.manomano.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.fakes import serve
from tests.conftest import write_config

KEY = "mm-cli-api-key-0123456789"


@pytest.fixture
def instance(tmp_path, monkeypatch):
    fake = ManoManoFake(FakeClock(datetime.now(timezone.utc)), keys={KEY: [1001, 1002]})
    served = serve(fake)
    config = write_config(tmp_path / "inst", channels={
        "mm-fr": {"type": "manomano", "contract_id": 1001, "orders_sync": True, "endpoint": served.url},
        "mm-it": {"type": "manomano", "contract_id": 1002, "orders_sync": True, "endpoint": served.url}})
    for account in ("mm-fr", "mm-it"):
        monkeypatch.setenv(env_name(account), KEY)
    yield fake, config
    served.shutdown()


def run(config, *args):
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def test_pending_accept_and_refuse(instance):
    fake, config = instance
    now = fake.clock.now()
    a = fake.add_order(status="PENDING", contract=1001, created_at=now - timedelta(hours=5))["order_reference"]
    b = fake.add_order(status="PENDING", contract=1002, created_at=now - timedelta(hours=2))["order_reference"]
    c = fake.add_order(status="PREPARATION", contract=1001, created_at=now - timedelta(hours=1))["order_reference"]
    assert "no ManoMano order waits" in run(config, "manomano", "pending").output
    assert run(config, "jobs", "run", "manomano-orders").exit_code == 0
    out = run(config, "manomano", "pending").output
    assert "2 ManoMano order(s) wait for acceptance" in out and a in out and b in out and c not in out
    assert "(5 h)" in out and "(2 h)" in out  # how long each has waited
    for first, last, *_ in BUYERS:
        assert first not in out and last not in out
    rows = json.loads(run(config, "manomano", "pending", "--json").output)
    assert [(r["channel"], r["order_reference"]) for r in rows] == [("mm-fr", a), ("mm-it", b)]

    res = run(config, "manomano", "accept", a)
    assert res.exit_code == 0 and f"mm-fr  {a}  accept done" in res.output
    assert fake.orders[a]["status"] == "PREPARATION"
    res = run(config, "manomano", "refuse", b)
    assert res.exit_code != 0 and "--yes" in res.output and fake.orders[b]["status"] == "PENDING"
    res = run(config, "manomano", "refuse", b, "--yes")
    assert res.exit_code == 0 and f"mm-it  {b}  refuse done" in res.output and fake.orders[b]["status"] == "REFUSED"
    out = run(config, "manomano", "pending").output
    assert "no ManoMano order waits" in out

    res = run(config, "manomano", "accept", c)  # accepted already: ManoMano says not PENDING, read back, done
    assert res.exit_code == 0 and "accept done: already PREPARATION at ManoMano" in res.output
    res = run(config, "manomano", "accept", b)  # refused: ManoMano's error stands, and the exit code says so
    assert res.exit_code == 1 and "accept REFUSED: ORDER_NOT_PENDING" in res.output


def test_pending_refresh_asks_manomano_with_the_status_filter(instance):
    fake, config = instance
    assert run(config, "jobs", "run", "manomano-orders").exit_code == 0
    ref = fake.add_order(status="PENDING", contract=1002)["order_reference"]  # after the last sync
    assert ref not in run(config, "manomano", "pending").output
    out = run(config, "manomano", "pending", "--refresh").output
    assert ref in out
    assert any(c.query.get("status") == ["PENDING"] for c in fake.calls_of("listOrders"))
    fake.set_status(ref, "PREPARATION")  # accepted in the back office
    assert ref not in run(config, "manomano", "pending", "--refresh").output


def test_an_unknown_order_or_account_is_a_clear_error(instance):
    fake, config = instance
    res = run(config, "manomano", "accept", "M-nope")
    assert res.exit_code != 0 and "no stored order; name the account with --channel" in res.output
    res = run(config, "manomano", "pending", "--channel", "mm-de")
    assert res.exit_code != 0 and "no ManoMano account named 'mm-de'" in res.output
