"""Notifications: files in inbox/notifications/ (one object, array, JSON Lines, SQS wrapper),
deduplicated on (type, id), each type mapped to its alert; subscriptions set up through the
Amazon channel against the fake Notifications API (checked against notifications.json)."""
from __future__ import annotations

import json

import marketd.plugins.content as content_plugin

from .notification_examples import SHARED_ID, envelope, examples


def test_each_example_gives_its_alert_once_even_when_fed_twice(world):
    w = world()
    first = w.drop("batch.json", json.dumps(examples()), kind="notifications")
    assert first["state"] == "done", first["error"]
    assert first["summary"]["new"] == 6 and first["summary"]["duplicates"] == 0
    # the same notifications again, as JSON Lines of SQS messages (another file, other bytes)
    lines = "\n".join(json.dumps({"MessageId": f"m{i}", "Body": json.dumps(d)}) for i, d in enumerate(examples()))
    second = w.drop("sqs-export.jsonl.json", lines, kind="notifications")
    assert second["state"] == "done"
    assert second["summary"]["new"] == 0 and second["summary"]["duplicates"] == 6
    got = {a["key"].split("|", 2)[2]: (a["severity"], a["occurrences"]) for a in w.alerts()}
    assert got == {
        "A1PA6795UKMFR9|SKU-1|listing_issues": ("high", 1),            # hidden (SEARCH_SUPPRESSED)
        "A1PA6795UKMFR9|SKU-2|listing_status": ("high", 1),            # not buyable
        f"A1PA6795UKMFR9|B0ABCDEF14|branded_content|{SHARED_ID}": ("medium", 1),
        "A1PA6795UKMFR9|B0ABCDEF15|product_type": ("high", 1),
        "|account_status": ("high", 1),                                  # AT_RISK, lower-camel envelope
    }
    assert all(a["account"] == "amz-de" for a in w.alerts())
    assert w.app.store.db.execute("select count(*) from health_notifications").fetchone()[0] == 6
    assert "hidden" in [a["title"] for a in w.alerts() if a["sku"] == "SKU-1"][0]


def test_product_type_definition_changes_reach_the_content_plugin_once(world):
    w = world()
    w.app.plugins.register(content_plugin, "content")
    w.app.migrate()
    ptd = [d for d in examples() if d.get("NotificationType") == "PRODUCT_TYPE_DEFINITIONS_CHANGE"]
    w.drop("a.json", json.dumps(ptd[0]), kind="notifications")
    w.drop("b.json", json.dumps(ptd * 2), kind="notifications")
    rows = list(w.app.store.db.query("select marketplace, models, source from content_model_events"))
    assert len(rows) == 1 and json.loads(rows[0]["models"]) == ["LUGGAGE"]


def test_later_notifications_resolve_and_escalate(world):
    w = world()
    w.drop("1.json", json.dumps(examples()[:2]), kind="notifications")
    back = envelope("LISTINGS_ITEM_STATUS_CHANGED", {"SellerId": "S", "MarketplaceId": "A1PA6795UKMFR9", "Asin": "B0ABCDEF13",
                                                     "Sku": "SKU-2", "Status": ["BUYABLE", "DISCOVERABLE"]}, "n-2")
    clear = envelope("LISTINGS_ITEM_ISSUES_CHANGE", {"SellerId": "S", "MarketplaceId": "A1PA6795UKMFR9", "Sku": "SKU-1",
                                                     "Severities": ["NONE"]}, "n-3", "2023-12-13")
    row = w.drop("2.json", json.dumps([back, clear]), kind="notifications")
    assert row["summary"]["effects"] == {"resolved": 2}   # the _CHANGED spelling is the same type
    assert w.alerts() == []
    deact = envelope("ACCOUNT_STATUS_CHANGED", {"accountStatusChangeNotification": {
        "previousAccountStatus": "AT_RISK", "currentAccountStatus": "DEACTIVATED"}}, "n-4")
    at_risk = json.loads(json.dumps(examples()[5]))
    w.drop("3.json", json.dumps(at_risk), kind="notifications")
    w.drop("4.json", json.dumps(deact), kind="notifications")
    (a,) = w.alerts()
    assert a["severity"] == "critical" and a["occurrences"] == 2
    events = [r["what"] for r in w.app.store.db.query("select what from health_events where alert_id = ? order by id",
                                                       [a["id"]])]
    assert events == ["new", "escalated"]


def test_a_malformed_notification_file_is_refused_and_nothing_is_kept(world):
    w = world()
    good = json.dumps(examples()[0])
    row = w.drop("bad.json", good + "\n{\"NotificationType\": \n", kind="notifications")
    assert row["state"] == "error" and row["error"]["reason"] == "json"
    assert w.app.store.db.execute("select count(*) from health_notifications").fetchone()[0] == 0
    row = w.drop("noenv.json", json.dumps({"hello": 1}), kind="notifications")
    assert row["error"]["reason"] == "notification"


def test_subscriptions_are_set_up_idempotently_through_the_channel(world, amazon_contract):
    from marketd.plugins.health.notifications import setup_subscriptions, subscriptions_status

    w = world()
    arn = "arn:aws:sqs:eu-west-1:123456789012:marketd-health"
    r1 = setup_subscriptions(w.app, "amz-de", arn)
    assert r1["destination"] == "created"
    assert {s["state"] for s in r1["subscriptions"].values()} == {"created"}
    assert len(r1["subscriptions"]) == 6
    assert w.fake.subscriptions["LISTINGS_ITEM_ISSUES_CHANGE"]["payloadVersion"] == "2023-12-13"
    r2 = setup_subscriptions(w.app, "amz-de", arn)
    assert r2["destination"] == "reused" and r2["destination_id"] == r1["destination_id"]
    assert {s["state"] for s in r2["subscriptions"].values()} == {"exists"}
    assert len(w.fake.destinations) == 1
    assert w.fake.count("createSubscription", 409) == 6
    # the fake refuses a seller token for destinations and a grantless one for subscriptions: none refused
    assert w.fake.count("createDestination", 403) == 0 and w.fake.count("createSubscription", 403) == 0
    assert sorted(set(w.fake.token_grants.values())) == ["client_credentials", "refresh_token"]
    status = subscriptions_status(w.app, "amz-de")
    assert status["ACCOUNT_STATUS_CHANGED"]["destinationId"] == r1["destination_id"]


def test_the_fake_refuses_a_seller_token_for_destinations(world):
    w = world()
    api = w.app.channel("amz-de").api
    resp = api.call("GET", "/notifications/v1/destinations", "getDestinations")
    assert resp.status_code == 403


def test_a_listing_alert_carries_the_brand_and_an_asin_is_linked_to_our_sku(world):
    w = world()
    with w.app.store.transaction() as db:
        db.execute("create table products (sku text primary key, brand text)")
        db.execute("insert into products values ('SKU-1', 'Koffermann')")
        db["orders"].insert({"key": "amz-de:O1", "channel": "amz-de", "order_id": "O1",
                             "items": json.dumps([{"sku": "SKU-9", "asin": "B0ABCDEF15", "quantity": 1}])})
    w.drop("n.json", json.dumps([examples()[0], examples()[3]]), kind="notifications")
    by_key = {a["key"].rsplit("|", 1)[1]: a for a in w.alerts()}
    assert by_key["listing_issues"]["brand"] == "Koffermann"
    assert by_key["product_type"]["sku"] == "SKU-9"


def _issue(code, action, status, expiry=None):
    ex = {"status": status, **({"expiryDate": expiry} if expiry else {})}
    return {"code": code, "message": "m", "severity": "ERROR", "attributeNames": ["gpsr_safety_attestation"],
            "categories": ["MISSING_ATTRIBUTE"], "enforcements": {"actions": [{"action": action}], "exemption": ex}}


def test_issue_notifications_read_the_listing_blocked_or_at_risk_until_a_date(world, amazon_contract):
    w = world(channel={"seller_id": "A2FAKESELLER01"})
    for sku, issues in (("SKU-1", [_issue("18155", "LISTING_SUPPRESSED", "EXEMPT_UNTIL_EXPIRY_DATE",
                                          "2026-12-13T00:00:00Z")]),
                        ("SKU-2", [_issue("18155", "LISTING_SUPPRESSED", "NOT_EXEMPT"),
                                   _issue("90220", "SEARCH_SUPPRESSED", "EXEMPT_UNTIL_EXPIRY_DATE", "2026-12-20T00:00:00Z")]),
                        ("SKU-3", [_issue("99300", "ATTRIBUTE_SUPPRESSED", "EXEMPT")])):
        w.fake.put_item({"sku": sku, "summaries": [{"marketplaceId": "A1PA6795UKMFR9", "asin": f"B0{sku[-1]}0000000",
                                                    "productType": "LUGGAGE", "status": ["DISCOVERABLE"],
                                                    "createdDate": "2026-11-01T00:00:00Z", "lastUpdatedDate": "2026-11-01T00:00:00Z"}],
                         "issues": issues})
    notes = [envelope("LISTINGS_ITEM_ISSUES_CHANGE", {"SellerId": "A3TH9S8BH6GOGM", "MarketplaceId": "A1PA6795UKMFR9",
                                                      "Sku": sku, "Severities": ["ERROR"],
                                                      "EnforcementActions": ["LISTING_SUPPRESSED"]}, f"i-{sku}", "2023-12-13")
             for sku in ("SKU-1", "SKU-2", "SKU-3")]
    w.drop("issues.json", json.dumps(notes), kind="notifications")
    got = {a["sku"]: (a["severity"], a["title"].split(" (")[0]) for a in w.alerts()}
    assert got == {"SKU-1": ("medium", "listing SKU-1 at risk until 2026-12-13"),
                   "SKU-2": ("high", "listing SKU-2 blocked"),
                   "SKU-3": ("low", "listing SKU-3 enforcement not applied")}
    assert w.fake.count("searchListingsItems") == 1          # one read for the three SKUs, before the store
