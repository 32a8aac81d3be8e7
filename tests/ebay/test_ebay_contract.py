"""The fake eBay against eBay's own OpenAPI contracts (``shared/specs/ebay``): every answer it
gives is valid (including 204s and error bodies), a drift of the fake itself is caught (599),
a request that breaks the contract is refused (400), and the documented error codes come back
for the documented mistakes. Skipped locally without the specs, failed under CI."""
from __future__ import annotations

import base64

import httpx
import pytest

from marketd.plugins.ebay.fake import SCOPE_FINANCES, SCOPE_FULFILLMENT, EbayFake

from .conftest import CREDS

pytestmark = pytest.mark.contract


class Http:
    """Raw calls to the fake, as eBay would get them."""

    def __init__(self, fake: EbayFake, scopes=(SCOPE_FULFILLMENT, SCOPE_FINANCES)):
        self.fake = fake
        self.api = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.ebay.com")
        self.apiz = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://apiz.ebay.com")
        basic = base64.b64encode(f"{CREDS[0]}:{CREDS[1]}".encode()).decode()
        r = self.api.post("/identity/v1/oauth2/token", data={"grant_type": "refresh_token",
                                                              "refresh_token": CREDS[2], "scope": " ".join(scopes)},
                          headers={"Authorization": f"Basic {basic}"})
        assert r.status_code == 200, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def get(self, path: str, query: str = "", finances=False) -> httpx.Response:
        client = self.apiz if finances else self.api
        return client.get(path + (f"?{query}" if query else ""), headers=self.headers)

    def post(self, path: str, body, **headers) -> httpx.Response:
        return self.api.post(path, json=body, headers={**self.headers, **headers})


def code(resp: httpx.Response) -> int:
    return resp.json()["errors"][0]["errorId"]


@pytest.fixture
def http(fake, clock, ebay_contract):
    fake.populate(12, days=3)
    return Http(fake)


FUL = "/sell/fulfillment/v1/order"
FIN = "/sell/finances/v1"


def test_get_orders_answers_and_paging_links(http, fake):
    r = http.get(FUL, "limit=5&offset=0")
    doc = r.json()
    assert r.status_code == 200 and doc["total"] == 12 and len(doc["orders"]) == 5 and doc["offset"] == 0
    assert "prev" not in doc and doc["next"].startswith("https://api.ebay.com/sell/fulfillment/v1/order?")
    last = http.get(FUL, "limit=5&offset=10").json()
    assert "next" not in last and "prev" in last and len(last["orders"]) == 2
    ids = [o["orderId"] for o in http.get(FUL, "limit=200").json()["orders"][:3]]
    assert [o["orderId"] for o in http.get(FUL, "orderIds=" + ",".join(ids)).json()["orders"]] == ids
    assert fake.violations == []


@pytest.mark.parametrize("query,error_id", [
    ("filter=createdate:%5B2026-10-30T00:00:00.000Z..%5D", 30700),
    ("filter=orderfulfillmentstatus:%7BNOT_STARTED%7CFULFILLED%7D", 30800),
    ("filter=lastmodifieddate:%5B2026-10-30..%5D", 30810),
    ("filter=lastmodifieddate:%5B..2026-10-30T00:00:00.000Z%5D", 30820),
    ("filter=lastmodifieddate:%5B2026-11-01T00:00:00.000Z..2026-10-30T00:00:00.000Z%5D", 30840),
    ("filter=lastmodifieddate:%5B2026-10-30T00:00:00.000Z..2026-12-30T00:00:00.000Z%5D", 30850),
    ("limit=201", 31100), ("limit=0", 31100), ("offset=-1", 31000), ("offset=x", 31000),
    ("orderIds=" + ",".join(f"1-{i}" for i in range(51)), 30900),
])
def test_get_orders_refuses_with_the_documented_codes(http, query, error_id):
    r = http.get(FUL, query)
    assert r.status_code == 400 and code(r) == error_id


def test_an_unknown_query_parameter_is_a_request_violation(http, fake):
    r = http.get(FUL, "limit=5&pageSize=5")
    assert r.status_code == 400
    assert fake.violations and "pageSize" in fake.violations[-1]["problems"][0]
    fake._violations.clear()


def test_a_body_that_breaks_the_contract_is_refused(http, fake):
    order = next(iter(fake.orders.values()))
    r = http.post(f"{FUL}/{order['orderId']}/shipping_fulfillment",
                  {"lineItems": [{"lineItemId": order["lineItems"][0]["lineItemId"], "quantity": "1"}],
                   "trackingNumber": "T1", "shippingCarrierCode": "BRT", "trackingNumbr": "x"})
    assert r.status_code == 400
    problems = " ".join(fake.violations[-1]["problems"])
    assert "'1' is not of type 'integer'" in problems and "trackingNumbr" in problems
    assert fake.fulfillments_of(order["orderId"]) == []
    fake._violations.clear()


@pytest.mark.parametrize("mutate,error_id", [
    (lambda b, o: b.update(lineItems=[{"lineItemId": "999", "quantity": 1}]), 32200),
    (lambda b, o: b.update(lineItems=b["lineItems"] * 2), 32210),
    (lambda b, o: b.update(shippingCarrierCode="NOPE"), 32300),
    (lambda b, o: b.update(shippedDate="2030-01-01T00:00:00.000Z"), 32500),
    (lambda b, o: b.update(shippedDate="yesterday"), 32500),
    (lambda b, o: b.update(lineItems=[]), 32600),
])
def test_create_fulfillment_business_rules(http, fake, mutate, error_id):
    order = next(iter(fake.orders.values()))
    body = {"lineItems": [{"lineItemId": order["lineItems"][0]["lineItemId"], "quantity": 1}],
            "trackingNumber": "T1", "shippingCarrierCode": "BRT"}
    mutate(body, order)
    r = http.post(f"{FUL}/{order['orderId']}/shipping_fulfillment", body)
    assert r.status_code == 400 and code(r) == error_id, r.text


def test_create_fulfillment_201_location_and_read_back(http, fake, clock):
    order = next(iter(fake.orders.values()))
    body = {"lineItems": [{"lineItemId": li["lineItemId"], "quantity": li["quantity"]} for li in order["lineItems"]],
            "trackingNumber": "T1", "shippingCarrierCode": "BRT", "shippedDate": fake.orders[order["orderId"]]["creationDate"]}
    r = http.post(f"{FUL}/{order['orderId']}/shipping_fulfillment", body)
    assert r.status_code == 201 and r.json() == {}
    loc = r.headers["location"]
    assert loc.startswith(f"https://api.ebay.com/sell/fulfillment/v1/order/{order['orderId']}/shipping_fulfillment/")
    assert http.post(f"{FUL}/{order['orderId']}/shipping_fulfillment", body).json()["errors"][0]["errorId"] == 34500
    listed = http.get(f"{FUL}/{order['orderId']}/shipping_fulfillment").json()
    assert listed["total"] == 1 and listed["fulfillments"][0]["shipmentTrackingNumber"] == "T1"
    one = http.get(loc.replace("https://api.ebay.com", ""))
    assert one.status_code == 200 and one.json()["fulfillmentId"] == loc.rsplit("/", 1)[1]
    assert code(http.get(f"{FUL}/{order['orderId']}/shipping_fulfillment/nope")) == 32110
    assert code(http.post(f"{FUL}/00-00000-00000/shipping_fulfillment", body)) == 32100
    assert http.get(f"{FUL}/00-00000-00000").status_code == 404
    assert http.get(f"{FUL}/{order['orderId']}").json()["orderFulfillmentStatus"] == "FULFILLED"


def test_finances_answers_204_payouts_and_transactions(http, fake, clock):
    assert http.get(f"{FIN}/payout", finances=True).status_code == 204
    assert http.get(f"{FIN}/transaction", finances=True).status_code == 204
    for o in list(fake.orders)[:4]:
        fake.touch(o, orderFulfillmentStatus="FULFILLED")
    payout = fake.make_payout(refund=(list(fake.orders)[0], "5.00"))
    r = http.get(f"{FIN}/payout", "filter=payoutStatus:%7BSUCCEEDED%7D", finances=True)
    assert r.status_code == 200 and r.json()["payouts"] == [payout]
    assert http.get(f"{FIN}/payout/{payout['payoutId']}", finances=True).json() == payout
    txs = http.get(f"{FIN}/transaction", f"filter=payoutId:%7B{payout['payoutId']}%7D&limit=2", finances=True).json()
    assert len(txs["transactions"]) == payout["transactionCount"]  # limit ignored with payoutId
    dates = [t["transactionDate"] for t in txs["transactions"]]
    assert dates == sorted(dates, reverse=True)  # always newest first
    paged = http.get(f"{FIN}/transaction", "limit=2", finances=True).json()
    assert len(paged["transactions"]) == 2 and "next" in paged


@pytest.mark.parametrize("path,query,status,error_id", [
    ("/payout", "filter=payoutStatus:%7BPAID%7D", 400, 135002),
    ("/payout", "limit=201", 400, 135003),
    ("/payout", "filter=payoutDate:%5Byesterday..%5D", 400, 135004),
    ("/payout", "sort=amount", 400, 135005),
    ("/transaction", "filter=transactionType:%7BSALES%7D", 400, 135006),
    ("/transaction", "filter=transactionStatus:%7BPAID%7D", 400, 135007),
    ("/transaction", "filter=transactionDate:%5B2026..%5D", 400, 135008),
    ("/transaction", "filter=transactionId:%7B1-2-3%7D", 400, 135009),
    ("/transaction", "limit=1001", 400, 135003),
    ("/payout/123", "", 404, 135001),
])
def test_finances_refuses_with_the_documented_codes(http, path, query, status, error_id):
    r = http.get(FIN + path, query, finances=True)
    assert r.status_code == status and code(r) == error_id


def test_finances_is_only_on_the_apiz_host(http):
    assert http.get(f"{FIN}/payout").status_code == 404
    assert http.get(f"{FIN}/payout", finances=True).status_code == 204


def test_a_token_without_the_finances_scope_is_refused(fake, ebay_contract):
    http = Http(fake, scopes=(SCOPE_FULFILLMENT,))
    r = http.get(f"{FIN}/payout", finances=True)
    assert r.status_code == 403 and code(r) == 1100
    assert http.get(FUL).status_code == 200


def test_oauth_grants(fake):
    api = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.ebay.com")
    basic = base64.b64encode(f"{CREDS[0]}:{CREDS[1]}".encode()).decode()

    def token(data, auth=basic):
        return api.post("/identity/v1/oauth2/token", data=data, headers={"Authorization": f"Basic {auth}"})

    r = token({"grant_type": "refresh_token", "refresh_token": CREDS[2]})
    assert r.status_code == 200 and r.json()["expires_in"] == 7200 and r.json()["token_type"] == "User Access Token"
    assert token({"grant_type": "refresh_token", "refresh_token": "nope"}).json()["error"] == "invalid_grant"
    assert token({"grant_type": "refresh_token", "refresh_token": CREDS[2],
                  "scope": "https://api.ebay.com/oauth/api_scope/sell.inventory"}).json()["error"] == "invalid_scope"
    assert token({"grant_type": "refresh_token", "refresh_token": CREDS[2]},
                 auth=base64.b64encode(b"x:y").decode()).status_code == 401
    app = token({"grant_type": "client_credentials", "scope": "https://api.ebay.com/oauth/api_scope"})
    assert app.status_code == 200 and app.json()["token_type"] == "Application Access Token"
    r = api.get(FUL, headers={"Authorization": f"Bearer {app.json()['access_token']}"})
    assert r.status_code == 403  # an application token reads no seller data


def test_a_drift_of_the_fake_itself_answers_599(clock, ebay_contract):
    """legacyOrderId is gone from v1.20.7: a fake still sending it is caught, not trusted."""
    fake = EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], contract=ebay_contract)
    orders = fake.populate(2)
    fake.orders[orders[0]["orderId"]]["legacyOrderId"] = "110123456789-2345678901"
    http = Http(fake)
    r = http.get(FUL)
    assert r.status_code == 599 and "legacyOrderId" in str(fake.response_violations)
    fake.orders[orders[1]["orderId"]]["pricingSummary"]["total"]["value"] = 12.5  # a number, not a string
    fake.orders[orders[0]["orderId"]].pop("legacyOrderId")
    assert http.get(FUL).status_code == 599 and "is not of type 'string'" in str(fake.response_violations[-1])


def test_an_undeclared_status_or_error_code_is_a_drift(clock, ebay_contract):
    fake = EbayFake(clock, client_id=CREDS[0], client_secret=CREDS[1], refresh_token=CREDS[2], contract=ebay_contract)
    fake.populate(1)
    http = Http(fake)
    fake.fail_next("getOrders", 418)
    assert http.get(FUL).status_code == 599
    fake.fail_next("getOrders", 400, body={"errors": [{"errorId": 32300, "message": "not getOrders' code"}]})
    assert http.get(FUL).status_code == 599
    fake.fail_next("getPayouts", 204, body=b"{}")
    assert http.get(f"{FIN}/payout", finances=True).status_code == 599
    assert len(fake.response_violations) == 3


def test_the_429_body_is_ebays(http, fake):
    fake.set_quota("order", fake.quota_count("order"))
    r = http.get(FUL)
    assert r.status_code == 429
    assert r.json() == {"errors": [{"errorId": 2001, "domain": "ACCESS", "category": "REQUEST",
                                    "message": "Too many requests.",
                                    "longMessage": "The request limit has been reached for the resource."}]}
