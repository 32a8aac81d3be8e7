"""The weekly package: six XLSX reports and a dashboard (HTML with inline SVG, PDF), written to the
outbox and mailed once with its attachments; the same data give the same bytes."""
from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from datetime import datetime, timezone

import openpyxl

from marketd.clock import FakeClock
from marketd.plugins.brands import jobs, weekly
from marketd.plugins.brands.settings import brand_of
from marketd.sdk import process_file

from .test_links import order, seed

MONDAY = datetime(2025, 1, 13, 6, 0, tzinfo=timezone.utc)   # 07:00 Berlin, Monday of 2025-W03


def more(app, tmp_path):
    seed(app)
    order(app, "E", "2025-01-08T10:00:00+00:00", [{"sku": "ACM-1", "quantity": 3, "unit_price": "10.00"}])
    order(app, "F", "2025-01-09T10:00:00+00:00", [{"sku": "ACM-2", "quantity": 1, "total": "19.99"}], status="RETURNED")
    order(app, "G", "2025-01-10T10:00:00+00:00", [{"sku": "ACM-1", "quantity": 1, "unit_price": "10.00"}],
          status="CANCELLED")
    jobs.refresh_skus(app)
    p = tmp_path / "c.csv"
    p.write_text("brand,role,name,email\nacme,reports,Anna,anna@acme.example\n")
    process_file(app, "onboarding", p)
    p = tmp_path / "a.csv"
    p.write_text("sku,platform,activated_at,live_at\nACM-1,amazon-de,2024-12-18,2025-01-03\nACM-2,amazon-de,2024-12-18,\n")
    process_file(app, "golive", p)


def sheet(data: bytes, name: str) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(c for c in r) for r in wb[name].iter_rows(values_only=True)]


def test_weekly_package_written_mailed_once_and_reproducible(brands_app, smtp, tmp_path):
    clock = FakeClock(MONDAY)
    app = brands_app(clock=clock, smtp_port=smtp.port)
    more(app, tmp_path)
    made = jobs.weekly_job(app)
    assert made == {"acme": "2025-W02", "roma": "2025-W02"}
    out = app.outbox_dir / "brands/acme/2025-W02"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["01-sales.xlsx", "02-stock.xlsx", "03-golive.xlsx", "04-content.xlsx", "05-returns.xlsx",
                     "06-fees-payouts.xlsx", "dashboard.html", "dashboard.pdf"]
    rows = sheet((out / "01-sales.xlsx").read_bytes(), "Sales")
    assert rows[0] == ("week", "platform", "sku", "title", "orders", "units", "gross", "currency")
    # A (2 units) + C (5, 23:30Z on the 6th = the 7th in Berlin) + E (3); G was cancelled
    assert ("2025-W02", "amazon-de", "ACM-1", "'=HYPERLINK(\"x\")", 3, 10, 100, "EUR") in rows
    assert ("2025-W01", "ebay-de", "ACM-2", None, 1, 1, 19.99, "EUR") in rows
    ret = sheet((out / "05-returns.xlsx").read_bytes(), "Returns and cancellations")
    assert {(r[2], r[5]) for r in ret[1:]} == {("B", "cancellation"), ("F", "return/refund"), ("G", "cancellation")}
    gl = sheet((out / "03-golive.xlsx").read_bytes(), "Go-live")
    assert ("ACM-2", "amazon-de", "overdue", "2024-12-18", "2025-01-06", None, 5, None) in gl
    page = (out / "dashboard.html").read_text()
    assert page.count("<svg") == 5 and "<script" not in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", page)   # nothing fetched: readable offline
    assert (out / "dashboard.pdf").read_bytes().startswith(b"%PDF")
    fees = sheet((out / "06-fees-payouts.xlsx").read_bytes(), "About")
    assert fees[0] == ("brand", "Acme GmbH")
    # mailed once to the reports contact, with the six workbooks, the PDF and the HTML attached
    (msg,) = [m for m in smtp.messages if m["To"] == "anna@acme.example"]
    att = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    assert set(att) == set(names)
    for n in names:
        assert hashlib.sha256(att[n] if isinstance(att[n], bytes) else att[n].encode()).hexdigest() == \
            hashlib.sha256((out / n).read_bytes()).hexdigest() or n == "dashboard.html"
    assert "cid:chart0" in msg.get_body(("html",)).get_content()
    clock.advance(3600)
    assert jobs.weekly_job(app) == {}
    assert len([m for m in smtp.messages if m["To"] == "anna@acme.example"]) == 1
    # the same data again (another instance of the build): byte-identical reports and dashboard
    again = weekly.collect(app, "acme", brand_of(app, "acme"), "2025-W02")
    created = datetime(2025, 1, 12, 23, 59, tzinfo=brand_of(app, "acme").tz)
    files = weekly.reports(again, brand_of(app, "acme"), created)
    for n, data in files.items():
        assert data == (out / n).read_bytes(), _zip_diff(data, (out / n).read_bytes())
    figs = weekly.figures(again, brand_of(app, "acme"))
    assert weekly.dashboard_html(brand_of(app, "acme"), again, figs).encode() == (out / "dashboard.html").read_bytes()
    assert weekly.dashboard_pdf(brand_of(app, "acme"), again, figs, created) == (out / "dashboard.pdf").read_bytes()


def _zip_diff(a: bytes, b: bytes):
    """The ZIP members that differ (a readable failure instead of two byte strings)."""
    import zipfile
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    return [(n, za.read(n)[:3000], zb.read(n)[:3000]) for n in za.namelist() if za.read(n) != zb.read(n)]


GOLDEN = Path(__file__).parent / "golden" / "weekly-acme-2025-W02.txt"


def as_text(files: dict[str, bytes]) -> str:
    """Every sheet of every workbook as text lines (a golden file people can read and diff)."""
    out = []
    for name in sorted(files):
        if not name.endswith(".xlsx"):
            continue
        wb = openpyxl.load_workbook(io.BytesIO(files[name]), read_only=True)
        for ws in wb.worksheets:
            out.append(f"== {name} / {ws.title}")
            for row in ws.iter_rows(values_only=True):
                out.append(" | ".join("" if v is None else str(v) for v in row))
    return "\n".join(out) + "\n"


def test_six_reports_match_the_golden_file(brands_app, tmp_path):
    """Fixed inputs, dates in Europe/Berlin: the six reports' cells are the committed golden text
    (regenerate on purpose with MARKETD_REGEN_GOLDEN=1 and review the diff)."""
    app = brands_app(clock=FakeClock(MONDAY))
    more(app, tmp_path)
    b = brand_of(app, "acme")
    data = weekly.collect(app, "acme", b, "2025-W02")
    text = as_text(weekly.reports(data, b, datetime(2025, 1, 12, 23, 59, tzinfo=b.tz)))
    if os.environ.get("MARKETD_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_returns_report_gives_the_channels_reasons_or_says_unknown(brands_app, tmp_path):
    """Report 5: the reason from Amazon's returns report (through the health plugin), from the
    order itself (Amazon item cancellation, eBay cancel request), else ``unknown`` with why."""
    import json

    from marketd.plugins.amazon.fake_health import RETURNS_COLUMNS

    app = brands_app(clock=FakeClock(MONDAY))

    def put(oid, channel, ctype, status, sku, raw=None):
        app.store.upsert_order({"channel": channel, "channel_type": ctype, "order_id": oid, "status": status,
                                "purchased_at": "2025-01-08T10:00:00+00:00", "currency": "EUR",
                                "items": [{"sku": sku, "quantity": 1, "unit_price": "10.00"}], "raw": raw})

    put("R1", "amazon-de", "amazon", "RETURNED", "ACM-1")
    put("C1", "amazon-de", "amazon", "CANCELLED", "ACM-1", {"orderId": "C1", "orderItems": [
        {"product": {"sellerSku": "ACM-2"}, "cancellation": {"cancellationExecution": {"cancelReason": "other"}}},
        {"product": {"sellerSku": "ACM-1"}, "cancellation": {"cancellationRequest": {"requester": "BUYER",
                                                                                     "cancelReason": "NoLongerNeeded"}}}]})
    put("C2", "ebay-de", "ebay", "CANCELLED", "ACM-2", {"orderId": "C2", "cancelStatus": {
        "cancelState": "CANCELED", "cancelRequests": [{"cancelReason": "ORDERED_BY_MISTAKE", "cancelInitiator": "BUYER"}]}})
    put("R2", "amazon-de", "amazon", "RETURNED", "ACM-2", {"orderId": "R2", "orderItems": []})
    jobs.refresh_skus(app)
    row = {c: " " for c in RETURNS_COLUMNS}
    row.update({"Order ID": "R1", "Return request date": "09-Jan-2025", "Merchant SKU": "ACM-1", "Return quantity": "1",
                "Return Reason": "AMZ-PG-BAD-DESC", "Amazon RMA ID": "D1", "ASIN": "B0CCCCCCC1"})
    p = tmp_path / "amazon-amazon-de-returns-R1.tsv"
    p.write_text("\t".join(RETURNS_COLUMNS) + "\n" + "\t".join(row[c] for c in RETURNS_COLUMNS) + "\n")
    got = process_file(app, "health", p)
    assert got["state"] == "done", got
    data = weekly.collect(app, "acme", brand_of(app, "acme"), "2025-W02")
    why = {r[2]: (r[7], r[8]) for r in data["returns"]}
    assert why == {"R1": ("AMZ-PG-BAD-DESC", "returns report"), "C1": ("NoLongerNeeded", "order"),
                   "C2": ("ORDERED_BY_MISTAKE", "order"), "R2": ("unknown", "no reason from amazon")}
    files = weekly.reports(data, brand_of(app, "acme"), datetime(2025, 1, 12, 23, 59, tzinfo=timezone.utc))
    by_reason = sheet(files["05-returns.xlsx"], "By reason")
    assert ("amazon-de", "return/refund", "unknown", 1, 1) in by_reason
    assert ("ebay-de", "cancellation", "ORDERED_BY_MISTAKE", 1, 1) in by_reason
    assert json.dumps(sheet(files["05-returns.xlsx"], "Returns and cancellations")[0]).count("reason") == 2
