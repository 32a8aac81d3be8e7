"""LWA: token cache with expiry margin, refresh on a 403 for an expired token, clear refusals."""
from __future__ import annotations

import pytest

from marketd.errors import ConfigError
from marketd.plugins.amazon.lwa import LwaClient, LwaError

from .spapi_fixtures import CREDS, LWA
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures)


def test_token_is_cached_until_the_margin(fake, transport, clock):
    lwa = LwaClient(lambda: CREDS, endpoint=LWA, transport=transport, clock=clock, margin=60)
    t1 = lwa.access_token()
    assert t1.startswith("Atza|")
    clock.advance(3600 - 61)
    assert lwa.access_token() == t1
    assert fake.count("lwa.token") == 1
    clock.advance(2)  # now inside the 60 s margin: refreshed before it can expire mid-call
    t2 = lwa.access_token()
    assert t2 != t1 and fake.count("lwa.token") == 2


def test_token_request_is_form_encoded_and_journal_redacted(fake, transport, clock):
    LwaClient(lambda: CREDS, endpoint=LWA, transport=transport, clock=clock).access_token()
    call = fake.calls_of("lwa.token")[0]
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert b"grant_type=refresh_token" in call.body
    assert CREDS[1].encode() not in call.body and CREDS[2].encode() not in call.body


def test_expired_token_403_refreshes_once_and_retries(fake, api, clock):
    fake.populate(3)
    after = clock.now().replace(year=2025)
    list(api.search_orders(marketplace_ids=["APJ6JRA9NG5V4"], created_after=after))
    assert fake.count("lwa.token") == 1
    fake.expire_tokens()  # the server says the cached token is expired (clock skew, revocation)
    pages = list(api.search_orders(marketplace_ids=["APJ6JRA9NG5V4"], created_after=after))
    assert len(pages[0]["orders"]) == 3
    assert fake.count("lwa.token") == 2
    assert fake.count("searchOrders", 403) == 1


def test_token_expiring_on_the_clock_is_refreshed_before_use(fake, api, clock):
    fake.populate(2)
    after = clock.now().replace(year=2025)
    list(api.search_orders(marketplace_ids=["APJ6JRA9NG5V4"], created_after=after))
    clock.advance(3600)
    list(api.search_orders(marketplace_ids=["APJ6JRA9NG5V4"], created_after=after))
    assert fake.count("searchOrders", 403) == 0  # the margin refreshed it first
    assert fake.count("lwa.token") == 2


def test_persistent_403_is_an_error_with_a_hint(fake, api):
    from marketd.plugins.amazon.client import SpApiError

    fake.fail_next("getReport", 403, times=2,
                   body={"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]})
    with pytest.raises(SpApiError, match="role"):
        api.get_report("1")
    assert fake.count("lwa.token") == 2  # refreshed once, not in a loop


def test_unknown_refresh_token_is_a_config_error_without_the_secret(fake, transport, clock):
    lwa = LwaClient(lambda: (CREDS[0], CREDS[1], "Atzr|revoked-token-000"), endpoint=LWA, transport=transport,
                    clock=clock, account="shop")
    with pytest.raises(LwaError) as exc:
        lwa.access_token()
    assert isinstance(exc.value, ConfigError)
    assert "invalid_grant" in str(exc.value) and "re-authorise" in str(exc.value)
    assert "Atzr|revoked" not in str(exc.value) and CREDS[1] not in str(exc.value)


def test_wrong_client_secret(fake, transport, clock):
    lwa = LwaClient(lambda: (CREDS[0], "wrong-secret", CREDS[2]), endpoint=LWA, transport=transport, clock=clock)
    with pytest.raises(LwaError, match="invalid_client"):
        lwa.access_token()


def test_lwa_5xx_is_retried(fake, transport, clock):
    fake.fail_next("lwa.token", 503, times=2)
    lwa = LwaClient(lambda: CREDS, endpoint=LWA, transport=transport, clock=clock)
    assert lwa.access_token().startswith("Atza|")
    assert fake.count("lwa.token") == 3 and clock.sleeps == 2
