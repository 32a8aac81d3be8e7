"""searchOrders/getOrder against the fake: pagination as the model says, rate limits, filters."""
from __future__ import annotations

from datetime import timedelta
import pytest

from marketd.plugins.amazon.client import SpApiError
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)

MKT = ["APJ6JRA9NG5V4"]


def _ids(pages):
    return [o["orderId"] for p in pages for o in p["orders"]]


def test_pagination_uses_paginationToken_with_the_same_filters(fake, api, clock, amazon_contract):
    orders = fake.populate(250, days=10)
    after = clock.now() - timedelta(days=11)
    pages = list(api.search_orders(marketplace_ids=MKT, last_updated_after=after, max_results=100,
                                   included_data=["BUYER"]))
    assert [len(p["orders"]) for p in pages] == [100, 100, 50]
    assert sorted(_ids(pages)) == sorted(o["orderId"] for o in orders)
    assert "pagination" not in pages[-1]  # absent on the last page
    queries = [{k: v[0] for k, v in c.query.items()} for c in fake.calls_of("searchOrders")]
    assert "paginationToken" not in queries[0]
    for q in queries[1:]:
        assert q.pop("paginationToken")
        assert q == queries[0]  # all other parameters unchanged
    assert fake.violations == []


def test_included_data_controls_pii_blocks(fake, api, clock):
    fake.populate(5)
    after = clock.now() - timedelta(days=40)
    bare = list(api.search_orders(marketplace_ids=MKT, created_after=after))[0]["orders"]
    assert all("buyer" not in o and "recipient" not in o for o in bare)
    full = list(api.search_orders(marketplace_ids=MKT, created_after=after, included_data=["BUYER", "RECIPIENT"]))
    assert all("buyer" in o and "recipient" in o for o in full[0]["orders"])


def test_orders_changing_between_pages_are_not_skipped(fake, api, clock):
    """Keyset pagination: an order that moves out of the window while we page does not shift the rest."""
    orders = fake.populate(30, days=5)
    after = clock.now() - timedelta(days=6)
    it = api.search_orders(marketplace_ids=MKT, last_updated_after=after, max_results=10)
    first = next(it)
    for o in first["orders"][:5]:
        fake.touch(o["orderId"], status="CANCELLED")  # moves past the window's upper bound
    rest = list(it)
    assert sorted(_ids([first, *rest])) == sorted(o["orderId"] for o in orders)


def test_changed_filters_with_a_token_are_refused(fake, api, clock):
    fake.populate(20)
    after = clock.now() - timedelta(days=40)
    first = list(api.search_orders(marketplace_ids=MKT, created_after=after, max_results=5))[0]
    token = first["pagination"]["nextToken"]
    resp = api.call("GET", "/orders/2026-01-01/orders", "searchOrders",
                    params={"createdAfter": after + timedelta(seconds=1), "marketplaceIds": MKT,
                            "paginationToken": token})
    assert resp.status_code == 400 and "same values" in resp.text
    clock.advance(25 * 3600)
    resp = api.call("GET", "/orders/2026-01-01/orders", "searchOrders",
                    params={"createdAfter": after, "marketplaceIds": MKT, "maxResultsPerPage": 5,
                            "paginationToken": token})
    assert resp.status_code == 400 and "expired" in resp.text


def test_nextToken_is_not_a_searchOrders_parameter(fake, api, clock, amazon_contract):
    """The v2026 model names the page parameter paginationToken; the fake rejects the v0 spelling."""
    resp = api.call("GET", "/orders/2026-01-01/orders", "searchOrders",
                    params={"createdAfter": clock.now() - timedelta(days=1), "nextToken": "abc"})
    assert resp.status_code == 400
    assert "nextToken" in resp.json()["errors"][0]["details"]
    assert fake.violations and fake.violations[-1]["operation"] == "searchOrders"


def test_exactly_one_of_created_after_and_last_updated_after(api, clock):
    with pytest.raises(ValueError):
        list(api.search_orders(marketplace_ids=MKT))
    resp = api.call("GET", "/orders/2026-01-01/orders", "searchOrders",
                    params={"createdAfter": clock.now() - timedelta(days=2),
                            "lastUpdatedAfter": clock.now() - timedelta(days=2)})
    assert resp.status_code == 400


def test_search_orders_throttling_waits_on_the_clock_without_busy_loop(fake, api, clock):
    """Burst 20, then one call per 1/0.0056 s: the client's bucket spaces calls, no 429 at all."""
    fake.populate(2500, days=20)
    pages = list(api.search_orders(marketplace_ids=MKT, created_after=clock.now() - timedelta(days=21)))
    assert len(pages) == 25
    assert fake.count("searchOrders", 429) == 0
    assert clock.sleeps == 5  # one sleep per call beyond the burst, each computed, none polled
    assert clock.slept == pytest.approx(5 / 0.0056, rel=0.01)


def test_429_from_a_drained_server_bucket_waits_for_a_token(fake, api, clock):
    """Another process used the quota: the server says 429; the client waits for one token and goes on."""
    fake.populate(50)
    from marketd.plugins.amazon.fake import Bucket

    order_id = next(iter(fake.orders))
    drained = fake.buckets["getOrder"] = Bucket(0.5, 30, clock)
    drained.tokens = 0  # someone else used the whole burst
    requests_before = fake.count("getOrder")
    assert api.get_order(order_id)["orderId"] == order_id
    assert fake.count("getOrder", 429) == 1
    assert fake.count("getOrder") - requests_before == 2
    assert clock.slept == pytest.approx(2.0, abs=0.01)  # 1 / 0.5 s, slept once
    assert clock.sleeps == 1


def test_rate_header_adapts_the_client(fake, api, clock):
    fake.populate(3)
    fake.set_limit("getOrder", 0.25, 30)  # a dynamic usage plan lower than the default 0.5
    oid = next(iter(fake.orders))
    api.get_order(oid)
    assert api.limiter.bucket_for("getOrder").rate == 0.25


def test_get_order_and_404(fake, api):
    fake.populate(2)
    oid = next(iter(fake.orders))
    assert api.get_order(oid, ["BUYER"])["buyer"]["buyerName"]
    assert api.get_order("999-0000000-0000000") is None


def test_fake_query_encodes_arrays_as_csv(fake, api, clock):
    fake.populate(3)
    list(api.search_orders(marketplace_ids=MKT, created_after=clock.now() - timedelta(days=40),
                           included_data=["BUYER", "RECIPIENT"]))
    raw = fake.calls_of("searchOrders")[-1].query
    assert raw["includedData"] == ["BUYER,RECIPIENT"]


def test_error_body_becomes_spapi_error(fake, api):
    fake.fail_next("getReport", 400, body={"errors": [{"code": "InvalidInput", "message": "bad id"}]})
    with pytest.raises(SpApiError, match="InvalidInput: bad id"):
        api.get_report("x")
