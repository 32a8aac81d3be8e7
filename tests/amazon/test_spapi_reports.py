"""Reports API: pagination, state machine, document download (gzip both ways), settlement fetch job."""
from __future__ import annotations

import gzip
from datetime import timedelta

import pytest

from marketd.plugins.amazon.client import SETTLEMENT_V2, SpApiError, decompress
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)

TEXT = "settlement-id\ttotal-amount\n123\t10,00\n"


def test_gzip_raw_bytes_are_gunzipped_by_the_client(fake, api):
    rid = fake.add_report(SETTLEMENT_V2, TEXT, compress=True)
    doc_id = fake.reports[rid]["reportDocumentId"]
    doc = api.get_report_document(doc_id)
    assert doc["compressionAlgorithm"] == "GZIP"
    data, charset = api.download(doc)
    assert data.decode() == TEXT and charset == "utf-8"
    s3 = fake.calls_of("s3.get")[-1]
    assert "x-amz-access-token" not in s3.headers and fake.s3_requests_with_token == 0


def test_gzip_with_content_encoding_header_is_decoded_once(fake, api):
    rid = fake.add_report(SETTLEMENT_V2, TEXT, compress=True)
    data, _ = api.fetch_document(fake.reports[rid]["reportDocumentId"], content_encoding_header=True)
    assert data.decode() == TEXT
    assert "enableContentEncodingUrlHeader" in fake.calls_of("getReportDocument")[-1].query


def test_uncompressed_document(fake, api):
    rid = fake.add_report(SETTLEMENT_V2, TEXT, compress=False)
    data, _ = api.fetch_document(fake.reports[rid]["reportDocumentId"])
    assert data.decode() == TEXT


def test_truncated_gzip_is_transient():
    from marketd.errors import TransientError

    with pytest.raises(TransientError):
        decompress(gzip.compress(bytes(range(256)) * 20)[:100])


def test_expired_presigned_url_asks_for_a_new_one(fake, api, clock):
    rid = fake.add_report(SETTLEMENT_V2, TEXT)
    doc = api.get_report_document(fake.reports[rid]["reportDocumentId"])
    clock.advance(301)
    with pytest.raises(SpApiError, match="403"):
        api.download(doc)
    data, _ = api.fetch_document(fake.reports[rid]["reportDocumentId"])  # fresh URL
    assert data.decode() == TEXT


def test_get_reports_paginates_with_next_token_only(fake, api, clock, amazon_contract):
    for i in range(25):
        fake.add_report(SETTLEMENT_V2, TEXT, created=clock.now() - timedelta(days=i + 1))
    fake.add_report("GET_FLAT_FILE_OPEN_LISTINGS_DATA", "x")
    reports = list(api.get_reports(report_types=[SETTLEMENT_V2], processing_statuses=["DONE"], page_size=10))
    assert len(reports) == 25 and len({r["reportId"] for r in reports}) == 25
    later = [c.query for c in fake.calls_of("getReports")[1:]]
    assert later and all(set(q) == {"nextToken"} for q in later)
    assert fake.violations == []


def test_next_token_with_other_parameters_is_refused(fake, api):
    resp = api.call("GET", "/reports/2021-06-30/reports", "getReports",
                    params={"nextToken": "abc", "reportTypes": [SETTLEMENT_V2]})
    assert resp.status_code == 400


def test_create_report_state_machine(fake, api, clock):
    fake.populate(3)
    rid = api.create_report("GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL", ["APJ6JRA9NG5V4"])
    assert api.get_report(rid)["processingStatus"] == "IN_QUEUE"
    clock.advance(61)
    assert api.get_report(rid)["processingStatus"] == "IN_PROGRESS"
    clock.advance(121)
    rep = api.get_report(rid)
    assert rep["processingStatus"] == "DONE" and rep["reportDocumentId"]
    data, _ = api.fetch_document(rep["reportDocumentId"])
    assert data.count(b"\n") == 4


def test_fatal_scenario_and_settlements_cannot_be_requested(fake, api, clock):
    rid = api.create_report("GET_MERCHANT_LISTINGS_ALL_DATA", ["APJ6JRA9NG5V4"], options={"fakeScenario": "FATAL"})
    clock.advance(200)
    assert api.get_report(rid)["processingStatus"] == "FATAL"
    with pytest.raises(SpApiError, match="cannot be requested"):
        api.create_report(SETTLEMENT_V2, ["APJ6JRA9NG5V4"])


# -- the settlements fetch job ------------------------------------------------------------------
def test_settlement_fetch_drops_each_report_once_into_the_inbox(fake, make_app, clock):
    from marketd.plugins.amazon.reports_fetch import fetch_all_settlements

    fake.populate(40, days=20, status="SHIPPED", fulfilled_by="MERCHANT")
    r1 = fake.add_settlement_report(days=14, end=clock.now() - timedelta(days=3))
    r2 = fake.add_settlement_report(days=14, end=clock.now() - timedelta(days=17), compress=False)
    app = make_app(amz={"settlements_fetch": True})
    assert fetch_all_settlements(app, None) == {"amz": 2}
    folder = app.inbox_dir / "settlements"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"amazon-amz-settlement-{r1}.txt", f"amazon-amz-settlement-{r2}.txt"])
    text = (folder / f"amazon-amz-settlement-{r1}.txt").read_text()
    assert text.startswith("settlement-id\tsettlement-start-date") and "\tOrder\t" in text
    docs = fake.count("getReportDocument")
    clock.advance(6 * 3600)
    assert fetch_all_settlements(app, clock.now() - timedelta(hours=6)) == {"amz": 0}
    assert fake.count("getReportDocument") == docs  # nothing downloaded twice
    rows = list(app.store.db.query("select report_id, sha256 from amazon_reports"))
    assert {r["report_id"] for r in rows} == {r1, r2}
    assert not any(p.name.endswith(".tmp") for p in folder.iterdir())


def test_settlement_fetch_done_file_mode_writes_marker(fake, make_app, clock):
    from marketd.plugins.amazon.reports_fetch import fetch_all_settlements

    rid = fake.add_report(SETTLEMENT_V2, TEXT)
    app = make_app(amz={"settlements_fetch": True})
    app.config["inbox"]["settlements"] = {**app.config["inbox"]["defaults"], "mode": "done_file"}
    fetch_all_settlements(app, None)
    assert (app.inbox_dir / "settlements" / f"amazon-amz-settlement-{rid}.txt.done").exists()


def test_settlement_fetch_off_by_default(fake, make_app):
    from marketd.plugins.amazon.reports_fetch import fetch_all_settlements

    fake.add_report(SETTLEMENT_V2, TEXT)
    app = make_app(amz={})
    assert fetch_all_settlements(app, None) == {}
    assert fake.calls == []


def test_settlement_fetch_leaves_the_rest_for_the_next_run_at_the_rate_limit(fake, make_app, clock):
    from marketd.plugins.amazon.reports_fetch import fetch_all_settlements

    ids = [fake.add_report(SETTLEMENT_V2, f"{TEXT}{i}\n", created=clock.now() - timedelta(days=i + 1))
           for i in range(18)]
    app = make_app(amz={"settlements_fetch": True})
    assert fetch_all_settlements(app, None) == {"amz": 15}  # the getReportDocument burst
    assert clock.sleeps == 0
    clock.advance(6 * 3600)
    assert fetch_all_settlements(app, clock.now() - timedelta(hours=6)) == {"amz": 3}
    assert len(list((app.inbox_dir / "settlements").iterdir())) == len(ids)
