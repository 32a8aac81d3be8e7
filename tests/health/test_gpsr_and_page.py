"""The GPSR at-risk view reads the content plugin's own GPSR check (a real content run), and the
health page shows metrics with their trend, open alerts, VoC, returns and cases."""
from __future__ import annotations

import csv
import io
import json

import marketd.plugins.health as health_plugin
from marketd.plugins.health.page import write_pages
from tests.content.conftest import ContentWorld, table

from .conftest import schema_example


def test_skus_missing_gpsr_data_are_listed_and_alerted(tmp_path):
    w = ContentWorld(tmp_path, extra_plugins={"health": health_plugin})
    try:
        w.drop("party_id,role,name,street,postal_code,city,country,email\n"
               "M1,manufacturer,Maker,Weg 1,10115,Berlin,DE,a@maker.example\n", "gpsr-parties.csv")
        rows = [{"sku": "K1", "brand": "ACME", "category": "Koffer", "ean": "4006381333931", "title_de": "Koffer Blau",
                 "color": "blau", "manufacturer_id": "M1", "image_1": "k1.jpg", "gpsr_safety_info_de": "Nicht werfen"},
                {"sku": "K2", "brand": "ACME", "category": "Koffer", "ean": "4006381333948", "title_de": "Koffer Rot",
                 "color": "rot", "image_1": "k2.jpg"}]
        assert w.drop(table(rows))["state"] == "done"
        out = write_pages(w.app)
        assert out[""]["gpsr_at_risk"] == 1
        (f,) = (w.app.outbox_dir / "health" / "_").glob("gpsr-at-risk-*.csv")
        listed = list(csv.DictReader(io.StringIO(f.read_text())))
        assert {r["sku"] for r in listed} == {"K2"}
        assert any(r["rule"].startswith("gpsr.manufacturer") for r in listed)
        (a,) = [dict(r) for r in w.app.store.db.query("select * from health_alerts where source = 'gpsr'")]
        assert a["severity"] == "medium" and "1 SKU(s)" in a["title"]
    finally:
        w.close()


def test_the_page_shows_metrics_trend_alerts_voc_and_cases(world):
    w = world()
    doc = json.loads(schema_example())
    w.drop("perf1.json", json.dumps(doc))
    for m in doc["performanceMetrics"]:
        m["lateShipmentRate"]["reportingDateRange"]["reportingDateTo"] = "2020-11-26T23:59Z"
        m["lateShipmentRate"]["rate"] = 0.05
    w.drop("perf2.json", json.dumps(doc))
    w.drop("voc.csv", "ASIN,CX Health,NCX rate\nB0PAGE0001,Very poor,8%\n")
    w.drop("cases.csv", "Case ID,Subject,Deadline\n5550001111,Bitte <b>antworten</b>,2026-12-24\n")
    write_pages(w.app)
    page = (w.app.outbox_dir / "health" / "amz-de" / "index.html").read_text()
    assert "<polyline" in page                        # two reporting periods of lateShipmentRate: a trend
    assert "B0PAGE0001" in page and "Very poor" in page
    assert "Bitte &lt;b&gt;antworten&lt;/b&gt;" in page and "<b>antworten" not in page
    assert "lateShipmentRate beyond target" in page   # 0.05 vs < 0.04 while Amazon says GOOD
    assert "<script" not in page


def test_an_instance_without_health_data_gets_no_page(world):
    w = world()
    assert write_pages(w.app) == {}
    assert not (w.app.outbox_dir / "health").exists()
