"""``marketd listings``: local vs remote side by side with status and drift filters; the command
itself on a real instance config."""
from __future__ import annotations

from decimal import Decimal

from click.testing import CliRunner

from marketd.cli import cli
from marketd.plugins.content.listings.cli import _rows, status_lines
from marketd.sdk.testing import run_job

from tests.conftest import write_config

from .conftest import checked, sku_row
from .test_audit import DEPARTMENT


def test_side_by_side_with_status_and_drift(world, fake, clock):
    checked(world, [sku_row(n) for n in range(1, 5)])
    run_job(world.app, "listings-push")
    clock.advance(120)
    run_job(world.app, "listings-push")
    fake.edit_listing("K002", price=Decimal("99.00"))
    fake.set_issues("K003", [DEPARTMENT])
    run_job(world.app, "listings-pull")
    rows = {r["sku"]: r for r in _rows(world.app, None, None, None, False)}
    assert rows["K001"]["status"] == "live" and not rows["K001"]["drift"]
    assert rows["K002"]["remote_price"] == "99.00" and rows["K002"]["drift"]
    assert rows["K003"]["status"] == "hidden"
    assert [r["sku"] for r in _rows(world.app, None, None, None, True)] == ["K002", "K003"]
    assert [r["sku"] for r in _rows(world.app, "amazon_de", None, "hidden", False)] == ["K003"]
    assert [r["sku"] for r in _rows(world.app, None, "K004", None, False)] == ["K004"]
    assert status_lines(world.app.store.db) == ["listings amazon_de: 4 accepted, 0 in flight, 0 invalid, 0 failed; "
                                                "4 live; 2 open audit error(s)"]


def test_command_on_an_instance_without_listings(tmp_path):
    config = write_config(tmp_path / "inst")
    result = CliRunner().invoke(cli, ["--config", str(config), "listings"])
    assert result.exit_code == 0, result.output
    assert "no listings (yet)" in result.output
    result = CliRunner().invoke(cli, ["--config", str(config), "listings", "sync", "--pull"])
    assert result.exit_code == 0, result.output
    assert '"pull": {}' in result.output
