"""What a person reads in the log and the help: umlauts as umlauts, signals named right."""
from __future__ import annotations

import logging
import signal

from click.testing import CliRunner

from marketd.clock import FakeClock
from marketd.hookspecs import hookimpl
from marketd.inbox import InboxEngine


class Supplier:
    kind = "supplier"
    completeness = "none"

    def process(self, ctx):
        return {"lieferant": "Müller & Söhne", "ort": "Zürich"}


class Plugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(Supplier())


def test_the_done_line_keeps_umlauts(app_factory, caplog):
    clock = FakeClock()
    app = app_factory(clock=clock, extra_plugins={"supplier": Plugin()},
                      inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    engine = InboxEngine(app)
    engine.ensure_dirs()
    (app.inbox_dir / "supplier" / "liste-für-März.csv").write_text("x\n")
    engine.scan()
    clock.advance(1)
    with caplog.at_level(logging.INFO, logger="marketd.inbox"):
        engine.run_once()
    done = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("done supplier/"))
    assert "liste-für-März.csv" in done and '"Müller & Söhne"' in done and "Zürich" in done
    assert "\\u00" not in done


def test_run_help_names_the_signals_right():
    from marketd.cli import cli

    text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    assert "Ctrl-C (SIGINT)" in text and "SIGTERM (`systemctl stop`)" in text
    assert "SIGTERM (Ctrl-C)" not in text


def test_ctrl_c_stops_the_daemon_like_sigterm(instance, daemon_factory):
    """What the help promises for Ctrl-C, on the real process."""
    d = daemon_factory(instance)
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(60) == 0
    assert "SIGINT received: finishing the file in hand, then stopping" in d.output()
    d.stop()


def test_libraries_routine_info_lines_stay_out_of_an_operators_log():
    """A new user's `brands statement` printed ~75 lines of ``INFO fontTools.subset`` (the PDF's
    font subsetting) before its own output; matplotlib added its font-cache line."""
    import logging

    from marketd import logs

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.setup("INFO")
        for name in ("fontTools.subset", "matplotlib.font_manager", "PIL.PngImagePlugin"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
            assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
        assert logging.getLogger("marketd.plugins.brands").isEnabledFor(logging.INFO)
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
