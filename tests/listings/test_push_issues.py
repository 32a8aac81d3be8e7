"""The platforms' answers to a listings push, per SKU in the completeness report (issue 12:
Amazon's feed processing report issues, eBay's offer errors, ManoMano's per-SKU errors)."""
from __future__ import annotations

import csv
import io

from marketd.plugins.amazon.fake_ptd import luggage_schema
from marketd.plugins.content.push_issues import push_issues
from marketd.plugins.content.records import Product
from marketd.sdk.testing import run_job

from tests.content.conftest import table

from .conftest import checked, sku_row


def report(w, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO((w.last_dir("ACME") / name).read_text(encoding="utf-8"))))


def test_feed_issues_show_per_sku_and_do_not_hold_the_fixed_sku_back(world, fake, clock):
    rows = [sku_row(n) for n in range(1, 5)] + [sku_row(n, color="") for n in (5, 6)]
    checked(world, rows)
    schema = luggage_schema()                       # Amazon now requires colour: two SKUs come back invalid
    schema["required"] = schema["required"] + ["color"]
    fake.set_product_type("LUGGAGE", schema)
    run_job(world.app, "listings-push")
    clock.advance(120)
    run_job(world.app, "listings-push")

    # the next completeness run (here: K006 gets its colour) lists the feed's answer per SKU
    rows[5] = sku_row(6, color="Rot")
    world.drop(table(rows))
    got = [i for i in report(world, "issues.csv") if i["rule"].startswith("push.")]
    assert [(i["sku"], i["platform"], i["rule"], i["attribute"], i["severity"], i["value_found"]) for i in got] == [
        ("K005", "amazon_de", "push.content.90220", "color", "ERROR", "90220"),
        ("K006", "amazon_de", "push.content.90220", "color", "ERROR", "90220")]
    assert "amazon_de" in got[0]["message_en"] and "invalid" in got[0]["message_en"]
    matrix = {r["sku"]: r for r in report(world, "matrix.csv")}
    assert matrix["K005"]["blocking"] == "amazon_de" and matrix["K001"]["blocking"] == ""

    # the gate does not hold K006 back for Amazon's old answer: its new content goes out
    run_job(world.app, "listings-push")
    clock.advance(120)
    run_job(world.app, "listings-push")
    state = {r["sku"]: r["state"] for r in world.app.store.db.query("select sku, state from listing_pushes")}
    assert state["K006"] == "accepted" and state["K005"] == "invalid"
    rows[0] = sku_row(1, title_de="Koffer Hartschale 55 cm Blau eins")   # a new input: compared with the last run
    world.drop(table(rows))
    diff = {(r["status"], r["sku"], r["rule"]) for r in report(world, "diff.csv") if r["rule"].startswith("push.")}
    assert diff == {("fixed", "K006", "push.content.90220"), ("still_open", "K005", "push.content.90220")}


def test_each_platforms_answer_shape_becomes_an_issue(world):
    """eBay's errors (errorId, category) and ManoMano's 207 entries as the channels store them."""
    db = world.app.store.db
    with world.app.store.transaction() as tx:
        for platform, sku, kind, state, issues in [
                ("ebay_de", "E1", "content", "invalid",
                 '[{"attribute": "Abteilung", "code": "25029", "message": "Abteilung is missing.", "severity": "ERROR"}]'),
                ("ebay_de", "E2", "offer", "accepted",
                 '[{"attribute": "", "code": "25401", "message": "Price close to the limit.", "severity": "WARNING"}]'),
                ("manomano_fr", "E1", "offer", "invalid",
                 '[{"attribute": "", "code": "offer.not.found", "message": "unknown SKU", "severity": ""}]'),
                ("manomano_fr", "E3", "offer", "accepted", "[]")]:
            tx["listing_pushes"].insert({"platform": platform, "sku": sku, "kind": kind, "state": state, "issues": issues})
    products = {s: Product(s, 1, {"parent_sku": "P1" if s == "E1" else ""}) for s in ("E1", "E2", "E3")}
    got = [(i.sku, i.platform, i.rule, i.severity, i.attribute, i.parent_sku) for i in push_issues(db, products)]
    assert got == [("E1", "ebay_de", "push.content.25029", "ERROR", "Abteilung", "P1"),
                   ("E2", "ebay_de", "push.offer.25401", "WARNING", "", ""),
                   ("E1", "manomano_fr", "push.offer.offer_not_found", "ERROR", "", "P1")]
    assert push_issues(db, {"OTHER": products["E1"]}) == []
