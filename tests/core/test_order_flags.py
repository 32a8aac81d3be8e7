"""``marketd orders mark-manual`` / ``unmark-manual``: the flag is stored apart from the order row
(an order sync cannot wipe it), logged with who/when/why, shown by ``orders show``, and
``order_guard`` gives the reason every automatic path records as its skip."""
from __future__ import annotations

from click.testing import CliRunner

from marketd.app import App
from marketd.cli import cli
from marketd.orderflags import order_guard

from tests.conftest import write_config
from tests.helpers import db_dicts


def _run(cfg, *args, by_env=None):
    env = {"USER": "anna", "SUDO_USER": ""} if by_env is None else by_env
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], env=env, catch_exceptions=False)


def test_mark_manual_is_kept_across_syncs_logged_shown_and_cleared(tmp_path):
    cfg = write_config(tmp_path / "i")
    app = App.from_config_path(cfg)
    order = {"channel": "mano", "channel_type": "manomano", "order_id": "M-77", "status": "UNSHIPPED",
             "purchased_at": "2026-11-01T10:00:00+00:00", "currency": "EUR", "total": "10.00",
             "items": [{"sku": "A", "quantity": 1}]}
    app.store.upsert_order(order)
    app.close()

    res = _run(cfg, "orders", "mark-manual", "M-77", "--reason", "accepted in the Toolbox")
    assert res.exit_code == 0 and "mano:M-77: flagged as handled by hand" in res.output
    assert "(already)" in _run(cfg, "orders", "mark-manual", "mano:M-77", "--reason", "again", "--by", "bob").output

    app = App.from_config_path(cfg)
    try:
        app.store.upsert_order({**order, "status": "SHIPPED"})  # a sync rewrites the order row
        reason = order_guard(app, "mano:M-77", "tracking push")
        assert reason.startswith("tracking push skipped: order mano:M-77 is flagged as handled by hand (by anna")
        assert "accepted in the Toolbox" in reason
        assert order_guard(app, "mano:OTHER", "invoice") is None
    finally:
        app.close()
    shown = _run(cfg, "orders", "show", "M-77").output
    assert "MANUAL: handled by hand (by anna" in shown

    res = _run(cfg, "orders", "unmark-manual", "M-77", "--reason", "wrong order", "--by", "carl")
    assert res.exit_code == 0 and "no longer flagged" in res.output
    assert "MANUAL" not in _run(cfg, "orders", "show", "M-77").output
    log = db_dicts(cfg.parent, "select order_key, action, by, reason, source from order_flag_log order by id")
    assert log == [{"order_key": "mano:M-77", "action": "set", "by": "anna", "reason": "accepted in the Toolbox",
                    "source": "cli"},
                   {"order_key": "mano:M-77", "action": "clear", "by": "carl", "reason": "wrong order",
                    "source": "cli"}]


def test_mark_manual_needs_an_order_that_exists_and_a_reason(tmp_path):
    cfg = write_config(tmp_path / "i")
    App.from_config_path(cfg).close()
    res = _run(cfg, "orders", "mark-manual", "NOPE", "--reason", "x")
    assert res.exit_code != 0 and "no order NOPE" in res.output
    res = _run(cfg, "orders", "mark-manual", "NOPE")
    assert res.exit_code != 0 and "--reason" in res.output
