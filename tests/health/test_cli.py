"""``marketd health`` filters (severity, marketplace, age), JSON output, show / ack / report."""
from __future__ import annotations

import json

import tomli_w
from click.testing import CliRunner

from marketd.cli import cli

from .conftest import schema_example


def _cfg(w):
    cfg = w.root / "marketd.toml"
    cfg.write_text(tomli_w.dumps({"daemon": {"state_dir": str(w.app.state_dir), "inbox_dir": str(w.app.inbox_dir),
                                             "outbox_dir": str(w.app.outbox_dir)}}))
    return cfg


def run(cfg, *args):
    res = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_filters_json_show_ack_and_report(world):
    w = world()
    w.drop("perf.json", schema_example())
    cfg = _cfg(w)
    out = run(cfg, "health", "--severity", "critical")
    assert out.count("\n") == 1 and "SUSPENDED" in out
    data = json.loads(run(cfg, "health", "--json", "--marketplace", "A1AM78C64UM0Y8"))
    assert [a["severity"] for a in data["alerts"]] == ["critical"]
    assert "no open health alerts" in run(cfg, "health", "--older-than", "3650d")   # the store's alerts are new
    aid = data["alerts"][0]["id"]
    assert json.loads(run(cfg, "health", "show", str(aid)))["detail"]["status"] == "SUSPENDED"
    run(cfg, "health", "ack", str(aid))
    assert "[acked]" in run(cfg, "health", "--severity", "critical")
    files = run(cfg, "health", "report").split()
    assert sorted(f.rsplit(".", 1)[1] for f in files) == ["csv", "xlsx"]
    bad = CliRunner().invoke(cli, ["--config", str(cfg), "health", "--older-than", "soon"])
    assert bad.exit_code != 0 and "3d" in bad.output
