"""Amazon VCS with self-invoicing (``vcs = true``): the invoices job reads Amazon's VAT Invoice
Data Report through the real Amazon channel against the fake SP-API (requested, polled, read
across runs), issues an order only once the report lists it and with Amazon's VAT rate, and an
uploaded invoice Amazon rejected comes back ``failed`` with Amazon's words. The report's
recipient columns are never stored."""
from __future__ import annotations

import json
from decimal import Decimal

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

    fake.vcs = True
    fake.new_orders(2, status="SHIPPED")
    cfg = default_config(tmp_path / "inst")
    cfg["channels"]["amz"] = {**CHANNEL, "transport": transport, "orders_sync": True}
    cfg["jobs"] = {"invoices": {"seller": SELLER, "vat_rate": "19",
                                "channels": {"amz": {"upload": "api", "vcs": True}}}}
    creds_env("amz")
    app = App(cfg, clock=clock, load_entry_points=False, extra_plugins={
        "amazon": amazon_plugin, "settlements": settlements_plugin, "invoices": invoices_plugin})
    clock.advance(600)
    app.channel("amz").sync_orders(None)
    yield app
    app.close()


def run(app, clock, seconds: float = 0) -> None:
    clock.advance(seconds)
    assert run_job(app, "invoices") is None


def docs(app) -> list[dict]:
    return list(app.store.db.query("select * from documents order by id"))


def test_orders_wait_for_amazons_vat_report_then_take_its_rate(world, fake, clock, amazon_contract):  # noqa: F811
    app = world
    run(app, clock)                                  # the report is requested; nothing is issued
    assert docs(app) == []
    blocked = {r["reason"] for r in app.store.db.query("select reason from documents_blocked")}
    assert blocked == {"waiting_for_vcs"}
    (rep,) = [r for r in fake.reports.values() if r["reportType"] == "GET_FLAT_FILE_VAT_INVOICE_DATA_REPORT"]
    run(app, clock, 3600 + 120)                     # done: read, then issued with Amazon's 22 %
    issued = docs(app)
    assert len(issued) == 2
    for d in issued:
        snap = json.loads(d["snapshot"])
        assert {line["rate"] for line in snap["lines"]} == {"22"}
        assert Decimal(d["total_vat"]) > 0
    stored = [json.loads(r["data"]) for r in app.store.db.query("select data from vcs_orders")]
    assert stored and all("recipient-name" not in json.dumps(s) and "ship-address-1" not in json.dumps(s)
                          for s in stored)
    names = {(o.get("recipient") or {}).get("deliveryAddress", {}).get("name") for o in fake.orders.values()}
    dumped = json.dumps(stored)
    assert not any(n and n in dumped for n in names)
    assert {r["state"] for r in app.store.db.query("select state from document_uploads")} == {"done"}
    assert fake.violations == []


def test_an_upload_amazon_rejected_comes_back_failed_with_amazons_words(world, fake, clock):  # noqa: F811
    app = world
    run(app, clock)
    run(app, clock, 3600 + 120)
    first, second = docs(app)
    order_id = first["order_key"].split(":", 1)[1]
    fake.reject_vat_invoice(order_id, "Invoice total does not match the order total")
    run(app, clock, 13 * 3600)                       # twice a day: a new report is asked for
    run(app, clock, 3600 + 120)                      # and read
    ups = {r["doc_id"]: r for r in app.store.db.query("select * from document_uploads")}
    assert ups[first["id"]]["state"] == "failed"
    assert "Invoice total does not match the order total" in ups[first["id"]]["reason"]
    assert ups[second["id"]]["state"] == "done"      # accepted: no longer pending at Amazon


def test_a_seller_outside_vcs_is_told_and_nothing_is_issued_without_amazons_rates(world, fake, clock):  # noqa: F811
    app = world
    fake.vcs = False
    run(app, clock)
    run(app, clock, 3600 + 120)
    assert docs(app) == []
    (state,) = app.store.db.query("select * from vcs_reports")
    assert state["report_id"] is None and "enrolled in VCS" in state["note"]
    from marketd.plugins.invoices.status import status_lines

    assert any(line.startswith("VCS amz: last read") and "enrolled in VCS" in line
               for line in status_lines(app)["Invoices"])
    assert {r["reason"] for r in app.store.db.query("select reason from documents_blocked")} == {"waiting_for_vcs"}
