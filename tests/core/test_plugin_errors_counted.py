"""A handler's unexpected exception is a bug: the file's report says so without quoting the
exception (its text can carry the file's content), and `marketd status` counts such files apart
from files rejected for their content."""
from __future__ import annotations

import json

from click.testing import CliRunner

from marketd.clock import FakeClock
from marketd.errors import FileRejected
from marketd.hookspecs import hookimpl
from marketd.inbox import InboxEngine


class Buggy:
    kind = "buggy"
    completeness = "none"

    def process(self, ctx):
        raise ValueError(f"cannot handle {ctx.path.read_text()!r}")


class Picky:
    kind = "picky"
    completeness = "none"

    def process(self, ctx):
        raise FileRejected("bad_value", "column x is not a number", where="line 2, column 'x'")


class Handlers:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(Buggy())
        register(Picky())


def test_plugin_errors_are_reported_as_bugs_and_counted(app_factory):
    clock = FakeClock()
    app = app_factory(clock=clock, extra_plugins={"handlers": Handlers()},
                      inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    engine = InboxEngine(app)
    engine.ensure_dirs()
    (app.inbox_dir / "buggy" / "a.csv").write_text("Mario Rossi, Via Roma 1\n")
    (app.inbox_dir / "buggy" / "b.csv").write_text("other\n")
    (app.inbox_dir / "picky" / "c.csv").write_text("x\nabc\n")
    engine.scan()
    clock.advance(1)
    engine.run_once()
    errors = {r["name"]: json.loads(r["error"]) for r in app.store.db.query("select name, error from files")}
    assert errors["a.csv"]["reason"].startswith("plugin_error:")
    assert "internal error (ValueError)" in errors["a.csv"]["message"] and "not a problem" in errors["a.csv"]["message"]
    assert "Mario" not in errors["a.csv"]["message"]
    assert errors["c.csv"]["reason"] == "bad_value"
    assert app.store.plugin_error_count() == 2
    app.close()

    from marketd.cli import cli

    cfg = app.state_dir.parent / "marketd.toml"  # the instance app_factory wrote
    out = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert out.exit_code == 0, out.output
    assert "failed:      3" in out.output
    assert "bugs:        2 file(s) failed with an internal plugin error" in out.output
    data = json.loads(CliRunner().invoke(cli, ["--config", str(cfg), "status", "--json"]).output)
    assert data["plugin_errors"] == 2 and data["totals"]["error"] == 3
