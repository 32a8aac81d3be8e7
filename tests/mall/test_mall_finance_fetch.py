"""The mall-finance job: MALL's invoices and offsets written once each into inbox/settlements/,
owner-only, with MALL's answer embedded byte for byte (no float round trip)."""
from __future__ import annotations

import json
import stat
from decimal import Decimal

from marketd.plugins.mall.client import loads
from marketd.sdk.testing import run_job

from .conftest import ACCOUNT


def delivered_world(fake, clock):
    fake.add_order(1, mdp=False, confirmed=True, status="shipped")
    fake.add_order(2, mdp=False, confirmed=True, status="shipped", cod=578.0, payment_type="D")
    fake.add_order(3, mdp=True, confirmed=True, status="shipped")
    clock.advance(fake.delivery_delay + 1)
    fake.tick()
    assert {o["status"] for o in fake.orders.values()} == {"delivered", "shipped"}


def files(app):
    return sorted((app.inbox_dir / "settlements").glob("mall-*.json"))


def test_off_by_default(mall_app, fake):
    app = mall_app()
    assert run_job(app, "mall-finance") is None
    assert fake.journal == []


def test_each_document_is_written_once_owner_only(mall_app, fake, clock):
    delivered_world(fake, clock)
    app = mall_app(invoices_fetch=True)
    fake.finance.run_now()
    assert run_job(app, "mall-finance") is None
    assert [p.name for p in files(app)] == ["mall-mall-cz-invoice-3000100001.json"]
    clock.advance(3 * 86400)
    fake.tick()
    assert run_job(app, "mall-finance") is None
    names = [p.name for p in files(app)]
    assert names == ["mall-mall-cz-invoice-3000100001.json", f"mall-mall-cz-offset-{fake.finance.offsets[1]['documentNumber']}.json"]
    for p in files(app):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    n = fake.count("mall.get_invoice") + fake.count("mall.get_offset")
    assert run_job(app, "mall-finance") is None
    assert fake.count("mall.get_invoice") + fake.count("mall.get_offset") == n   # listed, not read again
    doc = json.loads(files(app)[0].read_text(), parse_float=Decimal)
    assert doc["marketd_source"] == "mall-financial-v1" and doc["channel"] == ACCOUNT and doc["kind"] == "invoice"
    served = fake.finance.invoices[1]
    assert doc["envelope"]["data"]["invoiceNumber"] == served["invoiceNumber"]
    assert doc["envelope"]["data"]["total"] == Decimal(repr(served["total"]))
    assert fake.violations == [] and fake.response_violations == []


def test_the_file_holds_malls_bytes(mall_app, fake, clock):
    from marketd.plugins.mall.fake import envelope

    delivered_world(fake, clock)
    fake.finance.run_now()
    app = mall_app(invoices_fetch=True)
    run_job(app, "mall-finance")
    text = files(app)[0].read_bytes()
    sent = json.dumps(envelope(fake.finance.invoices[1])).encode()   # what the fake answered, byte for byte
    assert text.endswith(b', "envelope": ' + sent + b"}\n")
    assert loads(text)["envelope"]["data"]["items"][0]["orderId"] == 1


def test_limited_stops_the_run_and_the_next_continues(mall_app, fake, clock):
    delivered_world(fake, clock)
    fake.finance.run_now()
    app = mall_app(invoices_fetch=True)
    fake.limited_next("mall.get_invoice", http=200)
    assert run_job(app, "mall-finance") is None
    assert files(app) == []
    clock.advance(3601)
    run_job(app, "mall-finance")
    assert len(files(app)) == 1
