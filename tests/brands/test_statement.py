"""The partner settlement statement from real settlements (the settlements plugin and the test-only
demo payout format, through the order_finance hook): Decimal amounts, commission, services listed
and not deducted, numbered, byte-for-byte reproducible, reissued as a new version."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from pypdf import PdfReader

from marketd.clock import FakeClock
from marketd.sdk import hookimpl
from marketd.sdk.testing import process_file
from tests.settlements import demo_format

BRANDS = {"acme": {"name": "Acme GmbH", "sku_prefixes": ["ACM-"], "country": "DE", "subdivision": "NW",
                   "platforms": ["demo-it"], "commission": {"default": "10"}}}


def _app(tmp_path, brands_table):
    import marketd.plugins.brands as brands
    import marketd.plugins.catalog as catalog
    import marketd.plugins.settlements as settlements
    from marketd.app import App
    from marketd.config import default_config

    cfg = default_config(tmp_path / "inst")
    cfg["brands"] = brands_table
    return App(cfg, clock=FakeClock(datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc)), load_entry_points=False,
               extra_plugins={"settlements": settlements, "demo": demo_format, "brands": brands, "catalog": catalog})


@pytest.fixture
def app(tmp_path):
    a = _app(tmp_path, BRANDS)
    yield a
    a.close()


def order(app, oid, items):
    app.store.upsert_order({"channel": "demo-it", "channel_type": "demo", "order_id": oid, "status": "SHIPPED",
                            "purchased_at": "2025-01-05T10:00:00+00:00", "currency": "EUR", "buyer_name": "Mario Rossi",
                            "items": items})


def drop(app, tmp_path, name, *rows):
    p = tmp_path / name
    p.write_bytes(demo_format.render(*rows))
    row = process_file(app, "settlements", p)
    assert row["state"] == "done", row


def seed(app, tmp_path):
    order(app, "O1", [{"sku": "ACM-1", "quantity": 1, "total": "100.00"}])
    order(app, "O2", [{"sku": "ACM-2", "quantity": 1, "total": "60.00"}, {"sku": "OTHER-1", "quantity": 1,
                                                                           "total": "40.00"}])
    drop(app, tmp_path, "p1.csv",
         "payout,P1,,2025-01-15T08:00:00+00:00,regular",
         "line,P1,O1,revenue,,100.00,EUR,2025-01-06T00:00:00+00:00",
         "line,P1,O1,marketplace_fee,commission,-15.00,EUR,2025-01-06T00:00:00+00:00",
         "line,P1,O2,revenue,,100.00,EUR,2025-01-06T00:00:00+00:00",
         "line,P1,O2,marketplace_fee,commission,-10.00,EUR,2025-01-06T00:00:00+00:00")
    drop(app, tmp_path, "p2.csv",
         "payout,P2,,2025-02-03T08:00:00+00:00,regular",
         "line,P2,O1,refund,,-20.00,EUR,2025-02-02T00:00:00+00:00")


def test_statement_money_numbering_and_reproducibility(app, tmp_path):
    from marketd.plugins.brands import jobs, statement
    from marketd.plugins.brands.settings import brand_of

    seed(app, tmp_path)
    jobs.refresh_skus(app)
    b = brand_of(app, "acme")
    got = statement.issue(app, "acme", b, "2025-01")
    assert got["doc_no"] == "PS-acme-2025-0001" and got["new"]
    t = got["totals"]["EUR"]
    # O2 is 60 % Acme's: 60.00 gross, -6.00 fees; the February refund is not in January
    assert (t["gross"], t["marketplace_fees"], t["refunds"], t["commission"], t["payout"]) == (
        Decimal("160.00"), Decimal("-21.00"), Decimal("0"), Decimal("-16.00"), Decimal("123.00"))
    pdf, xlsx = (open(p, "rb").read() for p in got["outputs"])
    text = "".join(page.extract_text() for page in PdfReader(tmp_path / "inst/outbox/brands/acme/statements/"
                                                            "PS-acme-2025-0001.pdf").pages)
    assert "PS-acme-2025-0001" in text and "123.00" in text and "Not a tax invoice" in text
    assert "Mario" not in text
    again = statement.issue(app, "acme", b, "2025-01")
    assert (again["doc_no"], again["new"], again["pdf_sha256"], again["xlsx_sha256"]) == (
        "PS-acme-2025-0001", False, hashlib.sha256(pdf).hexdigest(), hashlib.sha256(xlsx).hexdigest())
    app.clock.advance(86400 * 3)          # a later day: the issue date stays the stored one
    assert statement.verify(app, "acme", b, "2025-01") == []
    # a service billed separately changes the data: listed, not deducted, and only by reissue
    statement.add_service(app, "acme", "2025-01", "content", "Content creation 12 SKUs", "240.00", "EUR")
    with pytest.raises(statement.StatementError, match="--reissue"):
        statement.issue(app, "acme", b, "2025-01")
    assert statement.verify(app, "acme", b, "2025-01") == ["PS-acme-2025-0001: the data changed since it was issued"]
    v2 = statement.issue(app, "acme", b, "2025-01", reissue=True)
    assert v2["doc_no"] == "PS-acme-2025-0002" and v2["version"] == 2 and v2["totals"]["EUR"]["payout"] == Decimal("123.00")
    text2 = "".join(p.extract_text() for p in PdfReader(v2["outputs"][0]).pages)
    assert "Supersedes PS-acme-2025-0001" in text2 and "Content creation 12 SKUs" in text2 and "240.00" in text2
    assert open(got["outputs"][0], "rb").read() == pdf         # the issued file is never overwritten
    feb = statement.issue(app, "acme", b, "2025-02")
    assert feb["doc_no"] == "PS-acme-2025-0003" and feb["totals"]["EUR"]["refunds"] == Decimal("-20.00")
    assert feb["totals"]["EUR"]["commission"] == Decimal("2.00")     # 10 % of (0 - 20.00)


def test_without_settlements_the_statement_says_so(tmp_path):
    import marketd.plugins.brands as brands
    from marketd.app import App
    from marketd.config import default_config
    from marketd.plugins.brands import statement
    from marketd.plugins.brands.settings import brand_of

    cfg = default_config(tmp_path / "x")
    cfg["brands"] = BRANDS
    a = App(cfg, clock=FakeClock(datetime(2025, 2, 1, tzinfo=timezone.utc)), load_entry_points=False,
            extra_plugins={"brands": brands})
    try:
        data = statement.collect(a, "acme", brand_of(a, "acme"), "2025-01")
        assert data["finance_available"] is False and data["rows"] == []
    finally:
        a.close()


def test_commission_by_catalog_category(tmp_path):
    from marketd.plugins.brands import jobs, statement
    from marketd.plugins.brands.settings import brand_of

    table = {"acme": {**BRANDS["acme"], "commission_by_category": {"shoes": "20"}}}
    app = _app(tmp_path, table)
    try:
        seed(app, tmp_path)
        with app.store.transaction() as db:
            db.execute("insert into products (sku, stock, attributes) values ('ACM-1', 1, '{\"category\": \"Shoes\"}')")
        jobs.refresh_skus(app)
        got = statement.collect(app, "acme", brand_of(app, "acme"), "2025-01")
        (row,) = got["rows"]
        # ACM-1 (shoes, 20 %) 100.00 -> 20.00; ACM-2 (platform default 10 %) 60.00 -> 6.00
        assert row["commission"] == Decimal("-26.00") and row["commission_rate"] == "10 / 20"
        assert row["payout"] == Decimal("160.00") - Decimal("21.00") - Decimal("26.00")
    finally:
        app.close()


def seed_loss(app, tmp_path):
    """January: Acme's fees and a refund exceed its sales (balance -41.00 after commission);
    February: a sale that pays part of it back."""
    order(app, "O1", [{"sku": "ACM-1", "quantity": 1, "total": "100.00"}])
    order(app, "O3", [{"sku": "ACM-1", "quantity": 1, "total": "50.00"}])
    drop(app, tmp_path, "loss.csv",
         "payout,P9,,2025-01-20T08:00:00+00:00,regular",
         "line,P9,O1,revenue,,100.00,EUR,2025-01-06T00:00:00+00:00",
         "line,P9,O1,marketplace_fee,commission,-15.00,EUR,2025-01-06T00:00:00+00:00",
         "line,P9,O1,marketplace_fee,fulfilment,-4.50,EUR,2025-01-06T00:00:00+00:00",
         "line,P9,O1,marketplace_fee,promoted_listings,-2.00,EUR,2025-01-06T00:00:00+00:00",
         "line,P9,O1,marketplace_fee,regulatory_operating,-0.50,EUR,2025-01-06T00:00:00+00:00",
         "line,P9,O1,shipping_label,,-5.00,EUR,2025-01-06T00:00:00+00:00",
         "line,P9,O1,refund,,-100.00,EUR,2025-01-10T00:00:00+00:00",
         "line,P9,O1,marketplace_fee,refund_commission,3.00,EUR,2025-01-10T00:00:00+00:00",
         "line,P9,O1,other,,-17.00,EUR,2025-01-10T00:00:00+00:00")
    drop(app, tmp_path, "gain.csv",
         "payout,P10,,2025-02-10T08:00:00+00:00,regular",
         "line,P10,O3,revenue,,50.00,EUR,2025-02-01T00:00:00+00:00",
         "line,P10,O3,marketplace_fee,commission,-7.50,EUR,2025-02-01T00:00:00+00:00")


def test_fees_by_type_and_a_negative_balance_carried_forward(app, tmp_path):
    """Fee types add up to the marketplace fees; January's negative balance pays nothing and is
    brought into February's statement, once, however often either is re-run."""
    import openpyxl

    from marketd.plugins.brands import jobs, statement
    from marketd.plugins.brands.settings import brand_of

    seed_loss(app, tmp_path)
    jobs.refresh_skus(app)
    b = brand_of(app, "acme")
    jan = statement.collect(app, "acme", b, "2025-01")
    (row,) = jan["rows"]
    assert (row["fee_commission"], row["fee_fulfilment"], row["fee_advertising"], row["fee_other"]) == (
        Decimal("-12.00"), Decimal("-4.50"), Decimal("-2.00"), Decimal("-0.50"))
    assert row["marketplace_fees"] == Decimal("-19.00") == sum(row[k] for k, _ in statement.FEE_TYPES)
    assert {(f["type"], f["subtype"]): f["amount"] for f in jan["fees"]} == {
        ("commission", "commission"): Decimal("-15.00"), ("commission", "refund_commission"): Decimal("3.00"),
        ("fulfilment", "fulfilment"): Decimal("-4.50"), ("advertising", "promoted_listings"): Decimal("-2.00"),
        ("other", "regulatory_operating"): Decimal("-0.50")}
    # 100 - 100 - 19 - 5 - 17 = -41.00; commission 10 % of (100 - 100) = 0
    t = jan["totals"]["EUR"]
    assert (row["payout"], t["payout"], t["carried_forward"]) == (Decimal("-41.00"), Decimal("0"), Decimal("-41.00"))
    one = statement.issue(app, "acme", b, "2025-01")
    wb = openpyxl.load_workbook(one["outputs"][1], read_only=True)
    fees = [r for r in wb["Fees by type"].iter_rows(values_only=True)]
    assert ("demo-it", "EUR", "fulfilment", "fulfilment", -4.5) in fees and len(fees) == 6
    assert list(wb["Totals"].iter_rows(values_only=True))[1] == ("EUR", -41, 0, None, 0, -41)
    text = "".join(p.extract_text() for p in PdfReader(one["outputs"][0]).pages)
    assert "fulfilment (FBA)" in text and "Carried forward to the next statement" in text and "-41.00" in text

    feb = statement.issue(app, "acme", b, "2025-02")
    t2 = feb["totals"]["EUR"]
    # 50.00 - 7.50 - 5.00 commission = 37.50 this month; -41.00 brought forward: still -3.50
    assert (t2["brought_forward"], t2["payout"], t2["carried_forward"]) == (
        Decimal("-41.00"), Decimal("0"), Decimal("-3.50"))
    text2 = "".join(p.extract_text() for p in PdfReader(feb["outputs"][0]).pages)
    assert f"Brought forward from {one['doc_no']}" in text2
    # re-runs: the same numbers, the same carry, nothing counted twice
    assert statement.issue(app, "acme", b, "2025-01")["doc_no"] == one["doc_no"]
    again = statement.issue(app, "acme", b, "2025-02")
    assert (again["doc_no"], again["new"], again["totals"]["EUR"]["carried_forward"]) == (
        feb["doc_no"], False, Decimal("-3.50"))
    rows = app.store.db.execute("select month, carry_out from statements order by month").fetchall()
    assert rows == [("2025-01", '{"EUR": "-41.00"}'), ("2025-02", '{"EUR": "-3.50"}')]
    mar = statement.issue(app, "acme", b, "2025-03")      # nothing paid in March: the carry goes on
    assert (mar["totals"]["EUR"]["payout"], mar["totals"]["EUR"]["carried_forward"]) == (Decimal("0"),
                                                                                           Decimal("-3.50"))
    with pytest.raises(statement.StatementError, match="month order"):
        statement.issue(app, "acme", b, "2024-12")


def test_a_statement_killed_after_numbering_is_finished_by_the_rerun(app, tmp_path):
    """kill -9 after the number and the carry are committed, before the files: the re-run writes
    the files under the same number and carries the balance once."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from marketd.plugins.brands import jobs
    from marketd.sdk.testing import crashpoint_env

    seed_loss(app, tmp_path)
    jobs.refresh_skus(app)
    app.close()
    script = ("import sys\nfrom pathlib import Path\nfrom tests.brands.test_statement import _app, BRANDS\n"
              "from marketd.plugins.brands import statement\nfrom marketd.plugins.brands.settings import brand_of\n"
              "a = _app(Path(sys.argv[1]), BRANDS)\n"
              "print(statement.issue(a, 'acme', brand_of(a, 'acme'), sys.argv[2])['doc_no'], flush=True)\na.close()\n")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, **crashpoint_env("brands.statement.after_commit")}
    got = subprocess.run([sys.executable, "-c", script, str(tmp_path), "2025-01"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == -9, got.stderr
    out = tmp_path / "inst/outbox/brands/acme/statements"
    assert not list(out.glob("PS-*.pdf")) if out.exists() else True
    for month in ("2025-01", "2025-02"):
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path), month], cwd=root, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["PS-acme-2025-0001.pdf", "PS-acme-2025-0001.xlsx",
                                                     "PS-acme-2025-0002.pdf", "PS-acme-2025-0002.xlsx"]
    a = _app(tmp_path, BRANDS)
    try:
        assert a.store.db.execute("select doc_no, carry_out from statements order by month").fetchall() == [
            ("PS-acme-2025-0001", '{"EUR": "-41.00"}'), ("PS-acme-2025-0002", '{"EUR": "-3.50"}')]
    finally:
        a.close()


def test_weekly_report_6_shows_the_fee_types(app, tmp_path):
    """Report 6 (fees and payouts) splits the marketplace fees by the same types as the statement."""
    from marketd.plugins.brands import jobs, weekly
    from marketd.plugins.brands.settings import brand_of

    seed_loss(app, tmp_path)
    jobs.refresh_skus(app)
    data = weekly.collect(app, "acme", brand_of(app, "acme"), "2025-W01")
    (row,) = [dict(zip(weekly.FEES_H, r)) for r in data["fees"] if r[0] == "2025-W01"]
    assert (row["marketplace_fees"], row["commission_fees"], row["fulfilment_fees"], row["advertising_fees"],
            row["other_fees"]) == (Decimal("-26.50"), Decimal("-19.50"), Decimal("-4.50"), Decimal("-2.00"),
                                   Decimal("-0.50"))      # O1 and O3 were both bought in 2025-W01
    assert row["payouts"] == "P10, P9" and row["fee_pct_of_gross"] == "17.67"     # 26.50 of 150.00


class FinanceCalls:
    """A plugin that only counts ``order_finance`` calls (a hookwrapper: the answer is the settlements plugin's)."""

    def __init__(self):
        self.calls = 0

    @hookimpl(hookwrapper=True)
    def order_finance(self, app, order_keys, refs):
        self.calls += 1
        yield


def test_the_weekly_job_reads_the_settlements_once_for_all_brands(tmp_path):
    """Two brands' packages, one ``order_finance`` call; each brand's fees as when asked alone."""
    from marketd.plugins.brands import finance, jobs, weekly
    from marketd.plugins.brands.settings import brand_of

    table = {**BRANDS, "other": {"name": "Other", "sku_prefixes": ["OTHER-"], "country": "DE", "platforms": ["demo-it"]}}
    app = _app(tmp_path, table)
    try:
        seed_loss(app, tmp_path)
        order(app, "O4", [{"sku": "OTHER-1", "quantity": 1, "total": "30.00"}])
        drop(app, tmp_path, "other.csv", "payout,P11,,2025-01-20T08:00:00+00:00,regular",
             "line,P11,O4,revenue,,30.00,EUR,2025-01-06T00:00:00+00:00",
             "line,P11,O4,marketplace_fee,fulfilment,-3.00,EUR,2025-01-06T00:00:00+00:00")
        jobs.refresh_skus(app)
        alone = {b: weekly.collect(app, b, brand_of(app, b), "2025-W02")["fees"] for b in ("acme", "other")}
        assert alone["other"] and alone["acme"]
        pre = weekly.prefetch(app, "2025-W02")
        shared = finance.prefetch(app, pre)
        for b in ("acme", "other"):
            assert weekly.collect(app, b, brand_of(app, b), "2025-W02", pre, shared)["fees"] == alone[b]
        counter = FinanceCalls()
        app.plugins.register(counter, "finance-calls")
        app.clock.advance(46 * 3600)        # Monday 2025-02-03 07:00 UTC: 2025-W05 is due (W01 in its 12 weeks)
        assert jobs.weekly_job(app) == {"acme": "2025-W05", "other": "2025-W05"}
        assert counter.calls == 1
    finally:
        app.close()
