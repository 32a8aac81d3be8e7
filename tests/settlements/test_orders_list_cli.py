"""``marketd orders list`` / ``orders show`` (core commands) on a real instance: filters, the
normalised status beside the channel's own, ``--json`` without buyer data, ``--finance`` through
the settlements plugin's ``order_finance`` hook."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from marketd.app import App
from marketd.cli import cli
from marketd.sdk import process_file

from tests.amazon.settlement_samples import Settlement, order_lines, render_v2
from tests.conftest import write_config

A, B = "302-1111111-1111111", "302-2222222-2222222"


@pytest.fixture
def instance(tmp_path):
    cfg = write_config(tmp_path / "i", channels={"amazon-de": {"type": "amazon", "marketplace": "DE"}})
    app = App.from_config_path(cfg)
    try:
        def order(channel, ctype, oid, status, purchased, **extra):
            app.store.upsert_order({"channel": channel, "channel_type": ctype, "order_id": oid, "status": status,
                                    "purchased_at": purchased, "updated_at": purchased, "currency": "EUR",
                                    "total": "34.89", "buyer_name": "Erika Muster",
                                    "ship_to": {"name": "Erika Muster", "city": "Köln"},
                                    "items": [{"sku": "SKU-A", "quantity": 1}], "raw": {"buyer": "Erika"}, **extra})
        order("amazon-de", "amazon", A, "SHIPPED", "2026-08-04T10:00:00+00:00")
        order("amazon-de", "amazon", B, "PENDING_AVAILABILITY", "2026-08-12T10:00:00+00:00")
        order("shop", "manual", "S-1", "Canceled", "2026-08-15T10:00:00+00:00",
              aliases=[("WEB-0001", "shop_number")])
        (tmp_path / "s.txt").write_bytes(render_v2(Settlement(lines=order_lines(A, principal="29.99",
                                                                                  shipping="4.90"))))
        assert process_file(app, "settlements", tmp_path / "s.txt")["state"] == "done"
    finally:
        app.close()
    return cfg


def run(cfg, *args) -> str:
    res = CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_the_status_is_normalised_and_the_channels_word_kept(instance):
    rows = {r["order_id"]: r for r in json.loads(run(instance, "orders", "list", "--json"))}
    assert (rows[A]["status"], rows[A]["channel_status"]) == ("SHIPPED", "SHIPPED")
    assert (rows[B]["status"], rows[B]["channel_status"]) == ("PENDING", "PENDING_AVAILABILITY")
    assert (rows["S-1"]["status"], rows["S-1"]["channel_status"]) == ("CANCELLED", "Canceled")


def test_filters_by_account_or_channel_type_status_and_date(instance):
    def ids(*args):
        return [r["order_id"] for r in json.loads(run(instance, "orders", "list", "--json", *args))]

    assert ids() == ["S-1", B, A]  # newest first
    assert ids("--channel", "amazon") == [B, A] and ids("--channel", "amazon-de") == [B, A]
    assert ids("--channel", "shop") == ["S-1"]
    assert ids("--status", "cancelled") == ["S-1"] and ids("--status", "PENDING") == [B]
    assert ids("--since", "2026-08-10") == ["S-1", B]
    assert ids("--channel", "amazon", "--status", "shipped", "--since", "2026-08-01") == [A]
    assert ids("--limit", "1") == ["S-1"]


def test_an_unknown_status_is_refused_and_0d_means_today(instance, tmp_path):
    """Found trying the README as a new user: ``--status FOO`` printed "no orders", ``--since 0d``
    found nothing placed today, and MALL's ``578.0`` stood beside Amazon's ``109.40``."""
    res = CliRunner().invoke(cli, ["--config", str(instance), "orders", "list", "--status", "FOO"])
    assert res.exit_code != 0 and "FOO" in res.output and "unshipped" in res.output.lower()
    from datetime import datetime, timezone

    app = App.from_config_path(instance)
    try:
        now = datetime.now(timezone.utc).isoformat()
        app.store.upsert_order({"channel": "mall-cz", "channel_type": "mall", "order_id": "1001", "status": "UNSHIPPED",
                                "purchased_at": now, "updated_at": now, "currency": "CZK", "total": "578.0",
                                "items": []})
    finally:
        app.close()
    assert [r["order_id"] for r in json.loads(run(instance, "orders", "list", "--json", "--since", "0d"))] == ["1001"]
    table = run(instance, "orders", "list", "--channel", "mall-cz")
    assert "578.00 CZK" in table and "34.89 EUR" in run(instance, "orders", "list", "--channel", "shop")


def test_json_never_holds_buyer_data(instance):
    out = run(instance, "orders", "list", "--json", "--finance")
    assert "Erika" not in out and "Köln" not in out
    rows = json.loads(out)
    assert all(not {"buyer_name", "ship_to", "raw"} & set(r) for r in rows)
    assert rows[-1]["items"] == [{"sku": "SKU-A", "quantity": 1}]


def test_finance_columns_come_from_the_payouts(instance):
    rows = {r["order_id"]: r for r in json.loads(run(instance, "orders", "list", "--json", "--finance"))}
    (t,) = rows[A]["finance"]
    assert (t["revenue"], t["marketplace_fee"], t["net"], t["currency"]) == ("34.89", "-4.50", "30.39", "EUR")
    assert rows[B]["finance"] == [] and rows["S-1"]["finance"] == []
    table = run(instance, "orders", "list", "--finance").splitlines()
    assert table[0].split()[-2:] == ["fee", "net"]
    line = next(x for x in table if A in x)
    assert line.split()[-2:] == ["-4.50", "30.39"]
    assert "fee" not in run(instance, "orders", "list").splitlines()[0]


def test_show_finds_an_order_by_another_of_its_ids(instance):
    out = run(instance, "orders", "show", "WEB-0001")
    assert "order       shop:S-1" in out and "channel_status     Canceled" in out
    assert "finance: not in any payout yet" in out
    out = run(instance, "orders", "show", A)
    assert "fee % of revenue" in out and "12.90 %" in out and "commission" in out


def test_marketd_status_has_a_settlements_section(instance):
    out = run(instance, "status")
    section = out[out.index("settlements:"):].splitlines()
    assert section[1].strip() == "1 payout(s): ok 1"
    assert section[2].strip().startswith("latest amazon: 24288684721 (ok, ")
    data = json.loads(run(instance, "status", "--json"))
    assert data["sections"]["settlements"][0] == "1 payout(s): ok 1"
