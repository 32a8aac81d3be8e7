"""Files that are not (complete) settlements end in ``inbox/settlements/.error/`` with a readable
report; a settlement report fetched from the SP-API fake is reconciled like a dropped file.

The ``settlements`` plugin's handler dispatches a file to the Amazon format when Amazon's
``sniff`` recognises it; a file no format takes is ``unknown_settlement_format`` (quoting line 1,
listing the known formats), unless Amazon's ``explain`` recognises it as Amazon's wrong file."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from marketd.inbox import InboxEngine

from .settlement_samples import Settlement, line_of, make_env, order_lines, other_line, render_v2, set_cell
from .spapi_fixtures import *  # noqa: F401,F403  (fixtures: fake, make_app, clock …)


@pytest.fixture
def env(app_factory):
    return make_env(app_factory)


def good() -> bytes:
    return render_v2(Settlement(lines=order_lines("302-1111111-1111111") + [other_line("Storage Fee", "-7.21")]))


def _error_report(env, row) -> str:
    assert row["state"] == "error", row
    err = env.inbox / ".error"
    assert (err / f"{row['id']}__{row['name']}").exists()  # the file itself, next to its report
    text = (err / f"{row['id']}__{row['name']}.error.txt").read_text()
    data = json.loads((err / f"{row['id']}__{row['name']}.error.json").read_text())
    assert data["plugin"] == "settlements"
    assert "Nothing from it was applied" in text and "Traceback" not in text
    # nothing applied, nothing published
    assert env.all("select * from payouts") == [] and env.all("select * from business_keys") == []
    assert not env.reports.exists() or list(env.reports.iterdir()) == []
    return text


@pytest.mark.parametrize("name, data, reason, where", [
    ("catalog.csv", b"sku,ean,title,brand,price,currency,stock\nA-1,4006381333931,Pen,Acme,1.00,EUR,3\n",
     "unknown_settlement_format", "line 1"),
    ("listings.txt", b"sku\tasin\tprice\tquantity\nA-1\tB000000000\t1.00\t3\n", "unknown_settlement_format",
     "line 1"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8, "binary", None),
    ("report.txt.gz", b"\x1f\x8b\x08\x00" + bytes(40), "compressed", None),
    ("settlement.xlsx", b"PK\x03\x04" + bytes(60), "unknown_settlement_format", None),
])
def test_not_a_settlement(env, name, data, reason, where):
    text = _error_report(env, env.drop(name, data))
    assert f"Reason: {reason}" in text
    if where:
        assert f"Where:  {where}" in text
    assert "Fix:" in text
    if reason == "unknown_settlement_format" and where:
        # the fix lists the formats the loaded plugins read
        assert "amazon-flat-v2 (Amazon settlement, Flat File V2" in " ".join(text.split())
        assert "amazon-flat-v1" in text


def test_truncated_mid_row(env):
    data = good()
    cut = data[: data.rfind(b"Storage") + 3]
    text = _error_report(env, env.drop("cut.txt", cut))
    last_line = len(cut.split(b"\n"))
    assert "Reason: truncated" in text and f"Where:  line {last_line}" in text and last_line == 6
    assert "cut off" in text


def test_bad_amount_and_bad_date_say_line_and_column(env):
    data = good()
    line = line_of(data, "Storage Fee")
    text = _error_report(env, env.drop("bad-amount.txt", set_cell(data, line, "amount", "-7.2.1")))
    assert "Reason: bad_amount" in text and f"Where:  line {line}, column 'amount'" in text
    text = _error_report(env, env.drop("bad-date.txt", set_cell(data, line, "posted-date-time", "31.31.2026")))
    assert "Reason: bad_date" in text and f"Where:  line {line}, column 'posted-date-time'" in text


def test_header_only_and_missing_column(env):
    text = _error_report(env, env.drop("header.txt", good().split(b"\n")[0] + b"\n"))
    assert "Reason: no_rows" in text
    data = good().replace(b"\tamount-description\t", b"\tdescription\t")
    text = _error_report(env, env.drop("renamed.txt", data))
    assert "Reason: missing_column" in text and "amount-description" in text


def test_a_broken_file_does_not_block_the_good_one_after_it(env):
    _error_report(env, env.drop("broken.txt", good()[:-30]))
    row = env.drop("fixed.txt", good())
    assert row["state"] == "done", row["error"]
    assert env.payout()["status"] == "ok"


# -- fetched from the SP-API (fake) ----------------------------------------------------------------
def test_fetched_settlement_report_is_reconciled_with_the_synced_orders(fake, make_app, clock):
    from marketd.plugins.amazon.reports_fetch import fetch_all_settlements

    fake.populate(40, days=20, status="SHIPPED", fulfilled_by="MERCHANT")
    app = make_app(amz={"orders_sync": True, "settlements_fetch": True})
    assert app.channel("amz").sync_orders(None) == 40
    rid = fake.add_settlement_report(days=14, end=clock.now() - timedelta(hours=2))
    assert fetch_all_settlements(app, None) == {"amz": 1}
    name = f"amazon-amz-settlement-{rid}.txt"
    assert (app.inbox_dir / "settlements" / name).exists()

    engine = InboxEngine(app)
    engine.ensure_dirs()
    engine.scan()
    clock.advance(60)
    assert engine.run_once() == 1
    row = list(app.store.db.query("select * from files where name = ?", [name]))[0]
    assert row["state"] == "done", row["error"]
    st = list(app.store.db.query("select * from payouts"))[0]
    assert st["status"] == "ok" and json.loads(st["meta"])["decimal_sep"] == "," and st["channel"] == "amz"
    assert st["orders"] > 0 and st["matched"] == st["orders"] and st["unmatched"] == 0
    refs = list(app.store.db.query("select * from payout_refs where order_ref is not null"))
    assert len(refs) == st["orders"] and all(r["order_key"] == f"amz:{r['order_ref']}" for r in refs)
    finance = app.hook.order_finance(app=app, order_keys=[r["order_key"] for r in refs], refs=[])
    totals = [t for f in finance.values() for t in f["totals"]]
    assert len(totals) == len(refs)
    assert all(t["marketplace_fee"].startswith("-") and not t["revenue"].startswith("-") for t in totals)
    assert (app.outbox_dir / "reports" / f"settlement-amazon-{st['payout_id']}.csv").exists()
    lines = list(app.store.db.query("select * from payout_refs"))

    # the same report saved by hand from Seller Central (other name, same bytes): a duplicate
    data = (app.inbox_dir / "settlements" / ".done").rglob(f"*{name}")
    (app.inbox_dir / "settlements" / "seller-central.txt").write_bytes(next(data).read_bytes())
    engine.scan()
    clock.advance(60)
    engine.run_once()
    dup = list(app.store.db.query("select * from files where name = 'seller-central.txt'"))[0]
    assert dup["state"] == "duplicate" and dup["duplicate_of"] == row["id"]
    assert list(app.store.db.query("select * from payout_refs")) == lines


def test_sandbox_check_reconciles_the_fetched_settlement(tmp_path):
    from click.testing import CliRunner

    from marketd.cli import cli

    result = CliRunner().invoke(cli, ["sandbox", str(tmp_path / "sb"), "--check", "--orders", "30"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("settlement "))
    assert ": ok, payout " in line and " EUR, " in line
    matched, _, total = line.split(", ")[2].partition(" of ")
    assert int(matched) == int(total.split()[0]) > 0
    # the other channels' payouts (eBay, MALL ...) are reconciled by the same check: Amazon's four reports
    reports = sorted(p.name for p in (tmp_path / "sb" / "outbox" / "reports").iterdir()
                     if p.name.startswith("settlement-amazon-"))
    assert len(reports) == 4, reports
    assert reports[0].endswith("-lines.csv") and reports[1].endswith("-unsettled.csv")
    assert not list((tmp_path / "sb" / "inbox" / "settlements").glob("*.txt"))  # taken, not left for the daemon


def test_a_date_range_report_dropped_by_mistake_says_what_it_is_and_what_to_drop(env):
    data = ('"Includes Amazon Marketplace, Fulfillment by Amazon (FBA), and Amazon Webstore transactions"\n'
            '"All amounts in EUR, unless specified"\n'
            '"date/time","settlement id","type","order id","sku","description","quantity","total"\n'
            '"01.08.2026 01:00:00 UTC","24288684721","Order","302-1111111-1111111","A","Pen","1","12,50"\n').encode()
    text = _error_report(env, env.drop("2026Aug1-2026Aug14CustomTransaction.csv", data))
    assert "Reason: not_tab_delimited" in text and "Date Range (Transaction) report" in text
    assert "Where:  line 3" in text and "Fix:    drop the settlement report itself" in text


def test_a_catalog_dropped_by_mistake_quotes_its_first_line(env):
    text = _error_report(env, env.drop("katalog.csv", "Artikelnummer;EAN;Bezeichnung\nA-1;4006381333931;Füller\n"
                                                      .encode("cp1252")))
    assert "line 1 is 'Artikelnummer;EAN;Bezeichnung'" in text and "Reason: unknown_settlement_format" in text
    assert "Fix:    drop a payout file of one of the known formats" in text and "amazon-flat-v2" in text
