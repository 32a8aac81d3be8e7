"""Which stored order a payout's reference belongs to when one order id is stored under several
accounts of a channel type (docs/plugins/settlements.md, "Matching"): a payout belongs to one
account, so it is matched there when its account is known; when it is not, an id that several
stored orders share is reported as ambiguous with its candidates, never booked to one of them.

Through the real engine and store with the test-only ``demo`` format (tests/settlements)."""
from __future__ import annotations

import openpyxl
import pytest

from marketd.plugins.settlements.status import status_lines
from marketd.sdk import ChannelSettings, hookimpl

from .conftest import summary
from .demo_format import render

PAID = "2026-10-05T00:00:00+00:00"
POSTED = "2026-10-03T00:00:00+00:00"
TWO = {"demo-it": {"type": "demo"}, "demo-de": {"type": "demo"}}


class DemoChannel:
    """The ``demo`` channel type, so ``[channels.<name>] type = "demo"`` accounts can be configured;
    it never syncs (the tests store the orders)."""

    settings_model = ChannelSettings

    def __init__(self, app, name, settings):
        self.name = name


class DemoChannels:
    @hookimpl
    def register_channels(self, register):
        register("demo", DemoChannel)


@pytest.fixture
def make_env(make_env):
    def make(channels=None):
        return make_env({"demo-channels": DemoChannels()}, channels=channels)
    return make


def line(pid, ref, amount, *extra, cat="revenue"):
    return ",".join(["line", pid, ref, cat, "", str(amount), "EUR", POSTED, *extra])


def payout(pid, account="", *extra):
    return ",".join(["payout", pid, "", PAID, "payout", account, *extra])


def refs(env, pid: str) -> dict[str, dict]:
    return {r["order_ref"]: r for r in env.db.query(
        "select r.order_ref, r.order_key, r.channel, r.match from payout_refs r join payouts p on p.pid = r.pid "
        "where p.payout_id = ?", [pid])}


def counts(env, pid: str) -> tuple[int, int]:
    row = env.one("select matched, unmatched from payouts where payout_id = ?", [pid])
    return row["matched"], row["unmatched"]


def warnings(row) -> str:
    return " ".join(summary(row).get("warnings") or [])


def test_the_one_configured_account_owns_a_payout_that_names_none(make_env):
    """The seller has one ``demo`` account configured; an old account (renamed, removed from the
    config) still holds the same order id in the store. The payout is the configured account's:
    matched through its primary key, no ambiguity."""
    env = make_env(channels={"demo-it": {"type": "demo"}})
    env.order("A-1", channel="demo-it")
    env.order("A-1", channel="demo-old")
    row = env.drop(render(payout("P1"), line("P1", "A-1", "20.00")))
    assert row["state"] == "done", row
    assert refs(env, "P1")["A-1"] == {"order_ref": "A-1", "order_key": "demo-it:A-1", "channel": "demo-it",
                                      "match": "order_id"}
    assert counts(env, "P1") == (1, 0)
    assert "more than one" not in warnings(row)
    (t,) = env.finance("demo-it:A-1")["totals"]
    assert t["revenue"] == "20.00"
    assert env.finance("demo-old:A-1") is None or not env.finance("demo-old:A-1")["totals"]


def test_an_id_under_two_configured_accounts_is_left_unmatched_with_its_candidates(make_env):
    env = make_env(channels=TWO)
    env.order("A-1", channel="demo-it")
    env.order("A-1", channel="demo-de")
    env.order("B-2", channel="demo-de")
    row = env.drop(render(payout("P1"), line("P1", "A-1", "20.00"), line("P1", "B-2", "5.00")))
    assert row["state"] == "done", row
    got = refs(env, "P1")
    assert got["A-1"] == {"order_ref": "A-1", "order_key": None, "channel": None, "match": "ambiguous"}
    assert got["B-2"]["order_key"] == "demo-de:B-2" and got["B-2"]["match"] == "order_id"
    assert counts(env, "P1") == (1, 1)
    text = warnings(row)
    assert "1 order reference(s) are stored under more than one order" in text
    assert "A-1 (demo-de:A-1 or demo-it:A-1)" in text
    assert 'channel = \\"<account>\\"' in text or 'channel = "<account>"' in text
    assert "marketd settlements forget P1" in text
    # the money is booked to neither order; it stays visible under the reference
    for key in ("demo-it:A-1", "demo-de:A-1"):
        fin = env.finance(key)
        assert fin is None or not fin["totals"], key
    got = env.app.hook.order_finance(app=env.app, order_keys=[], refs=["A-1"])
    assert [u["net"] for u in got["unmatched"]["A-1"]] == ["20.00"]
    assert any("1 order reference(s) are stored under more than one account" in s
               for s in status_lines(env.app)["settlements"])
    # the people's reports say why
    csvs = {f.name: f.read_text() for f in env.reports.glob("*P1*.csv")}
    assert any("A-1" in t and ",ambiguous," in t for t in csvs.values()), csvs
    (book,) = env.reports.glob("*P1*.xlsx")
    sheet = openpyxl.load_workbook(book)["Unmatched"]
    reasons = {r[1]: r[3] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(reasons) == {"A-1"}
    assert reasons["A-1"].endswith("none picked: demo-de:A-1 or demo-it:A-1")


def test_a_payout_that_names_its_account_is_matched_there_only(make_env):
    env = make_env(channels=TWO)
    env.order("A-1", channel="demo-it")
    env.order("A-1", channel="demo-de")
    env.order("C-3", channel="demo-it")
    row = env.drop(render(payout("P1", "demo-de"), line("P1", "A-1", "20.00"), line("P1", "C-3", "7.00")))
    assert row["state"] == "done", row
    got = refs(env, "P1")
    assert (got["A-1"]["order_key"], got["A-1"]["match"]) == ("demo-de:A-1", "order_id")
    # another account's order is never this payout's, even when it is the only one with the id
    assert (got["C-3"]["order_key"], got["C-3"]["match"]) == (None, "none")
    assert "more than one" not in warnings(row)
    row = env.drop(render(payout("P2", "demo-it"), line("P2", "A-1", "3.00")))
    assert refs(env, "P2")["A-1"]["order_key"] == "demo-it:A-1"


def test_the_order_id_step_does_not_pick_between_two_orders_either(make_env):
    """Keys written otherwise (no ``<account>:<id>`` key for the configured account): the
    order-id step finds the id under two other accounts and leaves it ambiguous; an id found
    once there is matched."""
    env = make_env(channels={"demo-it": {"type": "demo"}})
    env.order("A-1", channel="demo-x", key="legacy-x-A-1")
    env.order("A-1", channel="demo-y", key="legacy-y-A-1")
    env.order("B-2", channel="demo-y", key="legacy-y-B-2")
    row = env.drop(render(payout("P1"), line("P1", "A-1", "20.00"), line("P1", "B-2", "5.00")))
    got = refs(env, "P1")
    assert (got["A-1"]["order_key"], got["A-1"]["match"]) == (None, "ambiguous")
    assert (got["B-2"]["order_key"], got["B-2"]["match"]) == ("legacy-y-B-2", "order_id")
    assert "A-1 (legacy-x-A-1 or legacy-y-A-1)" in warnings(row)


def test_accounts_found_in_the_store_are_the_scope_when_none_is_configured(make_env):
    env = make_env()
    env.order("A-1", channel="demo-a")
    env.order("A-1", channel="demo-b")
    env.order("B-2", channel="demo-b")
    env.drop(render(payout("P1"), line("P1", "A-1", "20.00"), line("P1", "B-2", "5.00")))
    got = refs(env, "P1")
    assert (got["A-1"]["order_key"], got["A-1"]["match"]) == (None, "ambiguous")
    assert (got["B-2"]["order_key"], got["B-2"]["match"]) == ("demo-b:B-2", "order_id")


def test_an_alias_of_two_orders_is_ambiguous_and_an_alias_of_one_matches(make_env):
    env = make_env(channels=TWO)
    env.order("O-1", channel="demo-it", aliases=[("L-9", "legacy")])
    env.order("O-2", channel="demo-de", aliases=[("L-9", "legacy")])
    env.order("O-3", channel="demo-de", aliases=[("L-8", "legacy"), ("L-7", "legacy")])
    row = env.drop(render(payout("P1"), line("P1", "X-9", "4.00", "alt=L-9"),
                          line("P1", "X-8", "6.00", "alt=L-8", "alt=L-7")))
    got = refs(env, "P1")
    assert (got["X-9"]["order_key"], got["X-9"]["match"]) == (None, "ambiguous")
    # two aliases of the same order are one candidate
    assert (got["X-8"]["order_key"], got["X-8"]["match"]) == ("demo-de:O-3", "alias")
    assert "X-9 (demo-de:O-2 or demo-it:O-1)" in warnings(row)


def test_a_merchant_reference_of_two_shop_orders_is_ambiguous(make_env):
    env = make_env(channels=TWO)
    env.order("1001", channel="shop-a", channel_type="shop")
    env.order("1001", channel="shop-b", channel_type="shop")
    env.order("1002", channel="shop-a", channel_type="shop")
    row = env.drop(render(payout("P1", "", "mcf"), line("P1", "S01-1", "4.00", "merchant=1001"),
                          line("P1", "S01-2", "6.00", "merchant=1002")))
    got = refs(env, "P1")
    assert (got["S01-1"]["order_key"], got["S01-1"]["match"]) == (None, "ambiguous")
    assert (got["S01-2"]["order_key"], got["S01-2"]["match"]) == ("shop-a:1002", "merchant_order_id")
    assert "S01-1 (shop-a:1001 or shop-b:1001)" in warnings(row)
    # only the unambiguous match leaves an alias behind
    aliases = {r["alias"]: r["order_key"] for r in env.db.query("select alias, order_key from order_aliases")}
    assert aliases.get("S01-2") == "shop-a:1002" and "S01-1" not in aliases


def test_a_waiting_reference_that_finds_two_orders_later_is_not_attached_to_either(make_env):
    """P1's reference waits (no order yet); both accounts import the id before the next payout
    arrives: the re-match at P2 finds two orders and leaves it ambiguous, and P1's counts follow."""
    env = make_env(channels=TWO)
    env.drop(render(payout("P1"), line("P1", "C-3", "9.00"), line("P1", "D-4", "1.00")))
    assert refs(env, "P1")["C-3"]["match"] == "none" and counts(env, "P1") == (0, 2)
    env.order("C-3", channel="demo-it")
    env.order("C-3", channel="demo-de")
    env.order("D-4", channel="demo-de")
    row = env.drop(render(payout("P2"), line("P2", "E-5", "2.00")))
    assert summary(row)["rematched"] == 1  # D-4 only
    got = refs(env, "P1")
    assert (got["C-3"]["order_key"], got["C-3"]["match"]) == (None, "ambiguous")
    assert (got["D-4"]["order_key"], got["D-4"]["match"]) == ("demo-de:D-4", "order_id")
    assert counts(env, "P1") == (1, 1)


def test_a_waiting_reference_of_a_payout_with_its_account_is_attached_in_that_account(make_env):
    env = make_env(channels=TWO)
    env.drop(render(payout("P1", "demo-it"), line("P1", "C-3", "9.00")))
    env.order("C-3", channel="demo-it")
    env.order("C-3", channel="demo-de")
    env.drop(render(payout("P2"), line("P2", "E-5", "2.00")))
    got = refs(env, "P1")["C-3"]
    assert (got["order_key"], got["match"]) == ("demo-it:C-3", "order_id")
    assert counts(env, "P1") == (1, 0)


def test_the_warning_names_five_ambiguous_references_and_counts_the_rest(make_env):
    env = make_env(channels=TWO)
    ids = [f"A-{n}" for n in range(1, 7)]
    for oid in ids:
        env.order(oid, channel="demo-it")
        env.order(oid, channel="demo-de")
    row = env.drop(render(payout("P1"), *(line("P1", oid, "1.00") for oid in ids)))
    text = warnings(row)
    assert "6 order reference(s) are stored under more than one order" in text
    named = [oid for oid in ids if f"{oid} (demo-de:{oid} or demo-it:{oid})" in text]
    assert named == ids[:5] and "and 1 more" in text
    assert counts(env, "P1") == (0, 6)
