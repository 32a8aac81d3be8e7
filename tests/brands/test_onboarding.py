"""Onboarding: the checklist file (long layout, German headers, XLSX), contacts, per-row refusals,
phases and what blocks the next one; ``marketd brands set/show``."""
from __future__ import annotations

import io
import json

from click.testing import CliRunner

from marketd.plugins.brands import checklist
from marketd.sdk import process_file

CHECKLIST = """brand,item,platform,subject,status,date,note
acme,approval.requested,amazon-de,,,2024-11-01,
acme,approval.granted,amazon-de,,,2024-11-20,
acme,amazon.brand_registry,amazon-de,,done,,
acme,amazon.admin_access,amazon-de,,done,,
acme,data_model,ebay-de,SHOES,requested,2024-11-01,
acme,approval.requested,otto,,,2024-11-01,
acme,approval.granted,ebay-de,,,31.02.2024,
nobody,approval.requested,amazon-de,,,2024-11-01,
acme,aproval.granted,amazon-de,,,2024-11-01,
"""

CONTACTS_DE = """Marke;Rolle;Name;E-Mail;Telefon
acme;reports;Anna Beispiel;anna@acme.example;+49 1
acme;customer_service;Ben;service@acme.example;
acme;golive;Carla;carla@acme.example;
acme;ceo;Dora;dora@acme.example;
"""


def drop(app, tmp_path, name, text, kind="onboarding"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return process_file(app, kind, p)


def report_rows(app, row):
    path = [o for o in row["outputs"] if "reports/onboarding-" in (o.get("final") or o.get("published") or "")]
    assert path, row["outputs"]
    text = open(path[0].get("published") or path[0]["final"], encoding="utf-8").read()
    return text


def test_checklist_file_keeps_good_rows_and_reports_bad_ones(brands_app, tmp_path):
    app = brands_app()
    row = drop(app, tmp_path, "acme-onboarding.csv", CHECKLIST)
    assert row["state"] == "done", row
    assert row["summary"]["rows"] == 9 and row["summary"]["rejected"] == 4
    rep = report_rows(app, row)
    assert "platform 'otto' is not one of brand acme's platforms" in rep
    assert "31.02.2024" in rep and "unknown brand 'nobody'" in rep and "did you mean 'approval.granted'" in rep
    got = {(r["item"], r["platform"], r["subject"]): (r["status"], r["date"])
           for r in app.store.db.query("select * from brand_checklist where brand='acme'")}
    assert got[("approval.granted", "amazon-de", "")] == ("done", "2024-11-20")
    assert got[("data_model", "ebay-de", "SHOES")] == ("requested", "2024-11-01")
    assert app.store.db.execute("select count(*) from brand_checklist_log").fetchone()[0] == 5


def test_all_rows_bad_is_an_error_file(brands_app, tmp_path):
    app = brands_app()
    row = drop(app, tmp_path, "bad.csv", "brand,item,platform\nnobody,approval.requested,amazon-de\n")
    assert row["state"] == "error" and row["error"]["reason"] == "no_valid_rows"
    assert app.store.db.execute("select count(*) from brand_checklist").fetchone()[0] == 0


def test_contacts_with_german_headers_and_the_derived_item(brands_app, tmp_path):
    app = brands_app()
    row = drop(app, tmp_path, "kontakte.csv", CONTACTS_DE)
    assert row["state"] == "done" and row["summary"]["rejected"] == 1
    assert row["summary"]["layout"] == "contacts"
    items = checklist.rows(app.store.db, "acme", _brand(app), _today(), app)
    assert next(r for r in items if r.item == "contacts.received").status == "done"
    # the address is personal data: the refusal says why without it
    assert "dora@" not in report_rows(app, row)


def test_xlsx_file_is_read_the_same(brands_app, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for line in CHECKLIST.splitlines()[:3]:
        ws.append(line.split(","))
    p = tmp_path / "onb.xlsx"
    wb.save(p)
    app = brands_app()
    row = process_file(app, "onboarding", p)
    assert row["state"] == "done" and row["summary"]["changed"] == 2


def _brand(app):
    from marketd.plugins.brands.settings import brand_of

    return brand_of(app, "acme")


def _today():
    from datetime import date

    return date(2025, 1, 7)


def test_phase_blockers_and_actors(brands_app, tmp_path):
    app = brands_app()
    db = app.store.db
    items = checklist.rows(db, "acme", _brand(app), _today(), app)
    assert checklist.phase_of(items) == "organisation"
    amazon_only = {r.item for r in items if r.platform == "ebay-de"}
    assert "amazon.brand_registry" not in amazon_only
    drop(app, tmp_path, "a.csv", CHECKLIST)
    items = checklist.rows(db, "acme", _brand(app), _today(), app)
    dm = next(r for r in items if r.item == "data_model")
    assert dm.due == "2024-11-29" and dm.overdue and dm.actor == "integrator"
    assert checklist.platform_ready(items, "amazon-de") == (True, [])
    assert checklist.platform_ready(items, "ebay-de") == (False, ["approval.granted"])
    # finish organisation: the brand moves to content, blocked by content.complete per platform
    with app.store.transaction() as tx:
        for it in [r for r in items if r.phase == "organisation" and not r.done]:
            checklist.record(tx, "acme", it.item, it.platform, it.subject, "done", "2024-12-01", None, None, "t", "now")
    items = checklist.rows(db, "acme", _brand(app), _today(), app)
    assert checklist.phase_of(items) == "content"
    assert {(r.item, r.platform, r.actor) for r in checklist.blockers(items)} == {
        ("content.complete", "amazon-de", "integrator"), ("content.complete", "ebay-de", "integrator")}


def test_cli_set_and_show(brands_app):
    from marketd.cli import cli as main

    app = brands_app()
    cfg = app.config["_path"]
    run = CliRunner().invoke
    r = run(main, ["--config", cfg, "brands", "set", "acme", "approval.requested", "--platform", "amazon-de",
                   "--date", "01.11.2024"])
    assert r.exit_code == 0, r.output
    assert "approval.requested amazon-de: done 2024-11-01" in r.output
    r = run(main, ["--config", cfg, "brands", "set", "acme", "approval.requested", "--platform", "otto"])
    assert r.exit_code != 0 and "not one of brand acme's platforms" in r.output
    r = run(main, ["--config", cfg, "brands", "show", "acme", "--json"])
    data = json.loads(r.output)
    assert data["phase"] == "organisation" and data["links_issued"] is False
    assert any(b["item"] == "approval.granted" and b["actor"] == "platform" for b in data["blocking"])
    r = run(main, ["--config", cfg, "brands"])
    assert r.exit_code == 0 and "acme" in r.output and "organisation" in r.output


def test_activate_only_what_may_go_live(brands_app, tmp_path):
    from marketd.cli import cli as main

    app = brands_app()
    with app.store.transaction() as db:
        db["products"].insert_all([{"sku": "ACM-1", "title": "A", "stock": 5}, {"sku": "ACM-2", "title": "B", "stock": 0},
                                   {"sku": "ROM-1", "title": "R", "stock": 3}], pk="sku", alter=True)
    cfg = app.config["_path"]
    run = CliRunner().invoke
    r = run(main, ["--config", cfg, "brands", "activate", "acme"])
    assert r.exit_code == 0, r.output
    assert "activated 0" in r.output and "amazon-de: not approved yet: approval.granted, amazon.brand_registry" in r.output
    drop(app, tmp_path, "ok.csv", "brand,item,platform,status,date\nacme,approval.granted,amazon-de,,2024-12-01\n"
                                  "acme,amazon.brand_registry,amazon-de,done,\n")
    r = run(main, ["--config", cfg, "brands", "activate", "acme", "--dry-run"])
    assert "would activate 1" in r.output and "ACM-2 amazon-de: no stock" in r.output
    assert app.store.db.execute("select count(*) from golive").fetchone()[0] == 0
    r = run(main, ["--config", cfg, "brands", "activate", "acme", "--platform", "amazon-de"])
    assert "activated 1" in r.output
    rows = app.store.db.execute("select sku, platform, brand, activation_source from golive").fetchall()
    assert rows == [("ACM-1", "amazon-de", "acme", "cli")]
    r = run(main, ["--config", cfg, "brands", "activate", "acme", "--platform", "amazon-de"])
    assert "activated 0" in r.output and "1 were active already" in r.output


def test_a_misspelt_brand_key_stops_the_start_with_a_hint(brands_app):
    import pytest

    from marketd.sdk import ConfigError

    with pytest.raises(ConfigError) as exc:
        brands_app(brands={"x": {"name": "X", "country": "DE", "sku_prefixes": ["X-"], "platfroms": ["amazon-de"]}})
    assert "[brands.x] unknown key 'platfroms': did you mean 'platforms'?" in str(exc.value)
    with pytest.raises(ConfigError, match="sku_prefixes"):
        brands_app(brands={"y": {"name": "Y", "country": "DE"}})
    with pytest.raises(ConfigError, match="a brand id is lower-case"):
        brands_app(brands={"Bad Id": {"name": "Y", "country": "DE", "sku_prefixes": ["Y"]}})


def test_a_sku_claimed_by_two_brands_is_an_error_naming_both(brands_app):
    import pytest

    from marketd.plugins.brands import jobs
    from marketd.sdk import ConfigError

    app = brands_app(brands={"a": {"name": "A", "country": "DE", "sku_prefixes": ["AB"]},
                             "b": {"name": "B", "country": "DE", "sku_prefixes": ["ABC"]}})
    with app.store.transaction() as db:
        db["products"].insert_all([{"sku": "ABC-1", "stock": 1}], pk="sku", alter=True)
    with pytest.raises(ConfigError, match="'ABC-1' matches brands 'a' and 'b'"):
        jobs.refresh_skus(app)


def test_content_errors_block_activation_and_show_in_the_content_report(brands_app, tmp_path):
    from marketd.plugins.brands import activate, jobs, weekly
    from marketd.plugins.brands.settings import brand_of

    app = brands_app()
    with app.store.transaction() as db:
        db["products"].insert_all([{"sku": "ACM-1", "title": "A", "stock": 5}, {"sku": "ACM-3", "title": "C", "stock": 2}],
                                  pk="sku", alter=True)
        # the latest completeness run of the content plugin (its tables, as its report writes them)
        db["content_runs"].insert({"id": 1, "brand": "Acme", "finished_at": "2025-01-01"})
        db["content_runs"].insert({"id": 2, "brand": "Acme", "finished_at": "2025-01-05"})
        db["content_issues"].insert_all([
            {"run_id": 1, "sku": "ACM-3", "platform": "amazon-de", "severity": "ERROR", "rule": "old"},
            {"run_id": 2, "sku": "ACM-1", "platform": "amazon-de", "locale": "de_DE", "attribute": "color",
             "rule": "required", "severity": "ERROR", "message_en": "color is required"}])
    drop(app, tmp_path, "ok.csv", "brand,item,platform,status,date\nacme,approval.granted,amazon-de,,2024-12-01\n"
                                  "acme,amazon.brand_registry,amazon-de,done,\n")
    jobs.refresh_skus(app)
    got = activate.activate(app, "acme", brand_of(app, "acme"), platforms=["amazon-de"])
    assert got["activated"] == [("ACM-3", "amazon-de")]     # run 1's issue is not the latest run's
    assert ("ACM-1", "amazon-de", "content has errors for this platform") in got["skipped"]
    rows = weekly.content_issues(app.store.db, "acme")
    assert rows == [["ACM-1", "amazon-de", "de_DE", "color", "required", "ERROR", "color is required"]]


def test_a_weekly_report_without_a_reports_contact_says_why_nothing_was_mailed(brands_app):
    """A new user ran ``brands report`` before loading contacts and read "0 mail(s) queued", no why."""
    from marketd.cli import cli as main

    app = brands_app()
    cfg = app.config["_path"]
    app.close()
    r = CliRunner().invoke(main, ["--config", cfg, "brands", "report", "acme", "--week", "2024-W52"])
    assert r.exit_code == 0, r.output
    assert "0 mail(s) queued (no 'reports' contact for acme" in r.output and "inbox/onboarding/" in r.output
