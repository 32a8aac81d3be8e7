"""Typed settings: a typo or a wrong type in any table stops start-up with the file, the table, the
key and a did-you-mean; secrets are references, never values."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from marketd.cli import cli
from marketd.errors import ConfigError
from marketd.sdk import InboxSettings, SecretRef, Settings
from tests.samples import catalog_csv

BRT = 'type = "brt"\ndeparture_depot = 102\nsender_customer_code = 1020304\n'


@pytest.mark.parametrize("text, expected", [
    ('[inbox.shipments]\nrequre_known_order = false\n',
     "[inbox.shipments] unknown key 'requre_known_order': did you mean 'require_known_order'?"),
    ('[inbox.catalog]\nrequired_colums = ["sku"]\n',
     "[inbox.catalog] unknown key 'required_colums': did you mean 'required_columns'?"),
    ('[inbox.settlements]\nunsettled_day = 3\n',
     "[inbox.settlements] unknown key 'unsettled_day': did you mean 'unsettled_days'?"),
    ('[inbox.tracking]\ncarier = "erp"\n', "[inbox.tracking] unknown key 'carier': did you mean 'carrier'?"),
    ('[inbox.catalgo]\nmode = "stable"\n', "[inbox.catalgo] is not an inbox of any loaded plugin: did you mean 'catalog'?"),
    ('[inbox.shipments]\nconcurrency = "4"\n', "[inbox.shipments] concurrency = '4': must be a number (no quotes)"),
    ('[inbox.shipments]\nsender = { nme = "Shop" }\n', "[inbox.shipments] sender = {'nme': 'Shop'}: unknown address key 'nme': did you mean 'name'?"),
    ('[channels.amz]\ntype = "amazon"\nmarketplce = "IT"\n',
     "[channels.amz] unknown key 'marketplce': did you mean 'marketplace'?"),
    ('[channels.amz]\ntype = "amazn"\n', "[channels.amz] type = 'amazn' is not provided by any loaded plugin: did you mean 'amazon'?"),
    ('[channels.amz]\ntype = "amazon"\norders_sync = "yes"\n', "[channels.amz] orders_sync = 'yes': use true or false"),
    ('[carriers.brt]\n' + BRT + 'departure_depo = 3\n', "[carriers.brt] unknown key 'departure_depo': did you mean 'departure_depot'?"),
    ('[carriers.brt]\ntype = "brt"\nsender_customer_code = 1\n', "[carriers.brt] missing key 'departure_depot'"),
    ('[carriers.brt]\n' + BRT + 'confirm = "later"\n', "[carriers.brt] confirm = 'later': use one of 'auto', 'explicit'"),
    ('[carriers.mall]\ntype = "mall_delivery"\nlabels_per_pag = 2\n',
     "[carriers.mall] unknown key 'labels_per_pag': did you mean 'labels_per_page'?"),
    ('[carriers.erp]\ntype = "manual"\ncarrier_code = { A = "B" }\n', "[carriers.erp] unknown key 'carrier_code': did you mean 'carrier_codes'?"),
    ('[carriers.erp]\ntype = "manual"\ntransport = "http://x"\n', "[carriers.erp] transport = 'http://x': transport cannot be set in the config file"),
    ('[jobs.tracking-sync]\nfirstcheck = 60\n', "[jobs.tracking-sync] unknown key 'firstcheck': did you mean 'first_check'?"),
    ('[jobs.retenton]\nenabled = false\n', "[jobs.retenton] is not a job of any loaded plugin: did you mean 'retention'?"),
    ('[jobs.retention]\nhour = 3\n', "[jobs.retention] unknown key 'hour'"),
    ('[plugins]\ndisabld = ["amazon"]\n', "[plugins] unknown key 'disabld': did you mean 'disabled'?"),
])
def test_a_typo_in_any_table_stops_start_up(tmp_path, text, expected):
    path = tmp_path / "marketd.toml"
    path.write_text(text)
    for command in (["status"], ["jobs"], ["process", "--kind", "catalog", str(_catalog(tmp_path))]):
        res = CliRunner().invoke(cli, ["--config", str(path), *command])
        assert res.exit_code == 1, (command, res.output)
        assert f"Error: {path}: " in res.output and expected in res.output, res.output
        assert "Traceback" not in res.output


def _catalog(tmp_path):
    f = tmp_path / "feed.csv"
    f.write_text(catalog_csv(2))
    return f


def test_the_daemon_does_not_start_on_a_typo(tmp_path):
    path = tmp_path / "marketd.toml"
    path.write_text('[inbox.shipments]\nrequre_known_order = false\n')
    proc = subprocess.run([sys.executable, "-m", "marketd", "--config", str(path), "run"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "NOTIFY_SOCKET": ""})
    assert proc.returncode == 1
    assert f"{path}: [inbox.shipments] unknown key 'requre_known_order': did you mean 'require_known_order'?" \
        in proc.stderr
    assert not (tmp_path / "var" / "marketd.sqlite").exists()  # refused before anything was created


def test_a_secret_is_a_reference_never_a_value(tmp_path):
    path = tmp_path / "marketd.toml"
    path.write_text('[carriers.brt]\n' + BRT + 'password_secret = "Atzr|IwEBIexample-token"\n')
    res = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert res.exit_code == 1 and "[carriers.brt] password_secret: must be the name of an environment variable" \
        in res.output
    assert "Atzr|IwEBIexample-token" not in res.output
    path.write_text('[carriers.brt]\n' + BRT + 'password = "hunter22"\n')
    res = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert res.exit_code == 1 and "holds password in clear" in res.output and "hunter22" not in res.output
    assert SecretRef._check("BRT_PASSWORD") == "BRT_PASSWORD"


def test_valid_tables_become_their_models(tmp_path):
    from marketd.app import App
    from marketd import config as config_mod
    from marketd.plugins.brt.settings import BrtSettings
    from marketd.plugins.shipments.settings import ShipmentsInboxSettings, TrackingSyncSettings

    path = tmp_path / "marketd.toml"
    path.write_text('[inbox.shipments]\nrequire_known_order = false\nsender = { name = "Shop" }\n'
                    '[carriers.brt]\n' + BRT + 'password_secret = "MY_BRT_PASSWORD"\n'
                    '[jobs.tracking-sync]\nfirst_check = 60\n')
    app = App(config_mod.load(path))
    try:
        ship = app.config["inbox"]["shipments"]
        assert isinstance(ship, ShipmentsInboxSettings) and ship.require_known_order is False
        assert ship.sender == {"name": "Shop"} and ship["mode"] == "stable" and ship.get("nope", 5) == 5
        brt = app.carrier("brt")
        assert isinstance(brt.settings, BrtSettings) and brt.settings.password_secret == "MY_BRT_PASSWORD"
        assert isinstance(brt.settings.password_secret, SecretRef)
        job = app.config["jobs"]["tracking-sync"]
        assert isinstance(job, TrackingSyncSettings) and "enabled" not in job and job.first_check == 60
        assert isinstance(app.config["inbox"]["catalog"], InboxSettings)  # every handler kind gets its model
        with pytest.raises(Exception):
            ship.require_known_order = True  # frozen: what was validated is what runs
    finally:
        app.close()


def test_check_config_refuses_a_reloaded_typo(tmp_path):
    """SIGHUP validates the new file the same way before it replaces the running settings."""
    from marketd.app import App
    from marketd import config as config_mod

    path = tmp_path / "marketd.toml"
    path.write_text("[inbox.shipments]\nrequire_known_order = false\n")
    app = App(config_mod.load(path))
    try:
        path.write_text("[inbox.shipments]\nrequire_known_ordr = false\n")
        with pytest.raises(ConfigError, match="did you mean 'require_known_order'"):
            app.check_config(config_mod.load(path))
    finally:
        app.close()


def test_settings_read_like_the_dicts_they_replace():
    s = InboxSettings(mode="done_file", columns={"A": "sku"})
    assert s["mode"] == "done_file" and s.get("columns") == {"A": "sku"} and "mode" in s
    assert dict(s)["max_attempts"] == 8 and {**s}["done_suffix"] == ".done"
    assert s.get("unknown", "x") == "x" and "unknown" not in s
    with pytest.raises(KeyError):
        s["unknown"]

    class Strict(Settings):
        n: int = 1

    with pytest.raises(Exception):
        Strict(n="1")
