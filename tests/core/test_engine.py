"""The inbox engine in-process, on a fake clock: gates, claim, duplicates, errors, retries."""
import json
import os
import time


from marketd.clock import FakeClock
from marketd.errors import TransientError
from marketd.hookspecs import hookimpl
from marketd.inbox import InboxEngine
from tests.samples import catalog_csv


def engine_for(app_factory, clock=None, extra=None, **overrides):
    clock = clock or FakeClock()
    app = app_factory(clock=clock, extra_plugins=extra, **overrides)
    eng = InboxEngine(app)
    eng.ensure_dirs()
    return app, eng, clock


def drop(app, name, text, kind="catalog"):
    p = app.inbox_dir / kind / name
    p.write_text(text, encoding="utf-8")
    return p


def products(app):
    return app.store.db.execute("select count(*) from products").fetchone()[0]


def states(app):
    return {r["name"]: r["state"] for r in app.store.db.query("select name, state from files")}


def test_stable_gate_waits_for_window(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 5, "watch": "poll"}})
    drop(app, "c.csv", catalog_csv(3))
    eng.scan()
    assert eng.run_once() == 0
    clock.advance(3)
    assert eng.run_once() == 0
    clock.advance(2.5)
    assert eng.run_once() == 1
    assert products(app) == 3 and states(app) == {"c.csv": "done"}


def test_growing_file_restarts_window(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 5, "watch": "poll"}})
    p = drop(app, "c.csv", catalog_csv(2))
    eng.scan()
    clock.advance(4)
    with open(p, "a") as fh:
        fh.write("SKU-X,4006381333931,t,b,1.00,EUR,1,red\n")
    eng.run_once()
    clock.advance(4)
    assert eng.run_once() == 0  # changed 4 s ago: window restarted
    clock.advance(2)
    assert eng.run_once() == 1 and products(app) == 3


def test_temp_names_never_claimed_then_rename_is(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1, "watch": "poll"}})
    for name in ("c.csv.tmp", ".c.csv", "c.csv.part", "c.csv.filepart", "~c.csv"):
        drop(app, name, catalog_csv(1))
    eng.scan(); clock.advance(5); eng.scan()
    assert eng.run_once() == 0
    os.rename(app.inbox_dir / "catalog" / "c.csv.tmp", app.inbox_dir / "catalog" / "c.csv")
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1 and states(app) == {"c.csv": "done"}


def test_require_rename_accepts_renamed_rejects_direct_write(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {
        "stability_seconds": 1, "watch": "poll", "mode": "require_rename", "direct_write_grace_seconds": 30}})
    d = app.inbox_dir / "catalog"
    (d / "good.csv.tmp").write_text(catalog_csv(2))
    time.sleep(0.01)
    os.rename(d / "good.csv.tmp", d / "good.csv")
    drop(app, "direct.csv", catalog_csv(2, start=10))
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1 and states(app) == {"good.csv": "done"}
    clock.advance(30)
    eng.run_once()
    assert states(app)["direct.csv"] == "error"
    err = json.loads(app.store.db.execute("select error from files where name='direct.csv'").fetchone()[0])
    assert err["reason"] == "not_renamed" and products(app) == 2


def test_done_file_mode(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 1, "watch": "poll",
                                                                  "mode": "done_file"}})
    drop(app, "c.csv", catalog_csv(2))
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 0
    (app.inbox_dir / "catalog" / "c.csv.done").write_text("")
    eng.scan(); clock.advance(2)
    assert eng.run_once() == 1
    done = list((app.inbox_dir / "catalog" / ".done").rglob("*"))
    assert any(p.name.endswith("__c.csv.done") for p in done)  # marker consumed with the data file
    assert not (app.inbox_dir / "catalog" / "c.csv.done").exists()


def test_duplicate_content_not_applied_twice_same_name_new_content_is(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    text = catalog_csv(3)
    drop(app, "a.csv", text); eng.scan(); clock.advance(1); eng.run_once()
    drop(app, "b.csv", text); eng.scan(); clock.advance(1); eng.run_once()
    drop(app, "a.csv", catalog_csv(3, start=100)); eng.scan(); clock.advance(1); eng.run_once()
    rows = list(app.store.db.query("select name, state, duplicate_of from files order by claimed_at, id"))
    assert [r["state"] for r in rows].count("duplicate") == 1
    assert products(app) == 6
    reports = sorted(p.name for p in (app.outbox_dir / "reports").iterdir())
    dup = [p for p in reports if p.startswith("catalog-b-")]
    assert dup and "duplicate" in (app.outbox_dir / "reports" / dup[0]).read_text()


def test_empty_and_too_large_go_to_error(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll",
                                                                  "max_file_mb": 0.001}})
    drop(app, "empty.csv", "")
    drop(app, "big.csv", catalog_csv(50))
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app) == {"empty.csv": "error", "big.csv": "error"}
    err_dir = app.inbox_dir / "catalog" / ".error"
    texts = {p.name: p.read_text() for p in err_dir.glob("*.error.txt")}
    assert any("empty" in t for t in texts.values()) and any("over this inbox's limit" in t for t in texts.values())
    assert len(list(err_dir.glob("*__empty.csv"))) == 1  # the input is kept next to its report


def test_mapping_and_decimal_comma_and_cp1252(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"},
                                                     "catalog": {"columns": {"Artikelnummer": "sku", "Preis": "price"}}})
    text = catalog_csv(4, delimiter=";", decimal=",", header_map={"sku": "Artikelnummer", "price": "Preis"})
    (app.inbox_dir / "catalog" / "erp.csv").write_bytes(text.replace("—", "-").replace("“", '"').replace("”", '"')
                                                        .encode("cp1252"))
    eng.scan(); clock.advance(1); eng.run_once()
    row = app.store.db.execute("select price, title, attributes from products where sku='SKU-0000001'").fetchone()
    summary = json.loads(app.store.db.execute("select summary from files").fetchone()[0])
    assert summary["encoding"] == "cp1252" and summary["decimal"] == "," and summary["delimiter"] == ";"
    assert "," not in row[0] and "Füller" in row[1] and json.loads(row[2])["color"]


def test_changed_rows_reported(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    drop(app, "a.csv", catalog_csv(3)); eng.scan(); clock.advance(1); eng.run_once()
    text = catalog_csv(3).replace("SKU-0000001,4000000000017", "SKU-0000001,4000000000017")
    lines = text.splitlines()
    parts = lines[2].split(",")
    parts[6] = "999"
    lines[2] = ",".join(parts)
    drop(app, "b.csv", "\n".join(lines) + "\n"); eng.scan(); clock.advance(1); eng.run_once()
    report = next((app.outbox_dir / "reports").glob("catalog-b-*.csv")).read_text()
    assert "changed,stock" in report and report.count(",unchanged,") == 2


class Boom:
    kind = "boom"
    completeness = "none"

    def process(self, ctx):
        ctx.db["products"].insert({"sku": "SHOULD-ROLL-BACK"}, alter=True)
        ctx.output("reports/boom.txt", "partial")
        raise RuntimeError("kaboom")


class Flaky:
    kind = "flaky"
    completeness = "none"
    calls = 0

    def process(self, ctx):
        Flaky.calls += 1
        raise TransientError("API 503")


class ExtraPlugin:
    @hookimpl
    def register_inbox_handlers(self, register):
        register(Boom())
        register(Flaky())


def test_plugin_error_isolated_and_rolled_back(app_factory):
    app, eng, clock = engine_for(app_factory, extra={"extra": ExtraPlugin()},
                                 inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll", "max_attempts": 3}})
    drop(app, "x.csv", "a,b\n1,2\n", kind="boom")
    drop(app, "c.csv", catalog_csv(2))
    eng.scan(); clock.advance(1); eng.run_once()
    st = states(app)
    assert st["x.csv"] == "error" and st["c.csv"] == "done"
    assert products(app) == 2  # the failing handler's insert was rolled back
    assert not (app.outbox_dir / "reports" / "boom.txt").exists() and not app.outbox.orphan_temps()
    err = json.loads(app.store.db.execute("select error from files where name='x.csv'").fetchone()[0])
    assert err["reason"].startswith("plugin_error:") and "Traceback" not in err["message"]


def test_transient_errors_back_off_then_give_up(app_factory):
    Flaky.calls = 0
    app, eng, clock = engine_for(app_factory, extra={"extra": ExtraPlugin()},
                                 inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll", "max_attempts": 3}})
    drop(app, "f.csv", "a\n1\n", kind="flaky")
    eng.scan(); clock.advance(1); eng.run_once()
    assert states(app)["f.csv"] == "retry_wait" and Flaky.calls == 1
    eng.run_once()
    assert Flaky.calls == 1  # not due yet: backoff, not a busy loop
    clock.advance(1.5); eng.run_once()
    assert Flaky.calls == 2
    clock.advance(5); eng.run_once()
    assert Flaky.calls == 3 and states(app)["f.csv"] == "error"
    err = json.loads(app.store.db.execute("select error from files where name='f.csv'").fetchone()[0])
    assert err["reason"] == "gave_up" and "503" in err["message"]


def test_requeue_bypasses_dedupe(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    drop(app, "a.csv", catalog_csv(2)); eng.scan(); clock.advance(1); eng.run_once()
    drop(app, "b.csv", catalog_csv(2)); eng.scan(); clock.advance(1); eng.run_once()
    dup = app.store.db.execute("select id from files where state='duplicate'").fetchone()[0]
    clock.advance(1)
    row = eng.requeue(dup)
    assert row["state"] == "done" and row["name"] == "b.csv"


def test_recovery_adopts_unjournaled_claim_and_cleans_orphans(app_factory):
    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"stability_seconds": 0.1, "watch": "poll"}})
    proc = app.inbox_dir / "catalog" / ".processing"
    (proc / "20261102T090000-0badcafe__lost.csv").write_text(catalog_csv(2))
    orphan = app.outbox_dir / "reports" / ".catalog-x.csv.20261102T080000-deadbeef.tmp"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text("half")
    stats = eng.recover()
    assert stats["adopted"] == 1 and stats["orphans"] == 1 and not orphan.exists()
    eng.run_once()
    assert states(app) == {"lost.csv": "done"} and products(app) == 2


def test_retention_prunes_old_archives_only(app_factory):
    from marketd.plugins.housekeeping import prune

    app, eng, clock = engine_for(app_factory, inbox={"defaults": {"retention_done_days": 10,
                                                                  "retention_error_days": 30}})
    base = app.inbox_dir / "catalog"
    old_day = base / ".done" / "2020-01-01"
    old_day.mkdir(parents=True)
    (old_day / "x__a.csv").write_text("x")
    new_day = base / ".done" / "2099-01-01"
    new_day.mkdir()
    old_err = base / ".error" / "x__b.csv.error.txt"
    old_err.write_text("x")
    fresh_err = base / ".error" / "y__c.csv.error.txt"
    fresh_err.write_text("y")
    stuck = base / ".processing" / "z__d.csv"
    stuck.write_text("z")
    past = time.time() - 40 * 86400
    for p in (old_day, old_err, stuck):
        os.utime(p, (past, past))
    assert prune(app) == 2
    assert not old_day.exists() and not old_err.exists()
    assert new_day.exists() and fresh_err.exists() and stuck.exists()
