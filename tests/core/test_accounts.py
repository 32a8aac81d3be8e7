"""``marketd.sdk.each_account``: the per-account job loop every channel plugin's jobs run through
(orders, payouts, settlement reports, invoices). One account switched off, one failing, one bug:
each behaves the same way for every plugin."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from marketd.clock import FakeClock
from marketd.sdk import ConfigError, TransientError, accounts_of, each_account, log_once

log = logging.getLogger("marketd.demo")


class Account:
    def __init__(self, on=True, error=None, result=1):
        self.on, self.error, self.result, self.calls = on, error, result, 0

    def run(self):
        self.calls += 1
        if self.error:
            raise self.error
        return self.result


def run(app, accounts, **kw):
    return each_account(app, accounts, lambda name, acc: acc.run(), log=log, what="demo order sync",
                        enabled=lambda acc: acc.on, **kw)


def test_every_enabled_account_runs_and_a_switched_off_one_is_said_once(app_factory, caplog):
    app = app_factory()
    accounts = {"a": Account(result=3), "off": Account(on=False), "b": Account(result=0)}
    caplog.set_level(logging.INFO, "marketd.demo")
    note = "orders_sync is off (set orders_sync = true in [channels.{name}])"
    assert run(app, accounts, off_note=note) == {"a": 3, "b": 0}
    assert run(app, accounts, off_note=note) == {"a": 3, "b": 0}
    assert accounts["off"].calls == 0 and accounts["a"].calls == 2
    assert caplog.text.count("demo off: orders_sync is off (set orders_sync = true in [channels.off])") == 1


def test_a_failing_account_does_not_stop_the_others_and_the_run_fails_naming_it(app_factory, caplog):
    app = app_factory(clock=FakeClock())
    accounts = {"bad": Account(error=TransientError("HTTP 503")), "good": Account(result=5),
                "worse": Account(error=ConfigError("no refresh token"))}
    with pytest.raises(TransientError) as err:
        run(app, accounts, failure_table="demo_order_sync")
    assert str(err.value) == "demo order sync failed for bad: HTTP 503; worse: no refresh token"
    assert accounts["good"].calls == 1
    assert "demo bad: order sync failed: HTTP 503" in caplog.text
    rows = {r["channel"]: r for r in app.store.db.query("select * from demo_order_sync")}
    assert set(rows) == {"bad", "worse"} and rows["worse"]["last_error"] == "no refresh token"
    assert rows["bad"]["last_run_at"] == app.clock.now().isoformat()


def test_without_a_failure_table_nothing_is_written(app_factory):
    app = app_factory()
    with pytest.raises(TransientError):
        run(app, {"bad": Account(error=TransientError("down"))})
    assert "demo_order_sync" not in app.store.db.table_names()


def test_a_bug_in_an_account_is_not_folded_into_failed_for(app_factory):
    app = app_factory()
    accounts = {"a": Account(error=KeyError("items")), "b": Account()}
    with pytest.raises(KeyError):
        run(app, accounts)


def test_accounts_of_picks_the_channel_type_and_log_once_is_per_logger_and_key(app_factory, caplog):
    assert list(accounts_of(SimpleNamespace(channels={"x": Account(), "y": object()}), Account)) == ["x"]
    app = app_factory()
    caplog.set_level(logging.INFO)
    other = logging.getLogger("marketd.other")
    for _ in range(3):
        log_once(app, log, "k", "said %s", "once")
        log_once(app, other, "k", "said %s", "once")
    assert caplog.text.count("said once") == 2
