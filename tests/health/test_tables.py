"""VoC, feedback and returns tables: columns by DE/EN name in any order, unknown columns kept, a
lone space empty, Y/N, several date formats with the day/month order decided per file; rater
e-mails never stored; classified negative feedback and return-rate thresholds alert once."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from marketd.plugins.amazon.fake_health import RETURNS_COLUMNS
from marketd.plugins.health.tables import DateOrder, parse_date


def test_voc_german_export_lists_the_very_poor_asin_linked_to_sku_and_brand(world):
    w = world()
    csv = ("ASIN;Händler-SKU;Produktname;Kundenerfahrung;NCX-Rate;Häufigster Rückgabegrund;Kundenkommentar;Notiz\n"
           "B0AAAAAAA1;K-1;Koffer klein;Sehr schlecht;12,5 %;Zu klein;Rad bricht ab;intern\n"
           "B0AAAAAAA2;K-2;Koffer groß;Gut;0,4 %; ; ;\n")
    row = w.drop("voc.csv", csv)
    assert row["state"] == "done", row["error"]
    assert row["summary"]["kind"] == "voc" and row["summary"]["poor"] == 1
    (a,) = w.alerts()
    assert a["severity"] == "high" and a["asin"] == "B0AAAAAAA1" and a["sku"] == "K-1"
    rec = next(w.app.store.db.query("select * from health_voc where asin = 'B0AAAAAAA1'"))
    assert rec["rating"] == "very_poor" and rec["top_reason"] == "Zu klein" and json.loads(rec["raw"]) == {"Notiz": "intern"}
    out = next((w.app.outbox_dir / "health" / "amz-de").glob("voc-poor-*.csv")).read_text()
    assert "B0AAAAAAA1" in out and "B0AAAAAAA2" not in out


def test_voc_english_labels_unknown_label_and_rating_column_found_by_values(world):
    w = world()
    csv = ("ASIN,Item,Offer rating,NCX rate\n"          # the rating column has a name we do not know
           "B0BBBBBBB1,Bag,Very poor,9%\nB0BBBBBBB2,Box,Excellent,0%\nB0BBBBBBB3,Cup,Poor,4%\n"
           "B0BBBBBBB4,Pen,Brilliant,1%\n")
    row = w.drop("voc-en.csv", csv)
    assert row["state"] == "done", row["error"]
    s = row["summary"]
    assert s["rating_column"] == "Offer rating" and s["unknown_labels"] == ["Brilliant"]
    assert sorted((a["asin"], a["severity"]) for a in w.alerts()) == [("B0BBBBBBB1", "high"), ("B0BBBBBBB3", "medium")]
    # the next export rates B0BBBBBBB3 fair: its alert resolves, the other stays
    w.drop("voc-en-2.csv", "ASIN,CX Health\nB0BBBBBBB1,Very poor\nB0BBBBBBB3,Fair\n")
    assert [a["asin"] for a in w.alerts()] == ["B0BBBBBBB1"]


def test_feedback_by_header_name_rater_email_never_stored_negative_feedback_classified(world):
    w = world()
    email = "buyer.person@example.com"
    tsv = ("Order ID\tRater Email\tRating\tComments\tResponse\tDate\tExtra\n"     # shuffled, synonym "Response"
           f"305-1\t{email}\t1\tBox arrived crushed, bad packaging\t \t10/20/23\tx\n"
           f"305-2\t{email}\t2\tItem broken after one day\t \t10/21/23\t\n"
           f"305-3\tother@example.com\t5\tGreat\tThanks\t10/22/23\t\n")
    row = w.drop("feedback.txt", tsv)
    assert row["state"] == "done", row["error"]
    s = row["summary"]
    assert s["kind"] == "feedback" and s["ratings"] == 3 and s["negative_classified"] == 2
    assert s["rater_email"] == "dropped" and s["date_order"] == "MD" and s["date_order_assumed"] is False
    topics = {r["order_id"]: r["topic"] for r in w.app.store.db.query("select order_id, topic from health_feedback")}
    assert topics == {"305-1": "packaging", "305-2": "product", "305-3": ""}
    dump = "\n".join(str(tuple(r)) for r in w.app.store.db.execute("select * from health_feedback"))
    assert email not in dump and "other@example.com" not in dump
    assert {a["title"].split(" about the ")[1].split(" ")[0] for a in w.alerts()} == {"packaging", "product"}
    assert next(w.app.store.db.query("select date from health_feedback where order_id = '305-1'"))["date"] == "2023-10-20"
    out = next((w.app.outbox_dir / "health" / "amz-de").glob("feedback-negative-*.csv"))
    assert out.stat().st_mode & 0o777 == 0o600 and "crushed" in out.read_text()


def test_date_order_is_decided_per_file():
    o = DateOrder()
    o.learn(["05/06/24", "25/06/24"])
    o.finish()
    assert parse_date("05/06/24", o).isoformat() == "2024-06-05" and o.order == "DM"
    o2 = DateOrder()
    o2.learn(["05/06/24"])
    o2.finish()
    assert o2.assumed and parse_date("05/06/24", o2).isoformat() == "2024-05-06"
    assert parse_date("10-Jul-2025", o2).isoformat() == "2025-07-10"
    assert parse_date("2025-07-10T08:00:00+00:00", o2).isoformat() == "2025-07-10"
    assert parse_date(" ", o2) is None


def _orders(app, sku: str, units: int, when: datetime):
    with app.store.transaction() as db:
        for i in range(units):
            db["orders"].insert({"key": f"amz-de:O{i}", "channel": "amz-de", "channel_type": "amazon",
                                 "order_id": f"O{i}", "status": "SHIPPED", "purchased_at": when.isoformat(),
                                 "items": json.dumps([{"sku": sku, "asin": "B0CCCCCCC1", "quantity": 1}])})


def test_return_rate_over_threshold_alerts_once_and_extra_columns_are_kept(world):
    w = world()
    now = w.clock.now()
    _orders(w.app, "RET-1", 20, now - timedelta(days=3))
    head = RETURNS_COLUMNS + ["Brand new column"]
    rows = []
    for i in range(3):
        r = {c: " " for c in head}
        r.update({"Order ID": f"O{i}", "Return request date": (now - timedelta(days=1)).strftime("%d-%b-%Y"),
                  "Merchant SKU": "RET-1", "ASIN": "B0CCCCCCC1", "Return quantity": "1",
                  "Return Reason": "AMZ-PG-WJ-TOO-SMALL", "In policy": "Y", "Amazon RMA ID": f"D{i}",
                  "Brand new column": "kept"})
        rows.append("\t".join(r[c] for c in head))
    tsv = "\t".join(head) + "\n" + "\n".join(rows) + "\n"
    row = w.drop("returns.tsv", tsv)
    assert row["state"] == "done", row["error"]
    assert row["summary"]["kind"] == "returns" and row["summary"]["returns"] == 3
    (a,) = w.alerts()
    assert a["sku"] == "RET-1" and "15.0%" in a["title"]       # 3 of 20 = 15 % > 10 %
    rec = next(w.app.store.db.query("select * from health_returns limit 1"))
    assert json.loads(rec["raw"]) == {"Brand new column": "kept"}   # a lone space is empty: not kept
    assert rec["requested"] == (now - timedelta(days=1)).date().isoformat()
    row2 = w.drop("returns-again.tsv", tsv.replace("AMZ-PG-WJ-TOO-SMALL", "AMZ-PG-WJ-TOO-SMALL"  # same rows
                                                   ) + "")
    assert row2["state"] == "duplicate"
    assert len(w.alerts()) == 1 and w.alerts()[0]["occurrences"] == 1


def test_returns_fetched_through_the_channel(world):
    w = world(jobs={"health-reports": {"kinds": ["returns", "feedback"]}})
    now = w.clock.now()
    _orders(w.app, "RET-2", 25, now - timedelta(days=2))
    for i in range(4):
        w.fake.add_return(order_id=f"O{i}", sku="RET-2", asin="B0DDDDDDD1", reason="DEFECTIVE",
                          requested=now - timedelta(days=1))
    w.fake.add_feedback(date=now - timedelta(days=1), rating=1, comments="arrived late and damaged packaging",
                        order_id="O1", email="x@example.com")
    w.run("health-reports")
    w.clock.advance(200)
    w.run("health-reports")
    rows = w.process_inbox()
    assert sorted(r["summary"]["kind"] for r in rows) == ["feedback", "returns"]
    assert {a["source"] for a in w.alerts()} == {"returns", "feedback"}
    assert w.fake.count("createReport") == 2
    created = [c for c in w.fake.calls if c.operation == "createReport"]
    assert all(json.loads(c.body)["dataStartTime"] for c in created)


@pytest.mark.parametrize("name,data,reason", [
    ("empty.csv", b"", "empty_file"),
    ("what.csv", b"a,b,c\n1,2,3\n", "unknown_table"),
    ("x.pdf", b"%PDF-1.4", "unknown_file"),
])
def test_malformed_health_files_get_an_error_file(world, name, data, reason):
    w = world()
    row = w.drop(name, data)
    assert row["state"] == "error" and row["error"]["reason"] == reason
    assert list((w.app.inbox_dir / "health" / ".error").glob(f"*{name}.error.txt"))
