"""Contracts of what Amazon sends us, against the official models in shared/specs/amazon:
the compact contracts the drift count uses are the official files reduced (so they cannot drift
from them unnoticed), the hand-made notification examples keep the official envelope, the parser
knows every block of the account-health schema, and schema drift is counted, never refused.
Without the models: skipped with the reason locally, failed under CI=true."""
from __future__ import annotations

import json

import pytest
from jsonschema import Draft7Validator

from marketd.plugins.health import contract_data, drift, performance

from .contract_reduce import envelope_contract, reduce_schema
from .notification_examples import DOCS, envelope, examples


@pytest.fixture
def specs():
    from tests.fakes.specs import require_amazon_specs
    from tests.needs import unavailable

    d = require_amazon_specs()
    for name in ("accountHealthReport-2020-11-18.json", "OrderChangeNotification.json", "notifications.json"):
        if not (d / name).is_file():
            unavailable(f"{d / name} not found: the health contract tests need it")
    return d


def _load(specs, name):
    return json.loads((specs / name).read_text(encoding="utf-8"))


def test_the_compact_contracts_are_the_official_models_reduced(specs):
    ahr = _load(specs, "accountHealthReport-2020-11-18.json")
    assert contract_data.ACCOUNT_HEALTH_REPORT == reduce_schema(ahr, ahr), \
        "regenerate plugins/health/contract_data.py: python -m tests.health.contract_reduce"
    assert contract_data.NOTIFICATION_ENVELOPE == envelope_contract(_load(specs, "OrderChangeNotification.json"))


def test_the_parser_reads_every_metric_block_the_schema_defines(specs):
    ahr = _load(specs, "accountHealthReport-2020-11-18.json")
    blocks = set(ahr["properties"]["performanceMetrics"]["items"]["properties"])
    read = ({"marketplaceId", "orderDefectRate", "warningStates", "accountHealthRating"}
            | set(performance.RATE_METRICS) | set(performance.LISTING_BLOCKS))
    assert blocks - read == set(), "a block of the official schema that the parser does not read"
    assert read - blocks == set(), "the parser reads a block the schema does not have (an alias belongs in ALIASES)"
    enum = ahr["definitions"]["TargetCondition"]["enum"]
    for cond in enum:   # every official condition is judged, none left as "cannot tell"
        m = performance.Metric("M", "lateShipmentRate", "", "GOOD", None, None, cond, None, "", "", {})
        m.rate, m.target = performance.Decimal("0.05"), performance.Decimal("0.04")
        assert performance.breach(m) is not None, cond


def test_a_document_valid_against_the_schema_has_no_drift_and_the_official_example_has_some(specs, world):
    from marketd.plugins.amazon.fake_health import good_account_health
    from datetime import datetime, timezone

    ahr = _load(specs, "accountHealthReport-2020-11-18.json")
    valid = good_account_health("A1PA6795UKMFR9", datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert list(Draft7Validator(ahr).iter_errors(valid)) == []
    # JSON Schema lets extra keys pass; the drift count names them (the fake writes `ahrStatus` as
    # real documents do), but a valid document has no type or enum deviation
    assert set(drift.account_health(valid)) == {
        "$.performanceMetrics[].accountHealthRating.ahrStatus: not in the contract",
        "$.performanceMetrics[].orderDefectRate.afn.fulfillmentType: not in the contract",
        "$.performanceMetrics[].orderDefectRate.mfn.fulfillmentType: not in the contract"}
    example = ahr["examples"][0]        # breaks its own schema (SUSPENDED, prefulfillmentCancelRate …)
    errors = list(Draft7Validator(ahr).iter_errors(example))
    found = drift.account_health(example)
    assert errors and sum(found.values()) >= 1
    assert any("SUSPENDED" in p for p in found)
    w = world()
    row = w.drop("perf.json", json.dumps(example))
    assert row["state"] == "done" and row["summary"]["schema_drift"] == sum(found.values())
    page = w.app.outbox_dir / "health"
    from marketd.plugins.health.page import write_pages

    write_pages(w.app)
    html = next(page.rglob("index.html")).read_text()
    assert f"schema drift: {sum(found.values())}" in html


def test_hand_made_notifications_keep_the_official_envelope_and_cite_their_page(specs):
    oc = _load(specs, "OrderChangeNotification.json")
    env = {**oc, "properties": {**oc["properties"], "Payload": {"type": "object"}}}
    for doc in examples():
        ntype = doc.get("NotificationType") or doc.get("notificationType")
        assert ntype in DOCS and DOCS[ntype].startswith("https://developer-docs.amazon.com/sp-api/"), ntype
        raised = {(k[:1].upper() + k[1:]): v for k, v in doc.items()}
        raised["NotificationMetadata"] = {(k[:1].upper() + k[1:]): v for k, v in raised["NotificationMetadata"].items()}
        assert [e.message for e in Draft7Validator(env).iter_errors(raised)] == [], ntype
        assert drift.notification(doc, ntype) == {}, ntype


def test_the_official_order_change_example_is_taken_once_without_an_alert(specs, world):
    example = _load(specs, "OrderChangeNotification.json")["examples"][0]
    assert list(Draft7Validator(_load(specs, "OrderChangeNotification.json")).iter_errors(example)) == []
    w = world()
    first = w.drop("order-change.json", json.dumps(example), kind="notifications")
    again = w.drop("order-change-again.json", json.dumps([example]), kind="notifications")
    assert first["state"] == "done" and first["summary"]["new"] == 1 and first["summary"]["schema_drift"] == 0
    assert again["summary"]["new"] == 0 and again["summary"]["duplicates"] == 1
    assert w.app.store.db.execute("select count(*) from health_alerts").fetchone()[0] == 0


def test_the_subscribed_types_are_the_ones_with_a_payload_contract():
    from marketd.plugins.health.notifications import TYPES

    assert set(TYPES) == set(drift.PAYLOADS) == set(DOCS)


def test_drifted_notifications_are_counted_taken_and_shown(world):
    doc = envelope("ITEM_PRODUCT_TYPE_CHANGE", {"MarketplaceId": "A1PA6795UKMFR9", "Asin": "B0DRIFT001",
                                                "PreviousProductType": "LUGGAGE", "CurrentProductType": 7,
                                                "ChangeReason": "catalog cleanup"}, "drift-1")
    w = world()
    row = w.drop("n.json", json.dumps([doc]), kind="notifications")
    assert row["state"] == "done" and row["summary"]["new"] == 1
    assert row["summary"]["schema_drift"] == 2          # a new field and a number where a string goes
    again = w.drop("n2.json", json.dumps([doc], indent=1), kind="notifications")
    assert again["summary"]["schema_drift"] == 0        # a duplicate is not counted twice
    (n, paths) = w.app.store.db.execute("select count, paths from health_drift").fetchone()
    assert n == 2 and set(json.loads(paths)) == {"$.Payload.ChangeReason: not in the contract",
                                                  "$.Payload.CurrentProductType: integer where the contract has string"}
    from marketd.plugins.health.status import section

    assert any(line.startswith("schema drift: 2") for line in section(w.app)["health"])
    assert w.app.store.db.execute("select count(*) from health_alerts").fetchone()[0] == 1   # still acted on


def test_deviations_walk_refs_lists_enums_and_types():
    c = {"definitions": {"S": {"type": "string", "enum": ["A", "B"]}},
         "type": "object", "properties": {"xs": {"type": "array", "items": {"$ref": "#/definitions/S"}},
                                          "n": {"type": "number"}}}
    assert drift.deviations({"xs": ["A", "C", 3], "n": 1, "extra": None}, c) == {
        "$.xs[]: 'C' is not one of A, B": 1, "$.xs[]: integer where the contract has string": 1,
        "$.extra: not in the contract": 1}
    assert drift.deviations({"n": True}, c) == {"$.n: boolean where the contract has number": 1}
    assert drift.deviations({"n": 2.5, "xs": []}, c) == {}
