"""Remote listings pulled and audited against the supplied content (issue 12 items 6–7;
research §7 items 9 and 11)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from marketd.plugins.content.listings import audit
from marketd.sdk.testing import run_job

from .conftest import checked, sku_row

DEPARTMENT = {"code": "90220", "message": "Department Name is required but was not provided.", "severity": "ERROR",
              "attributeNames": ["department"], "categories": ["MISSING_ATTRIBUTE"],
              "enforcements": {"actions": [{"action": "SEARCH_SUPPRESSED"}], "exemption": {"status": "NOT_EXEMPT"}}}


def deviations(w) -> list[dict]:
    files = sorted((w.app.outbox_dir / "reports" / "listings" / "ACME" / "amazon_de").glob("deviations-*.csv"))
    assert files, "no deviations report"
    return list(csv.DictReader(io.StringIO(files[-1].read_text(encoding="utf-8"))))


def test_pull_and_audit_report_one_row_per_deviation(world, fake, clock):
    checked(world, [sku_row(n) for n in range(1, 9)])
    run_job(world.app, "listings-push")
    clock.advance(120)
    run_job(world.app, "listings-push")
    assert len(fake.listings) == 8
    fake.edit_listing("K001", title="ACME Koffer Hartschale 55cm blau 1")    # normalised: the same title
    fake.edit_listing("K002", title="Koffer Hartschale 55 cm 2")             # the colour dropped
    fake.edit_listing("K003", product_type="SUITCASE")                     # moved to another product type
    fake.edit_listing("K004", price=Decimal("129.92"))                     # +0.02: beyond the tolerance
    fake.edit_listing("K005", price=Decimal("129.91"))                     # +0.01: within it
    fake.edit_listing("K006", main_image="https://img.example/k6-b.jpg")   # the second image shown first
    fake.set_issues("K007", [DEPARTMENT])

    assert run_job(world.app, "listings-pull") is None
    db = world.app.store.db
    remote = {r["sku"]: r for r in db.query("select * from remote_listings")}
    assert len(remote) == 8 and all(r["present"] == 1 for r in remote.values())
    assert remote["K001"]["live"] == 1 and remote["K001"]["first_live_at"]
    assert remote["K004"]["price"] == "129.92"
    rows = deviations(world)
    got = {(r["sku"], r["rule"]) for r in rows}
    assert got == {("K002", "audit.title.key_token"), ("K003", "audit.category"), ("K004", "audit.price"),
                   ("K006", "audit.image.order"), ("K007", "audit.issue.90220")}
    k3 = next(r for r in rows if r["sku"] == "K003")
    assert (k3["platform_shows"], k3["should_show"], k3["severity"]) == ("SUITCASE", "LUGGAGE", "ERROR")
    k7 = next(r for r in rows if r["sku"] == "K007")
    assert (k7["state"], k7["field"], k7["severity"]) == ("hidden", "department", "ERROR")
    assert rows[0]["severity"] == "ERROR" and rows[-1]["severity"] == "WARNING"   # sorted by severity
    assert k3["listing_url"].startswith("https://www.amazon.de/dp/B0")
    assert (world.app.outbox_dir / "reports" / "listings" / "ACME" / "amazon_de").glob("deviations-*.xlsx")

    # the price is fixed on Amazon: that deviation closes, the others keep their first_seen
    first = {(r["sku"], r["rule"]): r["first_seen"] for r in rows}
    fake.edit_listing("K004", price=Decimal("129.90"))
    clock.advance(86400)
    run_job(world.app, "listings-pull")
    again = deviations(world)
    assert ("K004", "audit.price") not in {(r["sku"], r["rule"]) for r in again}
    assert all(first[(r["sku"], r["rule"])] == r["first_seen"] for r in again)
    closed = db.execute("select open from listing_deviations where sku = 'K004' and rule = 'audit.price'").fetchone()
    assert closed[0] == 0


def test_title_normalisation_examples():
    assert audit.title_similarity("Koffer Hartschale 55 cm Blau", "BrandX Koffer Hartschale 55cm blau", "BrandX") == 1.0
    assert audit.check_title("Koffer Hartschale 55 cm Blau", "Koffer Hartschale 55cm blau", brand="",
                             key_tokens=["Blau"], threshold=0.85) == []
    dropped = audit.check_title("Koffer Hartschale 55 cm Blau", "Koffer Hartschale 55 cm", brand="",
                                key_tokens=["Blau"], threshold=0.85)
    assert [d["rule"] for d in dropped] == ["audit.title.key_token"]      # Dice 6/7 = 0.857: no warning
    far = audit.check_title("Koffer Hartschale 55 cm Blau", "Reisegepäck Trolley", brand="", key_tokens=[],
                            threshold=0.85)
    assert [d["rule"] for d in far] == ["audit.title.similarity"]
    # a truncated title is not "the same" (token-set ratios would score it 1.0)
    assert audit.title_similarity("Koffer Hartschale 55 cm Blau mit Rollen", "Koffer Hartschale") < 0.85


def test_price_tolerance_is_decimal():
    assert audit.check_price(Decimal("129.90"), Decimal("129.91"), "EUR", Decimal("0.01")) == []
    assert [d["rule"] for d in audit.check_price(Decimal("129.90"), Decimal("129.92"), "EUR", Decimal("0.01"))] == \
        ["audit.price"]


def test_cut_out_first_where_a_model_photo_belongs():
    ours = ["https://i/model.jpg", "https://i/cutout.jpg"]
    kinds = {"https://i/model.jpg": "model", "https://i/cutout.jpg": "packshot"}
    devs = audit.check_image(ours, kinds, "https://i/cutout.jpg", "model")
    assert {(d["rule"], d["severity"]) for d in devs} == {("audit.image.order", "WARNING"), ("audit.image.kind", "ERROR")}
    assert audit.check_image(ours, kinds, "https://i/model.jpg", "model") == []
    assert [d["rule"] for d in audit.check_image(ours, kinds, "", "model")] == ["audit.image.missing"]


def _sandbox_issues():
    from tests.fakes.specs import require_amazon_specs

    doc = json.loads((require_amazon_specs() / "listingsItems_2021-08-01.json").read_text(encoding="utf-8"))
    op = doc["paths"]["/listings/2021-08-01/items/{sellerId}/{sku}"]["get"]
    return op["responses"]["200"]["x-amzn-api-sandbox"]["static"][0]["response"]["issues"]


@pytest.mark.parametrize("now, state_18027", [(datetime(2025, 1, 1, tzinfo=timezone.utc), "at_risk"),
                                              (datetime(2025, 6, 1, tzinfo=timezone.utc), "hidden")])
def test_spec_sandbox_listing_issue_states(now, state_18027):
    states = {d["rule"].rsplit(".", 1)[-1]: d["state"] for d in audit.check_issues(_sandbox_issues(), now)}
    assert states == {"90220": "issue", "18027": state_18027, "99300": "info", "18155": "blocked",
                      "18742": "blocked"}
    devs = audit.check_issues(_sandbox_issues(), now)
    assert audit.listing_state(devs) == "blocked"
    at_risk = next(d for d in devs if d["rule"].endswith("18027"))
    assert ("at risk until 2025-05-28" in at_risk["message_en"]) == (state_18027 == "at_risk")


def test_department_example_gives_exactly_one_hidden_finding():
    devs = audit.check_issues([DEPARTMENT], datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert [(d["state"], d["field"], d["severity"]) for d in devs] == [("hidden", "department", "ERROR")]
