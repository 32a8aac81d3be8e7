"""Invoices and credit notes uploaded to Amazon as ``UPLOAD_VAT_INVOICE`` feeds through the real
Amazon channel, against the fake SP-API: the PDF as the feed document, the metadata as feed
options, once per document; a seller Amazon refuses the feature for sees Amazon's reason."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from marketd.app import App
from marketd.config import default_config
from marketd.sdk.testing import run_job

from tests.amazon.spapi_fixtures import CHANNEL, clock, creds_env, fake, transport  # noqa: F401  (fixtures)

from .conftest import SELLER


@pytest.fixture
def world(tmp_path, clock, fake, transport, creds_env):  # noqa: F811
    import marketd.plugins.amazon as amazon_plugin
    import marketd.plugins.invoices as invoices_plugin
    import marketd.plugins.settlements as settlements_plugin

    fake.populate(2)
    cfg = default_config(tmp_path / "inst")
    cfg["channels"]["amz"] = {**CHANNEL, "transport": transport}
    cfg["jobs"] = {"invoices": {"seller": SELLER, "vat_rate": "22", "channels": {"amz": {"upload": "api"}}}}
    creds_env("amz")
    app = App(cfg, clock=clock, load_entry_points=False, extra_plugins={
        "amazon": amazon_plugin, "settlements": settlements_plugin, "invoices": invoices_plugin})
    ids = sorted(fake.orders)
    for oid in ids:
        app.store.upsert_order({"channel": "amz", "channel_type": "amazon", "order_id": oid, "status": "SHIPPED",
                                "purchased_at": "2026-10-20T10:00:00+00:00", "currency": "EUR", "total": "12.20",
                                "buyer_name": "Mario Rossi", "items": [{"sku": "S", "quantity": 1, "unit_price": "12.20"}]})
    yield app, ids
    app.close()


def uploads(app) -> list[dict]:
    return list(app.store.db.query("select d.doc_no, d.kind, u.* from document_uploads u join documents d "
                                   "on d.id = u.doc_id order by u.doc_id"))


def test_each_document_becomes_one_vat_invoice_feed_with_its_metadata(world, fake, amazon_contract):  # noqa: F811
    app, ids = world
    assert run_job(app, "invoices") is None
    assert run_job(app, "invoices") is None
    assert [v["options"]["metadata:orderid"] for v in fake.vat_invoices] == ids
    first = fake.vat_invoices[0]["options"]
    assert first == {"metadata:orderid": ids[0], "metadata:invoicenumber": "INV-amz-2026-000001",
                     "metadata:documenttype": "Invoice", "metadata:totalamount": "12.20",
                     "metadata:totalvatamount": "2.20"}
    rows = uploads(app)
    assert [r["state"] for r in rows] == ["done", "done"] and all(r["remote_ref"] for r in rows)
    feeds = {f["feedId"]: f for f in fake.feeds.values()}
    assert {feeds[r["remote_ref"]]["feedType"] for r in rows} == {"UPLOAD_VAT_INVOICE"}
    # a refund: the credit note goes up as a CreditNote naming the transaction
    app.store.upsert_order({"key": f"amz:{ids[0]}", "channel": "amz", "order_id": ids[0], "status": "REFUNDED"})
    assert run_job(app, "invoices") is None
    credit = fake.vat_invoices[-1]["options"]
    assert (credit["metadata:documenttype"], credit["metadata:invoicenumber"], credit["metadata:transactionid"]) == (
        "CreditNote", "CN-amz-2026-000001", "status:REFUNDED")
    assert len(fake.vat_invoices) == 3
    assert fake.violations == []


def test_amazon_refusing_the_feature_fails_the_upload_with_its_words(world, fake):  # noqa: F811
    app, ids = world
    fake.vat_invoice_mode = "FeatureNotAvailable"
    assert run_job(app, "invoices") is None
    rows = uploads(app)
    assert {r["state"] for r in rows} == {"failed"}
    assert "FeatureNotAvailable" in rows[0]["reason"]
    assert fake.vat_invoices == []
