"""Fulfilment actions on remote orders against the ManoMano fake (accept/refuse through its API;
refunds only in its portal): once per request, recorded with who/when/why, from the command and
from the ERP's drop, the manual-operation flag honoured, an interrupted call held as uncertain."""
from __future__ import annotations

import csv
from datetime import timedelta
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

import marketd.plugins.actions as actions_plugin
import marketd.plugins.manomano as manomano_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.orderflags import mark_manual
from marketd.sdk.testing import process_file, run_job

from tests.manomano.conftest import world  # noqa: F401  (fixture)

PLUGINS = {"manomano": manomano_plugin, "settlements": settlements_plugin, "actions": actions_plugin}


def setup(world, *statuses):
    refs = [world.fake.add_order(status=s, created_at=world.clock.now() - timedelta(hours=2))["order_reference"]
            for s in statuses]
    app = world.app(plugins=PLUGINS)
    app.channel("mm-fr").sync_orders(None)
    return app, refs


def act(app, *args, user="anna"):
    from marketd.cli import cli

    return CliRunner().invoke(cli, ["orders", "act", *args], obj={"app": app}, env={"USER": user, "SUDO_USER": ""},
                              catch_exceptions=False)


def ledger(app) -> list[dict]:
    return list(app.store.db.query("select * from order_actions order by id"))


def test_accept_from_the_command_acts_once_and_records_who_and_when(world):
    app, (ref,) = setup(world, "PENDING")
    res = act(app, ref, "accept", "--note", "stock checked")
    assert res.exit_code == 0, res.output
    assert "accept done" in res.output
    assert world.fake.orders[ref]["status"] == "PREPARATION"
    (row,) = ledger(app)
    assert (row["action"], row["state"], row["requested_by"], row["source"], row["note"]) == (
        "accept", "done", "anna", "cli", "stock checked")
    assert row["requested_at"] == world.clock.now().isoformat() and row["done_at"]
    again = act(app, ref, "accept", user="bob")
    assert again.exit_code == 0 and "already done" in again.output and "asked by anna" in again.output
    assert world.fake.count("acceptOrders") == 1 and len(ledger(app)) == 1


def test_a_drop_from_the_erp_is_recorded_with_the_file_and_performed_by_the_job(world, tmp_path):
    app, (a, b, c, d) = setup(world, "PENDING", "PENDING", "PENDING", "PENDING")
    drop = tmp_path / "actions.csv"
    drop.write_text("order,action,reason,requested_by,action_id,manual,note\n"
                    f"{a},refuse,out_of_stock,erp-user,A-1,,\n"
                    f"{a},refuse,out_of_stock,erp-user,A-1,,\n"
                    f"{b},accept,,erp-user,A-2,,\n"
                    f"{c},accept,,erp-user,A-3,x,accepted in the Toolbox\n"
                    f"{d},explode,,erp-user,A-4,,\n"
                    "NOPE,accept,,erp-user,A-5,,\n", encoding="utf-8")
    rec = process_file(app, "actions", drop)
    assert rec["state"] == "done", rec
    assert rec["summary"] == {"lines": 6, "rejected": 2, "queued": 2, "known": 1, "flagged": 1}
    receipt = next((app.outbox_dir / "actions").glob("receipt-*-actions.csv"))
    results = [(r["order"], r["result"]) for r in csv.DictReader(receipt.open(encoding="utf-8"))]
    assert results == [(a, "queued"), (a, "known"), (b, "queued"), (c, "flagged"), (d, "rejected"),
                       ("NOPE", "rejected")]
    assert world.fake.count("acceptOrders") == 0 and world.fake.count("refuseOrders") == 0  # the file only records
    assert run_job(app, "order-actions") is None
    assert world.fake.orders[a]["status"] == "REFUSED" and world.fake.orders[b]["status"] == "PREPARATION"
    assert world.fake.orders[c]["status"] == "PENDING"  # handled by hand: nothing sent
    assert [(r["action"], r["state"], r["reason"], r["requested_by"]) for r in ledger(app)] == [
        ("refuse", "done", "out_of_stock", "erp-user"), ("accept", "done", None, "erp-user")]
    assert run_job(app, "order-actions") is None
    assert world.fake.count("refuseOrders") == 1 and world.fake.count("acceptOrders") == 1


def test_the_manual_flag_stops_the_drop_and_the_command_asks_for_force(world, tmp_path):
    app, (ref, other) = setup(world, "PENDING", "PENDING")
    mark_manual(app.store, f"mm-fr:{ref}", by="carla", reason="refused on the phone", source="cli",
                at=world.clock.now().isoformat())
    drop = tmp_path / "a.csv"
    drop.write_text(f"order,action\n{ref},accept\n", encoding="utf-8")
    assert process_file(app, "actions", drop)["state"] == "done"
    run_job(app, "order-actions")
    (row,) = ledger(app)
    assert row["state"] == "skipped" and "flagged as handled by hand (by carla" in row["error"]
    assert world.fake.count("acceptOrders") == 0
    res = act(app, ref, "refuse")
    assert res.exit_code != 0 and "flagged as handled by hand" in res.output and "--force" in res.output
    assert world.fake.count("refuseOrders") == 0
    res = act(app, ref, "refuse", "--force", "--reason", "buyer_request")
    assert res.exit_code == 0 and world.fake.orders[ref]["status"] == "REFUSED"


def test_what_only_the_portal_does_is_said_plainly_and_can_be_recorded_as_done_by_hand(world):
    from marketd.orderflags import manual_flag

    app, (ref,) = setup(world, "PENDING")
    res = act(app, ref, "refund", "--amount", "5", "--currency", "eur", "--reason", "buyer_request")
    assert res.exit_code != 0 and "only in its portal" in res.output
    (row,) = ledger(app)
    assert (row["state"], row["params"]) == ("skipped", '{"amount": "5.00", "currency": "EUR", "reason": '
                                                        '"buyer_request"}')
    res = act(app, ref, "refund", "--record-manual", "--note", "refunded 5 EUR in the Toolbox")
    assert res.exit_code == 0 and "flagged manual" in res.output
    flag = manual_flag(app.store.db, f"mm-fr:{ref}")
    assert flag["source"] == "action" and "refunded 5 EUR in the Toolbox" in flag["reason"]
    bad = act(app, ref, "refund", "--amount", "-3", "--currency", "EUR")
    assert bad.exit_code != 0 and "not a positive amount" in bad.output


def test_an_interrupted_call_is_held_as_uncertain_until_forced(world):
    app, (ref,) = setup(world, "PENDING")
    from marketd.plugins.actions.ledger import normalise, request

    entry, _ = request(app, app.store.get_order(f"mm-fr:{ref}"), "accept", normalise("accept"), by="erp",
                       source="drop")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with app.store.transaction() as db:
        db.execute("update order_actions set state = 'claimed', owner = ? where id = ?",
                   [f"{socket.gethostname()}:{gone.stdout.strip()}", entry["id"]])
    assert run_job(app, "order-actions") is None
    (row,) = ledger(app)
    assert row["state"] == "uncertain" and "may have acted" in row["error"]
    assert world.fake.count("acceptOrders") == 0
    res = act(app, ref, "accept")  # the same request: the held one, not a second
    assert res.exit_code != 0 and "uncertain" in res.output and "--force" in res.output
    assert world.fake.count("acceptOrders") == 0
    res = act(app, ref, "accept", "--force")
    assert res.exit_code == 0 and world.fake.orders[ref]["status"] == "PREPARATION"
    assert [(r["state"], r["attempts"]) for r in ledger(app)] == [("done", 1)]


@pytest.mark.parametrize("args, message", [
    (["accept", "--lines", "A:1"], "takes no lines"), (["cancel", "--lines", "A:0"], "not SKU:QUANTITY"),
    (["refund", "--amount", "abc", "--currency", "EUR"], "not an amount"), (["refund", "--amount", "3"], "currency")])
def test_a_wrong_request_is_refused_before_anything_is_recorded(world, args, message):
    app, (ref,) = setup(world, "PENDING")
    res = act(app, ref, *args)
    assert res.exit_code != 0 and message in res.output
    assert ledger(app) == []
