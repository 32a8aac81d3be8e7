"""eBay payouts from the Finances API into ``inbox/settlements/``: once each, as received, 0600."""
from __future__ import annotations

import json
import logging
import stat
from datetime import timedelta
from decimal import Decimal

from marketd.plugins.ebay.jobs import fetch_all_payouts
from marketd.plugins.ebay.payouts import fetch_payouts


def _shipped(fake, n=4):
    orders = fake.populate(n, days=3)
    for o in orders:
        fake.touch(o["orderId"], orderFulfillmentStatus="FULFILLED")
    return orders


def test_payouts_fetch_is_off_by_default(fake, make_app, caplog):
    caplog.set_level(logging.INFO, logger="marketd.ebay")
    app = make_app(shop={})
    assert fetch_all_payouts(app, None) == {} and fetch_all_payouts(app, None) == {}
    assert fake.journal == [] and caplog.text.count("settlements_fetch is off") == 1


def test_each_payout_is_written_once_as_received(fake, make_app, clock, ebay_contract):
    orders = _shipped(fake)
    payout = fake.make_payout(refund=(orders[0]["orderId"], Decimal("3.00")))
    app = make_app(shop={"settlements_fetch": True})
    ch = app.channel("shop")
    files = fetch_payouts(app, ch)
    assert len(files) == 1 and files[0].parent == app.inbox_dir / "settlements"
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert not list(files[0].parent.glob(".*.tmp"))
    doc = json.loads(files[0].read_text())
    assert doc["marketd_source"] == "ebay-finances-v1" and doc["account"] == "shop" and doc["marketplace"] == "EBAY_IT"
    assert doc["payout"] == payout
    assert sorted(t["transactionId"] for t in doc["transactions"]) == \
        sorted(t["transactionId"] for t in fake.transactions if t["payoutId"] == payout["payoutId"])
    signed = sum(Decimal(t["amount"]["value"]) * (1 if t["bookingEntry"] == "CREDIT" else -1)
                 for t in doc["transactions"])
    assert signed == Decimal(payout["amount"]["value"]) and len(doc["transactions"]) == payout["transactionCount"]
    # the filters as eBay documents them: one payoutStatus per call, payoutId for the transactions
    filters = [c.query["filter"][0] for c in fake.calls_of("getPayouts")]
    assert [f.split(",")[1] for f in filters] == ["payoutStatus:{SUCCEEDED}", "payoutStatus:{REVERSED}"]
    assert fake.calls_of("getTransactions")[0].query["filter"] == [f"payoutId:{{{payout['payoutId']}}}"]
    assert fake.violations == []
    # the next run: nothing new, nothing written
    clock.advance(6 * 3600)
    assert fetch_payouts(app, ch) == [] and fake.count("getTransactions") == 1
    # a later payout, and the window starts three days before the newest one seen
    fake.touch(fake.new_orders(1)[0]["orderId"], orderFulfillmentStatus="FULFILLED")
    later = fake.make_payout()
    assert [f.name for f in fetch_payouts(app, ch)] == [f"ebay-shop-payout-{later['payoutId']}.json"]
    start = fake.calls_of("getPayouts")[-1].query["filter"][0].split("[")[1].split("..")[0]
    assert start == (fake.clock.now() - timedelta(hours=6, days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_reversed_payouts_are_fetched_too(fake, make_app):
    _shipped(fake, 2)
    reversed_ = fake.make_payout(status="REVERSED")
    app = make_app(shop={"settlements_fetch": True})
    files = fetch_payouts(app, app.channel("shop"))
    assert [json.loads(f.read_text())["payout"]["payoutStatus"] for f in files] == ["REVERSED"]
    assert reversed_["payoutId"] in files[0].name


def test_buyer_usernames_stay_in_the_private_file_not_in_the_log(fake, make_app, caplog):
    orders = _shipped(fake, 3)
    fake.make_payout()
    caplog.set_level(logging.DEBUG)
    app = make_app(shop={"settlements_fetch": True})
    fetch_payouts(app, app.channel("shop"))
    for o in orders:
        assert o["buyer"]["username"] not in caplog.text
