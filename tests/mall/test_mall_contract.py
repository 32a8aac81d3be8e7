"""The MALL fake and our client against the hand-written MPAPI contract (tests/contracts/mall):
every answer of a full day's flow validates, a drift in the fake is caught (HTTP 599), and a
request our client should never send is refused (HTTP 400)."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator

from marketd.sdk import Address, LabelFormat, Parcel, ShipmentRequest
from tests.fakes.mall_contract import FOLDER, MallContract

from .conftest import ACCOUNT


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.json")), ids=lambda p: p.name)
def test_the_schemas_are_valid_and_cite_their_source(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(doc)
    assert any(src in doc["$comment"] for src in ("[AC §4]", "[SF §5]", "[PHP]"))   # the README's sources


def test_a_whole_flow_validates(mall_app, fake, clock):
    fake.add_order(1, mdp=True, confirmed=False)
    fake.add_order(2, mdp=False, confirmed=True, cod=578.0, payment_type="D")
    fake.add_order(3, mdp=False, status="blocked")
    app = mall_app(carriers={"mdp": {"type": "mall_delivery", "channels": [ACCOUNT]}}, auto_confirm=True)
    ch = app.channel(ACCOUNT)
    ch.sync_orders(None)
    ch.unconfirmed()
    req = ShipmentRequest("mdp", [Parcel(Decimal(1))], Address(name="x"), label_format=LabelFormat.PDF,
                          references=["1"], options={"order_ids": ["1"]})
    assert app.carrier("mdp").create_shipment(req).ok
    assert ch.confirm_shipment("2", {"trackingNumber": "DPD2", "trackingUrl": "https://t.example/2"})["ok"]
    clock.advance(fake.delivery_delay + fake.pickup_delay + 1)
    ch.sync_orders(None)
    fake.finance.run_now()
    clock.advance(3 * 86400)
    fake.tick()
    invoices = list(ch.client.iter_invoices())
    offsets = list(ch.client.iter_offsets())
    assert invoices and offsets
    assert ch.client.get_invoice(str(invoices[0]["id"]))[0]["items"]
    assert ch.client.get_offset(str(offsets[0]["id"]))[0]["orders"][0]["id"] == 2
    assert {r.operation for r in fake.journal} >= {
        "mall.list_orders", "mall.get_order", "mall.update_order", "mall.unconfirmed", "mall.labels",
        "mall.list_invoices", "mall.get_invoice", "mall.list_offsets", "mall.get_offset"}
    assert fake.violations == [] and fake.response_violations == []


def test_a_drift_in_the_fake_is_caught(mall_app, fake):
    fake.add_order(5, mdp=False)
    fake.orders[5]["items"][0]["price"] = "499,00"     # MALL sends numbers, never text
    app = mall_app()
    order, msgs = app.channel(ACCOUNT).client.get_order("5")
    assert order is None
    assert fake.calls_of("mall.get_order")[-1].status == 599
    assert any("items/0/price" in v for v in fake.response_violations)


def test_a_request_outside_the_contract_is_refused(mall_app, fake):
    fake.add_order(6, mdp=False, confirmed=True)
    app = mall_app()
    data, msgs = app.channel(ACCOUNT).client.update_order("6", {"status": "flying"})
    assert data is None and "flying" in msgs[0].text
    assert fake.orders[6]["status"] == "open"
    assert fake.violations and "mall.update_order" in fake.violations[0]


def test_without_a_contract_nothing_claims_to_be_checked():
    from marketd.plugins.mall.fake import MallFake

    with pytest.raises(RuntimeError, match="no contract"):
        MallFake().violations


def test_contract_knows_every_route_the_client_uses():
    from tests.fakes.mall_contract import RESPONSES

    import inspect

    from marketd.plugins.mall import client

    used = set(__import__("re").findall(r'"(mall\.[a-z_]+)"', inspect.getsource(client)))
    assert used <= set(RESPONSES), used - set(RESPONSES)
    assert MallContract().check_response("mall.list_orders", 200, {"result": {"code": 200, "status": "OK"},
                                                                   "data": [1, 2]}) == ["paging: missing on a listing"]
