"""A listing Amazon announces as changed is audited now (issue 12 item 7 with issue 14's
notifications): LISTINGS_ITEM_ISSUES_CHANGE / LISTINGS_ITEM_STATUS_CHANGE dropped into
``inbox/notifications/`` (account health ingests them) reach the content plugin through the
``listing_changed`` hook; the ``listings-audit`` job pulls only that SKU from the fake SP-API and
writes its deviations. The two plugins never import each other."""
from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

import marketd.plugins.amazon as amazon_plugin
import marketd.plugins.health as health_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.amazon.settings import env_name
from marketd.sdk.testing import process_file, run_job

from tests.content.conftest import ContentWorld
from tests.health.notification_examples import envelope

from .conftest import CREDS, DE, ENDPOINT, MAPPING, SELLER, checked, sku_row
from .test_audit import DEPARTMENT

FOLDER = ("reports", "listings", "ACME", "amazon_de")


@pytest.fixture
def world(tmp_path, fake, clock, monkeypatch):
    for what, value in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("amz", what), value)
    platforms = {"amazon_de": {"type": "amazon", "marketplace": "DE", "marketplace_id": DE, "locales": ["de_DE"],
                               "channel": "amz", "gpsr": False, "main_image_rules": False}}
    w = ContentWorld(tmp_path, platforms=platforms, clock=clock,
                     inbox={"images": {"download": False}, "listings": {"allow": {"amazon_de": ["ACME"]}}},
                     extra_plugins={"amazon": amazon_plugin, "settlements": settlements_plugin, "health": health_plugin},
                     channels={"amz": {"type": "amazon", "marketplace": "DE", "endpoint": ENDPOINT,
                                       "seller_id": SELLER, "lwa_endpoint": "https://api.amazon.com/auth/o2/token",
                                       "transport": httpx.WSGITransport(app=fake)}})
    w.write_model("mapping.toml", MAPPING)
    yield w
    w.close()


def notify(w, name: str, doc: dict) -> dict:
    folder = w.app.inbox_dir / "notifications"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return process_file(w.app, "notifications", path)


def issues_change(sku: str, nid: str, marketplace: str = DE) -> dict:
    return envelope("LISTINGS_ITEM_ISSUES_CHANGE", {"SellerId": SELLER, "MarketplaceId": marketplace, "Asin": "B0X",
                                                    "Sku": sku, "Severities": ["ERROR"],
                                                    "EnforcementActions": ["SEARCH_SUPPRESSED"]}, nid, "2023-12-13")


def status_change(sku: str, nid: str) -> dict:
    return envelope("LISTINGS_ITEM_STATUS_CHANGE", {"SellerId": SELLER, "MarketplaceId": DE, "Asin": "B0Y", "Sku": sku,
                                                    "CreatedDate": "2026-11-20T08:00:00Z", "Status": ["DISCOVERABLE"]}, nid)


def scoped_reports(w) -> list[list[dict]]:
    folder = w.app.outbox_dir.joinpath(*FOLDER)
    return [list(csv.DictReader(io.StringIO(p.read_text(encoding="utf-8"))))
            for p in sorted(folder.glob("deviations-*-skus.csv"))] if folder.is_dir() else []


def searches(fake) -> list[list[str]]:
    return [c.query.get("identifiers") for c in fake.calls if c.operation == "searchListingsItems"]


def test_notified_listing_is_pulled_and_audited_alone(world, fake, clock):
    checked(world, [sku_row(n) for n in range(1, 4)])
    run_job(world.app, "listings-push")
    clock.advance(120)
    run_job(world.app, "listings-push")
    assert sorted(fake.listings) == ["K001", "K002", "K003"]
    assert run_job(world.app, "listings-audit") is None and scoped_reports(world) == []   # nothing announced

    fake.set_issues("K002", [DEPARTMENT])
    fake.edit_listing("K003", title="Koffer Hartschale 55 cm 3")          # the colour dropped: not announced yet
    notify(world, "n1.json", issues_change("K002", "n-1"))
    db = world.app.store.db
    assert [(r["sku"], r["reason"], r["handled_at"]) for r in db.query("select * from listing_audit_requests")] == \
        [("K002", "LISTINGS_ITEM_ISSUES_CHANGE", None)]
    before = len(searches(fake))
    assert run_job(world.app, "listings-audit") is None
    assert searches(fake)[before:] == [["K002"]]                          # only the announced SKU is pulled
    [rows] = scoped_reports(world)
    assert [(r["sku"], r["rule"], r["state"], r["field"]) for r in rows] == [("K002", "audit.issue.90220", "hidden",
                                                                            "department")]
    assert db.execute("select count(*) from listing_audit_requests where handled_at is null").fetchone()[0] == 0

    # the same notification again (Amazon delivers at least once): no second audit
    notify(world, "n1-again.json", issues_change("K002", "n-1"))
    run_job(world.app, "listings-audit")
    assert len(searches(fake)) == before + 1 and len(scoped_reports(world)) == 1

    # a status change for K003: its deviation is found, K002's stays open (not closed by a scoped audit)
    clock.advance(60)
    notify(world, "n2.json", status_change("K003", "n-2"))
    run_job(world.app, "listings-audit")
    assert searches(fake)[-1] == ["K003"]
    rows = scoped_reports(world)[-1]
    assert {(r["sku"], r["rule"]) for r in rows} == {("K003", "audit.title.key_token")}
    open_rows = {(r["sku"], r["rule"]) for r in db.query("select * from listing_deviations where open = 1")}
    assert open_rows == {("K002", "audit.issue.90220"), ("K003", "audit.title.key_token")}


def test_other_marketplace_and_failed_pull(world, fake, clock):
    checked(world, [sku_row(1)])
    run_job(world.app, "listings-push")
    clock.advance(120)
    run_job(world.app, "listings-push")
    # a notification for another marketplace: no platform audits it, the request is closed with why
    notify(world, "fr.json", issues_change("K001", "n-fr", marketplace="A13V1IB3VIYZZH"))
    before = len(searches(fake))
    run_job(world.app, "listings-audit")
    assert len(searches(fake)) == before
    r = next(iter(world.app.store.db.query("select * from listing_audit_requests")))
    assert r["handled_at"] and json.loads(r["result"]) == {"audited": False, "why": "no pulled platform matches"}
    # Amazon down while auditing: the request stays pending and is done on the next run
    notify(world, "de.json", issues_change("K001", "n-de"))
    fake.fail_next("searchListingsItems", 500, times=10)
    run_job(world.app, "listings-audit")
    pending = world.app.store.db.execute("select count(*) from listing_audit_requests where handled_at is null")
    assert pending.fetchone()[0] == 1
    fake.faults.clear()
    clock.advance(60)
    run_job(world.app, "listings-audit")
    assert world.app.store.db.execute("select count(*) from listing_audit_requests where handled_at is null"
                                      ).fetchone()[0] == 0
