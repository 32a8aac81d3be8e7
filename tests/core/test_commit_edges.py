"""Edges of the inbox commit protocol (daemon/inbox/commit.py) no other in-process test pinned
down: each test here kills a mutant the mutation run (``make mutate``, docs/dev/mutation.md)
left alive."""
from __future__ import annotations

import sqlite3

import pytest

from marketd.hookspecs import hookimpl
from tests.helpers import drop, engine_for, states
from tests.samples import catalog_csv

POLL = {"stability_seconds": 0.1, "watch": "poll"}


class Blob:
    """Takes any bytes; raises what the test puts in ``Blob.raises``."""
    kind = "blob"
    completeness = "test"
    raises = None

    def process(self, ctx):
        if Blob.raises is not None:
            raise Blob.raises
        return {"bytes": ctx.size}


class Plugin:
    finished: list = []

    @hookimpl
    def register_inbox_handlers(self, register):
        register(Blob())

    @hookimpl
    def file_processed(self, app, record):
        Plugin.finished.append((record["name"], record["state"]))


@pytest.fixture
def blob(app_factory):
    Blob.raises, Plugin.finished = None, []
    app, eng, clock = engine_for(app_factory, extra={"blob": Plugin()}, inbox={"defaults": POLL})
    yield app, eng, clock
    Blob.raises = None


def run(eng, clock):
    eng.scan()
    clock.advance(1)
    eng.run_once()


def test_counters_and_the_finished_event_say_what_happened_to_each_file(blob):
    """A rejected file is an error, never also "processed" (sd_notify STATUS shows both counts),
    and file_processed fires once per finished file, with its final state."""
    app, eng, clock = blob
    drop(app, "good.csv", catalog_csv(2))
    drop(app, "bad.csv", "ean,title\n1,x\n")
    run(eng, clock)
    assert states(app) == {"good.csv": "done", "bad.csv": "error"}
    assert (eng.processed_count, eng.error_count) == (1, 1)
    assert sorted(Plugin.finished) == [("bad.csv", "error"), ("good.csv", "done")]


def test_max_file_mb_is_a_limit_in_mebibytes_inclusive(blob, app_factory):
    app, eng, clock = engine_for(app_factory, extra={"blob": Plugin()},
                                 inbox={"defaults": {**POLL, "max_file_mb": 1}})
    (app.inbox_dir / "blob" / "exact.bin").write_bytes(b"x" * 1024 * 1024)
    (app.inbox_dir / "blob" / "over.bin").write_bytes(b"x" * (1024 * 1024 + 1))
    run(eng, clock)
    assert states(app) == {"exact.bin": "done", "over.bin": "error"}


@pytest.mark.parametrize("error, state", [(sqlite3.OperationalError("database is locked"), "retry_wait"),
                                          (sqlite3.OperationalError("no such table: x"), "error")])
def test_a_busy_database_inside_the_handler_is_retried_a_missing_table_is_a_bug(blob, error, state):
    app, eng, clock = blob
    Blob.raises = error
    (app.inbox_dir / "blob" / "f.bin").write_bytes(b"data")
    run(eng, clock)
    assert states(app) == {"f.bin": state}
    if state == "error":
        import json
        reason = json.loads(app.store.db.execute("select error from files").fetchone()[0])["reason"]
        assert reason == "plugin_error:blob"
    assert Plugin.finished == ([] if state == "retry_wait" else [("f.bin", "error")])


def test_recovery_counts_what_it_finished_for_a_file_committed_before_a_crash(app_factory, monkeypatch):
    """A crash between the commit and the publish leaves the journal at 'processed'; the next
    start publishes and archives it, and says how many it finished."""
    import marketd.inbox.commit as commit_mod
    import marketd.inbox.publish as publish_mod
    from marketd.inbox import InboxEngine

    app, eng, clock = engine_for(app_factory, inbox={"defaults": POLL})
    drop(app, "c.csv", catalog_csv(3))
    with monkeypatch.context() as m:
        m.setattr(commit_mod, "finish", lambda *a, **k: None)  # the process dies right after the commit
        m.setattr(publish_mod, "finish", lambda *a, **k: None)  # (and the worker loop cannot finish it either)
        run(eng, clock)
    assert states(app) == {"c.csv": "processed"}
    stats = InboxEngine(app).recover()
    assert stats["published"] == 1 and states(app) == {"c.csv": "done"}


def test_recovery_does_not_count_a_file_whose_publish_failed_and_finishes_it_later(app_factory, monkeypatch):
    """The outbox cannot be written at the start (a full disk): the committed file stays
    'processed' with its temps, recovery says it finished nothing, and the next start finishes it."""
    import marketd.inbox.commit as commit_mod
    import marketd.inbox.publish as publish_mod
    from marketd.inbox import InboxEngine

    app, eng, clock = engine_for(app_factory, inbox={"defaults": POLL})
    drop(app, "c.csv", catalog_csv(3))
    with monkeypatch.context() as m:
        m.setattr(commit_mod, "finish", lambda *a, **k: None)
        m.setattr(publish_mod, "finish", lambda *a, **k: None)
        run(eng, clock)
    assert states(app) == {"c.csv": "processed"}

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(publish_mod, "publish_outputs", full_disk)
        stats = InboxEngine(app).recover()
    assert (stats["published"], stats["archived"]) == (0, 0) and states(app) == {"c.csv": "processed"}
    stats = InboxEngine(app).recover()
    assert stats["published"] == 1 and states(app) == {"c.csv": "done"}


@pytest.mark.parametrize("state, summary, shown", [
    ("done", {"rejected": 2, "lines": 5}, "done_some_rejected"),
    ("done", {"rejected": 5, "rows": 5}, "done_all_rejected"),
    ("done", {"rejected": 7, "lines": 5}, "done_all_rejected"),
    ("done", {"rejected": 0, "lines": 5}, "done"),
    ("done", {"rejected": True, "lines": 5}, "done"),
    ("done", None, "done"),
    ("error", {"rejected": 2, "lines": 5}, "error"),
])
def test_status_outcome_tells_files_with_refused_lines_apart(state, summary, shown):
    from marketd.inbox.publish import outcome

    assert outcome(state, summary) == shown


def test_the_done_log_line_shows_the_summary_readably_and_cut():
    """The ``done`` log line quotes the handler's summary as written (Italian and German names
    stay readable, not ``\\u00e0`` escapes), cut at 300 characters."""
    from marketd.inbox.publish import _short

    assert _short({"città": "Müller"}) == '{"città": "Müller"}'
    assert _short(None) == "{}"
    long = _short({"k": "x" * 400})
    assert len(long) == 300 and long.endswith("...")
