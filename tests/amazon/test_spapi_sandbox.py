"""The Amazon half of `marketd sandbox` (its fake, config and check; the command itself is tested
in tests/core/test_sandbox.py), and the real daemon syncing orders from the fake over loopback."""
from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from marketd.cli import cli
from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.amazon.fake import SANDBOX_ACCOUNT, SpApiFake
from marketd.plugins.amazon.settings import env_name
from marketd.sdk.fakes import serve

from tests.conftest import wait_for, write_config

from .spapi_fixtures import CREDS
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)


def test_sandbox_check_writes_config_and_syncs(tmp_path):
    result = CliRunner().invoke(cli, ["sandbox", str(tmp_path / "sb"), "--check", "--orders", "12"])
    assert result.exit_code == 0, result.output
    assert "12 order(s) imported, 1 settlement file(s)" in result.output
    assert "confirmed on Amazon order" in result.output  # tracking back: confirmShipment, then getOrder
    cfg = (tmp_path / "sb" / "marketd.toml").read_text()
    assert "orders_sync = true" in cfg and "client_secret" not in cfg and "refresh_token" not in cfg
    env = (tmp_path / "sb" / "sandbox.env")
    assert env_name(SANDBOX_ACCOUNT, "REFRESH_TOKEN") in env.read_text()
    assert env.stat().st_mode & 0o077 == 0  # credentials, even sandbox ones: owner only


def test_sandbox_refuses_a_foreign_config(tmp_path):
    (tmp_path / "marketd.toml").write_text("[daemon]\n")
    result = CliRunner().invoke(cli, ["sandbox", str(tmp_path), "--check"])
    assert result.exit_code != 0 and "not written by `marketd sandbox`" in result.output


@pytest.mark.e2e
def test_real_daemon_syncs_orders_from_the_fake_over_loopback(tmp_path, daemon_factory, amazon_contract):
    fake = SpApiFake(SYSTEM_CLOCK, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2],
                     contract=amazon_contract)
    fake.populate(35, days=5)
    with serve(fake) as served:
        config = write_config(tmp_path / "inst", channels={"shop-it": {
            "type": "amazon", "marketplace": "IT", "orders_sync": True, "endpoint": served.url,
            "lwa_endpoint": served.url + "/auth/o2/token", "initial_days": 7}})
        env = {env_name("shop-it", "CLIENT_ID"): CREDS[0], env_name("shop-it", "CLIENT_SECRET"): CREDS[1],
               env_name("shop-it", "REFRESH_TOKEN"): CREDS[2]}
        daemon = daemon_factory(config, env=env)
        db = config.parent / "var" / "marketd.sqlite"

        def count():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                    return conn.execute("select count(*) from orders where channel = 'shop-it'").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

        wait_for(lambda: count() == 35, timeout=60, what="35 orders imported by the daemon")
        assert daemon.stop() == 0
        log = daemon.log_path.read_text(errors="replace")
        assert "shop-it" in log
        for secret in (CREDS[1], CREDS[2], *fake.tokens):
            assert secret not in log
    assert fake.violations == [] and fake.response_violations == []
