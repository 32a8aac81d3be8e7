"""The carrier fakes keep the contract the research describes (so tests against them mean something)."""
from __future__ import annotations

import base64

import httpx
import pytest

from marketd.sdk.labels import check_pdf_label, zpl_blocks
from marketd.plugins.brt.fake import BrtFake
from marketd.plugins.mall.fake import MallFake


def mall_client(fake, client_id="mall-client-id"):
    return httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="http://mall",
                        params={"client_id": client_id})


def test_mall_envelope_auth_and_quota():
    fake = MallFake(daily_quota={"orders": 2})
    fake.add_order(1)
    assert mall_client(fake, "nope").get("/v1/orders/1").status_code == 403
    c = mall_client(fake)
    body = c.get("/v1/orders", params={"filter": "basic", "page_size": 1}).json()
    assert set(body) == {"result", "paging", "data"} and body["result"] == {"code": 200, "status": "OK"}
    assert body["paging"] == {"pages": 1, "size": 1, "page": 1, "total": 1}
    c.get("/v1/orders/1")
    r = c.get("/v1/orders/1")
    assert r.status_code == 429 and r.json()["result"]["status"] == "LIMITED"
    fake.clock.advance(86400)
    assert c.get("/v1/orders/1").status_code == 200


def test_mall_state_machine_and_mdp_rules():
    fake = MallFake(pickup_delay=3600, delivery_delay=7200)
    fake.add_order(1, mdp=True)
    fake.add_order(2, mdp=False)
    c = mall_client(fake)
    assert c.put("/v1/orders/1", json={"status": "shipping"}).json()["result"]["message"].endswith("confirmed first")
    r = c.put("/v1/orders/1", json={"status": "delivered", "confirmed": True})
    assert r.status_code == 400 and "not allowed" in r.json()["result"]["message"]
    assert c.post("/v1/orders/labels", json={"labels": [{"order_id": 1, "parcel_count": 1}]}).status_code == 400
    assert c.put("/v1/orders/1", json={"status": "shipping", "confirmed": True}).status_code == 200
    r = c.put("/v1/orders/1", json={"status": "shipped"})
    assert r.status_code == 400 and "MALL Delivery" in r.json()["result"]["message"]
    assert c.get("/v1/orders/1").json()["data"]["tracking_number"] is None
    lab = c.post("/v1/orders/labels", json={"labels_type": "zpl", "labels": [{"order_id": 1, "parcel_count": 2}]}).json()
    assert lab["data"]["orders"][0]["barcodes"] == ["14IS00000001*001002", "14IS00000001*002002"]
    assert len(zpl_blocks(base64.b64decode(lab["data"]["labels_raw"]))) == 2
    fake.clock.advance(3600)
    order = c.get("/v1/orders/1").json()["data"]
    assert order["status"] == "shipped" and order["tracking_number"]
    again = c.post("/v1/orders/labels", json={"labels": [{"order_id": 1, "parcel_count": 5}]}).json()
    assert len(again["data"]["orders"][0]["barcodes"]) == 2  # reprint of the last version only
    fake.clock.advance(7200)
    assert c.get("/v1/orders/1").json()["data"]["status"] == "delivered"
    # a non-MDP order: the partner drives it and sets tracking
    assert c.put("/v1/orders/2", json={"status": "shipped", "confirmed": True, "tracking_number": "T2"}).status_code == 200
    assert c.put("/v1/orders/2", json={"status": "delivered"}).status_code == 200
    assert c.put("/v1/orders/2", json={"status": "open"}).status_code == 400


def test_mall_pdf_labels_are_a4_with_four_per_page():
    fake = MallFake()
    fake.add_order(7, status="open")
    c = mall_client(fake)
    c.put("/v1/orders/7", json={"status": "shipping", "confirmed": True})
    raw = base64.b64decode(c.post("/v1/orders/labels", json={"labels_type": "pdf", "labels_per_page": 4,
                                                               "labels": [{"order_id": 7, "parcel_count": 5}]}
                                  ).json()["data"]["labels_raw"])
    assert [tuple(round(x) for x in p) for p in check_pdf_label(raw)] == [(210, 297), (210, 297)]


def test_brt_auth_delay_bounds_and_delete_after_pickup():
    with pytest.raises(ValueError):
        BrtFake(tracking_delay=60)
    fake = BrtFake(tracking_delay=600, event_interval=600)
    c = httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="http://brt/rest/v1")
    assert c.get("/tracking/parcelID/1", headers={"userID": "x", "password": "y"}).status_code == 401
    assert c.post("/shipments/shipment", json={"account": {"userID": "x", "password": "y"}}).status_code == 401
    acct = {"userID": fake.user_id, "password": fake.password}
    data = {"departureDepot": 102, "senderCustomerCode": 1, "consigneeCompanyName": "A", "consigneeAddress": "Via 1",
            "consigneeZIPCode": "00184", "consigneeCity": "Roma", "consigneeProvinceAbbreviation": "RM",
            "consigneeCountryAbbreviationISOAlpha2": "IT", "numberOfParcels": 1, "weightKG": 1,
            "numericSenderReference": 5, "alphanumericSenderReference": "R5"}
    r = c.post("/shipments/shipment", json={"account": acct, "createData": data}).json()["createResponse"]
    assert r["executionMessage"]["code"] == 0 and isinstance(r["labels"]["label"], dict)  # one parcel: an object
    assert check_pdf_label(base64.b64decode(r["labels"]["label"]["stream"]))
    ref = {"senderCustomerCode": 1, "numericSenderReference": 5, "alphanumericSenderReference": "R5"}
    fake.clock.advance(601)
    d = c.put("/shipments/delete", json={"account": acct, "deleteData": ref}).json()["deleteResponse"]
    assert d["executionMessage"]["severity"] == "ERROR" and "PICKED UP" in d["executionMessage"]["codeDesc"]
    # advance over HTTP, as a test driving a daemon subprocess does
    assert c.post("http://brt/__control/advance", params={"seconds": 700}).status_code == 200
    t = c.get(f"/tracking/parcelID/{r['labels']['label']['parcelID']}",
              headers={"userID": fake.user_id, "password": fake.password}).json()["ttParcelIdResponse"]
    ids = [e["evento"]["id"] for e in t["lista_eventi"]]
    assert ids[:2] == ["702", "701"] and ids[2:] == [""] * 8  # newest first, then the padding
