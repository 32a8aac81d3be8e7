"""MALL's self-billing invoices, credit notes and offsets: the money rules on plain documents,
then through the real settlements plugin (files from the mall-finance job, the fake's numbers):
what MALL paid versus each order's gross, credit notes for returns, COD offsets."""
from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

import marketd.plugins.mall as mall_plugin
import marketd.plugins.settlements as settlements_plugin
from marketd.plugins.mall import finance
from marketd.plugins.mall.client import loads
from marketd.plugins.mall.fake import MallFake
from marketd.plugins.mall.settings import env_name
from marketd.sdk import FakeClock, FileRejected, process_file
from marketd.sdk.testing import make_app, run_job
from tests.fakes.mall_contract import MallContract

INVOICE = """{"invoiceNumber":"3000100123","currency":"CZK","invoiceType":"SB","documentType":"invoice","total":1694.0,
 "createdAt":"2026-10-28 10:00:00","deliveryAt":"2026-10-28",
 "items":[{"id":1,"articleId":"SKU-1","title":"Hrnek","quantity":2,"unitPrice":700.0,"priceWithoutVat":1400.0,
           "vatRate":21,"vatPrice":294.0,"totalPrice":1694.0,"orderId":123456}],
 "taxRecap":{"total":1694.0,"taxes":[{"tax":21,"base":1400.0,"total":1694.0,"price":294.0}]}}"""
OFFSET = """{"documentNumber":"0000003000-28102026","currency":"CZK","diffPrice":1195.0,"createdAt":"2026-10-30 09:00:00",
 "invoices":[{"invoiceNumber":"3000100123","sumPrice":1694.0,"offsetPrice":1694.0,"remainPrice":0.0}],
 "orders":[{"id":123999,"sumPrice":499.0,"offsetPrice":499.0,"remainPrice":0.0}]}"""


def test_invoice_is_one_net_line_per_order_and_checks_its_totals():
    p = finance.invoice_payout(loads(INVOICE), "mall-cz")
    assert (p.kind, p.source, p.payout_id, p.status) == ("invoice", "mall-invoice", "3000100123", "ok")
    assert p.bkey() == "mall-invoice:mall-cz:3000100123" and p.match_channels == ("mall-cz",)
    [line] = p.lines
    assert (line.category, line.subtype, line.order_ref, line.amount, line.currency) == (
        "revenue", "net_of_fees", "123456", Decimal("1694.0"), "CZK")
    assert p.paid_at.isoformat() == "2026-10-28T10:00:00+01:00"   # MALL's local time, CET in late October
    bad = loads(INVOICE.replace('"total":1694.0,\n "createdAt"', '"total":1694.5,\n "createdAt"'))
    worse = finance.invoice_payout(bad, "mall-cz")
    assert worse.status == "inconsistent" and "1694.5" in worse.check_detail


def test_credit_note_is_told_by_the_fifth_digit():
    doc = loads(INVOICE.replace("3000100123", "3000900007"))
    p = finance.invoice_payout(doc, "mall-cz")
    assert p.kind == "credit_note" and p.stated_total == Decimal("-1694.0")
    assert [(ln.category, ln.subtype, ln.amount) for ln in p.lines] == [("refund", "credit_note", Decimal("-1694.0"))]
    assert finance.is_credit_note({"invoiceNumber": "3000100001", "documentType": "credit_note"})
    assert not finance.is_credit_note({"invoiceNumber": "3000100009"})


def test_offset_nets_cod_orders_against_invoices():
    p = finance.offset_payout(loads(OFFSET), "mall-cz")
    assert (p.kind, p.stated_total, p.status) == ("offset", Decimal("1195.0"), "ok")
    assert [(ln.category, ln.subtype, ln.order_ref, ln.amount) for ln in p.lines] == [
        ("other", "offset_invoice", None, Decimal("1694.0")), ("transfer", "cod_offset", "123999", Decimal("-499.0"))]
    assert p.meta["invoice_numbers"] == ["3000100123"]
    wrong = finance.offset_payout(loads(OFFSET.replace('"diffPrice":1195.0', '"diffPrice":-1195.0')), "mall-cz")
    assert wrong.status == "inconsistent" and "diffPrice -1195.0" in wrong.check_detail
    part = finance.offset_payout(loads(OFFSET.replace('"remainPrice":0.0}],\n "orders"', '"remainPrice":5.0}],\n "orders"')),
                                 "mall-cz")
    assert part.status == "inconsistent" and "sumPrice 1694.0" in part.check_detail


def test_breakdown_splits_the_invoice_into_gross_and_margin():
    p = finance.invoice_payout(loads(INVOICE), "mall-cz")
    [b] = finance.breakdowns(p, {"123456": (Decimal("1998.00"), "CZK")})
    assert (b.gross, b.fee, b.net, b.fee_subtype) == (Decimal("1998.00"), Decimal("-304.00"), Decimal("1694.0"), "margin")
    assert finance.breakdowns(p, {"123456": (Decimal("1998.00"), "EUR")}) == []   # never across currencies
    assert finance.breakdowns(p, {}) == []


@pytest.mark.parametrize("change, code", [
    (('"orderId":123456', '"orderId":null'), "mall_document"),
    (('"totalPrice":1694.0', '"totalPrice":"abc"'), "mall_amount"),
    (('"totalPrice":1694.0', '"totalPrice":1694.00001'), "mall_amount"),
    (('"currency":"CZK",', ''), "mall_document"),
])
def test_bad_documents_are_refused_with_the_place(change, code):
    with pytest.raises(FileRejected) as exc:
        finance.invoice_payout(loads(INVOICE.replace(*change)), "mall-cz")
    assert exc.value.reason == code and exc.value.where.startswith("data")


# -- through the settlements plugin ----------------------------------------------------------------
ACCOUNT = "mall-cz"


@pytest.fixture
def world(tmp_path, monkeypatch):
    clock = FakeClock()
    fake = MallFake(clock, contract=MallContract())
    monkeypatch.setenv(env_name(ACCOUNT), fake.client_id)
    apps = []

    def make(root="inst", accounts=(ACCOUNT,)):
        channels = {a: {"type": "mall", "base_url": "http://mall.test", "orders_sync": True, "invoices_fetch": True,
                        "requests_per_second": 1000, "transport": httpx.WSGITransport(app=fake)} for a in accounts}
        app = make_app(tmp_path / root, {"mall": mall_plugin, "settlements": settlements_plugin}, clock=clock,
                       channels=channels, inbox={"settlements": {}})
        apps.append(app)
        return app

    yield fake, clock, make
    for a in apps:
        a.close()


def ingest(app) -> list[dict]:
    out = []
    for path in sorted((app.inbox_dir / "settlements").glob("mall-*.json")):
        out.append(process_file(app, "settlements", path))
    return out


def finance_of(app, oid) -> dict:
    res = app.hook.order_finance(app=app, order_keys=[f"{ACCOUNT}:{oid}"], refs=[])
    return res[f"{ACCOUNT}:{oid}"] if res and f"{ACCOUNT}:{oid}" in res else {}


def test_what_mall_paid_versus_each_orders_gross(world, tmp_path):
    fake, clock, make = world
    fake.add_order(1, mdp=False, confirmed=True, status="shipped")                    # 499 + 79 delivery
    fake.add_order(2, mdp=False, confirmed=True, status="shipped", cod=578.0, payment_type="D")
    fake.add_order(3, mdp=False, confirmed=True, status="shipped")
    app = make()
    run_job(app, "mall-orders")
    clock.advance(fake.delivery_delay + 1)
    fake.tick()
    run_job(app, "mall-orders")
    assert {app.store.get_order(f"{ACCOUNT}:{o}")["status"] for o in (1, 2, 3)} == {"DELIVERED"}
    fake.finance.run_now()
    fake.mall_update(3, "returned")
    clock.advance(3 * 86400)
    fake.tick()
    assert run_job(app, "mall-finance") is None
    copies = {p.name: p.read_bytes() for p in (app.inbox_dir / "settlements").glob("mall-*.json")}
    records = ingest(app)
    assert [r["state"] for r in records] == ["done"] * 3, records
    rows = {r["payout_key"]: r for r in app.store.db.query("select * from payouts")}
    assert sorted(r["kind"] for r in rows.values()) == ["credit_note", "invoice", "offset"]
    assert {r["status"] for r in rows.values()} == {"ok"}
    inv = fake.finance.invoices[1]
    paid = {str(it["orderId"]): Decimal(repr(it["totalPrice"])) for it in inv["items"]}
    for oid in ("1", "2"):
        [t] = finance_of(app, oid)["totals"]
        gross = Decimal(app.store.get_order(f"{ACCOUNT}:{oid}")["total"])
        assert Decimal(t["revenue"]) == gross == Decimal("578.0")
        assert Decimal(t["marketplace_fee"]) == paid[oid] - gross < 0        # MALL's margin
        assert Decimal(t["net"]) == paid[oid]
        assert t["fee_pct"] is not None
    [t2] = finance_of(app, "2")["totals"]
    assert Decimal(t2["transfer"]) == Decimal("-578.0")                       # the COD the seller collected
    [t3] = finance_of(app, "3")["totals"]
    assert Decimal(t3["refund"]) == -paid["3"] and Decimal(t3["net"]) == 0       # returned: MALL took it back
    # the same documents again are duplicates: nothing is counted twice
    again = tmp_path / "again"
    again.mkdir()
    for name, data in copies.items():
        (again / name).write_bytes(data)
        assert process_file(app, "settlements", again / name)["state"] == "duplicate"
    assert app.store.db.execute("select count(*) from payouts").fetchone()[0] == 3


def test_a_document_saved_from_the_portal(world, tmp_path):
    fake, clock, make = world
    app = make()
    src = tmp_path / "drops" / "faktura.json"
    src.parent.mkdir()
    src.write_text(INVOICE, encoding="utf-8")
    rec = process_file(app, "settlements", src)
    assert rec["state"] == "done", rec
    row = next(app.store.db.query("select * from payouts"))
    assert (row["payout_id"], row["channel"], row["status"]) == ("3000100123", ACCOUNT, "ok")


def test_without_an_account_named_and_several_configured_it_is_refused(world, tmp_path):
    fake, clock, make = world
    app = make(accounts=(ACCOUNT, "mall-sk"))
    src = tmp_path / "drops" / "zapocet.json"
    src.parent.mkdir()
    src.write_text(json.dumps({"result": {"code": 200, "status": "OK"}, "data": json.loads(OFFSET)}), encoding="utf-8")
    rec = process_file(app, "settlements", src)
    assert rec["state"] == "error"
    assert rec["error"]["reason"] == "mall_account" and "[inbox.settlements] channel" in rec["error"]["fix"]
