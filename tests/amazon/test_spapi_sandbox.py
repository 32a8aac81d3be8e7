"""`marketd sandbox`, and the real daemon syncing orders from the fake SP-API over loopback."""
from __future__ import annotations


import click
import pytest
from click.testing import CliRunner

from marketd.clock import SYSTEM_CLOCK
from marketd.plugins.amazon.channel import env_name
from marketd.plugins.amazon.sandbox import checkout_root, sandbox_commands

from tests.conftest import wait_for, write_config
from tests.helpers import db_value
from tests.fakes.loopback import serve
from tests.fakes.spapi import SpApiFake

from .spapi_fixtures import CREDS
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)


def _group():
    @click.group()
    def g():
        pass

    sandbox_commands(g)
    return g


def test_sandbox_check_writes_config_and_syncs(tmp_path):
    result = CliRunner().invoke(_group(), ["sandbox", str(tmp_path / "sb"), "--check", "--orders", "12"])
    assert result.exit_code == 0, result.output
    assert "12 order(s) imported, 1 settlement file(s)" in result.output
    cfg = (tmp_path / "sb" / "marketd.toml").read_text()
    assert "orders_sync = true" in cfg and "client_secret" not in cfg and "refresh_token" not in cfg
    env = (tmp_path / "sb" / "sandbox.env").read_text()
    assert env_name("amazon_sandbox", "REFRESH_TOKEN") in env


def test_sandbox_refuses_a_foreign_config(tmp_path):
    (tmp_path / "marketd.toml").write_text("[daemon]\n")
    result = CliRunner().invoke(_group(), ["sandbox", str(tmp_path), "--check"])
    assert result.exit_code != 0 and "not written by `marketd sandbox`" in result.output


def test_sandbox_needs_a_source_checkout(tmp_path, monkeypatch):
    import marketd.sdk

    fake_pkg = tmp_path / "site-packages" / "marketd" / "sdk"
    fake_pkg.mkdir(parents=True)
    monkeypatch.setattr(marketd.sdk, "__file__", str(fake_pkg / "__init__.py"))
    with pytest.raises(click.ClickException, match="needs a source checkout"):
        checkout_root()


@pytest.mark.e2e
def test_real_daemon_syncs_orders_from_the_fake_over_loopback(tmp_path, daemon_factory):
    fake = SpApiFake(SYSTEM_CLOCK, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2])
    fake.populate(35, days=5)
    with serve(fake) as served:
        config = write_config(tmp_path / "inst", channels={"shop-it": {
            "type": "amazon", "marketplace": "IT", "orders_sync": True, "endpoint": served.url,
            "lwa_endpoint": served.url + "/auth/o2/token", "initial_days": 7}})
        env = {env_name("shop-it", "CLIENT_ID"): CREDS[0], env_name("shop-it", "CLIENT_SECRET"): CREDS[1],
               env_name("shop-it", "REFRESH_TOKEN"): CREDS[2]}
        daemon = daemon_factory(config, env=env)
        wait_for(lambda: db_value(config.parent, "select count(*) from orders where channel = 'shop-it'") == 35,
                 timeout=60, what="35 orders imported by the daemon")
        assert daemon.stop() == 0
        log = daemon.log_path.read_text(errors="replace")
        assert "shop-it" in log
        for secret in (CREDS[1], CREDS[2], *fake.tokens):
            assert secret not in log
    assert fake.violations == [] and fake.response_violations == []
