"""Cancelling Amazon MFN orders with ``marketd orders act ORDER cancel``: the real Amazon channel
sends a ``POST_ORDER_ACKNOWLEDGEMENT_DATA`` feed (XML) through the Feeds API of the fake
SP-API; the fake judges the envelope while processing it (a broken message is a violation and
an error in its XML processing report), cancels the order or its lines, and the next order sync
shows it."""
from __future__ import annotations

import gzip
import json
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from marketd.app import App
from marketd.config import default_config

from tests.amazon.spapi_fixtures import CHANNEL, clock, creds_env, fake, transport  # noqa: F401  (fixtures)


@pytest.fixture
def world(tmp_path, clock, fake, transport, creds_env):  # noqa: F811
    import marketd.plugins.actions as actions_plugin
    import marketd.plugins.amazon as amazon_plugin
    import marketd.plugins.settlements as settlements_plugin

    fake.new_orders(3, status="UNSHIPPED")
    cfg = default_config(tmp_path / "inst")
    cfg["channels"]["amz"] = {**CHANNEL, "seller_id": fake.seller_id, "transport": transport, "orders_sync": True}
    creds_env("amz")
    app = App(cfg, clock=clock, load_entry_points=False, extra_plugins={
        "amazon": amazon_plugin, "settlements": settlements_plugin, "actions": actions_plugin})
    clock.advance(600)   # orders are listed once they are older than Amazon's lag
    app.channel("amz").sync_orders(None)
    assert len(list(app.store.db.query("select key from orders"))) == 3
    yield app
    app.close()


def act(app, *args):
    from marketd.cli import cli

    return CliRunner().invoke(cli, ["orders", "act", *args], obj={"app": app}, env={"USER": "anna"},
                              catch_exceptions=False)


def processed(fake, clock, feed_id: str) -> ET.Element:
    clock.advance(120)
    feed = fake._public_feed(fake.feeds[feed_id])
    assert feed["processingStatus"] == "DONE"
    return ET.fromstring(gzip.decompress(fake.documents[feed["resultFeedDocumentId"]]["data"]))


def test_a_whole_order_is_cancelled_by_an_acknowledgement_failure_once(world, fake, clock):  # noqa: F811
    app = world
    oid = sorted(fake.orders)[0]
    res = act(app, oid, "cancel", "--reason", "out_of_stock")
    assert res.exit_code == 0, res.output
    (row,) = app.store.db.query("select * from order_actions")
    feed = fake.feeds[row["remote_ref"]]
    assert feed["feedType"] == "POST_ORDER_ACKNOWLEDGEMENT_DATA"
    sent = ET.fromstring(fake.feed_uploads[feed["_doc"]]["data"])
    assert sent.findtext("MessageType") == "OrderAcknowledgement"
    assert sent.findtext("Message/OrderAcknowledgement/StatusCode") == "Failure"
    assert {i.findtext("CancelReason") for i in sent.iter("Item")} == {"NoInventory"}
    report = processed(fake, clock, row["remote_ref"])
    assert report.findtext(".//MessagesWithError") == "0" and report.findtext(".//MessagesSuccessful") == "1"
    assert fake.orders[oid]["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert fake.violations == []
    again = act(app, oid, "cancel", "--reason", "out_of_stock")
    assert "already done" in again.output and len([f for f in fake.feeds.values()
                                                   if f["feedType"] == "POST_ORDER_ACKNOWLEDGEMENT_DATA"]) == 1
    clock.advance(600)
    app.channel("amz").sync_orders(None)
    assert app.store.get_order(f"amz:{oid}")["status"] == "CANCELLED"


def test_one_line_is_cancelled_with_success_and_its_item_code(world, fake, clock):  # noqa: F811
    app = world
    oid = sorted(fake.orders)[1]
    first = fake.orders[oid]["orderItems"][0]
    second = {**first, "orderItemId": str(int(first["orderItemId"]) + 1),
              "product": {**first["product"], "sellerSku": first["product"]["sellerSku"] + "-B"}}
    fake.touch(oid, orderItems=[first, second])   # two lines
    clock.advance(600)
    app.channel("amz").sync_orders(None)
    order = app.store.get_order(f"amz:{oid}")
    items = json.loads(order["items"]) if isinstance(order["items"], str) else order["items"]
    keep, drop = items[0], items[1]
    res = act(app, oid, "cancel", "--lines", f"{drop['sku']}:{drop['quantity']}", "--reason", "buyer_request")
    assert res.exit_code == 0, res.output
    (row,) = app.store.db.query("select * from order_actions")
    sent = ET.fromstring(fake.feed_uploads[fake.feeds[row["remote_ref"]]["_doc"]]["data"])
    assert sent.findtext(".//StatusCode") == "Success"
    assert [i.findtext("AmazonOrderItemCode") for i in sent.iter("Item")] == [str(drop["order_item_id"])]
    processed(fake, clock, row["remote_ref"])
    assert [str(i["orderItemId"]) for i in fake.orders[oid]["orderItems"]] == [str(keep["order_item_id"])]
    assert fake.orders[oid]["fulfillment"]["fulfillmentStatus"] != "CANCELLED"
    # part of a line cannot be said in an acknowledgement: refused before anything is sent
    part = act(app, oid, "cancel", "--lines", f"{keep['sku']}:{int(keep['quantity']) + 1}")
    assert part.exit_code != 0 and "whole quantity" in part.output


def test_a_shipped_order_is_refused_before_a_feed_and_a_bad_feed_shows_in_the_report(world, fake, clock):  # noqa: F811
    app = world
    oid = sorted(fake.orders)[2]
    fake.touch(oid, status="SHIPPED")
    clock.advance(600)
    app.channel("amz").sync_orders(None)
    res = act(app, oid, "cancel")
    assert res.exit_code != 0 and "unshipped orders only" in res.output
    assert not [f for f in fake.feeds.values() if f["feedType"] == "POST_ORDER_ACKNOWLEDGEMENT_DATA"]
    # the fake's side of the contract: an unknown reason is an error in the processing report
    from marketd.plugins.amazon import listings_api as feeds
    from marketd.plugins.amazon.order_feeds import CONTENT_TYPE, FEED_TYPE, acknowledgement_feed

    api = app.channel("amz").api
    other = sorted(fake.orders)[0]
    code = str(fake.orders[other]["orderItems"][0]["orderItemId"])
    doc = feeds.create_feed_document(api, CONTENT_TYPE)
    feeds.upload(api, doc["url"], acknowledgement_feed(fake.seller_id, other, "Failure", [code], "Whim"), CONTENT_TYPE)
    feed_id = feeds.create_feed(api, FEED_TYPE, [app.channel("amz").marketplace_id], doc["feedDocumentId"])
    report = processed(fake, clock, feed_id)
    assert report.findtext(".//MessagesWithError") == "1" and "CancelReason" in report.findtext(".//ResultDescription")
    assert fake.orders[other]["fulfillment"]["fulfillmentStatus"] != "CANCELLED"
    assert fake.violations and "Whim" in fake.violations[0]["problems"][0]
