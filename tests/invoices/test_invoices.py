"""Invoices and credit notes through the real store and job runner: who is invoiced when, the
numbers, the amounts in Decimal, the PDF as pypdf reads it, the file's place and mode."""
from __future__ import annotations

import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from .conftest import pdf_text


def test_a_shipped_order_gets_one_invoice_pdf_with_its_lines_vat_and_totals(make_env):
    env = make_env()
    key = env.order("302-1")
    env.run()
    (doc,) = env.docs()
    assert (doc["doc_no"], doc["kind"], doc["state"], doc["order_key"]) == ("INV-amz-2026-000001", "invoice",
                                                                             "published", key)
    assert (doc["total_gross"], doc["total_vat"], doc["issue_date"]) == ("23.80", "3.80", "2026-11-30")
    path = Path(doc["pdf_path"])
    assert path == env.app.outbox_dir / "invoices" / "amz" / "2026" / "INV-amz-2026-000001.pdf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = pdf_text(path)
    for needle in ("Invoice INV-amz-2026-000001", "Jana Nováková", "Dlouhá 5", "Tasse blau", "Becher",
                   "VAT 19 % on 20.00 EUR: 3.80 EUR", "Total: 23.80 EUR", "DE123456789", "302-1"):
        assert needle in text, needle
    env.run()  # again: nothing new
    assert len(env.docs()) == 1


def test_numbers_are_contiguous_per_series_and_each_account_has_its_own(make_env):
    env = make_env()
    for n in range(5):
        env.order(f"A-{n}")
    env.order("E-1", channel="ebay-de")
    env.run()
    docs = env.docs()
    assert sorted(d["doc_no"] for d in docs if d["channel"] == "amz") == [f"INV-amz-2026-00000{n}" for n in range(1, 6)]
    assert [d["doc_no"] for d in docs if d["channel"] == "ebay-de"] == ["INV-ebay-de-2026-000001"]
    from marketd.plugins.invoices.numbering import check

    assert check(env.db) == []


def test_only_the_trigger_state_and_configured_sellers_accounts_are_invoiced(make_env):
    env = make_env()
    pending = env.order("P-1", status="UNSHIPPED")
    env.order("C-1", status="CANCELLED")
    env.order("X-1", channel="otto")                 # an account nobody configured: the marketplace may invoice
    mall = env.order("M-1", channel="mall-cz")       # MALL self-billing: MALL invoices
    amazon_vcs = env.order("V-1", raw={"programs": ["INVOICE_BY_AMAZON"]})
    env.run()
    assert env.docs() == []
    blocked = {r["order_key"]: r["reason"] for r in env.db.query("select * from documents_blocked")}
    assert blocked == {amazon_vcs: "issued_by_marketplace"}  # the scan does not look at mall/otto at all
    env.app.store.upsert_order({"key": pending, "channel": "amz", "order_id": "P-1", "status": "SHIPPED"})
    env.run()
    assert [d["order_key"] for d in env.docs()] == [pending]
    # the trigger "paid" invoices an unshipped order
    env2 = make_env(trigger="paid")
    k = env2.order("P-2", status="UNSHIPPED")
    env2.run()
    assert [d["order_key"] for d in env2.docs()] == [k]
    assert mall not in [d["order_key"] for d in env.docs()]


def test_vat_is_split_per_rate_in_decimal_and_shipping_takes_the_main_rate(make_env):
    env = make_env()
    env.order("R-1", total="33.60", items=[
        {"sku": "BOOK", "title": "Buch", "quantity": 1, "unit_price": "10.70", "vat_rate": "7"},
        {"sku": "MUG", "title": "Tasse", "quantity": 1, "unit_price": "17.85", "vat_rate": "0.19"}])
    env.run()
    (doc,) = env.docs()
    snap = json.loads(doc["snapshot"])
    assert [(l["description"], l["gross"], l["rate"], l["net"]) for l in snap["lines"]] == [
        ("Buch", "10.70", "7", "10.00"), ("Tasse", "17.85", "19", "15.00"), ("Shipping", "5.05", "19", "4.24")]
    assert snap["vat"] == [{"rate": "7", "net": "10.00", "vat": "0.70", "gross": "10.70"},
                           {"rate": "19", "net": "19.24", "vat": "3.66", "gross": "22.90"}]
    assert snap["totals"] == {"net": "29.24", "vat": "4.36", "rounding": "0.00", "gross": "33.60"}
    assert sum(Decimal(v["gross"]) for v in snap["vat"]) == Decimal(doc["total_gross"]) == Decimal("33.60")


def test_vat_per_rate_is_net_times_rate_and_the_cent_left_is_the_rounding_amount(make_env):
    from marketd.plugins.invoices.amounts import split, summarise

    # the first paid amount whose net (gross / 1.19, rounded) plus VAT on that net is not the amount
    # paid (about 16 % of amounts at 19 % are so)
    gross = next(Decimal(c) / 100 for c in range(1, 10000)
                 if (lambda n: n + (n * 19 / Decimal(100)).quantize(Decimal("0.01"), "ROUND_HALF_UP"))(
                     split(Decimal(c) / 100, Decimal(19))[0]) != Decimal(c) / 100)
    body = summarise([{"description": "x", "sku": "", "quantity": "1", "gross": gross, "rate": Decimal(19)}])
    t = body["totals"]
    assert t["rounding"] in ("0.01", "-0.01")
    assert Decimal(t["net"]) + Decimal(t["vat"]) + Decimal(t["rounding"]) == Decimal(t["gross"]) == gross
    assert Decimal(t["vat"]) == (Decimal(t["net"]) * Decimal("0.19")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    env = make_env()
    env.order("RND-1", total=str(gross), items=[{"sku": "S", "quantity": 1, "unit_price": str(gross)}])
    env.run()
    (doc,) = env.docs()
    assert f"Rounding: {t['rounding']} EUR" in pdf_text(Path(doc["pdf_path"]))


def test_a_blocked_order_uses_no_number_and_is_issued_once_fixed(make_env):
    env = make_env(vat_rate=None, channels={"amz": {}})
    blocked = env.order("B-1")
    env.run()
    assert env.docs() == []
    (row,) = env.db.query("select * from documents_blocked")
    assert (row["order_key"], row["reason"]) == (blocked, "no_vat_rate")
    assert "vat_rate" in row["fix"]
    # the next order with its own rates is number 1: the blocked one consumed nothing
    ok = env.order("B-2", total="11.90", items=[{"sku": "S", "quantity": 1, "unit_price": "11.90", "vat_rate": "19"}])
    env.run()
    assert [(d["order_key"], d["number"]) for d in env.docs()] == [(ok, 1)]


def test_a_refund_gets_a_credit_note_that_references_the_invoice(make_env):
    env = make_env()
    key = env.order("F-1")
    env.run()
    (inv,) = env.docs("invoice")
    env.app.store.upsert_order({"key": key, "channel": "amz", "order_id": "F-1", "status": "REFUNDED"})
    env.run()
    env.run()
    (cn,) = env.docs("credit_note")
    assert (cn["doc_no"], cn["refers_to"], cn["total_gross"], cn["total_vat"]) == ("CN-amz-2026-000001", inv["id"],
                                                                                   "23.80", "3.80")
    assert Path(cn["pdf_path"]).parent == Path(inv["pdf_path"]).parent
    text = pdf_text(Path(cn["pdf_path"]))
    assert "Credit note CN-amz-2026-000001" in text
    assert "Refers to invoice INV-amz-2026-000001 of 2026-11-30" in text
    assert "Total credited: 23.80 EUR" in text


def test_partial_credit_notes_split_over_the_rates_and_never_exceed_the_invoice(make_env):
    from marketd.plugins.invoices.issuer import issue_credit
    from marketd.plugins.invoices.settings import invoice_settings

    env = make_env()
    key = env.order("G-1", total="21.40", items=[
        {"sku": "BOOK", "quantity": 2, "unit_price": "10.70", "vat_rate": "7"}])
    env.order("G-2", total="22.60", items=[
        {"sku": "BOOK", "quantity": 1, "unit_price": "10.70", "vat_rate": "7"},
        {"sku": "MUG", "quantity": 1, "unit_price": "11.90", "vat_rate": "19"}])
    env.run()
    s = invoice_settings(env.app)
    order = env.app.store.get_order("amz:G-2")
    cn = issue_credit(env.app, s, order, None, trigger_key="refund:r1", amount=Decimal("10.00"))
    snap = json.loads(cn["snapshot"])
    assert [(l["gross"], l["rate"]) for l in snap["lines"]] == [("4.73", "7"), ("5.27", "19")]
    assert snap["totals"]["gross"] == "10.00"
    again = issue_credit(env.app, s, order, None, trigger_key="refund:r1", amount=Decimal("10.00"))
    assert again["id"] == cn["id"]  # the same refund twice: one credit note
    assert issue_credit(env.app, s, order, None, trigger_key="refund:r2", amount=Decimal("12.61")) is None
    (b,) = env.db.query("select * from documents_blocked where kind = 'credit_note'")
    assert b["reason"] == "credit_exceeds_invoice" and "12.60" in b["message"]
    last = issue_credit(env.app, s, order, None, trigger_key="refund:r2", amount=Decimal("12.60"))
    assert last["doc_no"] == "CN-amz-2026-000002"
    full = issue_credit(env.app, s, env.app.store.get_order(key), None, trigger_key="x", amount=None)
    assert (full["doc_no"], full["total_gross"]) == ("CN-amz-2026-000003", "21.40")
    # a refund of an order never invoiced needs no credit note and uses no number
    never = env.order("G-3", status="UNSHIPPED")
    assert issue_credit(env.app, s, env.app.store.get_order(never), None, trigger_key="y") is None
    assert env.db.execute("select reason from documents_blocked where order_key = ?", [never]).fetchone() == ("no_invoice",)
    assert len(env.docs("credit_note")) == 3


def test_the_order_imported_event_notes_the_order_and_the_job_takes_it(make_env):
    env = make_env()
    key = env.order("H-1", status="UNSHIPPED")
    env.app.emit("order_imported", order=env.app.store.get_order(key))
    env.app.emit("order_imported", order={"key": "otto:1", "channel": "otto"})
    assert [k for (k,) in env.db.execute("select order_key from invoice_work")] == [key]
    env.run()
    assert env.docs() == []  # noted, but not due yet
    assert list(env.db.execute("select * from invoice_work")) == []


def test_the_issue_date_never_goes_back_and_the_year_starts_a_new_series(make_env):
    from datetime import timedelta

    env = make_env()
    env.order("D-1")
    env.run()
    env.app.clock._now -= timedelta(days=3)  # a clock stepped back
    env.order("D-2")
    env.run()
    assert [d["issue_date"] for d in env.docs()] == ["2026-11-30", "2026-11-30"]
    env.app.clock._now += timedelta(days=40)
    env.order("D-3")
    env.run()
    assert [(d["doc_no"], d["year"]) for d in env.docs()][-1] == ("INV-amz-2027-000001", 2027)
    assert Path(env.docs()[-1]["pdf_path"]).parent.name == "2027"


def test_rendering_again_gives_the_same_bytes_and_a_lost_file_is_rendered_again(make_env):
    from marketd.plugins.invoices.render import find_font, render_for

    env = make_env()
    env.order("Z-1")
    env.run()
    (doc,) = env.docs()
    snap = json.loads(doc["snapshot"])
    assert render_for(snap, find_font(None), env.app.state_dir / "fonts") == Path(doc["pdf_path"]).read_bytes()
    # a crash between the commit and the file: the row stays 'numbered' and the next run renders it
    with env.app.store.transaction() as db:
        db.execute("update documents set state = 'numbered', pdf_path = null, pdf_sha256 = null")
    os.unlink(doc["pdf_path"])
    env.run()
    (again,) = env.docs()
    assert again["state"] == "published" and again["pdf_sha256"] == doc["pdf_sha256"]


@pytest.mark.parametrize("bad, message", [
    ({"vat_rate": 19}, "vat_rate"), ({"vat_rate": "abc"}, "not a VAT rate"), ({"timezone": "Mars/Base"}, "time zone"),
    ({"invoice_prefix": "{month}-"}, "only {series} and {year}"), ({"channels": {"amz": {"issuer": "amazon"}}}, "issuer")])
def test_a_wrong_invoices_table_stops_the_start_with_the_key(make_env, bad, message):
    from marketd.sdk import ConfigError

    with pytest.raises(ConfigError) as err:
        make_env(**bad)
    assert "[jobs.invoices]" in str(err.value) and message in str(err.value)


def test_an_order_flagged_manual_is_not_invoiced_automatically_but_by_hand_it_is(make_env):
    from datetime import timedelta

    from marketd.orderflags import mark_manual, unmark_manual
    from marketd.plugins.invoices.issuer import issue_invoice
    from marketd.plugins.invoices.settings import invoice_settings

    env = make_env()
    key = env.order("MF-1")
    other = env.order("MF-2")
    at = env.app.clock.now().isoformat()
    mark_manual(env.app.store, key, by="anna", reason="invoiced in the portal", source="cli", at=at)
    env.run()
    assert [d["order_key"] for d in env.docs()] == [other]
    (b,) = env.db.query("select * from documents_blocked")
    assert (b["order_key"], b["reason"]) == (key, "manual") and "invoiced in the portal" in b["message"]
    # cleared: the next look (an hour after the block) issues it
    unmark_manual(env.app.store, key, by="anna", reason="not done after all", at=at)
    env.run()
    assert len(env.docs()) == 1
    env.app.clock._now += timedelta(hours=1, seconds=1)
    env.run()
    assert [d["order_key"] for d in env.docs()] == [other, key]
    # by hand, a flagged order is issued anyway (the person named it)
    third = env.order("MF-3")
    mark_manual(env.app.store, third, by="anna", reason="x", source="cli", at=at)
    row = issue_invoice(env.app, invoice_settings(env.app), env.app.store.get_order(third), None, explicit=True)
    assert row["number"] == 3


def test_the_usual_document_embeds_the_prepared_subset_and_other_scripts_the_full_font(make_env, tmp_path):
    from pypdf import PdfReader

    from marketd.plugins.invoices.fonts import choose
    from marketd.plugins.invoices.render import find_font

    full = find_font(None)
    if full is None:
        pytest.skip("no DejaVu Sans here: the core font is used and there is nothing to subset")
    env = make_env()
    env.order("F-1")
    env.order("F-2", items=[{"sku": "T", "title": "茶碗 (Chawan)", "quantity": 1, "unit_price": "23.80"}])
    env.run()
    latin, cjk = env.docs()
    cache = env.app.state_dir / "fonts"
    (subset,) = cache.glob("*.ttf")
    assert choose(json.loads(latin["snapshot"]), full, cache) == str(subset)
    assert choose(json.loads(cjk["snapshot"]), full, cache) == full
    assert "Jana Nováková" in pdf_text(Path(latin["pdf_path"]))
    assert "(Chawan)" in pdf_text(Path(cjk["pdf_path"]))
    assert Path(latin["pdf_path"]).stat().st_size < Path(cjk["pdf_path"]).stat().st_size
