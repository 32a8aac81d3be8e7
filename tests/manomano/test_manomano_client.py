"""The client against the fake, in-process: auth headers, paging by ``links.next``, the per-key
budget shared by every contract, 429 and 503 handling, sending ``shippings`` once."""
from __future__ import annotations

from collections import deque
from datetime import datetime, timezone

import httpx
import pytest

from marketd.plugins.manomano.client import ManoManoClient, ManoManoError, key_budget
from marketd.plugins.manomano.fake import ManoManoFake, sandbox_open
from marketd.sdk import ConfigError, FakeClock, RateLimited, TransientError

from .conftest import CONTRACTS, KEY


def client(fake, key=KEY, **kw) -> ManoManoClient:
    return ManoManoClient("https://partnersapi.manomano.com", lambda: key, thirdparty_name="marketd_test",
                          account="t", transport=httpx.WSGITransport(app=fake), clock=fake.clock, **kw)


def max_in_an_hour(times: list[float]) -> int:
    """The most calls any sliding hour held."""
    window, best = deque(), 0
    for t in sorted(times):
        window.append(t)
        while window[0] <= t - 3600:
            window.popleft()
        best = max(best, len(window))
    return best


def test_auth_headers_and_the_thirdparty_name(world):
    world.fake.add_order("M1", status="PENDING")
    api = client(world.fake)
    assert api.get_order(CONTRACTS[0], "M1")["status"] == "PENDING"
    seen = world.fake.calls_of("getOrder")[0]
    assert seen.headers["x-api-key"] == "***"  # the journal never keeps the key
    assert seen.query["seller_contract_id"] == [str(CONTRACTS[0])]
    assert world.fake.thirdparty_names == {"marketd_test": 1}


def test_a_wrong_key_or_a_foreign_contract_is_an_account_error(world):
    with pytest.raises(ManoManoError, match="403.*Invalid API key.*refused the API key"):
        client(world.fake, key="not-a-key").get_order(CONTRACTS[0], "M1")
    with pytest.raises(ManoManoError, match="403.*does not belong to this API key"):
        client(world.fake).get_order(4242, "M1")
    assert client(world.fake).get_order(CONTRACTS[0], "M-unknown") is None  # 404: no such order


def test_a_missing_secret_names_the_variable(world):
    app = world.app()
    world.monkeypatch.delenv("MARKETD_MANOMANO_MM_FR_API_KEY")
    with pytest.raises(ConfigError, match="MARKETD_MANOMANO_MM_FR_API_KEY"):
        app.channel("mm-fr").api.get_order(CONTRACTS[0], "M1")


def test_paging_follows_links_next_on_our_own_host(world):
    world.fake.populate(250, days=3)
    api = client(world.fake)
    pages = list(api.list_orders(CONTRACTS[0], limit=100))
    assert [len(p["content"]) for p, _ in pages] == [100, 100, 50]
    assert [link is None for _, link in pages] == [False, False, True]
    assert [c.query["page"] for c in world.fake.calls_of("listOrders")] == [["1"], ["2"], ["3"]]
    refs = [o["order_reference"] for p, _ in pages for o in p["content"]]
    assert len(set(refs)) == 250


@pytest.mark.parametrize("link,problem", [
    ("https://evil.example/orders/v1/orders?page=2", "another host"),
    ("/orders/v1/other?page=2", "not the orders listing"),
    ("/orders/v1/orders?seller_contract_id=9&page=2", "another seller_contract_id")])
def test_a_next_link_never_takes_the_key_elsewhere(world, link, problem):
    with pytest.raises(ManoManoError, match=problem):
        client(world.fake)._next(link, CONTRACTS[0])


def test_the_fake_refuses_a_limit_above_100(world):
    for contract in (None, world.fake.contract):  # its own rule, and the contract's
        fake = ManoManoFake(FakeClock(), keys={KEY: [1001]}, contract=contract)
        r = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://p").get(
            "/orders/v1/orders", params={"seller_contract_id": 1001, "limit": 101}, headers={"x-api-key": KEY})
        assert r.status_code == 400
        assert ("between 1 and 100" in r.json()["message"]) if contract is None else fake.violations


def test_one_budget_per_key_whatever_the_contract(world):
    """Two accounts (FR and IT contracts) with one key share one bucket: 300 calls across both
    never meet a 429, and no sliding hour holds more than 250 of them."""
    world.fake.add_order("M1", contract=CONTRACTS[0], status="PENDING")
    world.fake.add_order("M2", contract=CONTRACTS[1], status="PENDING")
    app = world.app({"mm-fr": {"contract_id": CONTRACTS[0]}, "mm-it": {"contract_id": CONTRACTS[1]}})
    fr, it = app.channel("mm-fr"), app.channel("mm-it")
    for i in range(150):
        assert fr.api.get_order(fr.contract_id, "M1") is not None
        assert it.api.get_order(it.contract_id, "M2") is not None
    assert fr.api.budget is it.api.budget
    assert world.fake.count(status=429) == 0
    times = [datetime.fromisoformat(c.at).timestamp() for c in world.fake.calls_of("getOrder")]
    assert len(times) == 300 and max_in_an_hour(times) <= 250
    assert world.clock.slept >= (300 - 25) / (225 / 3600) - 1  # waited on the fake clock, never for real


def test_a_429_waits_for_retry_after_and_succeeds(world):
    """A budget larger than the server's (another tool uses the same key): the fake answers 429
    with Retry-After, the client waits that long on the clock, and every call ends well."""
    world.fake.add_order("M1", status="PENDING")
    api = client(world.fake, per_hour=5000)
    for _ in range(300):
        assert api.get_order(CONTRACTS[0], "M1") is not None
    assert world.fake.count(status=429) >= 1
    ok = [datetime.fromisoformat(c.at).timestamp() for c in world.fake.calls_of("getOrder", status=200)]
    assert len(ok) == 300 and max_in_an_hour(ok) <= 250


def test_the_sandbox_is_closed_at_night_and_says_so(world):
    assert sandbox_open(datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc))        # Monday 10:00 CEST
    assert not sandbox_open(datetime(2026, 11, 7, 12, 0, tzinfo=timezone.utc))   # Saturday
    assert not sandbox_open(datetime(2026, 11, 3, 4, 0, tzinfo=timezone.utc))    # Tuesday 06:00 CEST
    clock = FakeClock(datetime(2026, 11, 7, 12, 0, tzinfo=timezone.utc))
    fake = ManoManoFake(clock, keys={KEY: [1001]}, opening_hours=True)
    with pytest.raises(TransientError, match="HTTP 503.*sandbox only answers Mon 00:00-20:00"):
        client(fake, sandbox=True).get_order(1001, "M1")
    assert fake.count(status=503) == 4  # the default retries, on the fake clock


def test_shippings_is_sent_once_even_when_the_answer_is_lost(world):
    world.fake.add_order("M1", status="PREPARATION")
    world.fake.lose_answer("createShippings")
    item = {"order_reference": "M1", "seller_contract_id": CONTRACTS[0], "carrier": "BRT", "tracking_number": "T1"}
    with pytest.raises(TransientError, match="HTTP 500 after 1 attempt"):
        client(world.fake).ship([item])
    assert world.fake.count("createShippings") == 1 and len(world.fake.shippings) == 1
    world.fake.fail_next("acceptOrders", 503)  # an accept is safe to repeat: retried by the default policy
    world.fake.add_order("M2", status="PENDING")
    status, _ = client(world.fake).accept_orders([{"order_reference": "M2", "seller_contract_id": CONTRACTS[0]}])
    assert status == 204 and world.fake.count("acceptOrders") == 2


def test_sync_pages_wait_on_their_own_share(world):
    """Order pages take tokens from the sync share too: with max_wait 0 a pass stops (before
    sending) once the share's burst is spent, while other calls still have the key's tokens."""
    world.fake.populate(40, days=2)
    api = client(world.fake)
    got = 0
    with pytest.raises(RateLimited):
        for _page, _link in api.list_orders(CONTRACTS[0], limit=1, max_wait=0):
            got += 1
    share = key_budget(KEY, world.clock).sync.burst
    assert got == share == 17 and world.fake.count("listOrders") == 17
    assert api.get_order(CONTRACTS[0], "M-none") is None  # the key's own bucket has tokens left
