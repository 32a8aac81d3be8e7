"""Seller performance: the report fetched through the Amazon channel (fake SP-API checked against
the Reports model), parsed tolerantly, alerts raised once and resolved when the next report clears."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from jsonschema import Draft7Validator

from marketd.plugins.amazon.fake_health import good_account_health
from marketd.plugins.health import performance

from .conftest import schema_example


def by_title(alerts):
    return {a["title"].split(":")[0].split(" is ")[0].split(" beyond")[0]: a["severity"] for a in alerts}


def test_the_schema_example_parses_and_gives_the_expected_alerts(world):
    w = world()
    row = w.drop("perf.json", schema_example())
    assert row["state"] == "done", row["error"]
    assert "accountStatuses.status=SUSPENDED" in row["summary"]["unknown_values"]
    got = {(a["marketplace"], a["key"].split("|", 3)[3]): a["severity"] for a in w.alerts()}
    assert got[("ATVPDKIKX0DER", "status")] == "high"                      # AT_RISK
    assert got[("A1AM78C64UM0Y8", "status")] == "critical"                 # SUSPENDED (unknown)
    assert ("A2EUQ1WTGCTBG2", "status") not in got                         # NORMAL
    assert got[("ATVPDKIKX0DER", "unitOnTimeDeliveryRate|")] == "medium"   # 0.8848 vs > 0.9, Amazon says GOOD
    assert got[("ATVPDKIKX0DER", "listingPolicyViolations")] == "high"     # 86, BAD
    assert got[("ATVPDKIKX0DER", "documentRequests")] == "medium"          # alias documentRequest, 8, GOOD
    assert got[("ATVPDKIKX0DER", "warning|spammingSellerMessaging")] == "high"
    assert got[("ATVPDKIKX0DER", "rating")] == "high"                      # ahrStatus WARNED
    assert ("ATVPDKIKX0DER", "lateShipmentRate|") not in got               # 0.032 < 0.04
    metrics = {r["metric"] for r in w.app.store.db.query("select metric from health_metrics")}
    assert "preFulfillmentCancellationRate" in metrics                     # alias prefulfillmentCancelRate
    csv = (w.app.outbox_dir / "health").rglob("performance-*.csv")
    assert len(list(csv)) == 1


def test_breach_per_target_condition_is_exact_decimal():
    def m(rate, target, cond):
        return performance.Metric("M", "x", "", "GOOD", Decimal(rate), Decimal(target), cond, None, "", "", {})
    assert performance.breach(m("0.04", "0.04", "LESS_THAN")) is True
    assert performance.breach(m("0.0399", "0.04", "LESS_THAN")) is False
    assert performance.breach(m("0.9", "0.9", "GREATER_THAN")) is True
    assert performance.breach(m("0.9", "0.9", "LESS_THAN_OR_EQUAL")) is False
    assert performance.breach(m("0.91", "0.9", "LESS_THAN_OR_EQUAL")) is True
    assert performance.breach(m("0.1", "0.9", "SOMETHING_NEW")) is None


def test_an_airbyte_like_report_with_green_and_missing_blocks_raises_nothing(world):
    w = world()
    doc = {"accountStatuses": [{"marketplaceId": "A1PA6795UKMFR9", "status": "NORMAL"}],
           "performanceMetrics": [{"marketplaceId": "A1PA6795UKMFR9",
                                   "accountHealthRating": {"ahrStatus": "GREEN", "ahrScore": 1000},
                                   "lateShipmentRate": {"status": "GOOD", "rate": 0.01, "targetValue": 0.04,
                                                        "targetCondition": "LESS_THAN_OR_EQUAL"}}]}
    row = w.drop("airbyte.json", json.dumps(doc))
    assert row["state"] == "done"
    assert w.alerts() == []
    only_statuses = {"accountStatuses": [{"marketplaceId": "A1PA6795UKMFR9", "status": "NORMAL"}]}
    assert w.drop("statuses-only.json", json.dumps(only_statuses))["state"] == "done"


@pytest.mark.parametrize("data,reason", [(b"{not json", "json"), (b'{"reportType": "x"}', "not_performance_report")])
def test_a_file_that_is_no_performance_report_is_refused_with_a_reason(world, data, reason):
    w = world()
    row = w.drop("bad.json", data)
    assert row["state"] == "error" and row["error"]["reason"] == reason
    assert list((w.app.inbox_dir / "health").rglob("*bad.json.error.txt"))


def test_the_fakes_document_follows_the_official_schema():
    from datetime import datetime, timezone

    from tests.fakes.specs import require_amazon_specs

    schema = json.loads((require_amazon_specs() / "accountHealthReport-2020-11-18.json").read_text())
    doc = good_account_health("A1PA6795UKMFR9", datetime(2026, 11, 30, tzinfo=timezone.utc))
    errors = [e.message for e in Draft7Validator(schema).iter_errors(doc)]
    assert errors == []


def test_fetched_through_the_channel_stored_alerted_once_and_resolved(world):
    w = world(jobs={"health-reports": {"kinds": ["performance"]}})
    w.fake.set_account_status("AT_RISK")
    w.fake.set_metric("lateShipmentRate", status="BAD", rate=0.071)
    w.run("health-reports")                                   # requested; Amazon still working
    assert [r["state"] for r in w.app.store.db.query("select state from health_requests")] == ["pending"]
    w.clock.advance(200)
    w.run("health-reports")                                   # collected into inbox/health/
    rows = w.process_inbox()
    assert [r["state"] for r in rows] == ["done"]
    assert rows[0]["name"].startswith("amazon-amz-de-performance-")
    titles = sorted(a["key"].split("|", 3)[3] for a in w.alerts())
    assert titles == ["lateShipmentRate|", "status"]
    assert all(a["account"] == "amz-de" for a in w.alerts())
    assert w.fake.count("createReport") == 1

    # a day later, the same document: the inbox takes it as a duplicate, nothing changes
    w.clock.advance(24 * 3600 + 1)
    w.run("health-reports")
    w.clock.advance(200)
    w.run("health-reports")
    assert [r["state"] for r in w.process_inbox()] == ["duplicate"]
    # the next day the rate moved but is still BAD: the same two alerts, seen twice, no new events
    w.fake.set_metric("lateShipmentRate", rate=0.072)
    w.clock.advance(24 * 3600 + 1)
    w.run("health-reports")
    w.clock.advance(200)
    w.run("health-reports")
    assert [r["state"] for r in w.process_inbox()] == ["done"]
    assert [a["occurrences"] for a in w.alerts()] == [2, 2]
    assert w.app.store.db.execute("select count(*) from health_events").fetchone()[0] == 2

    # Amazon clears the account: both alerts resolve
    w.fake.account_health = None
    w.clock.advance(24 * 3600 + 1)
    w.run("health-reports")
    w.clock.advance(200)
    w.run("health-reports")
    w.process_inbox()
    assert w.alerts() == []
    assert len(w.alerts(state_open=False)) == 2
    history = w.app.store.db.execute("select count(distinct reporting_to) from health_metrics where metric = "
                                     "'lateShipmentRate'").fetchone()[0]
    assert history >= 1


def test_status_section_shows_open_alerts_and_the_report_state(world):
    from marketd.plugins.health.status import section

    w = world()
    w.drop("perf.json", schema_example())
    lines = section(w.app)["health"]
    assert lines[0] == "13 open alert(s): 1 critical, 10 high, 2 medium"


def test_a_report_amazon_no_longer_knows_is_marked_failed_and_asked_for_again(world):
    w = world(jobs={"health-reports": {"kinds": ["performance"], "every_hours": 1}})
    w.run("health-reports")
    (rid,) = [r["request_id"] for r in w.app.store.db.query("select request_id from health_requests")]
    w.fake.reports.pop(rid)                                   # getReport now answers 404
    w.clock.advance(200)
    w.run("health-reports")
    states = [r["state"] for r in w.app.store.db.query("select state from health_requests order by id")]
    assert states == ["failed"]
    w.clock.advance(3600)
    w.run("health-reports")
    states = [r["state"] for r in w.app.store.db.query("select state from health_requests order by id")]
    assert states == ["failed", "pending"]
