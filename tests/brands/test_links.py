"""The three data links over real HTTP: CSV form, no buyer data, tokens (wrong/rotated -> the same
404), ETag/304, and readers during a refresh see a whole old or a whole new file."""
from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime, timezone

import httpx

from marketd.clock import FakeClock
from marketd.plugins.brands import jobs, links, web, weekly
from marketd.plugins.brands.settings import LinksSettings, brand_of

DAY = date(2025, 1, 6)


def order(app, oid, at, items, status="SHIPPED", channel="amazon-de"):
    app.store.upsert_order({"channel": channel, "channel_type": "amazon", "order_id": oid, "status": status,
                            "purchased_at": at, "currency": "EUR", "buyer_name": "Max Mustermann",
                            "ship_to": {"name": "Max Mustermann", "city": "Köln"}, "items": items})


def seed(app):
    order(app, "A", "2025-01-06T08:00:00+00:00", [{"sku": "ACM-1", "title": "=HYPERLINK(\"x\")", "quantity": 2,
                                                   "unit_price": "10.00", "currency": "EUR"}])
    order(app, "B", "2025-01-06T09:00:00+00:00", [{"sku": "ACM-1", "quantity": 1, "unit_price": "10.00"}],
          status="CANCELLED")
    order(app, "C", "2025-01-06T23:30:00+00:00", [{"sku": "ACM-1", "quantity": 5, "unit_price": "10.00"}])
    order(app, "D", "2025-01-05T12:00:00+00:00", [{"sku": "ACM-2", "quantity": 1, "total": "19.99"},
                                                  {"sku": "ROM-1", "quantity": 1, "total": "5.00"}], channel="ebay-de")
    with app.store.transaction() as db:
        db["products"].insert_all([{"sku": "ACM-1", "title": "Shoe", "stock": 56},
                                   {"sku": "ACM-2", "title": "Sock", "stock": 0}], pk="sku", alter=True)
    jobs.refresh_skus(app)


def test_files_are_excel_ready_and_carry_no_buyer_data(brands_app):
    app = brands_app(clock=FakeClock(datetime(2025, 1, 7, 5, 0, tzinfo=timezone.utc)))
    seed(app)
    m = links.build(app, "acme", brand_of(app, "acme"), DAY)
    base = links.folder(app, "acme")
    daily = (base / m["files"]["sales-daily.csv"]["file"]).read_bytes()
    assert daily == ("\ufeffdate,platform,sku,title,orders,units,gross,currency,cancelled_units\r\n"
                     "2025-01-06,amazon-de,ACM-1,\"'=HYPERLINK(\"\"x\"\")\",1,2,20.00,EUR,1\r\n").encode()
    stock = (base / m["files"]["stock.csv"]["file"]).read_bytes().decode("utf-8-sig")
    # 2 units in the last 28 days: 56 * 28 / 2 = 784 days of cover; no sales -> blank
    assert "2025-01-06,ACM-1,Shoe,warehouse,56,2,784.0\r\n" in stock and "ACM-2,Sock,warehouse,0,1,0.0" in stock
    hist = (base / m["files"]["sales-history.csv"]["file"]).read_bytes().decode("utf-8-sig")
    assert hist.splitlines() == ["date,platform,sku,units,gross,currency", "2025-01-05,ebay-de,ACM-2,1,19.99,EUR",
                                 "2025-01-06,amazon-de,ACM-1,2,20.00,EUR"]
    for f in base.glob("*.csv"):
        assert b"Mustermann" not in f.read_bytes() and b"ROM-1" not in f.read_bytes()


def _serve(app):
    return web.Endpoint(app, "127.0.0.1", 0).start()


def test_http_tokens_etag_and_uniform_404(brands_app):
    app = brands_app(clock=FakeClock(datetime(2025, 1, 7, 5, 0, tzinfo=timezone.utc)))
    seed(app)
    links.build(app, "acme", brand_of(app, "acme"), DAY)
    links.build(app, "roma", brand_of(app, "roma"), DAY)
    token = links.rotate(app, "acme")
    roma = links.rotate(app, "roma")
    ep = _serve(app)
    try:
        base = f"http://127.0.0.1:{ep.port}"
        with httpx.Client() as c:
            r = c.get(f"{base}/l/{token}/sales-daily.csv")
            assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
            assert r.headers["etag"] == f"\"{hashlib.sha256(r.content).hexdigest()}\""
            assert r.headers["content-type"] == "text/csv; charset=utf-8" and "last-modified" in r.headers
            assert c.get(f"{base}/l/{token}/sales-daily.csv", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
            assert c.get(f"{base}/l/{token}/sales-daily.csv?bom=0").content == r.content[3:]
            assert b"ACM-1" not in c.get(f"{base}/l/{roma}/sales-daily.csv").content   # each brand sees its own
            wrong = c.get(f"{base}/l/{'x' * 43}/sales-daily.csv")
            unknown_file = c.get(f"{base}/l/{token}/orders.csv")
            malformed = c.get(f"{base}/l/a/b/c")
            for resp in (wrong, unknown_file, malformed):
                assert resp.status_code == 404 and resp.content == wrong.content
                assert sorted((k, v) for k, v in resp.headers.items() if k != "date") == \
                    sorted((k, v) for k, v in wrong.headers.items() if k != "date")
            new = links.rotate(app, "acme")
            assert c.get(f"{base}/l/{token}/sales-daily.csv").content == wrong.content
            assert c.get(f"{base}/l/{new}/stock.csv").status_code == 200
            assert c.get(f"{base}/healthz").json() == {"status": "ok"}
            metrics = c.get(f"{base}/metrics").text
            assert 'marketd_brands_link_requests_total{code="404"} 4' in metrics
            assert c.post(f"{base}/l/{new}/stock.csv").status_code == 405
    finally:
        ep.stop()


def test_readers_during_refresh_see_whole_files(brands_app):
    app = brands_app(clock=FakeClock(datetime(2025, 1, 7, 5, 0, tzinfo=timezone.utc)))
    seed(app)
    b = brand_of(app, "acme")
    base = links.folder(app, "acme")
    versions = [links.contents(app.store.db, "acme", b, DAY), links.contents(app.store.db, "acme", b, date(2025, 1, 5))]
    # make the files big enough that a torn read would show
    versions = [{k: v + b"x" * 400_000 * (i + 1) for k, v in ver.items()} for i, ver in enumerate(versions)]
    good = {hashlib.sha256(v["sales-history.csv"]).hexdigest() for v in versions}
    links.publish(base, versions[0], "d0", "2025-01-07T05:00:00+00:00")
    token = links.rotate(app, "acme")
    ep = _serve(app)
    stop = threading.Event()
    bad, seen = [], []

    def reader():
        with httpx.Client() as c:
            while not stop.is_set():
                r = c.get(f"http://127.0.0.1:{ep.port}/l/{token}/sales-history.csv")
                digest = hashlib.sha256(r.content).hexdigest()
                seen.append(digest)
                if r.status_code != 200 or r.headers["etag"] != f"\"{digest}\"" or digest not in good:
                    bad.append((r.status_code, len(r.content)))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            links.publish(base, versions[i % 2], f"d{i}", "2025-01-07T05:00:00+00:00")
    finally:
        stop.set()
        for t in threads:
            t.join()
        ep.stop()
    assert not bad and len(seen) > 8 and set(seen) <= good


def test_links_job_refreshes_each_morning_after_refresh_time(brands_app):
    clock = FakeClock(datetime(2025, 1, 7, 4, 0, tzinfo=timezone.utc))   # 05:00 Berlin: before 05:30
    app = brands_app(clock=clock)
    seed(app)
    assert jobs.links_job(app) == {}
    clock.advance(3600)
    assert jobs.links_job(app) == {"acme": "2025-01-06", "roma": "2025-01-06"}
    assert jobs.links_job(app) == {}
    assert links.built_for(app, "acme") == "2025-01-06"
    assert isinstance(LinksSettings().port, int)


def test_one_read_for_all_brands_gives_each_brand_the_same_files(brands_app):
    app = brands_app(clock=FakeClock(datetime(2025, 1, 7, 5, 0, tzinfo=timezone.utc)))
    seed(app)
    pre = links.prefetch(app, DAY)
    assert set(pre.rows) == {"acme", "roma"}
    for bid in ("acme", "roma"):
        b = brand_of(app, bid)
        assert links.contents(app.store.db, bid, b, DAY, pre) == links.contents(app.store.db, bid, b, DAY)
    from marketd.plugins.brands import weekly

    wpre = weekly.prefetch(app, "2025-W02")
    a = weekly.collect(app, "acme", brand_of(app, "acme"), "2025-W02", wpre)
    b = weekly.collect(app, "acme", brand_of(app, "acme"), "2025-W02")
    assert a["sales"] == b["sales"] and a["lines"] == b["lines"] and a["lines"]


def test_one_brand_failing_does_not_stop_the_others(brands_app):
    import pytest

    from marketd.sdk.testing import run_job

    clock = FakeClock(datetime(2025, 1, 7, 5, 0, tzinfo=timezone.utc))
    app = brands_app(clock=clock)
    seed(app)
    blocked = links.folder(app, "acme")
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the brand's folder should be")
    with pytest.raises(jobs.BrandFailures, match=r"acme: .*done for 1 other brand"):
        jobs.links_job(app)
    assert links.built_for(app, "roma") == "2025-01-06"
    assert "acme" in run_job(app, "brands-links")      # the job's error names the brand
    blocked.unlink()
    assert jobs.links_job(app) == {"acme": "2025-01-06"}


def test_stock_per_warehouse_and_platform(brands_app):
    """stock.csv: one row per SKU × place: the catalog's stock (warehouse), the brand's other
    warehouses (catalog columns named in ``stock_locations``) and each platform's quantity from
    the listings pull, each covered by the sales that draw on it."""
    from tests.brands.conftest import BRANDS

    table = {**BRANDS, "acme": {**BRANDS["acme"], "stock_locations": {"hamburg": "Bestand Hamburg"}}}
    app = brands_app(clock=FakeClock(datetime(2025, 1, 7, 5, 0, tzinfo=timezone.utc)), brands=table)
    seed(app)
    with app.store.transaction() as db:
        db.execute("update products set attributes = ? where sku = 'ACM-1'", ['{"Bestand Hamburg": "12"}'])
        db.execute("update products set attributes = ? where sku = 'ACM-2'", ['{"Bestand Hamburg": ""}'])
        db["remote_listings"].insert_all([
            {"platform": "amazon-de", "sku": "ACM-1", "channel": "amazon-de", "quantity": 30, "present": 1},
            {"platform": "ebay-de", "sku": "ACM-1", "channel": "ebay-de", "quantity": 5, "present": 0},
            {"platform": "ebay-de", "sku": "ACM-2", "channel": "ebay-de", "quantity": 4, "present": 1},
            {"platform": "amazon-de", "sku": "ACM-2", "channel": "amazon-de", "quantity": None, "present": 1}])
    m = links.build(app, "acme", brand_of(app, "acme"), DAY)
    stock = (links.folder(app, "acme") / m["files"]["stock.csv"]["file"]).read_bytes().decode("utf-8-sig")
    # ACM-1: 2 units in 28 days, all on amazon-de; ACM-2: 1 unit on ebay-de (order D)
    assert stock.splitlines() == [
        "as_of,sku,title,location,quantity_available,units_28d,cover_days",
        "2025-01-06,ACM-1,Shoe,warehouse,56,2,784.0",
        "2025-01-06,ACM-1,Shoe,hamburg,12,2,168.0",
        "2025-01-06,ACM-1,Shoe,amazon-de,30,2,420.0",
        "2025-01-06,ACM-2,Sock,warehouse,0,1,0.0",
        "2025-01-06,ACM-2,Sock,ebay-de,4,1,112.0"]
    data = weekly.collect(app, "acme", brand_of(app, "acme"), "2025-W02")
    assert [r[:3] for r in data["stock"]][:3] == [["ACM-1", "Shoe", "warehouse"], ["ACM-1", "Shoe", "hamburg"],
                                                  ["ACM-1", "Shoe", "amazon-de"]]
