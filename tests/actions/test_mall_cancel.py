"""Cancelling a MALL order through ``marketd orders act ORDER cancel``: the real MALL channel
against the MALL fake, which checks each request against the hand-written MPAPI contract and
moves orders only along MALL's status machine (open|shipping → cancelled)."""
from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

import marketd.plugins.actions as actions_plugin
import marketd.plugins.mall as mall_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.mall.fake import MallFake
from marketd.plugins.mall.settings import env_name
from marketd.sdk import FakeClock
from marketd.sdk.testing import make_app
from tests.fakes.mall_contract import MallContract

ACCOUNT = "mall-cz"


@pytest.fixture
def world(tmp_path, monkeypatch):
    clock = FakeClock()
    fake = MallFake(clock, contract=MallContract())
    monkeypatch.setenv(env_name(ACCOUNT), fake.client_id)
    settings = {"type": "mall", "base_url": "http://mall.test", "orders_sync": True, "requests_per_second": 1000,
                "transport": httpx.WSGITransport(app=fake)}
    app = make_app(tmp_path / "inst", {"mall": mall_plugin, "settlements": settlements_plugin, "actions": actions_plugin}, clock=clock,
                   channels={ACCOUNT: settings})
    yield app, fake
    app.close()
    assert fake.violations == []


def act(app, *args):
    from marketd.cli import cli

    return CliRunner().invoke(cli, ["orders", "act", *args], obj={"app": app}, env={"USER": "anna", "SUDO_USER": ""},
                              catch_exceptions=False)


def _sync(app, fake, *orders):
    for oid, status in orders:
        fake.add_order(oid, mdp=False, status=status, confirmed=status != "open")
    app.channel(ACCOUNT).sync_orders(None)


def test_cancel_moves_the_mall_order_to_cancelled_once(world):
    app, fake = world
    _sync(app, fake, (81, "open"), (82, "shipping"))
    res = act(app, "81", "cancel", "--reason", "out_of_stock", "--note", "last one broke")
    assert res.exit_code == 0, res.output
    assert "cancel done" in res.output
    assert fake.orders[81]["status"] == "cancelled"
    assert [r.json() for r in fake.calls_of("mall.update_order", 200)] == [{"status": "cancelled"}]
    again = act(app, "81", "cancel", "--reason", "out_of_stock", "--note", "last one broke")
    assert again.exit_code == 0 and "already done" in again.output
    assert fake.count("mall.update_order") == 1
    assert act(app, "82", "cancel").exit_code == 0 and fake.orders[82]["status"] == "cancelled"
    (row, _) = app.store.db.query("select * from order_actions order by id")
    assert (row["state"], row["reason"], row["requested_by"]) == ("done", "out_of_stock", "anna")


def test_what_mall_cannot_cancel_is_refused_with_the_reason_and_no_status_change(world):
    app, fake = world
    _sync(app, fake, (83, "shipped"), (84, "open"))
    shipped = act(app, "83", "cancel")
    assert shipped.exit_code != 0 and "open or shipping orders only; this one is shipped" in shipped.output
    lines = act(app, "84", "cancel", "--lines", "SKU-1:1")
    assert lines.exit_code != 0 and "whole orders only" in lines.output
    assert fake.count("mall.update_order") == 0
    assert (fake.orders[83]["status"], fake.orders[84]["status"]) == ("shipped", "open")


def test_an_order_already_cancelled_at_mall_counts_as_done_without_a_call(world):
    app, fake = world
    _sync(app, fake, (85, "open"))
    fake.orders[85]["status"] = "cancelled"   # cancelled in the MALL portal meanwhile
    res = act(app, "85", "cancel")
    assert res.exit_code == 0, res.output
    assert fake.count("mall.update_order") == 0
