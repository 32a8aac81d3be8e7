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
