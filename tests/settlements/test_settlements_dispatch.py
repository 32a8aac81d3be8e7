"""One ``inbox/settlements/`` handler for every marketplace: exactly one registered format must
recognise a file (its ``sniff``); none and two are clear rejections, nothing applied."""
from __future__ import annotations

import logging

import marketd.plugins.amazon as amazon

from marketd.sdk import hookimpl

from tests.amazon.settlement_samples import Settlement, order_lines, render_v2

from .conftest import summary
from .demo_format import DemoFormat, render


def test_each_file_goes_to_the_format_that_recognises_it(make_env):
    env = make_env({"amazon": amazon})
    env.order("A-1")
    demo = env.drop(render("payout,P1,10.00,2026-10-05T00:00:00+00:00,payout",
                           "line,P1,A-1,revenue,,10.00,EUR,2026-10-03T00:00:00+00:00"))
    amz = env.drop(render_v2(Settlement(lines=order_lines("302-1111111-1111111"))), "settlement.txt")
    assert demo["state"] == "done" and amz["state"] == "done", (demo, amz)
    assert summary(demo)["format"] == "demo-payouts-v1" and summary(amz)["format"] == "amazon-flat-v2"
    assert set(env.payouts()) == {"demo:payout:P1", "amazon:24288684721"}


def test_a_file_no_format_recognises_is_refused_with_the_known_formats(make_env):
    env = make_env({"amazon": amazon})
    row = env.drop(b"Order number;Net amount\n12-345;10,00\n", "ebay-report.csv")
    assert row["state"] == "error"
    err = row["error"]
    assert err["reason"] == "unknown_settlement_format" and err["where"] == "line 1"
    assert "'Order number;Net amount'" in err["message"]
    assert "amazon-flat-v1 (" in err["fix"] and "amazon-flat-v2 (" in err["fix"]
    assert "demo-payouts-v1 (the demo marketplace's payout CSV (#demo-payouts))" in err["fix"]
    assert env.payouts() == {} and list(env.db.query("select * from business_keys")) == []


def test_without_any_format_the_fix_says_so(tmp_path):
    import marketd.plugins.settlements as settlements
    from marketd.sdk.testing import make_app, process_file

    app = make_app(tmp_path / "i", {"settlements": settlements})
    try:
        (tmp_path / "x.csv").write_bytes(b"a,b\n1,2\n")
        row = process_file(app, "settlements", tmp_path / "x.csv")
        assert row["error"]["reason"] == "unknown_settlement_format"
        assert "no payout format is registered" in row["error"]["fix"]
    finally:
        app.close()


class Greedy(DemoFormat):
    name = "greedy-v1"
    channel_type = "greedy"
    describe = "takes everything (a bug)"

    def sniff(self, head, name):
        return True


class GreedyPlugin:
    @hookimpl
    def register_settlement_formats(self, register):
        register(Greedy())


def test_two_formats_recognising_one_file_is_a_bug_naming_both(make_env):
    env = make_env({"greedy": GreedyPlugin()})
    row = env.drop(render("payout,P1,10.00,2026-10-05T00:00:00+00:00,payout"))
    assert row["state"] == "error"
    assert row["error"]["reason"] == "ambiguous_settlement_format"
    assert "demo-payouts-v1 and greedy-v1 both recognise this file" in row["error"]["message"]
    assert env.payouts() == {}


class Broken(DemoFormat):
    name = "broken-v1"
    channel_type = "broken"

    def sniff(self, head, name):
        raise RuntimeError("sniff bug")


class BrokenPlugin:
    @hookimpl
    def register_settlement_formats(self, register):
        register(Broken())


def test_a_sniff_that_raises_does_not_hide_the_other_formats(make_env, caplog):
    env = make_env({"broken": BrokenPlugin()})
    env.order("A-1")
    with caplog.at_level(logging.ERROR):
        row = env.drop(render("payout,P1,10.00,2026-10-05T00:00:00+00:00,payout",
                              "line,P1,A-1,revenue,,10.00,EUR,2026-10-03T00:00:00+00:00"))
    assert row["state"] == "done", row
    assert any("broken-v1: sniff raised RuntimeError" in r.getMessage() for r in caplog.records)
