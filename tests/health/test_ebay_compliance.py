"""eBay listing health: the health-reports job reads listing violations through the eBay channel
(Compliance API, the fake checked against sell_compliance_v1_oas3.json), the inbox turns them into
alerts, and a later read without the violation resolves them."""
from __future__ import annotations

import httpx

import marketd.plugins.ebay as ebay_plugin
import marketd.plugins.health as health_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.clock import FakeClock
from marketd.plugins.ebay.fake import SCOPE_FINANCES, SCOPE_FULFILLMENT, SCOPE_INVENTORY, EbayFake
from marketd.plugins.ebay.settings import env_name
from marketd.sdk.testing import make_app, process_file, run_job

CREDS = ("Shop-Marketd-PRD-1a2b3c4d5", "PRD-test-cert-id-0123", "v^1.1#i^1#test-refresh-token")


def test_violations_fetched_paged_alerted_and_resolved(tmp_path, monkeypatch, ebay_contract):
    clock = FakeClock()
    fake = EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], contract=ebay_contract,
                    granted_scopes=(SCOPE_FULFILLMENT, SCOPE_FINANCES, SCOPE_INVENTORY), marketplace="EBAY_DE")
    for i in range(250):                                  # more than one page of 200
        fake.add_violation(listing_id=f"11{i:08d}", sku=f"SKU-{i}", state="AT_RISK" if i % 2 else "OUT_OF_COMPLIANCE")
    for what, v in zip(("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"), CREDS):
        monkeypatch.setenv(env_name("ebay-de", what), v)
    app = make_app(tmp_path, {"ebay": ebay_plugin, "health": health_plugin, "settlements": settlements_plugin},
                   clock=clock, channels={"ebay-de": {"type": "ebay", "marketplace": "EBAY_DE", "compliance_fetch": True,
                                                      "endpoint": "https://api.ebay.com",
                                                      "transport": httpx.WSGITransport(app=fake)}},
                   jobs={"health-reports": {"accounts": ["ebay-de"], "kinds": ["compliance"]}})
    try:
        assert run_job(app, "health-reports") is None
        files = sorted((app.inbox_dir / "health").glob("ebay-ebay-de-compliance-*.json"))
        assert len(files) == 1
        row = process_file(app, "health", files[0])
        assert row["state"] == "done", row["error"]
        assert row["summary"]["listings"] == 250
        sev = [r[0] for r in app.store.db.execute("select severity from health_alerts where state = 'open'")]
        assert sev.count("high") == 125 and sev.count("medium") == 125
        assert fake.count("getListingViolations") == 2
        assert fake.violations == [] and fake.response_violations == []

        for i in range(1, 250):
            fake.clear_violations(f"11{i:08d}")
        clock.advance(25 * 3600)
        assert run_job(app, "health-reports") is None
        new = [p for p in sorted((app.inbox_dir / "health").glob("ebay-*.json")) if p != files[0]]
        process_file(app, "health", new[-1])
        open_ = [r[0] for r in app.store.db.execute("select sku from health_alerts where state = 'open'")]
        assert open_ == ["SKU-0"]
    finally:
        for ch in (app._channels or {}).values():
            ch.close()
        app.close()
